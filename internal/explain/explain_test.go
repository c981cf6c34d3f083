package explain

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/gateway"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the output of the tests")

// testNow is the time the golden explanations are made at.
var testNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

// siteYAML has routes of every kind: redirects, fixed responses, client CIDRs, header, query
// and method conditions, wildcard hosts, rewrites and header changes.
const siteYAML = `
listeners: [{address: 127.0.0.1:8080}]
admin: {address: "off"}
routes:
  - name: https-only
    match: {hosts: [secure.example.com]}
    redirect: {scheme: https, status: 308}
  - name: old-docs
    match: {hosts: [docs.example.com], path_prefix: /v1/}
    redirect: {path: /latest/, status: 301, strip_query: true}
  - name: health
    match: {path: /healthz}
    respond: {body: "ok\n", headers: {Content-Type: text/plain}}
  - name: admin
    match: {path_prefix: /admin, client_cidrs: [10.0.0.0/8, "2001:db8::/32"]}
    upstream: admin
  - name: admin-denied
    match: {path_prefix: /admin}
    respond: {status: 403, body: "forbidden\n"}
  - name: users-v2
    match:
      hosts: [api.example.com]
      path_prefix: /users/
      methods: [GET, HEAD]
      headers: [{name: X-Api-Version, value: "2"}]
    upstream: users-v2
    rewrite: {normalized_path: true, strip_prefix: /users, add_prefix: /v2}
  - name: users
    match: {hosts: [api.example.com], path_prefix: /users/}
    upstream: users
    rewrite: {regex: "^/users/([0-9]+)$", replacement: "/user/$1"}
    upstream_host: users.internal
    request_headers: {set: {X-Gateway: gatehouse}, remove: [Cookie], add: {X-Route: users}}
    response_headers: {remove: [Server]}
  - name: beta
    match:
      hosts: ["*.example.com"]
      headers: [{name: X-Beta, regex: "^(on|yes)$"}]
      query: [{name: debug, present: false}]
    upstream: users-v2
  - name: tenants
    match: {hosts: ["*.example.com"]}
    upstream: users
    upstream_host: backend
upstreams:
  - name: admin
    backends: [http://10.9.0.1:8081]
  - name: users
    backends: [{url: http://10.1.0.1:8080, weight: 3}, http://10.1.0.2:8080, {url: http://10.1.0.9:8080, backup: true}]
    balance: weighted_round_robin
    retry: {attempts: 1, per_try_timeout: 2s}
  - name: users-v2
    backends: [http://10.2.0.1:8080, http://10.2.0.2:8080]
    balance: round_robin
    health:
      active: {path: /healthz, interval: 10s, body: ok}
      passive: {consecutive_5xx: 0, consecutive_failures: 2}
    limits: {max_connections: 100, queue_size: 10, queue_timeout: 500ms}
    retry: {attempts: 0}
`

// poolsYAML has one upstream per balancing feature: consistent hashing on each key, sticky
// cookies with and without a secret, backups and active checks.
const poolsYAML = `
listeners: [{address: 127.0.0.1:8080}]
admin: {address: "off"}
routes:
  - {name: by-ip, match: {path_prefix: /ip}, upstream: by-ip}
  - {name: by-user, match: {path_prefix: /user}, upstream: by-user}
  - {name: by-path, match: {path_prefix: /files}, upstream: by-path}
  - {name: cart, match: {path_prefix: /cart}, upstream: cart}
  - {name: open, match: {path_prefix: /open}, upstream: open}
  - {name: main, upstream: main}
upstreams:
  - name: by-ip
    balance: consistent_hash
    backends: [http://10.3.0.1, http://10.3.0.2, http://10.3.0.3]
  - name: by-user
    balance: consistent_hash
    hash: {key: header, name: X-User, algorithm: ring, load_factor: 2}
    backends: [http://10.3.1.1, {url: http://10.3.1.2, weight: 2}]
  - name: by-path
    balance: consistent_hash
    hash: {key: path, load_factor: 0}
    backends: [http://10.3.2.1, http://10.3.2.2, http://10.3.2.3, http://10.3.2.4]
  - name: cart
    balance: least_conn
    sticky: {cookie: cart_backend, secret: 0123456789abcdef-test-secret, max_age: 12h}
    slow_start: 30s
    backends: [http://10.4.0.1, http://10.4.0.2]
  - name: open
    sticky: {}
    backends: [http://10.4.1.1, http://10.4.1.2]
  - name: main
    backends: [{url: http://10.5.0.1, weight: 2}, http://10.5.0.2, {url: http://10.5.0.3, backup: true}]
    health:
      active: {type: tcp, interval: 2s, timeout: 1s, rise: 1, fall: 2}
      passive: {max_ejected_percent: 100}
`

