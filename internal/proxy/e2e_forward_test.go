package proxy_test

// Basic forwarding, routing, header rewriting, hop-by-hop fields, forwarding fields and request ids.

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestE2EForwardMethods(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b1"))
	p := startProxy(t, singleUpstream(be.URL))
	cases := []struct {
		method, target, body string
	}{
		{"GET", "/get?x=1&y=%20", ""},
		{"POST", "/post", "posted body"},
		{"HEAD", "/head", ""},
		{"PUT", "/put/item", "put body"},
		{"DELETE", "/del", ""},
		{"OPTIONS", "*", ""},
	}
	c := dial(t, p.Addr) // every request on one kept-alive connection
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			c.t = t
			raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: app.example\r\nX-Custom: v1\r\n", tc.method, tc.target)
			if tc.body != "" {
				raw += fmt.Sprintf("Content-Length: %d\r\n", len(tc.body))
			}
			raw += "\r\n" + tc.body
			r := c.roundTrip(tc.method, raw)
			if r.StatusCode != 200 {
				t.Fatalf("status %d, want 200", r.StatusCode)
			}
			if got := r.Header.Get("X-Echo-Method"); got != tc.method {
				t.Errorf("X-Echo-Method %q, want %q", got, tc.method)
			}
			if got := r.Header.Get("X-Backend"); got != "b1" {
				t.Errorf("X-Backend %q", got)
			}
			want := fmt.Sprintf("b1 %s %s|%s", tc.method, tc.target, tc.body)
			if tc.method == "HEAD" {
				if r.Body != "" {
					t.Errorf("HEAD answered with body %q", r.Body)
				}
				if r.ContentLength != int64(len("b1 HEAD /head|")) {
					t.Errorf("HEAD Content-Length %d, want the backend's", r.ContentLength)
				}
			} else if r.Body != want {
				t.Errorf("body %q, want %q", r.Body, want)
			}
			got := be.next(t)
			if got.Method != tc.method || got.Target != tc.target || string(got.Body) != tc.body {
				t.Errorf("backend got %s %s body %q", got.Method, got.Target, got.Body)
			}
			if got.Proto != "HTTP/1.1" {
				t.Errorf("backend got protocol %q", got.Proto)
			}
			if got.Header.Get("X-Custom") != "v1" {
				t.Errorf("X-Custom did not reach the backend: %q", got.Lines)
			}
			if n := len(got.Header.Values("Host")); n != 1 {
				t.Errorf("backend got %d Host fields", n)
			}
		})
	}
	if be.connCount() != 1 {
		t.Errorf("backend accepted %d connections for sequential requests, want 1 (kept alive)", be.connCount())
	}
}

func TestE2ERoundRobin(t *testing.T) {
	t.Parallel()
	a := startBackend(t, echoHandler("a"))
	b := startBackend(t, echoHandler("b"))
	p := startProxy(t, singleUpstream(a.URL, b.URL)+"    balance: round_robin\n")
	c := dial(t, p.Addr)
	var seq []string
	for i := 0; i < 8; i++ {
		r := c.roundTrip("GET", get(fmt.Sprintf("/%d", i), "h"))
		if r.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, r.StatusCode)
		}
		seq = append(seq, r.Header.Get("X-Backend"))
	}
	for i := 1; i < len(seq); i++ {
		if seq[i] == seq[i-1] {
			t.Fatalf("backends do not alternate: %v", seq)
		}
	}
	if len(a.requests()) != 4 || len(b.requests()) != 4 {
		t.Errorf("a got %d, b got %d requests; want 4 each", len(a.requests()), len(b.requests()))
	}
}

