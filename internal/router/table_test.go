package router

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// precedenceRoutes are written in a scrambled order on purpose: only the two "any-api" routes,
// which tie on everything else, depend on the file order.
func precedenceRoutes() []*Route {
	return []*Route{
		{Name: "any-debug", Query: []FieldMatch{{Name: "debug"}}},
		{Name: "wild-api", Hosts: []string{"*.api.example.com"}, Prefix: "/"},
		{Name: "any-regex-php", PathRegex: `\.php$`},
		{Name: "exact-api-canary-post", Hosts: []string{"example.com"}, Prefix: "/api/", Methods: []string{"POST"}, Headers: []FieldMatch{{Name: "X-Canary"}}},
		{Name: "exact-root", Hosts: []string{"example.com"}, Prefix: "/"},
		{Name: "any-api", Prefix: "/api"},
		{Name: "wild-root", Hosts: []string{"*.example.com"}, Prefix: "/"},
		{Name: "exact-regex", Hosts: []string{"example.com"}, PathRegex: `^/api/v[0-9]+/`},
		{Name: "exact-login", Hosts: []string{"example.com"}, Path: "/login"},
		{Name: "any-none"},
		{Name: "exact-api-v1", Hosts: []string{"example.com", "www.example.com"}, Prefix: "/api/v1/"},
		{Name: "wild-regex", Hosts: []string{"*.example.com"}, PathRegex: "^/img/"},
		{Name: "exact-api-post", Hosts: []string{"example.com"}, Prefix: "/api/", Methods: []string{"POST"}},
		{Name: "any-login", Path: "/login"},
		{Name: "exact-api", Hosts: []string{"example.com"}, Prefix: "/api/"},
		{Name: "any-internal", Prefix: "/internal", ClientCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{Name: "wild-static", Hosts: []string{"*.example.com"}, Prefix: "/static/"},
		{Name: "exact-api-canary", Hosts: []string{"example.com"}, Prefix: "/api/", Headers: []FieldMatch{{Name: "X-Canary", Value: "1"}}},
		{Name: "any-api-dup", Prefix: "/api"},
		{Name: "v6", Hosts: []string{"2001:db8::1"}, Prefix: "/"},
	}
}

var precedenceCases = []struct {
	name string
	req  *Request
	want string // "" for no route
}{
	{"exact host, longest prefix", newReq("GET", "example.com", "/api/x"), "exact-api"},
	{"more conditions first: method", newReq("POST", "example.com", "/api/x"), "exact-api-post"},
	{"more conditions first: method and header", newReq("POST", "example.com", "/api/x", "X-Canary: 0"), "exact-api-canary-post"},
	{"more conditions first: header", newReq("GET", "example.com", "/api/x", "X-Canary: 1"), "exact-api-canary"},
	{"header value differs", newReq("GET", "example.com", "/api/x", "X-Canary: 0"), "exact-api"},
	{"longer prefix first", newReq("GET", "example.com", "/api/v1/users"), "exact-api-v1"},
	{"second host of a route", newReq("GET", "www.example.com", "/api/v1/users"), "exact-api-v1"},
	{"exact host falls to wildcard", newReq("GET", "www.example.com", "/api/v2"), "wild-root"},
	{"prefix before regex", newReq("GET", "example.com", "/api/v2/x"), "exact-api"},
	{"exact path before prefix", newReq("GET", "example.com", "/login"), "exact-login"},
	{"exact path is exact", newReq("GET", "example.com", "/login/x"), "exact-root"},
	{"exact path normalised", newReq("GET", "example.com", "/%6cogin"), "exact-login"},
	{"exact host root", newReq("GET", "example.com", "/other"), "exact-root"},
	{"host case and port", newReq("GET", "EXAMPLE.COM:8080", "/other"), "exact-root"},
	{"host trailing dot", newReq("GET", "example.com.", "/login"), "exact-login"},
	{"wildcard longer prefix", newReq("GET", "a.example.com", "/static/app.js"), "wild-static"},
	{"wildcard regex before the prefix /", newReq("GET", "a.example.com", "/img/x.png"), "wild-regex"},
	{"wildcard longer prefix before regex", newReq("GET", "a.example.com", "/static/img/x.png"), "wild-static"},
	{"wildcard regex fails, prefix /", newReq("GET", "a.example.com", "/x/img/"), "wild-root"},
	{"longer wildcard suffix first", newReq("GET", "x.api.example.com", "/anything"), "wild-api"},
	{"longer suffix beats longer prefix", newReq("GET", "x.api.example.com", "/static/x"), "wild-api"},
	{"wildcard apex is the shorter suffix", newReq("GET", "api.example.com", "/static/x"), "wild-static"},
	{"wildcard two levels", newReq("GET", "a.b.example.com", "/static/"), "wild-static"},
	{"any host, file order breaks a tie", newReq("GET", "other.test", "/api/x"), "any-api"},
	{"any host, string prefix", newReq("GET", "other.test", "/apiary"), "any-api"},
	{"any host, exact path", newReq("GET", "other.test", "/login"), "any-login"},
	{"any host, regex before no path", newReq("GET", "other.test", "/x.php"), "any-regex-php"},
	{"any host, condition before none", newReq("GET", "other.test", "/x?debug"), "any-debug"},
	{"any host, no conditions", newReq("GET", "other.test", "/x"), "any-none"},
	{"client range holds", fromIP(newReq("GET", "other.test", "/internal/x"), "10.1.1.1"), "any-internal"},
	{"client range fails", fromIP(newReq("GET", "other.test", "/internal/x"), "192.168.1.1"), "any-none"},
	{"exact host before any host regex", newReq("GET", "example.com", "/x.php"), "exact-root"},
	{"IPv6 host", newReq("GET", "[2001:db8::1]:443", "/"), "v6"},
	{"no host", newReq("GET", "", "/api"), "any-api"},
	{"asterisk is the root", newReq("OPTIONS", "example.com", "*"), "exact-root"},
	{"absolute-form without path", newReq("GET", "other.test", "?q"), "any-none"},
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(3, 4))
	for round := range 20 {
		routes := precedenceRoutes()
		if round > 0 {
			rnd.Shuffle(len(routes), func(i, j int) { routes[i], routes[j] = routes[j], routes[i] })
			a := slices.IndexFunc(routes, func(r *Route) bool { return r.Name == "any-api" })
			b := slices.IndexFunc(routes, func(r *Route) bool { return r.Name == "any-api-dup" })
			if a > b { // the tie is decided by file order: keep it
				routes[a], routes[b] = routes[b], routes[a]
			}
		}
		tb := NewTable(routes)
		if err := tb.Err(); err != nil {
			t.Fatal(err)
		}
		for _, tc := range precedenceCases {
			t.Run(fmt.Sprintf("%d/%s", round, tc.name), func(t *testing.T) {
				req := *tc.req
				got := tb.Match(&req)
				if name := routeName(got); name != tc.want {
					t.Errorf("%s %s%s: got %s, want %s", req.Method, req.Host, req.Target, name, tc.want)
				}
				v := tb.Explain(&req)
				if len(v) != len(routes) {
					t.Fatalf("Explain lists %d routes, want %d", len(v), len(routes))
				}
				for _, vd := range v {
					if vd.Winner != (vd.Route == got) {
						t.Errorf("Explain's winner is %s, Match's %s", vd.Route.Name, routeName(got))
					}
				}
			})
		}
	}
}

