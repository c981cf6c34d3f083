package config

import (
	"strings"
	"testing"
)

// redirectCfg is like routeCfg, but the route redirects: "redirect:" is on line 8 and extra lines
// (indented six spaces to add redirect fields) start on line 9.
func redirectCfg(extra ...string) string {
	return strings.Replace(routeCfg(extra...), "    upstream: u\n", "    redirect:\n", 1)
}

// errorCase is a config with exactly one problem, and where and what it is.
type errorCase struct {
	name     string
	src      string
	wantLine int
	wantPath string
	wantMsg  string
}

// runErrorCases checks that each config gives exactly its one error, at its line and path, with a
// message containing wantMsg.
func runErrorCases(t *testing.T, tests []errorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := parseErrs(t, tt.src)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v\nin:\n%s", len(errs), errs, tt.src)
			}
			e := errs[0]
			if e.File != "test.yaml" || e.Line != tt.wantLine || e.Path != tt.wantPath || !strings.Contains(e.Msg, tt.wantMsg) {
				t.Fatalf("got  %s (line %d, path %q)\nwant test.yaml line %d, path %q, message containing %q\nin:\n%s",
					e, e.Line, e.Path, tt.wantLine, tt.wantPath, tt.wantMsg, tt.src)
			}
		})
	}
}

// runValidCases checks that each config parses without errors.
func runValidCases(t *testing.T, tests []struct{ name, src string }) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if errs := parseErrs(t, tt.src); errs != nil {
				t.Fatalf("unexpected errors:\n%v\nin:\n%s", errs, tt.src)
			}
		})
	}
}

func TestValidRoutes(t *testing.T) {
	t.Parallel()
	runValidCases(t, []struct{ name, src string }{
		{name: "exact path", src: routeCfg("    match: {path: /ping}")},
		{name: "path regex", src: routeCfg("    match: {path_regex: '^/users/[0-9]+$'}")},
		{name: "path prefix", src: routeCfg("    match: {path_prefix: /api/}")},
		{name: "wildcard host", src: routeCfg("    match: {hosts: ['*.example.com', '*.Example.ORG', example.com]}")},
		{name: "wildcard localhost", src: routeCfg("    match: {hosts: ['*.localhost']}")},
		{name: "standard and custom methods", src: routeCfg("    match: {methods: [GET, HEAD, POST, PURGE, purge]}")},
		{name: "header conditions", src: routeCfg("    match:", "      headers:", "        - {name: X-Canary, value: always}",
			"        - {name: User-Agent, regex: '(?i)bot'}", "        - {name: X-Debug, present: false}", "        - {name: Authorization}")},
		{name: "query conditions", src: routeCfg("    match: {query: [{name: v, value: '2'}, {name: Lang, regex: '^en'}, {name: debug, present: true}]}")},
		{name: "client cidrs", src: routeCfg("    match: {client_cidrs: [10.0.0.0/8, 192.168.1.1, '::1', 'fd00::/8']}")},
		{name: "redirect to https", src: redirectCfg("      scheme: https")},
		{name: "redirect every part", src: redirectCfg("      {status: 303, scheme: http, host: www.example.com, port: 8080, path: /new, strip_query: true}")},
		{name: "redirect 301", src: redirectCfg("      status: 301", "      host: example.com")},
		{name: "rewrite everything", src: routeCfg("    rewrite: {normalized_path: true, regex: '^/v([0-9])/', replacement: '/version-$1/', strip_prefix: /api, add_prefix: /svc}")},
		{name: "rewrite regex without replacement", src: routeCfg("    rewrite: {regex: /internal}")},
		{name: "header add", src: routeCfg("    request_headers: {add: {Via: gatehouse, X-Tag: a}}", "    response_headers: {add: {Vary: Origin}}")},
	})
}

