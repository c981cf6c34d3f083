package router

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/service"
)

func explainRoutes() []*Route {
	return []*Route{
		{Name: "canary", Hosts: []string{"api.example.com"}, Prefix: "/api", Headers: []FieldMatch{{Name: "X-Canary"}},
			Service: &service.Service{Name: "api-canary"}},
		{Name: "api", Hosts: []string{"api.example.com", "*.example.com"}, Prefix: "/api", Methods: []string{"GET", "HEAD"},
			Service: &service.Service{Name: "api"}, Rewrite: &Rewrite{StripPrefix: "/api", AddPrefix: "/v2"},
			Host: HostLiteral, HostValue: "internal.api:8443",
			Request:  HeaderOps{Drop: []string{"x-debug", "x-a"}, Set: []Header{{Name: "X-A", Value: "1"}}, Add: []Header{{Name: "X-B", Value: "2"}}},
			Response: HeaderOps{Drop: []string{"server"}}},
		{Name: "admin", Prefix: "/admin", ClientCIDRs: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16")}, Fixed: NewFixed(403, "", nil)},
		{Name: "login", Path: "/login", Service: &service.Service{Name: "web"}},
		{Name: "php", PathRegex: `\.php$`, Fixed: NewFixed(403, "", nil)},
		{Name: "v2", Query: []FieldMatch{{Name: "v", Value: "2"}}, Service: &service.Service{Name: "web"}, Host: HostBackend},
		{Name: "old", Hosts: []string{"old.example.com"}, Redirect: &Redirect{Status: 301, Scheme: "https", Host: "new.example.com"},
			Response: HeaderOps{Set: []Header{{Name: "Cache-Control", Value: "max-age=60"}}, Drop: []string{"cache-control"}}},
		{Name: "fallback", Fixed: NewFixed(404, "nope\n", nil)},
	}
}

// verdictLines renders verdicts one per line: "name: winner" or "name: why", then the winner's
// lines indented.
func verdictLines(vs []Verdict) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.Route.Name)
		b.WriteString(": ")
		if v.Winner {
			b.WriteString("WINNER")
		} else {
			b.WriteString(v.Why)
		}
		b.WriteString("\n")
		for _, l := range v.Then {
			b.WriteString("  ")
			b.WriteString(l)
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestExplain(t *testing.T) {
	t.Parallel()
	tb := NewTable(explainRoutes())
	if err := tb.Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  *Request
		want string
	}{
		{"forward with rewrite", newReq("GET", "API.example.com:443", "/api/users?id=1"), `canary: header X-Canary: missing
api: WINNER
  forward to upstream "api" as GET /v2/users?id=1 (rewritten from /api/users?id=1)
  Host: internal.api:8443
  request header x-debug: removed
  request header X-A: set to "1"
  request header X-B: added "2"
  response header server: removed
login: path "/api/users" is not "/login"
admin: path "/api/users" does not start with "/admin"
php: path "/api/users" does not match regex ` + "`\\.php$`" + `
v2: query v: missing (the route wants "2")
fallback: matches, but route "api" comes first
old: host "api.example.com" is not old.example.com
`},
		{"wildcard host, method fails", newReq("POST", "a.example.com", "/api/x"), `api: method POST is not GET, HEAD
login: path "/api/x" is not "/login"
admin: path "/api/x" does not start with "/admin"
php: path "/api/x" does not match regex ` + "`\\.php$`" + `
v2: query v: missing (the route wants "2")
fallback: WINNER
  respond 404 Not Found with a 5-byte body
canary: host "a.example.com" is not api.example.com
old: host "a.example.com" is not old.example.com
`},
		{"client range, path spelled", fromIP(newReq("GET", "other.test", "/%61dmin"), "10.1.2.3"), `login: path "/admin" (sent as "/%61dmin") is not "/login"
admin: client 10.1.2.3 is not in 192.168.0.0/16
php: path "/admin" (sent as "/%61dmin") does not match regex ` + "`\\.php$`" + `
v2: query v: missing (the route wants "2")
fallback: WINNER
  path "/%61dmin" is read as "/admin"
  respond 404 Not Found with a 5-byte body
canary: host "other.test" is not api.example.com
api: host "other.test" is not api.example.com or *.example.com
old: host "other.test" is not old.example.com
`},
		{"redirect", newReq("GET", "old.example.com", "/x?y"), `old: WINNER
  redirect 301 Moved Permanently to https://new.example.com/x?y
  response header Cache-Control: set to "max-age=60"
api: path "/x" does not start with "/api"
login: path "/x" is not "/login"
admin: path "/x" does not start with "/admin"
php: path "/x" does not match regex ` + "`\\.php$`" + `
v2: query v: missing (the route wants "2")
fallback: matches, but route "old" comes first
canary: host "old.example.com" is not api.example.com
`},
		{"query values, backend host", newReq("GET", "", "/x?v=1&v=2"), `login: path "/x" is not "/login"
admin: path "/x" does not start with "/admin"
php: path "/x" does not match regex ` + "`\\.php$`" + `
v2: WINNER
  forward to upstream "web" as GET /x?v=1&v=2
  Host: the backend's address
fallback: matches, but route "v2" comes first
canary: the request has no host; the route wants api.example.com
api: the request has no host; the route wants api.example.com or *.example.com
old: the request has no host; the route wants old.example.com
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := verdictLines(tb.Explain(tt.req))
			if got != tt.want {
				t.Errorf("Explain:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestExplainWhy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route Route
		req   *Request
		want  string
	}{
		{"header absent", Route{Headers: []FieldMatch{{Name: "X-Debug", Absent: true}}}, newReq("GET", "h", "/", "x-debug: 1"),
			"header X-Debug: sent, but the route wants it absent"},
		{"header value", Route{Headers: []FieldMatch{{Name: "X-Env", Value: "prod"}}}, newReq("GET", "h", "/", "X-Env: dev"),
			`header X-Env: "dev" is not "prod"`},
		{"header values", Route{Headers: []FieldMatch{{Name: "X-Env", Value: "prod"}}}, newReq("GET", "h", "/", "X-Env: dev", "x-env: test"),
			`header X-Env: "dev", "test" are not "prod"`},
		{"header value missing", Route{Headers: []FieldMatch{{Name: "X-Env", Value: "prod"}}}, newReq("GET", "h", "/"),
			`header X-Env: missing (the route wants "prod")`},
		{"header regex", Route{Headers: []FieldMatch{{Name: "User-Agent", Regex: `^curl/`}}}, newReq("GET", "h", "/", "User-Agent: wget"),
			"header User-Agent: \"wget\" does not match `^curl/`"},
		{"header regexes", Route{Headers: []FieldMatch{{Name: "Accept", Regex: `json`}}}, newReq("GET", "h", "/", "Accept: a", "Accept: b"),
			"header Accept: \"a\", \"b\" do not match `json`"},
		{"header regex missing", Route{Headers: []FieldMatch{{Name: "Accept", Regex: "json"}}}, newReq("GET", "h", "/"),
			"header Accept: missing (the route wants a match for `json`)"},
		{"regex with a backquote", Route{PathRegex: "^/a`"}, newReq("GET", "h", "/b"),
			"path \"/b\" does not match regex \"^/a`\""},
		{"query absent", Route{Query: []FieldMatch{{Name: "debug", Absent: true}}}, newReq("GET", "h", "/?debug"),
			"query debug: sent, but the route wants it absent"},
		{"query present", Route{Query: []FieldMatch{{Name: "debug"}}}, newReq("GET", "h", "/?a=1"),
			"query debug: missing"},
		{"query regex", Route{Query: []FieldMatch{{Name: "id", Regex: `^[0-9]+$`}}}, newReq("GET", "h", "/?id=x1"),
			"query id: \"x1\" does not match `^[0-9]+$`"},
		{"path exact", Route{Path: "/a"}, newReq("GET", "h", "/b"), `path "/b" is not "/a"`},
		{"path of asterisk", Route{Path: "/a"}, newReq("OPTIONS", "h", "*"), `path "/" is not "/a"`},
		{"method", Route{Methods: []string{"GET"}}, newReq("DELETE", "h", "/"), "method DELETE is not GET"},
		{"clients", Route{ClientCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}},
			fromIP(newReq("GET", "h", "/"), "::ffff:192.0.2.1"), "client 192.0.2.1 is not in 10.0.0.0/8 or fd00::/8"},
		{"client unknown", Route{ClientCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, newReq("GET", "h", "/"),
			"the client's address is unknown; the route wants 10.0.0.0/8"},
		{"three hosts", Route{Hosts: []string{"a.test", "b.test", "*.c.test"}}, newReq("GET", "d.test:8080", "/"),
			`host "d.test" is not a.test, b.test or *.c.test`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := tt.route
			rt.Name = "r"
			v := NewTable([]*Route{&rt}).Explain(tt.req)
			if len(v) != 1 || v[0].Matched || v[0].Why != tt.want {
				t.Errorf("Explain = %+v, want %s", v, tt.want)
			}
		})
	}
}