func routeName(r *Route) string {
	if r == nil {
		return "<none>"
	}
	return r.Name
}

func TestRoutesOrder(t *testing.T) {
	t.Parallel()
	tb := NewTable(precedenceRoutes())
	var got []string
	for _, r := range tb.Routes() {
		got = append(got, r.Name)
	}
	want := []string{
		// names a host exactly
		"exact-login", "exact-api-v1", "exact-api-canary-post", "exact-api-post", "exact-api-canary", "exact-api",
		"exact-regex", "exact-root", "v6", // the prefix "/" ranks as no path condition
		// wildcards only, longest suffix first
		"wild-api", "wild-static", "wild-regex", "wild-root",
		// any host
		"any-login", "any-internal", "any-api", "any-api-dup", "any-regex-php", "any-debug", "any-none",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Routes:\n%s\nwant:\n%s", strings.Join(got, " "), strings.Join(want, " "))
	}
}

// TestRoutingBypass: a respond-403 route on /admin must catch every spelling of /admin that a
// backend reads as /admin.
func TestRoutingBypass(t *testing.T) {
	t.Parallel()
	deny := &Route{Name: "deny", Prefix: "/admin", Fixed: NewFixed(403, "", nil)}
	pass := &Route{Name: "pass", Prefix: "/"}
	tb := NewTable([]*Route{pass, deny})
	tests := []struct {
		target string
		want   *Route
	}{
		{"/admin", deny},
		{"/%61dmin", deny},
		{"/%61%64%6D%69%6E/x", deny},
		{"//admin", deny},
		{"/x/../admin", deny},
		{"/./admin", deny},
		{"/admin/.", deny},
		{"/%2e%2e/admin", deny},
		{"/%2E./admin", deny},
		{"///admin//x", deny},
		{"/../admin", deny},
		{"/x/%2e%2e/admin", deny},
		{"/x//..//admin?a=b", deny},
		{"/static/../../admin/", deny},
		// Not /admin to a backend either.
		{"/%2Fadmin", pass},
		{"/x/..%2Fadmin", pass},
		{"/ADMIN", pass}, // paths are case-sensitive, as in nginx
		{"/%41dmin", pass},
		{"/?/admin", pass},
		{"/adm%69n%2F..", deny}, // "/admin%2F..": a name under /admin
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			if got := tb.Match(newReq("GET", "example.com", tt.target)); got != tt.want {
				t.Errorf("Match(%q) = %s, want %s", tt.target, routeName(got), tt.want.Name)
			}
		})
	}
}