func parse(t testing.TB, src string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(src), "explain.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// stickyCookie is the valid value of upstream's sticky cookie naming addr, as gatehouse would set it.
func stickyCookie(t *testing.T, cfg *config.Config, upstreamName, addr string) string {
	t.Helper()
	wd := watchdog.New(time.Second, time.Now)
	defer wd.Close()
	g, err := gateway.CompileOffline(cfg, wd, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	svc := g.Services[upstreamName]
	for _, be := range svc.Backends() {
		if be.Addr == addr {
			set := string(svc.Pool.AppendSetCookie(nil, be))
			return strings.SplitN(set, ";", 2)[0]
		}
	}
	t.Fatalf("no backend %s in %s", addr, upstreamName)
	return ""
}

// golden compares got with testdata/name.golden, or writes it there with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept it):\n--- got\n%s\n--- want\n%s\n%s", path, got, want, firstDiff(got, string(want)))
	}
}

// firstDiff names the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("first difference at line %d:\n got: %q\nwant: %q", i+1, gl, wl)
		}
	}
	return ""
}

// explainCase is one request explained against a config, compared with a golden file.
type explainCase struct {
	name string
	cfg  string
	q    Query
	// must lists substrings the output must hold whatever the golden file says, so that the
	// golden file cannot be regenerated into something that misses the point of the case.
	must []string
}

func runCase(t *testing.T, tc explainCase) string {
	t.Helper()
	q := tc.q
	if q.Now == nil {
		q.Now = fixedNow
	}
	var out bytes.Buffer
	if err := Run(&out, parse(t, tc.cfg), q); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := out.String()
	for _, m := range tc.must {
		if !strings.Contains(got, m) {
			t.Errorf("the output lacks %q:\n%s", m, got)
		}
	}
	return got
}