func TestExplainThen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route Route
		req   *Request
		want  []string
	}{
		{"respond without body", Route{Fixed: NewFixed(204, "", nil)}, newReq("GET", "h", "/"),
			[]string{"respond 204 No Content with no body"}},
		{"client's host", Route{Service: &service.Service{Name: "web"}}, newReq("PUT", "Example.com:8080", "/a?b"),
			[]string{`forward to upstream "web" as PUT /a?b`, "Host: Example.com:8080 (the client's)"}},
		{"no host to pass", Route{Service: &service.Service{Name: "web"}}, newReq("GET", "", "?q"),
			[]string{`forward to upstream "web" as GET /?q`, "Host: the backend's address (the request has none)"}},
		{"no upstream", Route{}, newReq("GET", "h", "/"),
			[]string{"forward (the route has no upstream) as GET /", "Host: h (the client's)"}},
		{"regex rewrite of a spelled path", Route{Service: &service.Service{Name: "web"}, Rewrite: &Rewrite{NormalizedPath: true, Regex: `^/old/(.*)`, Replacement: "/new/$1"}},
			newReq("GET", "h", "/%6fld//x"),
			[]string{`path "/%6fld//x" is read as "/old/x"`, `forward to upstream "web" as GET /new/x (rewritten from /%6fld//x)`, "Host: h (the client's)"}},
		{"redirect adds response fields", Route{Redirect: &Redirect{Status: 302, Path: "/login"}, Response: HeaderOps{Add: []Header{{Name: "Vary", Value: "Cookie"}}}},
			newReq("GET", "h:81", "/account"),
			[]string{"redirect 302 Found to http://h:81/login", `response header Vary: added "Cookie"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := tt.route
			rt.Name = "r"
			v := NewTable([]*Route{&rt}).Explain(tt.req)
			if len(v) != 1 || !v[0].Winner || strings.Join(v[0].Then, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Explain = %+v\nwant Then:\n%s", v, strings.Join(tt.want, "\n"))
			}
		})
	}
}
