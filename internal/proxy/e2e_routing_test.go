package proxy_test

// Routing through the engine: path normalisation against bypasses, every matcher, and every action
// (redirect, rewrite, upstream_host, header changes), with a real config, real sockets and a
// recording backend.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestE2ERoutingBypass: a rule on /admin cannot be walked around by spelling the path another way
// that a backend reads as /admin; the backend still receives the path exactly as the client sent
// it unless the route asks for the normalised one.
func TestE2ERoutingBypass(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("app"))
	p := startProxy(t, `
routes:
  - name: admin-deny
    match: {path_prefix: /admin}
    respond: {status: 403, body: "denied\n"}
  - name: norm
    match: {path_prefix: /norm}
    upstream: up
    rewrite: {normalized_path: true}
  - name: app
    upstream: up
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	denied := []struct{ name, method, target, body string }{
		{"plain", "GET", "/admin", ""},
		{"subpath", "GET", "/admin/users?id=1", ""},
		{"trailing-slash", "GET", "/admin/", ""},
		{"escaped-letter", "GET", "/%61dmin", ""},
		{"escaped-lower-hex", "GET", "/%61%64%6d%69%6e", ""},
		{"escaped-upper-hex", "GET", "/%61%64%6D%69%6E/x", ""},
		{"escaped-last-letter", "GET", "/adm%69n", ""},
		{"double-slash", "GET", "//admin", ""},
		{"many-slashes", "GET", "///admin//x", ""},
		{"dot-dot", "GET", "/x/../admin", ""},
		{"dot-dot-deep", "GET", "/x/y/../../admin/z", ""},
		{"dot-dot-above-root", "GET", "/../../admin", ""},
		{"dot", "GET", "/./admin", ""},
		{"dots-everywhere", "GET", "/././admin/./x", ""},
		{"back-into-admin", "GET", "/admin/../admin/x", ""},
		{"escaped-dot-dot", "GET", "/%2e%2e/admin", ""},
		{"escaped-dot-dot-upper", "GET", "/x/%2E%2E/admin", ""},
		{"half-escaped-dot-dot", "GET", "/x/.%2e/admin", ""},
		{"escaped-dot", "GET", "/%2e/admin", ""},
		{"slash-and-dot", "GET", "//./admin", ""},
		{"semicolon-param", "GET", "/admin;jsessionid=1", ""},
		{"encoded-slash-after", "GET", "/admin%2Fx", ""},
		{"absolute-form", "GET", "http://app.example/%61dmin", ""},
		{"head", "HEAD", "/%61dmin", ""},
		{"post-with-body", "POST", "/x/../admin", "secret=1"},
	}
	c := dial(t, p.Addr) // every answer keeps the connection: one connection for all
	for _, tc := range denied {
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: app.example\r\n", tc.method, tc.target)
		if tc.body != "" {
			raw += fmt.Sprintf("Content-Length: %d\r\n", len(tc.body))
		}
		r := c.roundTrip(tc.method, raw+"\r\n"+tc.body)
		want := "denied\n"
		if tc.method == "HEAD" {
			want = ""
		}
		if r.StatusCode != 403 || r.Body != want {
			t.Errorf("%s: %s %s: status %d body %q, want 403 %q", tc.name, tc.method, tc.target, r.StatusCode, r.Body, want)
		}
		if r.Close {
			t.Errorf("%s: the 403 closed the connection", tc.name)
		}
	}
	if reqs := be.requests(); len(reqs) != 0 {
		for _, r := range reqs {
			t.Errorf("a denied request reached the backend: %s %s", r.Method, r.Target)
		}
	}
	// A backslash is not a separator to gatehouse but is to some backends: the parser refuses it
	// in a path outright.
	for _, target := range []string{`/\admin`, `/admin\`} {
		c := dial(t, p.Addr)
		if r := c.roundTrip("GET", get(target, "app.example")); r.StatusCode != 400 {
			t.Errorf("GET %s: status %d, want 400", target, r.StatusCode)
		}
	}

	// Not /admin, in gatehouse's reading or a backend's: forwarded, with the target exactly as
	// sent, unless the route asks for the normalised path.
	forwarded := []struct{ name, target, backendGets string }{
		// An encoded slash is data, not a separator (RFC 3986 §2.2): "/%2Fadmin" is one segment
		// named "/admin", normalised to "/%2Fadmin", which the /admin prefix does not match. It
		// reaches the backend as sent; a backend that decodes %2F before splitting the path would
		// see //admin, and must be protected by its own rule if it does so.
		{"encoded-slash", "/%2Fadmin", "/%2Fadmin"},
		{"encoded-slash-lower", "/%2fadmin", "/%2fadmin"},
		// The same for an encoded backslash (IIS reads it as '/').
		{"encoded-backslash", "/%5Cadmin", "/%5Cadmin"},
		// A double-encoded letter is "%61dmin" after one decoding: not /admin.
		{"double-encoded", "/%2561dmin", "/%2561dmin"},
		// Paths are case-sensitive.
		{"upper-case", "/ADMIN", "/ADMIN"},
		// ".." leaves /admin: the path is "/".
		{"leaves-admin", "/admin/..", "/admin/.."},
		{"raw-kept", "//y/./z", "//y/./z"},
		{"raw-kept-query", "/a/../b?q=%2F&r=/../", "/a/../b?q=%2F&r=/../"},
		{"raw-escapes-kept", "/%7Euser/%61", "/%7Euser/%61"},
		{"normalized", "/norm//y/./z/../w?q=%2F", "/norm/y/w?q=%2F"},
		{"normalized-escapes", "/norm/%61b%2fc", "/norm/ab%2Fc"},
		{"normalized-dotdot", "/norm/../norm/x/%2e%2e/y", "/norm/y"},
	}
	for _, tc := range forwarded {
		r := c.roundTrip("GET", get(tc.target, "app.example"))
		if r.StatusCode != 200 {
			t.Errorf("%s: GET %s: status %d, want 200 from the backend", tc.name, tc.target, r.StatusCode)
			continue
		}
		got := be.next(t)
		if got.Target != tc.backendGets {
			t.Errorf("%s: GET %s: the backend got %q, want %q", tc.name, tc.target, got.Target, tc.backendGets)
		}
	}
}

// TestE2EHostRoutingBypass: a rule on a host holds for every spelling of that host, and the backend
// receives the host gatehouse routed on, so that the two never disagree.
func TestE2EHostRoutingBypass(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("app"))
	p := startProxy(t, `
routes:
  - name: internal-deny
    match: {hosts: [internal.example, "*.internal.example"]}
    respond: {status: 403}
  - name: app
    upstream: up
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	for _, raw := range []string{
		get("/", "internal.example"),
		get("/", "INTERNAL.Example"),
		get("/", "internal.example."),
		get("/", "internal.example:8080"),
		get("/", "a.b.internal.example"),
		get("/", "A.INTERNAL.EXAMPLE.:80"),
		// The absolute-form target names the host; the Host field is ignored (RFC 9112 §3.2.2).
		"GET http://internal.example/ HTTP/1.1\r\nHost: app.example\r\n\r\n",
		"GET HTTP://Internal.Example:80/x HTTP/1.1\r\nHost: app.example\r\n\r\n",
	} {
		c := dial(t, p.Addr)
		if r := c.roundTrip("GET", raw); r.StatusCode != 403 {
			t.Errorf("%q: status %d, want 403", raw, r.StatusCode)
		}
	}
	if n := len(be.requests()); n != 0 {
		t.Errorf("%d denied requests reached the backend", n)
	}
	// Routed by the absolute-form host: the backend gets that host, not the Host field's.
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", "GET http://app.example/x HTTP/1.1\r\nHost: internal.example\r\n\r\n")
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	if got := be.next(t); got.host() != "app.example" || len(got.Header.Values("Host")) != 1 {
		t.Errorf("the backend got Host %q, want only app.example", got.Header.Values("Host"))
	}
	// Two Host fields are refused, whatever they name.
	c = dial(t, p.Addr)
	if r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: app.example\r\nHost: internal.example\r\n\r\n"); r.StatusCode != 400 {
		t.Errorf("two Host fields: status %d, want 400", r.StatusCode)
	}
}