func TestValidateRoutes(t *testing.T) {
	t.Parallel()
	runErrorCases(t, []errorCase{
		// path, path_prefix and path_regex
		{name: "path and path_prefix", src: routeCfg("    match: {path: /a, path_prefix: /b}"), wantLine: 9, wantPath: "routes[0].match",
			wantMsg: "write at most one of path, path_prefix and path_regex"},
		{name: "path and path_regex", src: routeCfg("    match:", "      path: /a", "      path_regex: ^/b"), wantLine: 9, wantPath: "routes[0].match",
			wantMsg: "write at most one of path, path_prefix and path_regex"},
		{name: "path_prefix and path_regex", src: routeCfg("    match: {path_prefix: /a, path_regex: ^/b}"), wantLine: 9, wantPath: "routes[0].match",
			wantMsg: "write at most one of path, path_prefix and path_regex"},
		{name: "written default prefix and regex", src: routeCfg("    match: {path_prefix: /, path_regex: ^/b}"), wantLine: 9, wantPath: "routes[0].match",
			wantMsg: "write at most one of"},
		{name: "relative path", src: routeCfg("    match:", "      path: ping"), wantLine: 10, wantPath: "routes[0].match.path",
			wantMsg: `path "ping" must start with "/"`},
		{name: "path with query", src: routeCfg("    match: {path: '/a?b'}"), wantLine: 9, wantPath: "routes[0].match.path",
			wantMsg: "must not contain '?' or '#'"},

		// regular expressions
		{name: "bad path_regex", src: routeCfg("    match:", "      path_regex: '^/(users'"), wantLine: 10, wantPath: "routes[0].match.path_regex",
			wantMsg: `invalid regular expression "^/(users": missing closing ): ` + "`^/(users`" + ` (RE2 syntax`},
		{name: "Perl lookahead", src: routeCfg("    match: {path_regex: '^/(?!admin)'}"), wantLine: 9, wantPath: "routes[0].match.path_regex",
			wantMsg: "invalid or unsupported Perl syntax"},
		{name: "bad header regex", src: routeCfg("    match:", "      headers:", "        - name: X-A", "          regex: '[a'"), wantLine: 12,
			wantPath: "routes[0].match.headers[0].regex", wantMsg: `invalid regular expression "[a": missing closing ]`},
		{name: "bad query regex", src: routeCfg("    match: {query: [{name: q, regex: 'a**'}]}"), wantLine: 9,
			wantPath: "routes[0].match.query[0].regex", wantMsg: "invalid nested repetition operator"},
		{name: "bad rewrite regex", src: routeCfg("    rewrite:", "      regex: '(a'", "      replacement: b"), wantLine: 10,
			wantPath: "routes[0].rewrite.regex", wantMsg: `invalid regular expression "(a"`},

		// methods
		{name: "lower-case GET", src: routeCfg("    match:", "      methods: [POST, get]"), wantLine: 10, wantPath: "routes[0].match.methods[1]",
			wantMsg: `method "get": methods are case-sensitive; write GET`},
		{name: "mixed-case Delete", src: routeCfg("    match: {methods: [Delete]}"), wantLine: 9, wantPath: "routes[0].match.methods[0]",
			wantMsg: "write DELETE"},
		{name: "method with space", src: routeCfg("    match: {methods: ['GE T']}"), wantLine: 9, wantPath: "routes[0].match.methods[0]",
			wantMsg: `method "GE T" is not a valid method name`},
		{name: "empty method", src: routeCfg("    match: {methods: ['']}"), wantLine: 9, wantPath: "routes[0].match.methods[0]",
			wantMsg: "is not a valid method name"},

		// header and query conditions
		{name: "header value and regex", src: routeCfg("    match:", "      headers:", "        - {name: X-A, value: a, regex: b}"), wantLine: 11,
			wantPath: "routes[0].match.headers[0]", wantMsg: "write at most one of value, regex and present"},
		{name: "header value and present", src: routeCfg("    match: {headers: [{name: X-A, value: a, present: true}]}"), wantLine: 9,
			wantPath: "routes[0].match.headers[0]", wantMsg: "write at most one of value, regex and present"},
		{name: "header regex and present", src: routeCfg("    match: {headers: [{name: X-A, regex: a, present: false}]}"), wantLine: 9,
			wantPath: "routes[0].match.headers[0]", wantMsg: "write at most one of value, regex and present"},
		{name: "header without name", src: routeCfg("    match:", "      headers:", "        - value: a"), wantLine: 11,
			wantPath: "routes[0].match.headers[0].name", wantMsg: "name is required; write the header field's name"},
		{name: "bad header name", src: routeCfg("    match: {headers: [{name: 'X A', present: true}]}"), wantLine: 9,
			wantPath: "routes[0].match.headers[0].name", wantMsg: `invalid header name "X A"`},
		{name: "query value and regex", src: routeCfg("    match: {query: [{name: q, value: a, regex: b}]}"), wantLine: 9,
			wantPath: "routes[0].match.query[0]", wantMsg: "write at most one of value, regex and present"},
		{name: "query without name", src: routeCfg("    match: {query: [{present: true}]}"), wantLine: 9,
			wantPath: "routes[0].match.query[0].name", wantMsg: "name is required; write the query parameter's name"},
		{name: "present not a boolean", src: routeCfg("    match: {headers: [{name: X-A, present: yes}]}"), wantLine: 9,
			wantPath: "routes[0].match.headers[0].present", wantMsg: `invalid boolean "yes": write true or false`},

		// client_cidrs
		{name: "CIDR prefix too long", src: routeCfg("    match:", "      client_cidrs: [10.0.0.0/8, 10.0.0.0/33]"), wantLine: 10,
			wantPath: "routes[0].match.client_cidrs[1]", wantMsg: `invalid CIDR "10.0.0.0/33": write an address range such as 10.0.0.0/8`},
		{name: "CIDR host name", src: routeCfg("    match: {client_cidrs: [office.example.com]}"), wantLine: 9,
			wantPath: "routes[0].match.client_cidrs[0]", wantMsg: `invalid address "office.example.com"`},
		{name: "CIDR zone", src: routeCfg("    match: {client_cidrs: ['fe80::1%eth0']}"), wantLine: 9,
			wantPath: "routes[0].match.client_cidrs[0]", wantMsg: "invalid address"},

		// wildcard hosts
		{name: "wildcard in the middle", src: routeCfg("    match: {hosts: ['a.*.com']}"), wantLine: 9, wantPath: "routes[0].match.hosts[0]",
			wantMsg: `host "a.*.com": a wildcard must be the whole first label, as in *.example.com`},
		{name: "wildcard on a TLD", src: routeCfg("    match:", "      hosts:", "        - example.com", "        - '*.com'"), wantLine: 12,
			wantPath: "routes[0].match.hosts[1]", wantMsg: `wildcard host "*.com" is too broad or malformed; write it as *.example.com`},
		{name: "bare star", src: routeCfg("    match: {hosts: ['*']}"), wantLine: 9, wantPath: "routes[0].match.hosts[0]",
			wantMsg: "a wildcard must be the whole first label"},
		{name: "partial first label", src: routeCfg("    match: {hosts: ['*api.example.com']}"), wantLine: 9, wantPath: "routes[0].match.hosts[0]",
			wantMsg: "a wildcard must be the whole first label"},
		{name: "two wildcards", src: routeCfg("    match: {hosts: ['*.*.example.com']}"), wantLine: 9, wantPath: "routes[0].match.hosts[0]",
			wantMsg: "too broad or malformed"},
		{name: "duplicate wildcard", src: routeCfg("    match: {hosts: ['*.example.com', '*.EXAMPLE.com']}"), wantLine: 9,
			wantPath: "routes[0].match.hosts[1]", wantMsg: `host "*.example.com" is already listed as hosts[0]`},

		// redirect
		{name: "require_client_cert without client_auth", src: routeCfg("    require_client_cert: true"), wantLine: 9,
			wantPath: "routes[0].require_client_cert", wantMsg: "needs a listener with tls.client_auth"},
		{name: "redirect to the same URL", src: redirectCfg("      status: 301"), wantLine: 8, wantPath: "routes[0].redirect",
			wantMsg: "the redirect changes nothing"},
		{name: "redirect path to another host", src: redirectCfg("      path: //evil.example/"), wantLine: 9, wantPath: "routes[0].redirect.path",
			wantMsg: "starts with //"},
		{name: "redirect host with a port", src: redirectCfg("      host: example.com:8443"), wantLine: 9, wantPath: "routes[0].redirect.host",
			wantMsg: "includes a port; write the port in port:"},
		{name: "redirect status 200", src: redirectCfg("      status: 200", "      scheme: https"), wantLine: 9, wantPath: "routes[0].redirect.status",
			wantMsg: "redirect status 200 is not a redirect; write 301, 302, 303, 307 or 308"},
		{name: "redirect status 304", src: redirectCfg("      status: 304", "      scheme: https"), wantLine: 9, wantPath: "routes[0].redirect.status",
			wantMsg: "redirect status 304 is not a redirect"},
		{name: "redirect scheme ftp", src: redirectCfg("      scheme: ftp"), wantLine: 9, wantPath: "routes[0].redirect.scheme",
			wantMsg: `scheme "ftp" is not supported; write http or https`},
		{name: "redirect scheme upper case", src: redirectCfg("      scheme: HTTPS"), wantLine: 9, wantPath: "routes[0].redirect.scheme",
			wantMsg: `scheme "HTTPS" is not supported`},
		{name: "redirect port too large", src: redirectCfg("      host: example.com", "      port: 70000"), wantLine: 10, wantPath: "routes[0].redirect.port",
			wantMsg: "port 70000 is out of range; write a port number from 1 to 65535"},
		{name: "redirect negative port", src: redirectCfg("      port: -1"), wantLine: 9, wantPath: "routes[0].redirect.port",
			wantMsg: "port -1 is out of range"},
		{name: "redirect bad host", src: redirectCfg("      host: exa mple.com"), wantLine: 9, wantPath: "routes[0].redirect.host",
			wantMsg: `host "exa mple.com" is not a valid host name`},
		{name: "redirect wildcard host", src: redirectCfg("      host: '*.example.com'"), wantLine: 9, wantPath: "routes[0].redirect.host",
			wantMsg: "wildcards are not supported"},
		{name: "redirect relative path", src: redirectCfg("      path: new"), wantLine: 9, wantPath: "routes[0].redirect.path",
			wantMsg: `path "new" must start with "/"`},
		{name: "redirect and upstream", src: routeCfg("    redirect: {scheme: https}"), wantLine: 7, wantPath: "routes[0]",
			wantMsg: `route "r" has more than one of upstream, respond and redirect`},

		// rewrite
		{name: "replacement without regex", src: routeCfg("    rewrite:", "      replacement: /x"), wantLine: 10,
			wantPath: "routes[0].rewrite.replacement", wantMsg: "replacement needs a regex to replace; add regex:"},
		{name: "rewrite on a respond route", src: respondCfg("    rewrite: {strip_prefix: /api}"), wantLine: 10, wantPath: "routes[0].rewrite",
			wantMsg: "rewrite only applies to routes that forward to an upstream; remove it or add upstream:"},
		{name: "rewrite on a redirect route", src: redirectCfg("      scheme: https", "    rewrite: {add_prefix: /v2}"), wantLine: 10,
			wantPath: "routes[0].rewrite", wantMsg: "rewrite only applies to routes that forward to an upstream"},
		{name: "relative strip_prefix", src: routeCfg("    rewrite: {strip_prefix: api}"), wantLine: 9, wantPath: "routes[0].rewrite.strip_prefix",
			wantMsg: `strip_prefix "api" must start with "/"`},
		{name: "add_prefix with query", src: routeCfg("    rewrite: {add_prefix: '/v2?x=1'}"), wantLine: 9, wantPath: "routes[0].rewrite.add_prefix",
			wantMsg: "must not contain '?' or '#'"},
		{name: "misspelt rewrite field", src: routeCfg("    rewrite: {strip_prefx: /api}"), wantLine: 9, wantPath: "routes[0].rewrite.strip_prefx",
			wantMsg: `unknown field "strip_prefx"; did you mean "strip_prefix"?`},

		// header ops: add
		{name: "add Host", src: routeCfg("    request_headers:", "      add: {Host: example.com}"), wantLine: 10,
			wantPath: "routes[0].request_headers.add.Host", wantMsg: "header Host cannot be set or removed here; use upstream_host"},
		{name: "add Transfer-Encoding", src: routeCfg("    response_headers:", "      add:", "        transfer-encoding: chunked"), wantLine: 11,
			wantPath: "routes[0].response_headers.add.transfer-encoding", wantMsg: "header Transfer-Encoding cannot be set or removed"},
		{name: "add bad name", src: routeCfg("    request_headers: {add: {'X(A)': b}}"), wantLine: 9,
			wantPath: "routes[0].request_headers.add.X(A)", wantMsg: `invalid header name "X(A)"`},
		{name: "add value with CR", src: routeCfg("    request_headers: {add: {X-A: \"a\\rb\"}}"), wantLine: 9,
			wantPath: "routes[0].request_headers.add.X-A", wantMsg: "must not contain line breaks"},
		{name: "add duplicate name", src: routeCfg("    response_headers:", "      add:", "        Vary: Origin", "        vary: Cookie"), wantLine: 12,
			wantPath: "routes[0].response_headers.add.vary", wantMsg: `header "vary" is also written as "Vary"`},
	})
}

func TestRouteValues(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(lines(
		"listeners: [{address: ':80'}]",
		"routes:",
		"  - match: {hosts: ['*.Example.COM'], path_regex: '^/x'}",
		"    redirect: {scheme: https}",
		"  - match: {path: /exact}",
		"    respond: {}",
	)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r0, r1 := c.Routes[0], c.Routes[1]
	tests := []struct {
		name      string
		got, want any
	}{
		{name: "wildcard host lower-cased", got: r0.Match.Hosts[0], want: "*.example.com"},
		{name: "no default prefix beside path_regex", got: r0.Match.PathPrefix, want: ""},
		{name: "no default prefix beside path", got: r1.Match.PathPrefix, want: ""},
		{name: "redirect status", got: r0.Redirect.Status, want: 302},
		{name: "redirect keeps the host", got: r0.Redirect.Host, want: ""},
		{name: "redirect keeps the query", got: r0.Redirect.StripQuery, want: false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