func TestE2EUpstreamHost(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
routes:
  - name: pass
    match: {path_prefix: /pass}
    upstream: up
  - name: backend
    match: {path_prefix: /backend}
    upstream: up
    upstream_host: backend
  - name: literal
    match: {path_prefix: /literal}
    upstream: up
    upstream_host: internal.example:8443
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	cases := []struct {
		name, raw, wantHost, wantTarget string
	}{
		{"pass", "GET /pass HTTP/1.1\r\nHost: Client.Example:8080\r\n\r\n", "Client.Example:8080", "/pass"},
		{"backend", "GET /backend HTTP/1.1\r\nHost: client.example\r\n\r\n", be.Addr, "/backend"},
		{"literal", "GET /literal HTTP/1.1\r\nHost: client.example\r\n\r\n", "internal.example:8443", "/literal"},
		// An absolute-form target names the host; its Host field is ignored (RFC 9112 §3.2.2).
		{"absolute-form", "GET http://abs.example/pass?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n", "abs.example", "/pass?q=1"},
		// HTTP/1.0 without Host: the backend still gets one.
		{"http10-no-host", "GET /pass HTTP/1.0\r\n\r\n", be.Addr, "/pass"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, p.Addr)
			r := c.roundTrip("GET", tc.raw)
			if r.StatusCode != 200 {
				t.Fatalf("status %d", r.StatusCode)
			}
			got := be.next(t)
			if got.host() != tc.wantHost || len(got.Header.Values("Host")) != 1 {
				t.Errorf("backend Host %q, want %q", got.Header.Values("Host"), tc.wantHost)
			}
			if got.Target != tc.wantTarget {
				t.Errorf("backend target %q, want %q", got.Target, tc.wantTarget)
			}
		})
	}
}