func TestGoldenRoutes(t *testing.T) {
	t.Parallel()
	tests := []explainCase{
		{name: "no-route", cfg: siteYAML, q: Query{Method: "GET", URL: "http://other.org/nothing"},
			must: []string{"→ no route matches: 404 Not Found", `host "other.org" is not *.example.com`, "No route matches"}},
		{name: "respond", cfg: siteYAML, q: Query{Method: "GET", URL: "http://anything.test/healthz"},
			must: []string{`→ route "health": gatehouse answers 200 OK itself`, "respond 200 OK with a 3-byte body"}},
		{name: "redirect-https", cfg: siteYAML, q: Query{Method: "POST", URL: "http://secure.example.com:8080/login?next=/x"},
			must: []string{`redirect 308 to https://secure.example.com/login?next=/x`}},
		{name: "redirect-path", cfg: siteYAML, q: Query{URL: "http://docs.example.com/v1/intro?lang=en"},
			must: []string{`redirect 301 to http://docs.example.com/latest/`}},
		{name: "already-https", cfg: siteYAML, q: Query{URL: "https://secure.example.com/login"},
			must: []string{"GET https://secure.example.com/login", "redirect 308 to https://secure.example.com/login (the URL asked for: the client would loop)"}},
		{name: "rewrite-regex-and-headers", cfg: siteYAML,
			q: Query{Method: "GET", URL: "http://api.example.com/users/42", Headers: []string{"Cookie: a=b"}},
			must: []string{`route "users"`, "GET /user/42 (rewritten from /users/42)", "Host: users.internal",
				"request header cookie: removed", "request header X-Gateway: set to \"gatehouse\"", "response header server: removed",
				`header X-Api-Version: missing (the route wants "2")`}},
		{name: "rewrite-strip-add-normalized", cfg: siteYAML,
			q:    Query{Method: "GET", URL: "http://api.example.com/users/x/../%34%32", Headers: []string{"X-Api-Version: 2"}},
			must: []string{`route "users-v2"`, `(routes match the path "/users/x/../%34%32" as "/users/42")`, "GET /v2/42"}},
		{name: "header-value-fails", cfg: siteYAML,
			q:    Query{Method: "GET", URL: "http://api.example.com/users/7", Headers: []string{"X-Api-Version: 3"}},
			must: []string{`header X-Api-Version: "3" is not "2"`, `route "users"`}},
		{name: "method-fails", cfg: siteYAML,
			q:    Query{Method: "POST", URL: "http://api.example.com/users/7", Headers: []string{"X-Api-Version: 2"}},
			must: []string{"method POST is not GET, HEAD", "POST is not idempotent"}},
		{name: "header-regex-fails", cfg: siteYAML,
			q:    Query{URL: "http://shop.example.com/", Headers: []string{"X-Beta: maybe"}},
			must: []string{`header X-Beta: "maybe" does not match ` + "`^(on|yes)$`", `route "tenants"`, "Host: the backend's address"}},
		{name: "host-wildcard", cfg: siteYAML,
			q:    Query{URL: "http://A.B.Example.COM:8443/cart", Headers: []string{"X-Beta: yes"}},
			must: []string{`→ route "beta" → upstream "users-v2"`, `host "a.b.example.com" is not secure.example.com`}},
		{name: "query-absent-fails", cfg: siteYAML,
			q:    Query{URL: "http://a.example.com/?debug=1", Headers: []string{"X-Beta: on"}},
			must: []string{"query debug: sent, but the route wants it absent", `route "tenants"`}},
		{name: "client-cidr-in", cfg: siteYAML, q: Query{URL: "http://gw.test/admin/users", From: "10.20.30.40"},
			must: []string{"from 10.20.30.40", `→ route "admin" → upstream "admin" → 10.9.0.1:8081 (the only backend that can take it)`}},
		{name: "client-cidr-out", cfg: siteYAML, q: Query{URL: "http://gw.test/admin/users", From: "192.0.2.7"},
			must: []string{"client 192.0.2.7 is not in 10.0.0.0/8 or 2001:db8::/32", `gatehouse answers 403 Forbidden itself`}},
		{name: "client-cidr-ipv6-with-port", cfg: siteYAML, q: Query{URL: "http://gw.test/admin", From: "[2001:db8::5]:40000"},
			must: []string{"from 2001:db8::5", `→ route "admin"`}},
		{name: "client-cidr-ipv4-mapped", cfg: siteYAML, q: Query{URL: "http://gw.test/admin", From: "::ffff:10.1.1.1"},
			must: []string{"from 10.1.1.1", `→ route "admin"`}},
		// Routing bypass attempts: the normalised path is matched, so each lands on admin-denied.
		{name: "bypass-dot-segments", cfg: siteYAML, q: Query{URL: "http://gw.test/public/../admin", From: "192.0.2.7"},
			must: []string{`(routes match the path "/public/../admin" as "/admin")`, `→ route "admin-denied"`}},
		{name: "bypass-percent-escape", cfg: siteYAML, q: Query{URL: "http://gw.test/%61dmin/x", From: "192.0.2.7"},
			must: []string{`as "/admin/x"`, `→ route "admin-denied"`}},
		{name: "bypass-double-slash", cfg: siteYAML, q: Query{URL: "/admin//../admin", Headers: []string{"Host: gw.test"}, From: "192.0.2.7"},
			must: []string{`→ route "admin-denied"`}},
		{name: "refused-too-many-headers", cfg: siteYAML, q: Query{URL: "http://gw.test/", Headers: manyHeaders(101)},
			must: []string{"→ refused before routing: 431"}},
		{name: "refused-bad-header-name", cfg: siteYAML, q: Query{URL: "/", Headers: []string{"X(A): 1"}},
			must: []string{"→ refused before routing: 400 Bad Request (invalid header field name)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			golden(t, tc.name, runCase(t, tc))
		})
	}
}

func manyHeaders(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("X-H%d: %d", i, i)
	}
	return out
}