// TestE2ERouteMatchers runs every kind of condition through the engine.
func TestE2ERouteMatchers(t *testing.T) {
	t.Parallel()
	p := startProxy(t, `
routes:
  - name: wild
    match: {hosts: ["*.example.com"], path: /who}
    respond: {body: wild}
  - name: exact-host
    match: {hosts: [www.example.com], path: /who}
    respond: {body: exact-host}
  - name: exact-path
    match: {path: /exact}
    respond: {body: exact-path}
  - name: regex
    match: {path_regex: "^/items/[0-9]+$"}
    respond: {body: regex}
  - name: method
    match: {path: /m, methods: [PUT, DELETE]}
    respond: {body: method}
  - name: any-method
    match: {path: /m}
    respond: {body: any-method}
  - name: h-value
    match: {path_prefix: /h, headers: [{name: X-Env, value: prod}]}
    respond: {body: h-value}
  - name: h-regex
    match: {path_prefix: /h, headers: [{name: x-env, regex: "^stag"}]}
    respond: {body: h-regex}
  - name: h-absent
    match: {path_prefix: /h, headers: [{name: X-Env, present: false}]}
    respond: {body: h-absent}
  - name: h-present
    match: {path_prefix: /h, headers: [{name: X-Env, present: true}]}
    respond: {body: h-present}
  - name: q-value
    match: {path_prefix: /q, query: [{name: v, value: "2"}]}
    respond: {body: q-value}
  - name: q-present
    match: {path_prefix: /q, query: [{name: debug}]}
    respond: {body: q-present}
  - name: cidr-ten
    match: {path_prefix: /c, client_cidrs: [10.0.0.0/8]}
    respond: {body: cidr-ten}
  - name: cidr-loopback
    match: {path_prefix: /c, client_cidrs: [127.0.0.0/8]}
    respond: {body: cidr-loopback}
  - name: cidr-only-ten
    match: {path_prefix: /ten, client_cidrs: [10.0.0.0/8, 192.168.1.1]}
    respond: {body: cidr-only-ten}
`)
	cases := []struct {
		name, method, host, target, extra string
		want                              string // the route's body, "" for 404
	}{
		{"wildcard", "GET", "a.example.com", "/who", "", "wild"},
		{"wildcard-deep", "GET", "a.b.example.com", "/who", "", "wild"},
		{"wildcard-case-port", "GET", "A.Example.COM:8080", "/who", "", "wild"},
		{"wildcard-not-apex", "GET", "example.com", "/who", "", ""},
		{"wildcard-not-suffix", "GET", "badexample.com", "/who", "", ""},
		{"exact-host-beats-wildcard", "GET", "www.example.com", "/who", "", "exact-host"},
		{"exact-path", "GET", "h", "/exact", "", "exact-path"},
		{"exact-path-query", "GET", "h", "/exact?x=1", "", "exact-path"},
		{"exact-path-normalised", "GET", "h", "//%65xact", "", "exact-path"},
		{"exact-path-not-prefix", "GET", "h", "/exact/", "", ""},
		{"exact-path-not-longer", "GET", "h", "/exactly", "", ""},
		{"regex", "GET", "h", "/items/42", "", "regex"},
		{"regex-normalised", "GET", "h", "/items/%34%32", "", "regex"},
		{"regex-miss", "GET", "h", "/items/4a", "", ""},
		{"regex-anchored", "GET", "h", "/x/items/42", "", ""},
		{"method", "PUT", "h", "/m", "", "method"},
		{"method-second", "DELETE", "h", "/m", "", "method"},
		{"method-other", "GET", "h", "/m", "", "any-method"},
		{"method-case-sensitive", "put", "h", "/m", "", "any-method"},
		{"header-value", "GET", "h", "/h", "X-Env: prod\r\n", "h-value"},
		{"header-name-case", "GET", "h", "/h", "x-ENV: prod\r\n", "h-value"},
		{"header-value-case", "GET", "h", "/h", "X-Env: PROD\r\n", "h-present"},
		{"header-any-of-several", "GET", "h", "/h", "X-Env: dev\r\nX-Env: prod\r\n", "h-value"},
		{"header-regex", "GET", "h", "/h", "X-Env: staging\r\n", "h-regex"},
		{"header-absent", "GET", "h", "/h", "", "h-absent"},
		{"header-present", "GET", "h", "/h", "X-Env: dev\r\n", "h-present"},
		{"header-present-empty", "GET", "h", "/h", "X-Env:\r\n", "h-present"},
		{"query-value", "GET", "h", "/q?v=2", "", "q-value"},
		{"query-value-among", "GET", "h", "/q?a=1&v=2&b", "", "q-value"},
		{"query-value-miss", "GET", "h", "/q?v=3", "", ""},
		{"query-not-decoded", "GET", "h", "/q?v=%32", "", ""},
		{"query-name-case", "GET", "h", "/q?V=2", "", ""},
		{"query-present", "GET", "h", "/q?debug", "", "q-present"},
		{"query-present-empty", "GET", "h", "/q?v=3&debug=", "", "q-present"},
		{"query-none", "GET", "h", "/q", "", ""},
		{"client-cidr", "GET", "h", "/c", "", "cidr-loopback"},
		{"client-cidr-miss", "GET", "h", "/ten", "", ""},
	}
	c := dial(t, p.Addr)
	for _, tc := range cases {
		r := c.roundTrip(tc.method, fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", tc.method, tc.target, tc.host, tc.extra))
		switch {
		case tc.want == "" && (r.StatusCode != 404 || r.Body != "404 Not Found\n"):
			t.Errorf("%s: %s %s%s: status %d body %q, want 404", tc.name, tc.method, tc.host, tc.target, r.StatusCode, r.Body)
		case tc.want != "" && (r.StatusCode != 200 || r.Body != tc.want):
			t.Errorf("%s: %s %s%s: status %d body %q, want route %s", tc.name, tc.method, tc.host, tc.target, r.StatusCode, r.Body, tc.want)
		}
	}
	// Each answer is logged under the route that made it.
	lines := p.logLines(len(cases))
	for i, tc := range cases {
		if lines[i].Route != tc.want {
			t.Errorf("%s: logged route %q, want %q", tc.name, lines[i].Route, tc.want)
		}
	}
}

// TestE2ENoRoute404: a request no route takes gets gatehouse's 404, keeps its connection, reaches
// no backend, and is logged without a route. The routes here have no metrics (Metrics nil), as in
// every test of this harness: the engine must not need them.
func TestE2ENoRoute404(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
routes:
  - name: only-api
    match: {hosts: [api.example], path_prefix: /v1}
    upstream: up
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	c := dial(t, p.Addr)
	for _, raw := range []string{
		get("/v1/x", "www.example"),
		get("/v2/x", "api.example"),
		"POST /other HTTP/1.1\r\nHost: api.example\r\nContent-Length: 3\r\n\r\nabc",
		"HEAD /other HTTP/1.1\r\nHost: api.example\r\n\r\n",
	} {
		method, _, _ := strings.Cut(raw, " ")
		r := c.roundTrip(method, raw)
		wantBody := "404 Not Found\n"
		if method == "HEAD" {
			wantBody = ""
		}
		if r.StatusCode != 404 || r.Body != wantBody || r.Close {
			t.Errorf("%q: status %d body %q close %v, want 404 kept open", raw, r.StatusCode, r.Body, r.Close)
		}
		assertNoLeak(t, r)
	}
	if r := c.roundTrip("GET", get("/v1/x", "api.example")); r.StatusCode != 200 {
		t.Errorf("the route's own request: status %d", r.StatusCode)
	}
	if n := len(be.requests()); n != 1 {
		t.Errorf("the backend got %d requests, want only the routed one", n)
	}
	lines := p.logLines(5)
	for _, l := range lines[:4] {
		if l.Status != 404 || l.Route != "" || l.Upstream != "" {
			t.Errorf("404 logged as status %d route %q upstream %q", l.Status, l.Route, l.Upstream)
		}
	}
	if lines[4].Route != "only-api" || lines[4].Upstream != be.Addr {
		t.Errorf("routed request logged as route %q upstream %q", lines[4].Route, lines[4].Upstream)
	}
}

func TestE2ERedirect(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
routes:
  - name: to-https
    match: {path_prefix: /secure}
    redirect: {scheme: https, status: 301}
    response_headers:
      set: {X-Redirected: "yes", Cache-Control: no-store}
      add: {X-Added: a}
      remove: [X-Nothing]
  - name: moved
    match: {path_prefix: /old}
    redirect: {status: 308, host: new.example, port: 8443, path: /new, strip_query: true}
  - name: same-scheme
    match: {path_prefix: /keep}
    redirect: {status: 307, path: /kept}
  - name: https-default-port
    match: {path_prefix: /p443}
    redirect: {scheme: https, port: 443}
  - name: default-status
    match: {path_prefix: /tmp}
    redirect: {path: /elsewhere}
  - name: location-set
    match: {path_prefix: /fixed-location}
    redirect: {path: /ignored}
    response_headers: {set: {Location: "https://example.net/"}}
  - name: app
    upstream: up
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	cases := []struct {
		name, raw, method string
		status            int
		location          string
	}{
		{"https-port-dropped", get("/secure/x?a=1&b", "h.example:8080"), "GET", 301, "https://h.example/secure/x?a=1&b"},
		{"https-raw-path", get("/secure//x/../y", "h.example"), "GET", 301, "https://h.example/secure//x/../y"},
		{"https-normalised-match", get("/%73ecure", "h.example"), "GET", 301, "https://h.example/%73ecure"},
		{"https-head", "HEAD /secure HTTP/1.1\r\nHost: h.example\r\n\r\n", "HEAD", 301, "https://h.example/secure"},
		{"https-post-body-skipped", "POST /secure HTTP/1.1\r\nHost: h.example\r\nContent-Length: 4\r\n\r\nbody", "POST", 301, "https://h.example/secure"},
		// HTTP/1.0 without Host: a relative Location with the normalised path, never "//...".
		{"no-host", "GET //secure/./x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", 301, "/secure/x"},
		{"host-port-path-strip-query", get("/old/thing?q=1", "h.example"), "GET", 308, "http://new.example:8443/new"},
		{"scheme-kept-port-kept", get("/keep/a?b=c", "h.example:8080"), "GET", 307, "http://h.example:8080/kept?b=c"},
		{"ipv6-host", get("/keep", "[::1]:8080"), "GET", 307, "http://[::1]:8080/kept"},
		{"default-port-not-written", get("/p443/x", "h.example:8080"), "GET", 302, "https://h.example/p443/x"},
		{"default-status-302", get("/tmp?x=1", "h.example"), "GET", 302, "http://h.example/elsewhere?x=1"},
		// response_headers.set replaces the Location gatehouse builds, as it replaces a backend's.
		{"location-set", get("/fixed-location/x", "h.example"), "GET", 302, "https://example.net/"},
	}
	c := dial(t, p.Addr)
	for _, tc := range cases {
		r := c.roundTrip(tc.method, tc.raw)
		if r.StatusCode != tc.status || r.Header.Get("Location") != tc.location {
			t.Errorf("%s: status %d Location %q, want %d %q", tc.name, r.StatusCode, r.Header.Get("Location"), tc.status, tc.location)
		}
		if r.Body != "" || r.ContentLength != 0 {
			t.Errorf("%s: body %q Content-Length %d, want none", tc.name, r.Body, r.ContentLength)
		}
		if n := len(r.Header.Values("Location")); n != 1 {
			t.Errorf("%s: %d Location fields", tc.name, n)
		}
		if r.Close {
			t.Errorf("%s: the redirect closed the connection", tc.name)
		}
		if strings.HasPrefix(tc.name, "https-") {
			// The route's response header changes apply to its redirects: Set once, Add once.
			for h, want := range map[string][]string{"X-Redirected": {"yes"}, "Cache-Control": {"no-store"}, "X-Added": {"a"}} {
				if got := r.Header.Values(h); !slices.Equal(got, want) {
					t.Errorf("%s: %s %q, want %q", tc.name, h, got, want)
				}
			}
		}
		if tc.name == "no-host" {
			c = dial(t, p.Addr) // HTTP/1.0: start again rather than rely on keep-alive
		}
	}
	if n := len(be.requests()); n != 0 {
		t.Errorf("a redirected request reached the backend (%d)", n)
	}
	// The connection is still in step: the next request is answered by the backend.
	if r := c.roundTrip("GET", get("/app", "h.example")); r.StatusCode != 200 || r.Body != "b GET /app|" {
		t.Errorf("after the redirects: status %d body %q", r.StatusCode, r.Body)
	}
}

func TestE2ERewrite(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
routes:
  - name: strip
    match: {path_prefix: /api}
    upstream: up
    rewrite: {strip_prefix: /api}
  - name: add
    match: {path_prefix: /add}
    upstream: up
    rewrite: {add_prefix: /v2}
  - name: regex
    match: {path_prefix: /users}
    upstream: up
    rewrite: {regex: "^/users/([0-9]+)/profile", replacement: "/profiles/${1}"}
  - name: combo
    match: {path_prefix: /svc}
    upstream: up
    rewrite: {normalized_path: true, strip_prefix: /svc, add_prefix: /internal/}
  - name: to-host
    match: {path_prefix: /lit}
    upstream: up
    upstream_host: internal.example
    rewrite: {strip_prefix: /lit}
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	cases := []struct{ name, target, backendGets, host string }{
		{"strip", "/api/x?q=1", "/x?q=1", "h"},
		{"strip-all", "/api", "/", "h"},
		{"strip-all-query", "/api?x", "/?x", "h"},
		{"strip-plain-string", "/apix/y", "/x/y", "h"},
		// Stripping works on the path as sent: a spelling other than the normal one is not
		// stripped unless normalized_path is set (documented on config.Rewrite).
		{"strip-raw-spelling", "/%61pi/x", "/%61pi/x", "h"},
		{"add", "/add/y?z=%2F", "/v2/add/y?z=%2F", "h"},
		{"add-empty-query", "/add?", "/v2/add?", "h"},
		{"regex", "/users/42/profile?tab=a", "/profiles/42?tab=a", "h"},
		{"regex-rest-kept", "/users/42/profile/photo", "/profiles/42/photo", "h"},
		{"regex-no-match", "/users/abc/profile", "/users/abc/profile", "h"},
		{"normalized-strip-add", "/svc//a/./b/../c?x=/../", "/internal/a/c?x=/../", "h"},
		{"normalized-spelling", "/%73vc/a", "/internal/a", "h"},
		{"normalized-root", "/svc", "/internal/", "h"},
		{"upstream-host", "/lit/x", "/x", "internal.example"},
	}
	c := dial(t, p.Addr)
	for _, tc := range cases {
		r := c.roundTrip("GET", get(tc.target, "h"))
		if r.StatusCode != 200 {
			t.Errorf("%s: status %d", tc.name, r.StatusCode)
			continue
		}
		got := be.next(t)
		if got.Target != tc.backendGets {
			t.Errorf("%s: GET %s: the backend got %q, want %q", tc.name, tc.target, got.Target, tc.backendGets)
		}
		if got.host() != tc.host {
			t.Errorf("%s: the backend got Host %q, want %q", tc.name, got.host(), tc.host)
		}
	}
	// The access log keeps the target as the client sent it.
	lines := p.logLines(len(cases))
	for i, tc := range cases {
		if lines[i].Path != tc.target {
			t.Errorf("%s: logged path %q, want the client's %q", tc.name, lines[i].Path, tc.target)
		}
	}
}

// TestE2EHeaderOps: set replaces, add appends after what the message has, remove drops every field
// of the name, in requests and responses, for forwarded and local answers alike.
//
// It pins two bugs found when it was written: every Add field was written twice (the engine called
// HeaderOps.AppendSet, which writes the Set and the Add fields, then AppendAdd), and a respond
// route's own fields escaped its response_headers remove and set.
func TestE2EHeaderOps(t *testing.T) {
	t.Parallel()
	be := startBackend(t, rawResponse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Multi: backend\r\n"+
		"X-Set: backend1\r\nX-Set: backend2\r\nX-Gone: 1\r\nx-gone: 2\r\nX-Kept: k\r\n\r\nok"))
	p := startProxy(t, `
routes:
  - name: fixed
    match: {path_prefix: /fixed}
    respond: {status: 200, body: "fixed", headers: {X-Fixed: f, Content-Type: text/html, X-Internal: i}}
    response_headers:
      add: {X-Multi: route}
      set: {X-Set: route, content-type: text/plain}
      remove: [x-internal]
  - name: main
    upstream: up
    request_headers:
      add: {X-Req-Add: route}
      set: {X-Req-Set: route}
      remove: [x-req-gone]
    response_headers:
      add: {X-Multi: route}
      set: {X-Set: route}
      remove: [X-Gone]
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\nX-Req-Add: client\r\nX-Req-Set: client1\r\n"+
		"x-req-set: client2\r\nX-Req-Gone: g\r\nX-REQ-GONE: g2\r\nX-Req-Kept: k\r\n\r\n")
	got := be.next(t)
	for h, want := range map[string][]string{
		"X-Req-Add":  {"client", "route"},
		"X-Req-Set":  {"route"},
		"X-Req-Gone": nil,
		"X-Req-Kept": {"k"},
	} {
		if v := got.Header.Values(h); !slices.Equal(v, want) {
			t.Errorf("backend got %s %q, want %q (all lines: %q)", h, v, want, got.Lines)
		}
	}
	if r.StatusCode != 200 || r.Body != "ok" {
		t.Fatalf("status %d body %q", r.StatusCode, r.Body)
	}
	for h, want := range map[string][]string{
		"X-Multi": {"backend", "route"},
		"X-Set":   {"route"},
		"X-Gone":  nil,
		"X-Kept":  {"k"},
	} {
		if v := r.Header.Values(h); !slices.Equal(v, want) {
			t.Errorf("client got %s %q, want %q", h, v, want)
		}
	}
	r = c.roundTrip("GET", get("/fixed", "h"))
	if r.StatusCode != 200 || r.Body != "fixed" {
		t.Fatalf("fixed: status %d body %q", r.StatusCode, r.Body)
	}
	// The route's changes apply to the fixed answer's own fields too: they were written after them,
	// so a set Content-Type made two and a removed field stayed (fixed in localAnswer).
	for h, want := range map[string][]string{"X-Multi": {"route"}, "X-Set": {"route"}, "X-Fixed": {"f"},
		"Content-Type": {"text/plain"}, "X-Internal": nil, "Content-Length": {"5"}} {
		if v := r.Header.Values(h); !slices.Equal(v, want) {
			t.Errorf("fixed answer: %s %q, want %q", h, v, want)
		}
	}
	c.expectOpen(50 * time.Millisecond)
}
