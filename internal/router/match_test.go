package router

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// newReq builds a request; fields are written "Name: value".
func newReq(method, host, target string, fields ...string) *Request {
	r := &Request{Method: []byte(method), Host: []byte(host), Target: []byte(target)}
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ": ")
		r.Fields = append(r.Fields, h1.Field{Name: []byte(name), Value: []byte(value)})
	}
	return r
}

func fromIP(r *Request, ip string) *Request {
	r.ClientIP = netip.MustParseAddr(ip)
	return r
}

func TestMatchers(t *testing.T) {
	t.Parallel()
	pfx := netip.MustParsePrefix
	tests := []struct {
		name  string
		route Route
		req   *Request
		want  bool
	}{
		{"host exact", Route{Hosts: []string{"api.example.com"}}, newReq("GET", "api.example.com", "/"), true},
		{"host case and port ignored", Route{Hosts: []string{"API.example.com"}}, newReq("GET", "Api.Example.COM:8443", "/"), true},
		{"host trailing dot ignored", Route{Hosts: []string{"api.example.com"}}, newReq("GET", "api.example.com.", "/"), true},
		{"host trailing dot in config", Route{Hosts: []string{"api.example.com."}}, newReq("GET", "api.example.com", "/"), true},
		{"host other", Route{Hosts: []string{"api.example.com"}}, newReq("GET", "www.example.com", "/"), false},
		{"host suffix is not a match", Route{Hosts: []string{"example.com"}}, newReq("GET", "api.example.com", "/"), false},
		{"host none sent", Route{Hosts: []string{"example.com"}}, newReq("GET", "", "/"), false},
		{"host IPv6 in brackets", Route{Hosts: []string{"2001:db8::1"}}, newReq("GET", "[2001:db8::1]:8443", "/"), true},
		{"host IPv6 bracketed in config", Route{Hosts: []string{"[::1]"}}, newReq("GET", "[::1]", "/"), true},
		{"host IPv4", Route{Hosts: []string{"10.0.0.1"}}, newReq("GET", "10.0.0.1:80", "/"), true},
		{"host one of several", Route{Hosts: []string{"a.test", "b.test"}}, newReq("GET", "b.test", "/"), true},
		{"wildcard one level", Route{Hosts: []string{"*.example.com"}}, newReq("GET", "a.example.com", "/"), true},
		{"wildcard two levels", Route{Hosts: []string{"*.example.com"}}, newReq("GET", "a.b.example.com", "/"), true},
		{"wildcard not the apex", Route{Hosts: []string{"*.example.com"}}, newReq("GET", "example.com", "/"), false},
		{"wildcard not a longer label", Route{Hosts: []string{"*.example.com"}}, newReq("GET", "aexample.com", "/"), false},
		{"wildcard case-insensitive", Route{Hosts: []string{"*.Example.com"}}, newReq("GET", "A.EXAMPLE.COM:80", "/"), true},
		{"wildcard with trailing dot", Route{Hosts: []string{"*.example.com"}}, newReq("GET", "a.example.com.", "/"), true},

		{"path exact", Route{Path: "/login"}, newReq("GET", "h", "/login"), true},
		{"path exact with query", Route{Path: "/login"}, newReq("GET", "h", "/login?next=/"), true},
		{"path exact not a prefix", Route{Path: "/login"}, newReq("GET", "h", "/login/x"), false},
		{"path exact not with slash", Route{Path: "/login"}, newReq("GET", "h", "/login/"), false},
		{"path exact normalised", Route{Path: "/login"}, newReq("GET", "h", "//%6Cogin"), true},
		{"path exact root for asterisk", Route{Path: "/"}, newReq("OPTIONS", "h", "*"), true},
		{"path prefix", Route{Prefix: "/api"}, newReq("GET", "h", "/api/v1"), true},
		{"path prefix is a string prefix", Route{Prefix: "/api"}, newReq("GET", "h", "/apix"), true},
		{"path prefix case-sensitive", Route{Prefix: "/api"}, newReq("GET", "h", "/API"), false},
		{"path prefix not in query", Route{Prefix: "/api"}, newReq("GET", "h", "/?/api"), false},
		{"path regex unanchored", Route{PathRegex: `\.php$`}, newReq("GET", "h", "/a/b.php"), true},
		{"path regex no match", Route{PathRegex: `\.php$`}, newReq("GET", "h", "/a/b.php5"), false},
		{"path regex on normal form", Route{PathRegex: `^/v[0-9]+/`}, newReq("GET", "h", "/%76%32/x"), true},
		{"path regex not on the query", Route{PathRegex: `x=1`}, newReq("GET", "h", "/a?x=1"), false},

		{"method listed", Route{Methods: []string{"GET", "HEAD"}}, newReq("HEAD", "h", "/"), true},
		{"method not listed", Route{Methods: []string{"GET", "HEAD"}}, newReq("POST", "h", "/"), false},
		{"method case-sensitive", Route{Methods: []string{"GET"}}, newReq("get", "h", "/"), false},

		{"header present", Route{Headers: []FieldMatch{{Name: "X-Canary"}}}, newReq("GET", "h", "/", "x-canary: 1"), true},
		{"header present but empty", Route{Headers: []FieldMatch{{Name: "X-Canary"}}}, newReq("GET", "h", "/", "X-Canary: "), true},
		{"header missing", Route{Headers: []FieldMatch{{Name: "X-Canary"}}}, newReq("GET", "h", "/", "X-Other: 1"), false},
		{"header absent", Route{Headers: []FieldMatch{{Name: "X-Debug", Absent: true}}}, newReq("GET", "h", "/", "X-Other: 1"), true},
		{"header absent but sent", Route{Headers: []FieldMatch{{Name: "X-Debug", Absent: true}}}, newReq("GET", "h", "/", "x-debug: 0"), false},
		{"header value", Route{Headers: []FieldMatch{{Name: "X-Env", Value: "prod"}}}, newReq("GET", "h", "/", "X-ENV: prod"), true},
		{"header value case-sensitive", Route{Headers: []FieldMatch{{Name: "X-Env", Value: "prod"}}}, newReq("GET", "h", "/", "X-Env: Prod"), false},
		{"header value whole", Route{Headers: []FieldMatch{{Name: "X-Env", Value: "prod"}}}, newReq("GET", "h", "/", "X-Env: prod, dev"), false},
		{"header value any of repeated", Route{Headers: []FieldMatch{{Name: "X-Env", Value: "prod"}}}, newReq("GET", "h", "/", "X-Env: dev", "X-Env: prod"), true},
		{"header value missing", Route{Headers: []FieldMatch{{Name: "X-Env", Value: "prod"}}}, newReq("GET", "h", "/"), false},
		{"header regex", Route{Headers: []FieldMatch{{Name: "User-Agent", Regex: `(?i)bot`}}}, newReq("GET", "h", "/", "User-Agent: GoogleBot/2.1"), true},
		{"header regex no match", Route{Headers: []FieldMatch{{Name: "User-Agent", Regex: `^curl/`}}}, newReq("GET", "h", "/", "User-Agent: Mozilla curl/8"), false},
		{"header regex any of repeated", Route{Headers: []FieldMatch{{Name: "Accept", Regex: `json`}}}, newReq("GET", "h", "/", "Accept: text/html", "Accept: application/json"), true},
		{"headers all must hold", Route{Headers: []FieldMatch{{Name: "A"}, {Name: "B"}}}, newReq("GET", "h", "/", "A: 1"), false},

		{"query present", Route{Query: []FieldMatch{{Name: "debug"}}}, newReq("GET", "h", "/?a=1&debug"), true},
		{"query present with value", Route{Query: []FieldMatch{{Name: "debug"}}}, newReq("GET", "h", "/?debug=0"), true},
		{"query missing", Route{Query: []FieldMatch{{Name: "debug"}}}, newReq("GET", "h", "/?debugx=1"), false},
		{"query missing without query", Route{Query: []FieldMatch{{Name: "debug"}}}, newReq("GET", "h", "/debug"), false},
		{"query name case-sensitive", Route{Query: []FieldMatch{{Name: "debug"}}}, newReq("GET", "h", "/?DEBUG=1"), false},
		{"query absent", Route{Query: []FieldMatch{{Name: "debug", Absent: true}}}, newReq("GET", "h", "/?a=1"), true},
		{"query absent but sent", Route{Query: []FieldMatch{{Name: "debug", Absent: true}}}, newReq("GET", "h", "/?debug"), false},
		{"query value any of repeated", Route{Query: []FieldMatch{{Name: "v", Value: "2"}}}, newReq("GET", "h", "/?v=1&v=2"), true},
		{"query value exact", Route{Query: []FieldMatch{{Name: "v", Value: "2"}}}, newReq("GET", "h", "/?v=20"), false},
		{"query value not decoded", Route{Query: []FieldMatch{{Name: "q", Value: "a b"}}}, newReq("GET", "h", "/?q=a%20b"), false},
		{"query value as sent", Route{Query: []FieldMatch{{Name: "q", Value: "a%20b"}}}, newReq("GET", "h", "/?q=a%20b"), true},
		{"query regex", Route{Query: []FieldMatch{{Name: "id", Regex: `^[0-9]+$`}}}, newReq("GET", "h", "/?id=123"), true},
		{"query regex no match", Route{Query: []FieldMatch{{Name: "id", Regex: `^[0-9]+$`}}}, newReq("GET", "h", "/?id=12a"), false},
		{"query on absolute-form without path", Route{Query: []FieldMatch{{Name: "a"}}}, newReq("GET", "h", "?a"), true},

		{"client in range", Route{ClientCIDRs: []netip.Prefix{pfx("10.0.0.0/8")}}, fromIP(newReq("GET", "h", "/"), "10.1.2.3"), true},
		{"client out of range", Route{ClientCIDRs: []netip.Prefix{pfx("192.168.0.0/16")}}, fromIP(newReq("GET", "h", "/"), "10.1.2.3"), false},
		{"client in second range", Route{ClientCIDRs: []netip.Prefix{pfx("10.0.0.0/8"), pfx("fd00::/8")}}, fromIP(newReq("GET", "h", "/"), "fd12::1"), true},
		{"client IPv4-mapped", Route{ClientCIDRs: []netip.Prefix{pfx("10.0.0.0/8")}}, fromIP(newReq("GET", "h", "/"), "::ffff:10.9.9.9"), true},
		{"client range written mapped", Route{ClientCIDRs: []netip.Prefix{pfx("::ffff:10.0.0.0/104")}}, fromIP(newReq("GET", "h", "/"), "10.9.9.9"), true},
		{"client range not masked", Route{ClientCIDRs: []netip.Prefix{pfx("10.1.2.3/8")}}, fromIP(newReq("GET", "h", "/"), "10.200.0.1"), true},
		{"client single address", Route{ClientCIDRs: []netip.Prefix{pfx("127.0.0.1/32")}}, fromIP(newReq("GET", "h", "/"), "127.0.0.2"), false},
		{"client unknown", Route{ClientCIDRs: []netip.Prefix{pfx("0.0.0.0/0")}}, newReq("GET", "h", "/"), false},

		{"all conditions hold", Route{Hosts: []string{"*.example.com"}, Prefix: "/api", Methods: []string{"POST"},
			Headers: []FieldMatch{{Name: "X-A", Value: "1"}}, Query: []FieldMatch{{Name: "q"}}, ClientCIDRs: []netip.Prefix{pfx("10.0.0.0/8")}},
			fromIP(newReq("POST", "a.example.com", "/api/x?q", "X-A: 1"), "10.0.0.1"), true},
		{"one condition fails", Route{Hosts: []string{"*.example.com"}, Prefix: "/api", Methods: []string{"POST"},
			Headers: []FieldMatch{{Name: "X-A", Value: "1"}}, Query: []FieldMatch{{Name: "q"}}, ClientCIDRs: []netip.Prefix{pfx("10.0.0.0/8")}},
			fromIP(newReq("POST", "a.example.com", "/api/x?q", "X-A: 2"), "10.0.0.1"), false},
		{"no conditions", Route{}, newReq("DELETE", "", "*"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := tt.route
			rt.Name = "r"
			tb := NewTable([]*Route{&rt})
			if err := tb.Err(); err != nil {
				t.Fatal(err)
			}
			got := tb.Match(tt.req)
			if (got == &rt) != tt.want {
				t.Errorf("Match = %v, want match %v", got, tt.want)
			}
			// Explain agrees with Match.
			v := tb.Explain(tt.req)
			if len(v) != 1 || v[0].Matched != tt.want || v[0].Winner != tt.want || tt.want == (v[0].Why != "") {
				t.Errorf("Explain = %+v, want matched %v", v, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route Route
		want  []string // each error's text, in order
	}{
		{"wildcard in the middle", Route{Hosts: []string{"ok.test", "a.*.com"}},
			[]string{`match.hosts[1] "a.*.com": a wildcard must be the whole first label, as in *.example.com`}},
		{"wildcard without dot", Route{Hosts: []string{"*example.com"}},
			[]string{`match.hosts[0] "*example.com": a wildcard must be the whole first label, as in *.example.com`}},
		{"lone star", Route{Hosts: []string{"*"}},
			[]string{`match.hosts[0] "*": a lone * would match every host; leave hosts out to match any host`}},
		{"host with port", Route{Hosts: []string{"example.com:8080"}},
			[]string{`match.hosts[0] "example.com:8080": a host must not include a port: the request's port is ignored when matching`}},
		{"empty host", Route{Hosts: []string{""}},
			[]string{`match.hosts[0]: a host must not be empty; write a host name such as example.com`}},
		{"empty label", Route{Hosts: []string{"a..com"}},
			[]string{`match.hosts[0] "a..com": a host name must not have an empty label (".." or a leading dot)`}},
		{"bad host character", Route{Hosts: []string{"a/b.com"}},
			[]string{`match.hosts[0] "a/b.com": a host name may hold only letters, digits, '-', '_' and dots`}},
		{"bad path regex", Route{PathRegex: "a(b"},
			[]string{"match.path_regex \"a(b\": error parsing regexp: missing closing ): `a(b`"}},
		{"two path conditions", Route{Path: "/a", Prefix: "/b"},
			[]string{"match: write at most one of path, path_prefix and path_regex"}},
		{"relative prefix", Route{Prefix: "api"},
			[]string{`match.path_prefix "api": a path starts with "/"`}},
		{"prefix not normal", Route{Prefix: "/%61pi//v1/%2f"},
			[]string{`match.path_prefix "/%61pi//v1/%2f": paths are matched in normal form (escapes of letters, digits and -._~ decoded, other escapes in upper case, no // or dot segments), in which this is "/api/v1/%2F": write that`}},
		{"path not normal", Route{Path: "/a/../b"},
			[]string{`match.path "/a/../b": paths are matched in normal form (escapes of letters, digits and -._~ decoded, other escapes in upper case, no // or dot segments), in which this is "/b": write that`}},
		{"relative path", Route{Path: "login"},
			[]string{`match.path "login": a path starts with "/"`}},
		{"bad method", Route{Methods: []string{"GET", "GE T"}},
			[]string{`match.methods[1] "GE T": not a valid method name; write GET, POST and so on`}},
		{"bad header regex", Route{Headers: []FieldMatch{{Name: "X-A"}, {Name: "X-B", Regex: "[z-a]"}}},
			[]string{"match.headers[1].regex \"[z-a]\": error parsing regexp: invalid character class range: `z-a`"}},
		{"bad header name", Route{Headers: []FieldMatch{{Name: "X A"}}},
			[]string{"match.headers[0].name \"X A\": not a valid header name: use only letters, digits and !#$%&'*+-.^_`|~"}},
		{"header without name", Route{Headers: []FieldMatch{{Value: "1"}}},
			[]string{"match.headers[0].name: a name is required"}},
		{"query two tests", Route{Query: []FieldMatch{{Name: "a", Value: "1", Absent: true}}},
			[]string{"match.query[0]: write at most one of value, regex and absent"}},
		{"bad query regex", Route{Query: []FieldMatch{{Name: "a", Regex: "*"}}},
			[]string{"match.query[0].regex \"*\": error parsing regexp: missing argument to repetition operator: `*`"}},
		{"invalid CIDR", Route{ClientCIDRs: []netip.Prefix{{}}},
			[]string{`match.client_cidrs[0] "invalid Prefix": not a valid address range; write one such as 10.0.0.0/8`}},
		{"several errors", Route{Hosts: []string{"a.*.b"}, PathRegex: "("},
			[]string{`match.hosts[0] "a.*.b": a wildcard must be the whole first label, as in *.example.com`,
				"match.path_regex \"(\": error parsing regexp: missing closing ): `(`"}},
		{"bad rewrite regex", Route{Rewrite: &Rewrite{Regex: "(", Replacement: "/x"}},
			[]string{"rewrite.regex \"(\": error parsing regexp: missing closing ): `(`"}},
		{"replacement without regex", Route{Rewrite: &Rewrite{Replacement: "/x"}},
			[]string{`rewrite.replacement "/x": a replacement needs a regex to replace`}},
		{"relative strip prefix", Route{Rewrite: &Rewrite{StripPrefix: "api"}},
			[]string{`rewrite.strip_prefix "api": must start with "/"`}},
		{"add prefix with a space", Route{Rewrite: &Rewrite{AddPrefix: "/a b"}},
			[]string{`rewrite.add_prefix "/a b": may hold only visible ASCII characters other than ? # and \: percent-encode the others`}},
		{"redirect status", Route{Redirect: &Redirect{Status: 304}},
			[]string{`redirect.status "304": a redirect status is 301, 302, 303, 307 or 308`}},
		{"redirect scheme", Route{Redirect: &Redirect{Status: 301, Scheme: "ftp"}},
			[]string{`redirect.scheme "ftp": the scheme is "http" or "https", or none to keep the request's`}},
		{"redirect wildcard host", Route{Redirect: &Redirect{Status: 301, Host: "*.example.com"}},
			[]string{`redirect.host "*.example.com": a redirect goes to one host: write it without *`}},
		{"redirect port", Route{Redirect: &Redirect{Status: 301, Port: 70000}},
			[]string{`redirect.port "70000": a port is from 1 to 65535, or 0 for the default`}},
		{"redirect path to another host", Route{Redirect: &Redirect{Status: 301, Path: "//evil.example/"}},
			[]string{`redirect.path "//evil.example/": a path must not start with "//", which a browser reads as another host`}},
		{"redirect path with query", Route{Redirect: &Redirect{Status: 301, Path: "/a?b"}},
			[]string{`redirect.path "/a?b": may hold only visible ASCII characters other than ? # and \: percent-encode the others`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := tt.route
			err := rt.Compile()
			if err == nil {
				t.Fatal("Compile = nil, want an error")
			}
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("Compile = %T, want joined errors", err)
			}
			var got []string
			for _, e := range joined.Unwrap() {
				var fe *FieldError
				if !errors.As(e, &fe) {
					t.Errorf("%v is not a *FieldError", e)
				}
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if again := rt.Compile(); again != err {
				t.Errorf("second Compile = %v, want the first's error", again)
			}
		})
	}
}

func TestCompileValid(t *testing.T) {
	t.Parallel()
	for _, rt := range []*Route{
		{Hosts: []string{"*.example.com", "EXAMPLE.com", "::1", "[2001:db8::1]", "10.0.0.1", "my_host.internal", "localhost"}},
		{Path: "/"}, {Prefix: "/"}, {PathRegex: "^/(a|b)$"},
		{Methods: []string{"GET", "PURGE"}},
		{Rewrite: &Rewrite{Regex: "^/old/(.*)", Replacement: "/new/$1", StripPrefix: "/new", AddPrefix: "/v2/"}},
		{Redirect: &Redirect{Status: 308, Scheme: "https", Host: "example.com", Port: 8443, Path: "/x"}},
	} {
		if err := rt.Compile(); err != nil {
			t.Errorf("%+v: %v", rt, err)
		}
	}
	rt := &Route{Name: "n"}
	if err := rt.Compile(); err != nil || string(rt.NameBytes) != "n" {
		t.Errorf("Compile = %v, NameBytes %q", err, rt.NameBytes)
	}
}