func TestGoldenPools(t *testing.T) {
	t.Parallel()
	cfg := parse(t, poolsYAML)
	cartCookie := stickyCookie(t, cfg, "cart", "10.4.0.2:80")
	tests := []explainCase{
		{name: "hash-client-ip", cfg: poolsYAML, q: Query{URL: "http://shop.test/ip", From: "192.0.2.10"},
			must: []string{"consistent hash of the client IP 192.0.2.10 points there", "(consistent hash of the client IP)",
				"consistent_hash of the client's IP (maglev); bounded load: a backend takes at most 1.25×"}},
		// The config names the header X-User and the client sends x-user. Regression: explain looked
		// the name up as written, which h1.Request.Header never matches (it wants lower case).
		{name: "hash-header", cfg: poolsYAML, q: Query{URL: "http://shop.test/user", Headers: []string{"x-user: alice"}},
			must: []string{`the X-User header "alice" points there`, "(ring); bounded load: a backend takes at most 2×", "33.3%", "66.7%"}},
		{name: "hash-header-missing", cfg: poolsYAML, q: Query{URL: "http://shop.test/user"},
			must: []string{"the request has no X-User header to hash: it is placed at random, by weight", "(2 of 2 backends can take it)"}},
		{name: "hash-path-normalized", cfg: poolsYAML, q: Query{URL: "http://shop.test/files/x/../a.txt"},
			must: []string{`the path "/files/a.txt" points there`, "no load bound"}},
		{name: "sticky-no-cookie", cfg: poolsYAML, q: Query{URL: "http://shop.test/cart"},
			must: []string{"no cart_backend cookie (sticky sessions): the balancer chooses", "the response sets cookie cart_backend",
				"cookie cart_backend names the backend that served the client; signed with sticky.secret, kept 12h",
				"slow start: a new or recovered backend ramps from 10% to its full share over 30s"}},
		{name: "sticky-valid-cookie", cfg: poolsYAML, q: Query{URL: "http://shop.test/cart", Headers: []string{"Cookie: theme=dark; " + cartCookie}},
			must: []string{"→ 10.4.0.2:80, named by the sticky cookie", `→ route "cart" → upstream "cart" → 10.4.0.2:80 (sticky cookie)`}},
		{name: "sticky-forged-cookie", cfg: poolsYAML, q: Query{URL: "http://shop.test/cart", Headers: []string{"Cookie: cart_backend=AAAAAAAA.AAAAAAAAAAAAAAAA"}},
			must: []string{"cookie cart_backend is not valid for this upstream", "(2 of 2 backends can take it)"}},
		{name: "sticky-random-secret", cfg: poolsYAML, q: Query{URL: "http://shop.test/open", Headers: []string{"Cookie: gatehouse_sticky=AAAAAAAA.AAAAAAAAAAAAAAAA"}},
			must: []string{"cookie gatehouse_sticky cannot be checked here: sticky.secret is not set",
				"signed with a random secret each gatehouse process makes at start, a session cookie"}},
		{name: "backup-idle", cfg: poolsYAML, q: Query{URL: "http://shop.test/"},
			must: []string{"no: backup: used only when no primary can take requests", "66.7%", "(2 of 3 backends can take it)",
				"every 2s, a TCP connect (timeout 1s); down after 2 failures, up after 1 pass"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			golden(t, tc.name, runCase(t, tc))
		})
	}
}

