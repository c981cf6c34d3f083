package config

import (
	"strings"
	"testing"
)

// routeCfg is a valid config whose only route, forwarding to upstream u, ends on line 8; extra
// lines (indented four spaces to add route fields) start on line 9.
func routeCfg(extra ...string) string {
	return lines(append([]string{
		"listeners:", // 1
		"  - address: 127.0.0.1:8080",
		"upstreams:",
		"  - name: u",
		"    backends: [http://127.0.0.1:9000]", // 5
		"routes:",
		"  - name: r",
		"    upstream: u", // 8
	}, extra...)...)
}

// respondCfg is like routeCfg, but the route responds; extra lines (indented six spaces to add
// respond fields) start on line 9.
func respondCfg(extra ...string) string {
	return strings.Replace(routeCfg(append([]string{"      status: 200"}, extra...)...), "    upstream: u\n", "    respond:\n", 1)
}

// upstreamCfg is a config whose only upstream, u, has just a name on line 6; extra lines
// (indented four spaces to add upstream fields) start on line 7.
func upstreamCfg(extra ...string) string {
	return lines(append([]string{
		"listeners:", // 1
		"  - address: 127.0.0.1:8080",
		"routes:",
		"  - upstream: u",
		"upstreams:", // 5
		"  - name: u",
	}, extra...)...)
}

// serverCfg is a valid config of four lines; extra top-level lines start on line 5.
func serverCfg(extra ...string) string {
	return lines(append([]string{
		"listeners:", // 1
		"  - address: 127.0.0.1:8080",
		"routes:",
		"  - respond: {}",
	}, extra...)...)
}