func TestHostIndex(t *testing.T) {
	t.Parallel()
	var routes []*Route
	for i := range 30 {
		routes = append(routes, &Route{Name: fmt.Sprintf("h%d", i), Hosts: []string{fmt.Sprintf("host%d.example.com", i)}, Prefix: "/"})
	}
	routes = append(routes,
		&Route{Name: "w", Hosts: []string{"*.example.com"}, Prefix: "/"},
		&Route{Name: "w2", Hosts: []string{"*.b.example.com", "*.example.net"}, Prefix: "/"},
		&Route{Name: "dup", Hosts: []string{"dup.test", "DUP.test"}, Prefix: "/"},
	)
	tb := NewTable(routes)
	if err := tb.Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ host, want string }{
		{"host0.example.com", "h0"}, {"HOST17.example.com:1", "h17"}, {"host29.example.com.", "h29"},
		{"host30.example.com", "w"}, {"a.b.example.com", "w2"}, {"x.y.b.example.com", "w2"},
		{"b.example.com", "w"}, {"example.net", "<none>"}, {"a.example.net", "w2"}, {"example.com", "<none>"},
		{"dup.test", "dup"}, {"com", "<none>"}, {"", "<none>"}, {".example.com", "<none>"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			if got := routeName(tb.Match(newReq("GET", tt.host, "/"))); got != tt.want {
				t.Errorf("Match(%q) = %s, want %s", tt.host, got, tt.want)
			}
		})
	}
	if n := len(tb.exact["dup.test"]); n != 1 {
		t.Errorf("a host listed twice is indexed %d times", n)
	}
}

func TestDisabledRoute(t *testing.T) {
	t.Parallel()
	bad := &Route{Name: "bad", PathRegex: "(", Prefix: "/"}
	good := &Route{Name: "good", Prefix: "/"}
	tb := NewTable([]*Route{bad, good})
	want := "route \"bad\": match: write at most one of path, path_prefix and path_regex"
	if err := tb.Err(); err == nil || err.Error() != want {
		t.Errorf("Err = %v, want %s", err, want)
	}
	if got := tb.Match(newReq("GET", "h", "/")); got != good {
		t.Errorf("Match = %s, want good", routeName(got))
	}
	if len(tb.Routes()) != 1 {
		t.Errorf("Routes holds the disabled route")
	}
	v := tb.Explain(newReq("GET", "h", "/"))
	if len(v) != 2 || v[1].Route != bad || v[1].Why != "disabled: match: write at most one of path, path_prefix and path_regex" {
		t.Errorf("Explain = %+v", v)
	}
	if NewTable(nil).Match(newReq("GET", "h", "/")) != nil {
		t.Error("an empty table matched")
	}
}

// TestMatchReusesRequest: one Request serves many requests, and what Match derived follows the
// current fields.
func TestMatchReusesRequest(t *testing.T) {
	t.Parallel()
	a := &Route{Name: "a", Hosts: []string{"a.test"}, Prefix: "/a"}
	b := &Route{Name: "b", Prefix: "/b"}
	tb := NewTable([]*Route{a, b})
	var r Request
	for i, c := range []struct{ host, target, want, norm string }{
		{"a.test", "/x/../a/very/long/path/that/grows/the/scratch?q=1", "a", "/a/very/long/path/that/grows/the/scratch"},
		{"b.test", "/b", "b", "/b"},
		{"A.TEST", "/%61", "a", "/a"},
		{"a.test", "/c", "<none>", "/c"},
	} {
		r.Host, r.Target = []byte(c.host), []byte(c.target)
		if got := routeName(tb.Match(&r)); got != c.want || string(r.NormalizedPath()) != c.norm {
			t.Errorf("%d: Match = %s with path %q, want %s with %q", i, got, r.NormalizedPath(), c.want, c.norm)
		}
	}
	if string(r.HostName()) != "a.test" || string(r.RawPath()) != "/c" || r.HasQuery() || r.RawQuery() != nil {
		t.Errorf("derived host %q, path %q, query %q", r.HostName(), r.RawPath(), r.RawQuery())
	}
}

func TestMatchAllocs(t *testing.T) {
	tb, reqs := bigTable()
	if raceEnabled {
		// Under the race detector sync.Pool drops items at random, so the regexp package's pooled
		// matchers are sometimes allocated afresh: check the other routes.
		var plain []*Route
		for _, rt := range tb.Routes() {
			if rt.PathRegex == "" {
				plain = append(plain, rt)
			}
		}
		tb = NewTable(plain)
	}
	for _, r := range reqs {
		tb.Match(r) // grow the scratch space
		if n := testing.AllocsPerRun(20, func() { tb.Match(r) }); n != 0 {
			t.Errorf("Match(%s %s) allocates %.0f times", r.Host, r.Target, n)
		}
	}
}

func TestStripPort(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"example.com": "example.com", "example.com:80": "example.com", "[::1]": "::1",
		"[::1]:8080": "::1", "[::1": "[::1", "10.0.0.1:1": "10.0.0.1", "": "", "a:": "a",
	} {
		if got := string(stripPort([]byte(in))); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}