// TestConsistentHashIsStable pins that explain names the backend the proxy would: the same key
// always gives the same backend, and different keys spread over the pool.
func TestConsistentHashIsStable(t *testing.T) {
	t.Parallel()
	cfg := parse(t, `
listeners: [{address: 127.0.0.1:8080}]
admin: {address: "off"}
routes: [{name: by-ip, upstream: by-ip}]
upstreams:
  - name: by-ip
    balance: consistent_hash
    backends: [http://10.3.0.1, http://10.3.0.2, http://10.3.0.3]
`)
	seen := map[string]bool{}
	for i := range 16 {
		from := fmt.Sprintf("192.0.2.%d", i)
		var first string
		for range 2 {
			var out bytes.Buffer
			if err := Run(&out, cfg, Query{URL: "/ip", From: from, Now: fixedNow}); err != nil {
				t.Fatal(err)
			}
			line := strings.SplitN(out.String(), "\n", 3)[1]
			if first == "" {
				first = line
			} else if line != first {
				t.Fatalf("from %s: %q, then %q", from, first, line)
			}
		}
		seen[first] = true
	}
	if len(seen) != 3 {
		t.Errorf("16 client IPs went to %d backends, want all 3: %v", len(seen), seen)
	}
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	cfg := parse(t, siteYAML)
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"ftp scheme", Query{URL: "ftp://x/"}, "use http:// or https://"},
		{"relative path", Query{URL: "users/1"}, "write http://host/path or /path"},
		{"bad url", Query{URL: "http://[::1/"}, "invalid URL"},
		{"user info", Query{URL: "http://u:p@x/"}, "leave out the user info"},
		{"space in path", Query{URL: "/a b"}, "escape spaces"},
		{"header without colon", Query{URL: "/", Headers: []string{"X-A"}}, "write it as 'Name: value'"},
		{"header without name", Query{URL: "/", Headers: []string{": v"}}, "write it as 'Name: value'"},
		{"header with a line break", Query{URL: "/", Headers: []string{"X-A: 1\r\nX-B: 2"}}, "a header is one line"},
		{"two hosts", Query{URL: "/", Headers: []string{"Host: a", "host: b"}}, "give Host once"},
		{"bad from", Query{URL: "/", From: "not-an-ip"}, `--from "not-an-ip" is not an IP address`},
		{"bad method", Query{Method: "GE T", URL: "/"}, `invalid method "GE T"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			tt.q.Now = fixedNow
			err := Run(&out, cfg, tt.q)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q (output %q)", err, tt.want, out.String())
			}
		})
	}
}

func TestRawRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		q     Query
		want  string
		https bool
	}{
		{"absolute url", Query{Method: "PUT", URL: "http://api.test:8080/a/b?x=1"}, "PUT /a/b?x=1 HTTP/1.1\r\nHost: api.test:8080\r\n\r\n", false},
		{"default method and path", Query{URL: "https://api.test"}, "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n", true},
		{"escapes kept as sent", Query{URL: "http://h/%61dmin/./x//y"}, "GET /%61dmin/./x//y HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"empty query kept", Query{URL: "http://h/p?"}, "GET /p? HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"origin form takes Host from headers", Query{URL: "/p", Headers: []string{"host:  h.test ", "X-A:1"}},
			"GET /p HTTP/1.1\r\nhost: h.test\r\nX-A: 1\r\n\r\n", false},
		{"origin form without Host", Query{URL: "/p"}, "GET /p HTTP/1.1\r\nHost: localhost\r\n\r\n", false},
		{"header Host wins over the URL's", Query{URL: "http://a.test/", Headers: []string{"Host: b.test"}}, "GET / HTTP/1.1\r\nHost: b.test\r\n\r\n", false},
		{"asterisk", Query{Method: "OPTIONS", URL: "*"}, "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw, https, err := rawRequest(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if string(raw) != tt.want || https != tt.https {
				t.Errorf("rawRequest = %q, https %v; want %q, %v", raw, https, tt.want, tt.https)
			}
		})
	}
}

func TestDur(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Minute, "5m"}, {time.Hour, "1h"}, {90 * time.Minute, "1h30m"}, {90 * time.Second, "1m30s"},
		{10 * time.Second, "10s"}, {250 * time.Millisecond, "250ms"}, {time.Hour + time.Second, "1h0m1s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := dur(tt.d); got != tt.want {
				t.Errorf("dur(%v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

// FuzzRun explains arbitrary requests: Run must not panic, and when it explains the request, the
// explanation starts with the request line and the one-line answer.
func FuzzRun(f *testing.F) {
	f.Add("GET", "http://api.example.com/users/42", "X-Api-Version: 2", "10.0.0.1")
	f.Add("POST", "/admin/%2e%2e/x", "Host: gw.test", "::ffff:10.1.1.1")
	f.Add("GET", "http://A.B.example.com:8443/?debug", "X-Beta: on", "[2001:db8::1]:80")
	f.Add("OPTIONS", "*", "Cookie: a=b; c", "")
	f.Add("GET", "https://secure.example.com//x/./../y?", "", "192.0.2.1")
	f.Add("", "/%zz", ":", "1.2.3.4:5")
	cfg := parse(f, siteYAML)
	f.Fuzz(func(t *testing.T, method, url, header, from string) {
		var out bytes.Buffer
		var headers []string
		if header != "" {
			headers = []string{header}
		}
		err := Run(&out, cfg, Query{Method: method, URL: url, Headers: headers, From: from, Now: fixedNow})
		if err != nil {
			return
		}
		lines := strings.SplitN(out.String(), "\n", 3)
		if len(lines) < 3 || !strings.HasPrefix(lines[1], "→ ") {
			t.Fatalf("explanation without its answer line:\n%s", out.String())
		}
	})
}