func TestValidConfigs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
	}{
		{name: "route", src: routeCfg()},
		{name: "respond", src: respondCfg("      body: hi", "      headers: {Content-Type: text/plain, X-Empty: ''}")},
		{name: "any-interface listener", src: lines("listeners: [{address: ':80'}]", "routes: [{respond: {}}]")},
		{name: "IPv6 listener", src: lines("listeners: [{address: '[::1]:8080'}, {address: '[::]:8080'}]", "routes: [{respond: {}}]")},
		{name: "host name listener", src: lines("listeners: [{address: 'localhost:8080'}]", "routes: [{respond: {}}]")},
		{name: "hosts", src: routeCfg("    match: {hosts: [example.com, WWW.Example.com, 10.0.0.1, '::1', '[2001:db8::1]', my_service]}")},
		{name: "upstream_host backend", src: routeCfg("    upstream_host: backend")},
		{name: "upstream_host name", src: routeCfg("    upstream_host: example.com")},
		{name: "upstream_host name and port", src: routeCfg("    upstream_host: example.com:8443")},
		{name: "upstream_host IPv6", src: routeCfg("    upstream_host: '[::1]:8080'")},
		{name: "header ops", src: routeCfg("    request_headers: {set: {X-Real-IP: x, \"X-A!#$%&'*+.^_`|~\": y}, remove: [Cookie]}",
			"    response_headers: {remove: [Server]}")},
		{name: "trusted proxies", src: serverCfg("forwarded: {policy: off, trusted_proxies: [10.0.0.0/8, 192.168.1.1, '::1', 'fd00::/8']}")},
		{name: "replace policy", src: serverCfg("forwarded: {policy: replace}")},
		{name: "backends", src: upstreamCfg("    backends: [http://a, 'http://b:81/', 'HTTP://[::1]:82', http://10.0.0.1:65535]")},
		{name: "https backends", src: upstreamCfg("    backends: [https://a, 'https://b:8443/', 'HTTPS://[::1]:82', {url: 'https://10.0.0.1', weight: 2}]")},
		{name: "http and https backends in one upstream", src: upstreamCfg("    backends: [http://a, https://a]")},
		{name: "no idle pooling", src: upstreamCfg("    backends: [http://a]", "    max_idle_per_backend: 0")},
		{name: "unused upstream", src: lines(
			"listeners: [{address: ':80'}]", "routes: [{respond: {}}]", "upstreams: [{name: spare, backends: [http://a]}]")},
		{name: "limits at the edges", src: serverCfg("server: {max_request_line: 256, max_header_bytes: 1MiB, max_header_count: 1000, max_connections: 1}")},
		{name: "request line equals header bytes", src: serverCfg("server: {max_request_line: 16KiB, max_header_bytes: 16KiB}")},
		{name: "same port on two hosts", src: lines("listeners: [{address: '127.0.0.1:80'}, {address: '127.0.0.2:80'}]", "routes: [{respond: {}}]")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if errs := parseErrs(t, tt.src); errs != nil {
				t.Fatalf("unexpected errors:\n%v\nin:\n%s", errs, tt.src)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		src      string
		wantLine int
		wantPath string
		wantMsg  string
	}{
		// listeners
		{name: "no listeners", src: lines("routes: [{respond: {}}]"), wantLine: 0, wantPath: "listeners",
			wantMsg: "at least one listener is required"},
		{name: "empty listeners", src: lines("routes: [{respond: {}}]", "listeners: []"), wantLine: 2, wantPath: "listeners",
			wantMsg: "at least one listener is required"},
		{name: "missing address", src: lines("routes: [{respond: {}}]", "listeners:", "  - name: x"), wantLine: 3, wantPath: "listeners[0].address",
			wantMsg: "address is required; write host:port such as 127.0.0.1:8080 or :80"},
		{name: "address without port", src: lines("routes: [{respond: {}}]", "listeners:", "  - address: localhost"), wantLine: 3,
			wantPath: "listeners[0].address", wantMsg: `invalid address "localhost": write host:port`},
		{name: "empty port", src: lines("routes: [{respond: {}}]", "listeners:", "  - address: 'localhost:'"), wantLine: 3,
			wantPath: "listeners[0].address", wantMsg: "the port is missing"},
		{name: "named port", src: lines("routes: [{respond: {}}]", "listeners:", "  - address: ':http'"), wantLine: 3,
			wantPath: "listeners[0].address", wantMsg: `port "http" is not a number; write a port number from 1 to 65535`},
		{name: "port zero", src: lines("routes: [{respond: {}}]", "listeners:", "  - address: ':0'"), wantLine: 3,
			wantPath: "listeners[0].address", wantMsg: "port 0 is out of range"},
		{name: "port too large", src: lines("routes: [{respond: {}}]", "listeners:", "  - address: ':65536'"), wantLine: 3,
			wantPath: "listeners[0].address", wantMsg: "port 65536 is out of range; write a port number from 1 to 65535"},
		{name: "bad host", src: lines("routes: [{respond: {}}]", "listeners:", "  - address: 'my host:80'"), wantLine: 3,
			wantPath: "listeners[0].address", wantMsg: `host "my host" is not a valid host name`},
		{name: "bad IPv4", src: lines("routes: [{respond: {}}]", "listeners:", "  - address: '300.1.1.1:80'"), wantLine: 3,
			wantPath: "listeners[0].address", wantMsg: `"300.1.1.1" is not a valid IPv4 address`},
		{name: "duplicate listener", src: lines("routes: [{respond: {}}]", "listeners:", "  - address: ':80'", "  - address: ':080'"), wantLine: 4,
			wantPath: "listeners[1].address", wantMsg: `address ":080" is already used by listeners[0]`},
		{name: "duplicate listener host case", src: lines("routes: [{respond: {}}]", "listeners:", "  - address: 'LocalHost:80'", "  - address: 'localhost:80'"),
			wantLine: 4, wantPath: "listeners[1].address", wantMsg: "is already used by listeners[0]"},

		// server
		{name: "request line too small", src: serverCfg("server:", "  max_request_line: 100"), wantLine: 6, wantPath: "server.max_request_line",
			wantMsg: "max_request_line is 100B; it must be at least 256 bytes"},
		{name: "request line above header bytes", src: serverCfg("server:", "  max_request_line: 64KiB"), wantLine: 6, wantPath: "server.max_request_line",
			wantMsg: "max_request_line (64KiB) must not be larger than max_header_bytes (32KiB)"},
		{name: "header bytes too large", src: serverCfg("server:", "  max_header_bytes: 2MiB"), wantLine: 6, wantPath: "server.max_header_bytes",
			wantMsg: "max_header_bytes is 2MiB; it must be at most 1MiB"},
		{name: "header bytes zero", src: serverCfg("server:", "  max_request_line: 256", "  max_header_bytes: 0"), wantLine: 7,
			wantPath: "server.max_header_bytes", wantMsg: "max_header_bytes must be greater than 0"},
		{name: "header count zero", src: serverCfg("server:", "  max_header_count: 0"), wantLine: 6, wantPath: "server.max_header_count",
			wantMsg: "max_header_count is 0; it must be from 1 to 1000"},
		{name: "header count too large", src: serverCfg("server:", "  max_header_count: 1001"), wantLine: 6, wantPath: "server.max_header_count",
			wantMsg: "max_header_count is 1001; it must be from 1 to 1000"},
		{name: "negative connections", src: serverCfg("server:", "  max_connections: -1"), wantLine: 6, wantPath: "server.max_connections",
			wantMsg: "max_connections is -1; it must be at least 1"},
		{name: "zero timeout", src: serverCfg("server:", "  timeouts:", "    upstream_connect: 0s"), wantLine: 7,
			wantPath: "server.timeouts.upstream_connect", wantMsg: "upstream_connect must be greater than 0; write a Go duration such as 5s"},

		// access log and forwarded
		{name: "empty output", src: serverCfg("access_log:", "  output: ''"), wantLine: 6, wantPath: "access_log.output",
			wantMsg: "output must not be empty; write stdout, stderr, off or a file path"},
		{name: "bad policy", src: serverCfg("forwarded:", "  policy: keep"), wantLine: 6, wantPath: "forwarded.policy",
			wantMsg: `unknown policy "keep"; write append, replace or off`},
		{name: "bad CIDR", src: serverCfg("forwarded:", "  trusted_proxies:", "    - 10.0.0.0/8", "    - 10.0.0.0/33"), wantLine: 8,
			wantPath: "forwarded.trusted_proxies[1]", wantMsg: `invalid CIDR "10.0.0.0/33": write an address range such as 10.0.0.0/8`},
		{name: "bad trusted address", src: serverCfg("forwarded:", "  trusted_proxies: [proxy.local]"), wantLine: 6,
			wantPath: "forwarded.trusted_proxies[0]", wantMsg: `invalid address "proxy.local": write an IP address such as 10.0.0.1`},

		// routes
		{name: "no routes", src: lines("listeners: [{address: ':80'}]"), wantLine: 0, wantPath: "routes",
			wantMsg: "at least one route is required; add one under routes: with an upstream, a respond or a redirect"},
		{name: "duplicate route name", src: routeCfg("  - name: r", "    respond: {}"), wantLine: 9, wantPath: "routes[1].name",
			wantMsg: `route name "r" is already used by routes[0]; route names must be unique`},
		{name: "duplicate default route name", src: routeCfg("  - respond: {}", "  - name: route-1", "    respond: {}"), wantLine: 10,
			wantPath: "routes[2].name", wantMsg: `route name "route-1" is already used by routes[1]`},
		{name: "upstream and respond", src: routeCfg("    respond: {}"), wantLine: 7, wantPath: "routes[0]",
			wantMsg: `route "r" has more than one of upstream, respond and redirect; keep one of them`},
		{name: "neither upstream nor respond", src: routeCfg("  - name: empty"), wantLine: 9, wantPath: "routes[1]",
			wantMsg: `route "empty" has none of upstream, respond and redirect`},
		{name: "undefined upstream", src: routeCfg("  - upstream: uu"), wantLine: 9, wantPath: "routes[1].upstream",
			wantMsg: `upstream "uu" is not defined; did you mean "u"? defined upstreams: u`},
		{name: "undefined upstream far off", src: routeCfg("  - upstream: payments"), wantLine: 9, wantPath: "routes[1].upstream",
			wantMsg: `upstream "payments" is not defined; defined upstreams: u`},
		{name: "no upstreams at all", src: lines("listeners: [{address: ':80'}]", "routes:", "  - upstream: api"), wantLine: 3,
			wantPath: "routes[0].upstream", wantMsg: `upstream "api" is not defined; there are no upstreams: add one under upstreams:`},
		{name: "host with port", src: routeCfg("    match:", "      hosts: [example.com:8080]"), wantLine: 10, wantPath: "routes[0].match.hosts[0]",
			wantMsg: `host "example.com:8080" must not include a port`},
		{name: "wildcard host in the middle", src: routeCfg("    match:", "      hosts:", "        - 'a.*.example.com'"), wantLine: 11,
			wantPath: "routes[0].match.hosts[0]", wantMsg: "a wildcard must be the whole first label"},
		{name: "wildcard host too broad", src: routeCfg("    match:", "      hosts:", "        - '*.com'"), wantLine: 11,
			wantPath: "routes[0].match.hosts[0]", wantMsg: "too broad"},
		{name: "bad host name", src: routeCfg("    match: {hosts: [exa mple.com]}"), wantLine: 9, wantPath: "routes[0].match.hosts[0]",
			wantMsg: `host "exa mple.com" is not a valid host name: use only letters, digits`},
		{name: "empty host label", src: routeCfg("    match: {hosts: [example..com]}"), wantLine: 9, wantPath: "routes[0].match.hosts[0]",
			wantMsg: "each dot-separated part must be 1 to 63 characters"},
		{name: "empty host", src: routeCfg("    match: {hosts: ['']}"), wantLine: 9, wantPath: "routes[0].match.hosts[0]",
			wantMsg: "host must not be empty"},
		{name: "duplicate host", src: routeCfg("    match:", "      hosts:", "        - Example.com", "        - example.COM"), wantLine: 12,
			wantPath: "routes[0].match.hosts[1]", wantMsg: `host "example.com" is already listed as hosts[0]; remove one`},
		{name: "relative path prefix", src: routeCfg("    match: {path_prefix: api/}"), wantLine: 9, wantPath: "routes[0].match.path_prefix",
			wantMsg: `path_prefix "api/" must start with "/", such as /api/`},
		{name: "path prefix with space", src: routeCfg("    match: {path_prefix: /a b}"), wantLine: 9, wantPath: "routes[0].match.path_prefix",
			wantMsg: "must not contain spaces or control characters"},
		{name: "path prefix with control", src: routeCfg("    match: {path_prefix: \"/a\\tb\"}"), wantLine: 9, wantPath: "routes[0].match.path_prefix",
			wantMsg: "must not contain spaces or control characters"},
		{name: "path prefix with query", src: routeCfg("    match: {path_prefix: '/a?b=1'}"), wantLine: 9, wantPath: "routes[0].match.path_prefix",
			wantMsg: `path_prefix "/a?b=1" must not contain '?' or '#'`},
		{name: "path prefix with fragment", src: routeCfg("    match: {path_prefix: '/a#b'}"), wantLine: 9, wantPath: "routes[0].match.path_prefix",
			wantMsg: "must not contain '?' or '#'"},
		{name: "bad upstream_host", src: routeCfg("    upstream_host: client host"), wantLine: 9, wantPath: "routes[0].upstream_host",
			wantMsg: `invalid upstream_host "client host" (host "client host" is not a valid host name`},
		{name: "upstream_host bad port", src: routeCfg("    upstream_host: example.com:99999"), wantLine: 9, wantPath: "routes[0].upstream_host",
			wantMsg: `invalid upstream_host "example.com:99999" (port 99999 is out of range; write a port number from 1 to 65535); write pass, backend, or a host name`},
		{name: "upstream_host URL", src: routeCfg("    upstream_host: http://example.com"), wantLine: 9, wantPath: "routes[0].upstream_host",
			wantMsg: `invalid upstream_host "http://example.com"`},
		{name: "zero body size", src: routeCfg("    max_body_size: 0"), wantLine: 9, wantPath: "routes[0].max_body_size",
			wantMsg: "max_body_size must be greater than 0; write a size such as 10MiB, or leave it out for 100MiB"},

		// respond
		{name: "1xx status", src: strings.Replace(respondCfg(), "status: 200", "status: 101", 1), wantLine: 9,
			wantPath: "routes[0].respond.status", wantMsg: "status 101 is not allowed; write a status code from 200 to 599"},
		{name: "status too large", src: strings.Replace(respondCfg(), "status: 200", "status: 600", 1), wantLine: 9,
			wantPath: "routes[0].respond.status", wantMsg: "status 600 is not allowed"},
		{name: "respond header name", src: respondCfg("      headers:", "        Bad Name: x"), wantLine: 11, wantPath: "routes[0].respond.headers.Bad Name",
			wantMsg: `invalid header name "Bad Name": use only letters, digits and !#$%&'*+-.^_` + "`|~"},
		{name: "respond header colon", src: respondCfg("      headers: {'X-A:': x}"), wantLine: 10, wantPath: "routes[0].respond.headers.X-A:",
			wantMsg: `invalid header name "X-A:"`},
		{name: "respond header value newline", src: respondCfg("      headers:", "        X-A: \"a\\r\\nSet-Cookie: x\""), wantLine: 11,
			wantPath: "routes[0].respond.headers.X-A", wantMsg: `the value of header "X-A" must not contain line breaks (CR, LF) or NUL characters`},
		{name: "respond header value NUL", src: respondCfg("      headers: {X-A: \"a\\0b\"}"), wantLine: 10,
			wantPath: "routes[0].respond.headers.X-A", wantMsg: "must not contain line breaks (CR, LF) or NUL characters"},
		{name: "respond content-length", src: respondCfg("      headers: {content-length: '5'}"), wantLine: 10,
			wantPath: "routes[0].respond.headers.content-length", wantMsg: "header Content-Length cannot be set; it is always computed from body"},
		{name: "respond connection", src: respondCfg("      headers: {Connection: close}"), wantLine: 10,
			wantPath: "routes[0].respond.headers.Connection", wantMsg: "header Connection cannot be set or removed: gatehouse manages it"},
		{name: "respond duplicate header", src: respondCfg("      headers:", "        X-A: 1", "        x-a: 2"), wantLine: 12,
			wantPath: "routes[0].respond.headers.x-a", wantMsg: `header "x-a" is also written as "X-A"; header names are case-insensitive, keep one`},

		// header ops
		{name: "set Host", src: routeCfg("    request_headers:", "      set: {Host: example.com}"), wantLine: 10,
			wantPath: "routes[0].request_headers.set.Host", wantMsg: "header Host cannot be set or removed here; use upstream_host to change the Host sent to the backend"},
		{name: "remove Connection", src: routeCfg("    request_headers:", "      remove: [X-A, connection]"), wantLine: 10,
			wantPath: "routes[0].request_headers.remove[1]", wantMsg: "header Connection cannot be set or removed: gatehouse manages it because it frames the message or is hop-by-hop"},
		{name: "set Transfer-Encoding", src: routeCfg("    response_headers:", "      set:", "        Transfer-Encoding: chunked"), wantLine: 11,
			wantPath: "routes[0].response_headers.set.Transfer-Encoding", wantMsg: "header Transfer-Encoding cannot be set or removed"},
		{name: "remove TE", src: routeCfg("    request_headers: {remove: [te]}"), wantLine: 9, wantPath: "routes[0].request_headers.remove[0]",
			wantMsg: "header TE cannot be set or removed"},
		{name: "set Keep-Alive", src: routeCfg("    response_headers: {set: {keep-alive: x}}"), wantLine: 9, wantPath: "routes[0].response_headers.set.keep-alive",
			wantMsg: "header Keep-Alive cannot be set or removed"},
		{name: "set Upgrade", src: routeCfg("    request_headers: {set: {Upgrade: h2c}}"), wantLine: 9, wantPath: "routes[0].request_headers.set.Upgrade",
			wantMsg: "header Upgrade cannot be set or removed"},
		{name: "remove Trailer", src: routeCfg("    response_headers: {remove: [Trailer]}"), wantLine: 9, wantPath: "routes[0].response_headers.remove[0]",
			wantMsg: "header Trailer cannot be set or removed"},
		{name: "remove Content-Length", src: routeCfg("    request_headers: {remove: [Content-Length]}"), wantLine: 9,
			wantPath: "routes[0].request_headers.remove[0]", wantMsg: "header Content-Length cannot be set or removed"},
		{name: "remove bad name", src: routeCfg("    request_headers: {remove: ['X A']}"), wantLine: 9, wantPath: "routes[0].request_headers.remove[0]",
			wantMsg: `invalid header name "X A"`},
		{name: "remove empty name", src: routeCfg("    request_headers: {remove: ['']}"), wantLine: 9, wantPath: "routes[0].request_headers.remove[0]",
			wantMsg: "a header name must not be empty"},
		{name: "set value with LF", src: routeCfg("    request_headers:", "      set:", "        X-A: \"a\\nb\""), wantLine: 11,
			wantPath: "routes[0].request_headers.set.X-A", wantMsg: "must not contain line breaks"},
		{name: "set non-ASCII name", src: routeCfg("    response_headers: {set: {X-É: a}}"), wantLine: 9,
			wantPath: "routes[0].response_headers.set.X-É", wantMsg: `invalid header name "X-É"`},

		// upstreams
		{name: "upstream without name", src: lines("listeners: [{address: ':80'}]", "routes: [{respond: {}}]", "upstreams:", "  - backends: [http://a]"), wantLine: 4, wantPath: "upstreams[0].name",
			wantMsg: "an upstream needs a name; add name: so that routes can refer to it"},
		{name: "duplicate upstream", src: lines(
			"listeners: [{address: ':80'}]", "routes: [{upstream: u}]", "upstreams:", "  - {name: u, backends: [http://a]}", "  - {name: u, backends: [http://b]}"),
			wantLine: 5, wantPath: "upstreams[1].name", wantMsg: `upstream name "u" is already used by upstreams[0]; upstream names must be unique`},
		{name: "no backends", src: upstreamCfg(), wantLine: 6, wantPath: "upstreams[0].backends",
			wantMsg: `at least one backend is required; add one such as backends: ["http://127.0.0.1:8081"]`},
		{name: "empty backends", src: upstreamCfg("    backends: []"), wantLine: 7, wantPath: "upstreams[0].backends",
			wantMsg: "at least one backend is required"},
		{name: "other scheme", src: upstreamCfg("    backends: ['ftp://a']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: `backend "ftp://a": scheme "ftp" is not supported; use http:// or https://`},
		{name: "https backend without host", src: upstreamCfg("    backends:", "      - https://"), wantLine: 8, wantPath: "upstreams[0].backends[0]",
			wantMsg: `backend "https://" has no host`},
		{name: "https backend with path", src: upstreamCfg("    backends: ['https://a/api']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: `backend "https://a/api" must not have a path`},
		{name: "https backend port zero", src: upstreamCfg("    backends: ['https://a:0']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: "port 0 is out of range"},
		{name: "https and http on one address", src: upstreamCfg("    backends:", "      - https://10.0.0.1", "      - http://10.0.0.1:443"), wantLine: 9,
			wantPath: "upstreams[0].backends[1]", wantMsg: "backend 10.0.0.1:443 is already listed as backends[0]"},
		{name: "no scheme", src: upstreamCfg("    backends: ['10.0.0.1:80']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: `backend "10.0.0.1:80" is not a URL; write a URL such as http://127.0.0.1:8081`},
		{name: "backend path", src: upstreamCfg("    backends: ['http://a/api']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: `backend "http://a/api" must not have a path`},
		{name: "backend query", src: upstreamCfg("    backends: ['http://a/?x=1']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: "must not have a query (?...); remove it"},
		{name: "backend empty query", src: upstreamCfg("    backends: ['http://a?']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: "must not have a query"},
		{name: "backend fragment", src: upstreamCfg("    backends: ['http://a#x']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: "must not have a fragment"},
		{name: "backend user info", src: upstreamCfg("    backends: ['http://user:pw@a']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: "must not contain user info (user@); remove it"},
		{name: "backend no host", src: upstreamCfg("    backends: ['http://']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: `backend "http://" has no host`},
		{name: "backend port zero", src: upstreamCfg("    backends: ['http://a:0']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: "port 0 is out of range"},
		{name: "backend empty port", src: upstreamCfg("    backends: ['http://a:']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: "the port is missing"},
		{name: "backend bad host", src: upstreamCfg("    backends: ['http://a_b!c']"), wantLine: 7, wantPath: "upstreams[0].backends[0]",
			wantMsg: "not a valid"},
		{name: "idle negative", src: upstreamCfg("    backends: [http://a]", "    max_idle_per_backend: -1"), wantLine: 8,
			wantPath: "upstreams[0].max_idle_per_backend", wantMsg: "max_idle_per_backend is -1; it must be from 0 (no pooling) to 100000"},
		{name: "idle too many", src: upstreamCfg("    backends: [http://a]", "    max_idle_per_backend: 100001"), wantLine: 8,
			wantPath: "upstreams[0].max_idle_per_backend", wantMsg: "it must be from 0 (no pooling) to 100000"},
		{name: "idle_timeout zero", src: upstreamCfg("    backends: [http://a]", "    idle_timeout: 0s"), wantLine: 8,
			wantPath: "upstreams[0].idle_timeout", wantMsg: "idle_timeout must be greater than 0; write a Go duration"},
		{name: "slow_start negative", src: upstreamCfg("    backends: [http://a]", "    balance: fastest"), wantLine: 8,
			wantPath: "upstreams[0].balance", wantMsg: "unknown balance \"fastest\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := parseErrs(t, tt.src)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v\nin:\n%s", len(errs), errs, tt.src)
			}
			e := errs[0]
			if e.Line != tt.wantLine || e.Path != tt.wantPath || !strings.Contains(e.Msg, tt.wantMsg) {
				t.Fatalf("got  %s (line %d, path %q)\nwant line %d, path %q, message containing %q\nin:\n%s",
					e, e.Line, e.Path, tt.wantLine, tt.wantPath, tt.wantMsg, tt.src)
			}
		})
	}
}

func TestValidateHasNoSideEffects(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(routeCfg("    match: {hosts: [a.example]}")), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	before := c.Routes[0].Match.Hosts[0]
	c.Routes[0].MaxBodySize = 0
	if errs := Validate(c); len(errs) != 1 {
		t.Fatalf("Validate = %v, want one error", errs)
	}
	if c.Routes[0].MaxBodySize != 0 || c.Routes[0].Match.Hosts[0] != before {
		t.Fatal("Validate changed the config")
	}
}

func TestValidateAdmin(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, admin, want string }{
		{"off", "off", ""},
		{"loopback", "127.0.0.1:9090", ""},
		{"not an address", "nonsense", `invalid address "nonsense"`},
		{"bad port", "127.0.0.1:99999", "out of range"},
		{"same as a listener", "127.0.0.1:8080", "the admin listener needs an address of its own"},
		{"all interfaces on a listener's port", ":8080", "the admin listener needs an address of its own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "listeners: [{address: 127.0.0.1:8080}]\nadmin:\n  address: \"" + tt.admin + "\"\nroutes: [{respond: {}}]\n"
			_, err := Parse([]byte(src), "a.yaml")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "a.yaml:3: admin.address") {
				t.Fatalf("error %v, want a.yaml:3: admin.address ... %q", err, tt.want)
			}
		})
	}
}