func TestE2ERouteHeaderChanges(t *testing.T) {
	t.Parallel()
	be := startBackend(t, rawResponse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend-Secret: s3cr3t\r\n"+
		"X-Resp-Keep: k\r\nX-Resp-Override: from-backend\r\n\r\nok"))
	p := startProxy(t, `
routes:
  - name: main
    upstream: up
    request_headers:
      set: {X-Added: "yes", X-Override: forced}
      remove: [X-Remove-Me, x-also-remove]
    response_headers:
      set: {X-Resp-Added: r, X-Resp-Override: from-route}
      remove: [x-backend-secret]
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\nX-Remove-Me: 1\r\nX-ALSO-REMOVE: 2\r\nX-Override: client\r\n"+
		"x-override: client2\r\nX-Keep: k\r\n\r\n")
	got := be.next(t)
	if v := got.Header.Values("X-Added"); len(v) != 1 || v[0] != "yes" {
		t.Errorf("X-Added at backend %q, want [yes]", v)
	}
	if v := got.Header.Values("X-Override"); len(v) != 1 || v[0] != "forced" {
		t.Errorf("X-Override at backend %q, want only [forced]", v)
	}
	for _, h := range []string{"X-Remove-Me", "X-Also-Remove"} {
		if v := got.Header.Values(h); len(v) != 0 {
			t.Errorf("%s reached the backend: %q", h, v)
		}
	}
	if got.Header.Get("X-Keep") != "k" {
		t.Errorf("X-Keep lost: %q", got.Lines)
	}

	if r.StatusCode != 200 || r.Body != "ok" {
		t.Fatalf("status %d body %q", r.StatusCode, r.Body)
	}
	if v := r.Header.Values("X-Resp-Added"); len(v) != 1 || v[0] != "r" {
		t.Errorf("X-Resp-Added %q", v)
	}
	if v := r.Header.Values("X-Resp-Override"); len(v) != 1 || v[0] != "from-route" {
		t.Errorf("X-Resp-Override %q, want only [from-route]", v)
	}
	if v := r.Header.Values("X-Backend-Secret"); len(v) != 0 {
		t.Errorf("X-Backend-Secret reached the client: %q", v)
	}
	if r.Header.Get("X-Resp-Keep") != "k" {
		t.Errorf("X-Resp-Keep lost: %v", r.Header)
	}
}

func TestE2ERespondRoute(t *testing.T) {
	t.Parallel()
	p := startProxy(t, `
routes:
  - name: denied
    match: {path_prefix: /denied}
    respond:
      status: 403
      body: "denied\n"
      headers: {Content-Type: text/plain, X-Why: policy}
    response_headers:
      set: {X-Route: denied}
  - name: health
    match: {path_prefix: /healthz}
    respond: {body: "ok"}
`)
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", get("/denied/x", "h"))
	if r.StatusCode != 403 || r.Body != "denied\n" {
		t.Fatalf("status %d body %q", r.StatusCode, r.Body)
	}
	if r.Header.Get("X-Why") != "policy" || r.Header.Get("Content-Type") != "text/plain" || r.Header.Get("X-Route") != "denied" {
		t.Errorf("headers %v", r.Header)
	}
	if r.ContentLength != 7 || r.Close {
		t.Errorf("Content-Length %d close %v", r.ContentLength, r.Close)
	}
	// HEAD: same head, no body; the connection stays usable.
	r = c.roundTrip("HEAD", "HEAD /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
	if r.StatusCode != 200 || r.Body != "" || r.ContentLength != 2 {
		t.Errorf("HEAD: status %d body %q length %d", r.StatusCode, r.Body, r.ContentLength)
	}
	// A request body that arrived whole is skipped, and the next request is read after it.
	r = c.roundTrip("POST", "POST /healthz HTTP/1.1\r\nHost: h\r\nContent-Length: 24\r\n\r\nGET /denied HTTP/1.1\r\n\r\n")
	if r.StatusCode != 200 || r.Body != "ok" {
		t.Errorf("POST: status %d body %q", r.StatusCode, r.Body)
	}
	r = c.roundTrip("GET", get("/healthz", "h"))
	if r.StatusCode != 200 || r.Body != "ok" {
		t.Errorf("after POST: status %d body %q", r.StatusCode, r.Body)
	}
	c.expectOpen(100 * time.Millisecond)
}

func TestE2ERouting(t *testing.T) {
	t.Parallel()
	p := startProxy(t, `
routes:
  - name: any-api
    match: {path_prefix: /api/}
    respond: {body: any-api}
  - name: any-api-v2
    match: {path_prefix: /api/v2/}
    respond: {body: any-api-v2}
  - name: host-root
    match: {hosts: [api.example.com], path_prefix: /}
    respond: {body: host-root}
  - name: other-only
    match: {hosts: [other.example.com, alias.example.com], path_prefix: /only/}
    respond: {body: other-only}
  - name: first-of-two
    match: {path_prefix: /dup}
    respond: {body: first}
  - name: second-of-two
    match: {path_prefix: /dup}
    respond: {body: second}
`)
	cases := []struct {
		host, target string
		status       int
		body         string
	}{
		{"api.example.com", "/api/v2/x", 200, "host-root"}, // a host route beats a longer any-host prefix
		{"API.Example.COM:8080", "/x", 200, "host-root"},   // case and port are ignored
		{"www.example.com", "/api/v2/x", 200, "any-api-v2"},
		{"www.example.com", "/api/v1", 200, "any-api"},
		{"www.example.com", "/api", 404, ""}, // "/api" does not start with "/api/"
		{"www.example.com", "/zzz", 404, ""},
		{"other.example.com", "/only/x", 200, "other-only"},
		{"alias.example.com", "/only/", 200, "other-only"},
		{"other.example.com", "/api/x", 200, "any-api"}, // the host route does not match the path
		{"other.example.com", "/zzz", 404, ""},
		{"www.example.com", "/dup", 200, "first"}, // equal precedence: first in the file
	}
	c := dial(t, p.Addr)
	for _, tc := range cases {
		r := c.roundTrip("GET", get(tc.target, tc.host))
		if r.StatusCode != tc.status {
			t.Errorf("%s%s: status %d, want %d", tc.host, tc.target, r.StatusCode, tc.status)
			continue
		}
		if tc.status == 404 {
			if r.Body != "404 Not Found\n" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("%s%s: 404 body %q type %q", tc.host, tc.target, r.Body, r.Header.Get("Content-Type"))
			}
			assertNoLeak(t, r)
			if r.Close {
				t.Errorf("%s%s: a 404 closed the connection", tc.host, tc.target)
			}
		} else if r.Body != tc.body {
			t.Errorf("%s%s: body %q, want %q", tc.host, tc.target, r.Body, tc.body)
		}
	}
}

// TestE2EBugAbsoluteFormEmptyPath404: an absolute-form request-target without a path ("GET
// http://example.com HTTP/1.1", or with only a query) is for "/" (RFC 9112 §3.2.1), and the engine
// sends "/" to the backend (appendRequestHead), but router.Table.Match was called with the empty
// path ("" or "?q=1") as is, which no path_prefix matches: 404 even with a catch-all "/" route.
// Found failing when this test was written; the engine was changed during the same session and it now
// passes. Kept as a regression test.
func TestE2EBugAbsoluteFormEmptyPath404(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, singleUpstream(be.URL))
	for target, want := range map[string]string{
		"http://abs.example":       "/",
		"http://abs.example?q=1":   "/?q=1",
		"http://abs.example/":      "/",
		"HTTP://ABS.example:80/x?": "/x?",
	} {
		c := dial(t, p.Addr)
		r := c.roundTrip("GET", "GET "+target+" HTTP/1.1\r\nHost: abs.example\r\n\r\n")
		if r.StatusCode != 200 {
			t.Errorf("GET %s: status %d, want 200 from the catch-all route", target, r.StatusCode)
			continue
		}
		if got := be.next(t); got.Target != want {
			t.Errorf("GET %s: backend target %q, want %q", target, got.Target, want)
		}
	}
}

// TestE2EBugIPv6HostRouteNeverMatches: a route for an IPv6 literal host never matches. config.Default
// strips the brackets from match.hosts ("[::1]" becomes "::1"), but router.Table.Match (stripPort)
// keeps them on the request's Host ("[::1]:8080" becomes "[::1]"), so matchHost compares "[::1]"
// with "::1" and the request falls through to 404 (or to an any-host route).
// Found failing when this test was written; the engine was changed during the same session and it now
// passes. Kept as a regression test.
func TestE2EBugIPv6HostRouteNeverMatches(t *testing.T) {
	t.Parallel()
	p := startProxy(t, `
routes:
  - name: v6
    match: {hosts: ["[::1]"], path_prefix: /}
    respond: {body: v6}
`)
	for _, host := range []string{"[::1]", "[::1]:8080"} {
		c := dial(t, p.Addr)
		r := c.roundTrip("GET", get("/", host))
		if r.StatusCode != 200 || r.Body != "v6" {
			t.Errorf("Host %s: status %d body %q, want 200 v6", host, r.StatusCode, r.Body)
		}
	}
}

func TestE2EHopByHopFieldsNotForwarded(t *testing.T) {
	t.Parallel()
	be := startBackend(t, rawResponse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Resp-Named\r\n"+
		"X-Resp-Named: s\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nTrailer: X-T\r\nX-Resp-Kept: yes\r\n\r\nok"))
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", "GET /hop HTTP/1.1\r\nHost: h\r\n"+
		"Connection: keep-alive, X-Conn-Named, x-other-named\r\n"+
		"Keep-Alive: timeout=5\r\n"+
		"TE: trailers\r\n"+
		"Trailer: X-T\r\n"+
		"Upgrade: websocket\r\n"+
		"Proxy-Authorization: Basic abc\r\n"+
		"Proxy-Connection: keep-alive\r\n"+
		"X-Conn-Named: secret\r\n"+
		"X-Other-Named: secret2\r\n"+
		"X-Kept: yes\r\n\r\n")
	if r.StatusCode != 200 || r.Body != "ok" {
		t.Fatalf("status %d body %q (an Upgrade field without Connection: upgrade must not tunnel)", r.StatusCode, r.Body)
	}
	got := be.next(t)
	for _, h := range []string{"Connection", "Keep-Alive", "Te", "Trailer", "Upgrade", "Proxy-Authorization",
		"Proxy-Connection", "X-Conn-Named", "X-Other-Named"} {
		if v := got.Header.Values(h); len(v) != 0 {
			t.Errorf("%s reached the backend: %q", h, v)
		}
	}
	if got.Header.Get("X-Kept") != "yes" {
		t.Errorf("X-Kept lost: %q", got.Lines)
	}
	for _, h := range []string{"Connection", "X-Resp-Named", "Keep-Alive", "Proxy-Authenticate", "Trailer"} {
		if v := r.Header.Values(h); len(v) != 0 {
			t.Errorf("response field %s reached the client: %q", h, v)
		}
	}
	if r.Header.Get("X-Resp-Kept") != "yes" {
		t.Errorf("X-Resp-Kept lost: %v", r.Header)
	}
	// Still HTTP on this connection.
	if r := c.roundTrip("GET", get("/again", "h")); r.StatusCode != 200 {
		t.Errorf("second request: status %d", r.StatusCode)
	}
}

func TestE2EConnectionCannotDropFramingFields(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, singleUpstream(be.URL))
	cases := []struct {
		name, raw, body string
		chunked         bool
	}{
		{"content-length", "POST /cl HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, Host\r\nContent-Length: 5\r\n\r\nhello", "hello", false},
		{"transfer-encoding", "POST /te HTTP/1.1\r\nHost: h\r\nConnection: Transfer-Encoding, host\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "hello", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, p.Addr)
			r := c.roundTrip("POST", tc.raw)
			if r.StatusCode != 200 {
				t.Fatalf("status %d", r.StatusCode)
			}
			got := be.next(t)
			if got.host() != "h" {
				t.Errorf("Host at backend %q, want h", got.Header.Values("Host"))
			}
			if string(got.Body) != tc.body || got.Err != nil {
				t.Errorf("body at backend %q (%v), want %q", got.Body, got.Err, tc.body)
			}
			if got.Chunked != tc.chunked {
				t.Errorf("chunked at backend %v, want %v (%q)", got.Chunked, tc.chunked, got.Lines)
			}
			if !tc.chunked && got.Header.Get("Content-Length") != "5" {
				t.Errorf("Content-Length at backend %q", got.Header.Values("Content-Length"))
			}
			// The connection is intact: the body was not taken for a request.
			if r := c.roundTrip("GET", get("/next", "h")); r.StatusCode != 200 {
				t.Errorf("next request: status %d", r.StatusCode)
			}
			if got := be.next(t); got.Target != "/next" {
				t.Errorf("backend then got %s %s, want GET /next", got.Method, got.Target)
			}
		})
	}
}

func TestE2EForwardedHeaders(t *testing.T) {
	t.Parallel()
	incoming := "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: fwd.example\r\n" +
		"Forwarded: for=203.0.113.9;proto=https\r\n"
	ours := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "front.example",
		"Forwarded":         `for=127.0.0.1;host="front.example";proto=http`,
	}
	cases := []struct {
		name      string
		forwarded string // the forwarded section
		incoming  string
		want      map[string]string // "" means absent
	}{
		{"append-untrusted", "forwarded: {policy: append}", incoming, ours},
		{"append-untrusted-none-incoming", "forwarded: {policy: append}", "", ours},
		{"append-trusted", "forwarded: {policy: append, trusted_proxies: [127.0.0.1/32]}", incoming, map[string]string{
			"X-Forwarded-For":   "203.0.113.9, 127.0.0.1",
			"X-Forwarded-Proto": "https",
			"X-Forwarded-Host":  "fwd.example",
			"Forwarded":         `for=203.0.113.9;proto=https, for=127.0.0.1;host="front.example";proto=http`,
		}},
		{"append-trusted-none-incoming", "forwarded: {policy: append, trusted_proxies: [127.0.0.1]}", "", ours},
		{"replace", "forwarded: {policy: replace, trusted_proxies: [127.0.0.0/8]}", incoming, ours},
		{"off", "forwarded: {policy: \"off\"}", incoming, map[string]string{
			"X-Forwarded-For":   "203.0.113.9",
			"X-Forwarded-Proto": "https",
			"X-Forwarded-Host":  "fwd.example",
			"Forwarded":         "for=203.0.113.9;proto=https",
		}},
		{"off-none-incoming", "forwarded: {policy: \"off\"}", "", map[string]string{
			"X-Forwarded-For": "", "X-Forwarded-Proto": "", "X-Forwarded-Host": "", "Forwarded": "",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := startBackend(t, echoHandler("b"))
			p := startProxy(t, tc.forwarded+"\n"+singleUpstream(be.URL))
			c := dial(t, p.Addr)
			r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: front.example\r\n"+tc.incoming+"\r\n")
			if r.StatusCode != 200 {
				t.Fatalf("status %d", r.StatusCode)
			}
			got := be.next(t)
			for name, want := range tc.want {
				v := got.Header.Values(name)
				switch {
				case want == "" && len(v) != 0:
					t.Errorf("%s: %q, want none", name, v)
				case want != "" && (len(v) != 1 || v[0] != want):
					t.Errorf("%s: %q, want [%s]", name, v, want)
				}
			}
		})
	}
}

func TestE2ERequestID(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, singleUpstream(be.URL))
	cases := []struct {
		name, field string
		keep        bool
	}{
		{"absent", "", false},
		{"valid", "X-Request-Id: abc-123_XYZ.789\r\n", true},
		{"valid-lowercase-name", "x-request-id: 0123456789abcdef\r\n", true},
		{"invalid-space", "X-Request-Id: bad id\r\n", false},
		{"invalid-quote", "X-Request-Id: bad\"id\r\n", false},
		{"invalid-too-long", "X-Request-Id: " + strings.Repeat("a", 129) + "\r\n", false},
		{"empty", "X-Request-Id: \r\n", false},
	}
	c := dial(t, p.Addr)
	seen := map[string]bool{}
	for i, tc := range cases {
		r := c.roundTrip("GET", fmt.Sprintf("GET /id/%d HTTP/1.1\r\nHost: h\r\n%s\r\n", i, tc.field))
		if r.StatusCode != 200 {
			t.Fatalf("%s: status %d", tc.name, r.StatusCode)
		}
		got := be.next(t)
		ids := got.Header.Values("X-Request-Id")
		if len(ids) != 1 {
			t.Errorf("%s: backend got X-Request-Id %q, want exactly one", tc.name, ids)
			continue
		}
		id := ids[0]
		if tc.keep {
			_, v, _ := strings.Cut(strings.TrimSuffix(tc.field, "\r\n"), ": ")
			if id != v {
				t.Errorf("%s: id %q, want the client's %q", tc.name, id, v)
			}
		} else if !hex32.MatchString(id) {
			t.Errorf("%s: id %q, want 32 lower-case hex digits", tc.name, id)
		}
		if seen[id] {
			t.Errorf("%s: id %q used twice", tc.name, id)
		}
		seen[id] = true
		lines := p.logLines(i + 1)
		if l := lines[i]; l.RequestID != id || l.Path != fmt.Sprintf("/id/%d", i) {
			t.Errorf("%s: log line has request_id %q path %q, want %q", tc.name, l.RequestID, l.Path, id)
		}
	}
}

// TestE2EBugRouteHeaderOpsIgnoreXRequestID: a route's request_headers cannot replace or remove
// X-Request-Id. appendRequestHead (headers.go) always writes the engine's "X-Request-Id: <id>" and
// then appends the route's set fields, without consulting rt.Request.Drop for it (as
// appendForwarded does for the X-Forwarded-* fields). With set: {X-Request-Id: v} the backend gets
// two X-Request-Id fields with different values, although "set replaces a field"; with remove:
// [X-Request-Id] it still gets one. The engine's field should be left out when the route drops
// the name.
// Found failing when this test was written; the engine was changed during the same session and it now
// passes. Kept as a regression test.
func TestE2EBugRouteHeaderOpsIgnoreXRequestID(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
routes:
  - name: set
    match: {path_prefix: /set}
    upstream: up
    request_headers:
      set: {X-Request-Id: from-route}
  - name: remove
    match: {path_prefix: /remove}
    upstream: up
    request_headers:
      remove: [X-Request-Id]
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	c := dial(t, p.Addr)
	if r := c.roundTrip("GET", get("/set", "h")); r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	if v := be.next(t).Header.Values("X-Request-Id"); len(v) != 1 || v[0] != "from-route" {
		t.Errorf("route sets X-Request-Id: backend got %q, want [from-route]", v)
	}
	if r := c.roundTrip("GET", get("/remove", "h")); r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	if v := be.next(t).Header.Values("X-Request-Id"); len(v) != 0 {
		t.Errorf("route removes X-Request-Id: backend got %q, want none", v)
	}
}
