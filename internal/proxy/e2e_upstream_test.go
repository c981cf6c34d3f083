package proxy_test

// Backend failures: refused connections, silence, malformed answers, truncated bodies, stale pooled
// connections.

import (
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"

	"fmt"
	"strings"
	"testing"
	"time"
)

func TestE2EBackendRefused(t *testing.T) {
	t.Parallel()
	p := startProxy(t, serverWith("client_body_idle", "300ms")+singleUpstream("http://"+freeport.Addr(t)))
	c := dial(t, p.Addr)
	for i := 0; i < 3; i++ { // a single backend is always tried: 502 every time, never 503
		r := c.roundTrip("GET", get("/", "h"))
		if r.StatusCode != 502 || r.Body != "502 Bad Gateway\n" {
			t.Fatalf("request %d: status %d body %q, want 502", i, r.StatusCode, r.Body)
		}
		assertNoLeak(t, r)
		if r.Close {
			t.Errorf("a 502 for a GET closed the connection")
		}
	}
	// A request with a body that arrived whole keeps the connection too; one whose body did not
	// arrive closes it, so that the body is never read as a request.
	r := c.roundTrip("POST", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
	if r.StatusCode != 502 || r.Close {
		t.Errorf("POST: status %d close %v, want 502 kept", r.StatusCode, r.Close)
	}
	for _, length := range []int{100, 1 << 20} {
		c := dial(t, p.Addr)
		c.send(fmt.Sprintf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", length, smuggled))
		r = c.read("POST")
		// 502, or 408 from a proxy that waits for a small body before connecting.
		if r.StatusCode != 502 && r.StatusCode != 408 || !r.Close {
			t.Errorf("POST with %d body bytes to come: status %d close %v, want 502 (or 408) and close", length, r.StatusCode, r.Close)
		}
		c.expectClosed()
	}
}

func TestE2EAllBackendsDown(t *testing.T) {
	t.Parallel()
	p := startProxy(t, `
routes:
  - name: main
    upstream: up
upstreams:
  - name: up
    backends: [http://`+freeport.Addr(t)+`, http://`+freeport.Addr(t)+`]
    health: {passive: {consecutive_failures: 1, base_ejection: 30s, max_ejected_percent: 100}}
`)
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", get("/", "h"))
	if r.StatusCode != 502 {
		t.Errorf("first request: status %d, want 502 (both backends refused)", r.StatusCode)
	}
	assertNoLeak(t, r)
	for i := 0; i < 2; i++ {
		r = c.roundTrip("GET", get("/", "h"))
		if r.StatusCode != 503 || r.Body != "503 Service Unavailable\n" {
			t.Errorf("request while both are ejected: status %d body %q, want 503", r.StatusCode, r.Body)
		}
		assertNoLeak(t, r)
	}
	lines := p.logLines(3)
	if lines[0].Status != 502 || lines[1].Status != 503 {
		t.Errorf("logged statuses %d %d", lines[0].Status, lines[1].Status)
	}
}

func TestE2EFailover(t *testing.T) {
	t.Parallel()
	live := startBackend(t, echoHandler("live"))
	p := startProxy(t, `
routes:
  - name: main
    upstream: up
upstreams:
  - name: up
    backends: [http://`+freeport.Addr(t)+`, `+live.URL+`]
`)
	c := dial(t, p.Addr)
	for i := 0; i < 6; i++ {
		r := c.roundTrip("GET", get(fmt.Sprintf("/%d", i), "h"))
		if r.StatusCode != 200 || r.Header.Get("X-Backend") != "live" {
			t.Errorf("request %d: status %d from %q, want 200 from the live backend", i, r.StatusCode, r.Header.Get("X-Backend"))
		}
	}
}

func TestE2EUpstreamHeaderTimeout(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		<-c.Done // accepts, reads the request, never answers
		return false
	})
	p := startProxy(t, serverWith("upstream_header", "300ms")+singleUpstream(be.URL))
	c := dial(t, p.Addr)
	start := time.Now()
	r := c.roundTrip("GET", get("/slow", "h"))
	took := time.Since(start)
	if r.StatusCode != 504 || r.Body != "504 Gateway Timeout\n" {
		t.Errorf("status %d body %q, want 504", r.StatusCode, r.Body)
	}
	assertNoLeak(t, r)
	if took > generous {
		t.Errorf("504 after %v; upstream_header is 300ms", took)
	}
	// The client connection survives a backend's silence.
	r = c.roundTrip("GET", get("/slow2", "h"))
	if r.StatusCode != 504 {
		t.Errorf("second request: status %d", r.StatusCode)
	}
	if n := be.connCount(); n != 2 {
		t.Errorf("backend connections %d, want 2: a timed-out connection must not be reused", n)
	}
}

func TestE2EMalformedResponse(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, resp string }{
		{"bad-status-code", "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n"},
		{"status-out-of-range", "HTTP/1.1 999 Nine\r\nContent-Length: 0\r\n\r\n"},
		{"not-http", "HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"http2-status-line", "HTTP/2 200\r\nContent-Length: 0\r\n\r\n"},
		{"garbage", "hello there\r\n\r\n"},
		{"conflicting-content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
		{"content-length-list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!"},
		{"bad-content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello"},
		{"bare-cr-in-field", "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n"},
		{"bare-lf", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n"},
		{"space-before-colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"},
		{"nul-in-field", "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n"},
		{"cl-and-te", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"te-gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxxxx"},
		{"te-on-http10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := startBackend(t, func(c *bconn, r *recReq) bool {
				if r.Target == "/bad" {
					c.write(tc.resp) // and keep the connection open: the proxy must drop it
				} else {
					c.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
				}
				return true
			})
			p := startProxy(t, singleUpstream(be.URL))
			c := dial(t, p.Addr)
			r := c.roundTrip("GET", get("/bad", "h"))
			if r.StatusCode != 502 {
				t.Errorf("status %d, want 502", r.StatusCode)
			}
			assertNoLeak(t, r)
			if len(p.errors()) == 0 {
				t.Errorf("the malformed response was not reported through Errorf")
			}
			r = c.roundTrip("GET", get("/good", "h"))
			if r.StatusCode != 200 || r.Body != "good" {
				t.Fatalf("next request: status %d body %q", r.StatusCode, r.Body)
			}
			reqs := be.requests()
			if len(reqs) != 2 || reqs[0].Conn == reqs[1].Conn {
				t.Errorf("the connection that carried the malformed response was reused")
			}
		})
	}
}

// A malformed body can only be discovered after the head went to the client: the client must then
// see the response cut short, never a complete one, and the backend connection must be dropped.
func TestE2EMalformedResponseBody(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, resp string }{
		{"bad-chunk-size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nxx\r\n0\r\n\r\n"},
		{"chunk-data-no-crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n"},
		{"bad-chunk-first", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"},
		{"bad-trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T : v\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := startBackend(t, func(c *bconn, r *recReq) bool {
				if r.Target == "/bad" {
					c.write(tc.resp)
				} else {
					c.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
				}
				return true
			})
			p := startProxy(t, singleUpstream(be.URL))
			c := dial(t, p.Addr)
			c.send(get("/bad", "h"))
			r, err := c.tryRead("GET")
			switch {
			case err != nil:
				// Cut before the head: acceptable.
			case r.StatusCode == 502:
				assertNoLeak(t, r)
			case r.BodyErr == nil:
				t.Errorf("status %d with a complete body %q from a malformed chunked response", r.StatusCode, r.Body)
			}
			if err == nil && r.StatusCode != 502 {
				c.expectClosed()
			}
			c2 := dial(t, p.Addr)
			if r := c2.roundTrip("GET", get("/good", "h")); r.StatusCode != 200 || r.Body != "good" {
				t.Fatalf("next request: status %d body %q", r.StatusCode, r.Body)
			}
			reqs := be.requests()
			if len(reqs) != 2 || reqs[0].Conn == reqs[1].Conn {
				t.Errorf("the connection that carried the malformed response was reused")
			}
		})
	}
}

func TestE2EBackendDiesMidBody(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, resp string }{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n0123456789"},
		{"chunked-no-last-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := startBackend(t, func(c *bconn, r *recReq) bool {
				c.write(tc.resp)
				time.Sleep(20 * time.Millisecond)
				return false // close mid-body
			})
			p := startProxy(t, singleUpstream(be.URL))
			for _, minor := range []string{"1", "0"} {
				c := dial(t, p.Addr)
				c.send("GET / HTTP/1." + minor + "\r\nHost: h\r\n\r\n")
				r, err := c.tryRead("GET")
				if err != nil {
					continue // cut before the head: acceptable
				}
				if r.StatusCode == 200 && r.BodyErr == nil && minor == "1" {
					t.Errorf("HTTP/1.%s: a complete body %q from a backend that died mid-body", minor, r.Body)
				}
				if minor == "0" && r.StatusCode == 200 && r.BodyErr == nil && r.ContentLength < 0 {
					// HTTP/1.0 with the body delimited by close: the client cannot tell. The proxy
					// must at least not add bytes of its own.
					if !strings.HasPrefix("0123456789", r.Body) {
						t.Errorf("HTTP/1.0 body %q", r.Body)
					}
				}
				c.expectClosed()
			}
		})
	}
}

func TestE2EStaleUpstreamConnection(t *testing.T) {
	t.Parallel()
	// The backend answers as if it kept the connection, then closes it at once: the pooled
	// connection is stale by the next request.
	closing := func(c *bconn, r *recReq) bool {
		body := fmt.Sprintf("%s %s|%s", r.Method, r.Target, r.Body)
		c.write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
		return false
	}
	cases := []struct {
		name   string
		raw    string
		method string
		body   string
		wait   time.Duration
	}{
		{"get", get("/g", "h"), "GET", "GET /g|", 50 * time.Millisecond},
		{"small-post", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", "POST", "POST /p|hello", 50 * time.Millisecond},
		{"head", "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD", "", 50 * time.Millisecond},
		// Idle long enough that the pool probes the connection before using it.
		{"get-after-probe-delay", get("/g", "h"), "GET", "GET /g|", 1100 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := startBackend(t, closing)
			p := startProxy(t, singleUpstream(be.URL))
			c := dial(t, p.Addr)
			for i := 0; i < 3; i++ {
				r := c.roundTrip(tc.method, tc.raw)
				if r.StatusCode != 200 || r.Body != tc.body {
					t.Fatalf("request %d: status %d body %q, want 200 %q (errors: %q)", i+1, r.StatusCode, r.Body, tc.body, p.errors())
				}
				time.Sleep(tc.wait) // the backend's FIN arrives
			}
			if n := len(be.requests()); n != 3 {
				t.Errorf("backend got %d requests, want 3 (one per request, none lost, none doubled)", n)
			}
		})
	}
}

// TestE2EBugStaleRetryDoubleClosesUpstreamConn: when a reused pooled connection turns out to be closed
// by the backend, conn.receive (forward.go) closes it (uc.Close() before the switch on the error)
// and returns retry, and conn.forward then calls uc.Close() on it again; conn.resend does the same
// when the retry fails. upstream.Conn.Close is not idempotent: it decrements the backend's open
// connection count each time, so every stale-connection retry leaves Backend.Open() one too low (it
// goes to 0 or negative while connections are open). Close should be called once (or Conn.Close
// should be made idempotent).
// Found failing when this test was written; the engine was changed during the same session and it now
// passes. Kept as a regression test.
func TestE2EBugStaleRetryDoubleClosesUpstreamConn(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return false
	})
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	for i := 0; i < 3; i++ {
		if r := c.roundTrip("GET", get("/", "h")); r.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i+1, r.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b := p.Graph.Services["up"].Backends()[0]
	// Nothing is in flight: every open connection is an idle pooled one.
	if open, idle := b.Open(), b.Idle(); open != int64(idle) {
		t.Errorf("backend reports %d open connections and %d idle ones; open must equal idle with nothing in flight", open, idle)
	}
}

func TestE2EErrorAnswersLeakNothing(t *testing.T) {
	t.Parallel()
	// Every error the proxy makes itself, in one place.
	silent := startBackend(t, func(c *bconn, r *recReq) bool { <-c.Done; return false })
	p := startProxy(t, serverWith("upstream_header", "200ms")+`
routes:
  - name: dead
    match: {path_prefix: /dead}
    upstream: dead
  - name: silent
    match: {path_prefix: /silent}
    upstream: silent
upstreams:
  - name: dead
    backends: [http://`+freeport.Addr(t)+`]
  - name: silent
    backends: [`+silent.URL+`]
`)
	for _, raw := range []string{
		get("/nothing", "h"),
		get("/dead", "h"),
		get("/silent", "h"),
		"GET / HTTP/1.1\r\n\r\n",
		"BAD\r\n\r\n",
		"GET / HTTP/3.0\r\nHost: h\r\n\r\n",
	} {
		c := dial(t, p.Addr)
		r := c.roundTrip("GET", raw)
		if r.StatusCode < 400 {
			t.Errorf("%q: status %d", raw, r.StatusCode)
		}
		if want := fmt.Sprintf("%d %s\n", r.StatusCode, strings.TrimPrefix(r.Status, fmt.Sprint(r.StatusCode)+" ")); r.Body != want {
			t.Errorf("%q: body %q, want %q", raw, r.Body, want)
		}
		assertNoLeak(t, r)
		if s := r.Header.Get("Server"); s != "" {
			t.Errorf("%q: Server %q", raw, s)
		}
	}
}

func TestE2EUpstreamPooling(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		settings  string
		wait      time.Duration
		wantConns int
	}{
		{"reused", "", 0, 1},
		{"no-idle-kept", "max_idle_per_backend: 0", 0, 3},
		{"idle-timeout", "idle_timeout: 100ms", 300 * time.Millisecond, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			be := startBackend(t, echoHandler("b"))
			p := startProxy(t, `
routes:
  - name: main
    upstream: up
upstreams:
  - name: up
    backends: [`+be.URL+`]
    `+tc.settings+`
`)
			c := dial(t, p.Addr)
			for i := 0; i < 3; i++ {
				if r := c.roundTrip("GET", get("/", "h")); r.StatusCode != 200 {
					t.Fatalf("status %d", r.StatusCode)
				}
				time.Sleep(tc.wait)
			}
			if n := be.connCount(); n != tc.wantConns {
				t.Errorf("backend connections %d, want %d", n, tc.wantConns)
			}
		})
	}
}

func TestE2ELargeResponseHead(t *testing.T) {
	t.Parallel()
	var head strings.Builder
	head.WriteString("HTTP/1.1 200 OK\r\n")
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&head, "Set-Cookie: c%d=%s\r\n", i, strings.Repeat("x", 900))
	}
	head.WriteString("Content-Length: 2\r\n\r\nok")
	be := startBackend(t, rawResponse(head.String()))
	p := startProxy(t, `
server:
  max_request_line: 1KiB
  max_header_bytes: 16KiB
routes:
  - name: main
    upstream: up
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	c := dial(t, p.Addr)
	for i := 0; i < 2; i++ { // the second on the pooled connection, whose buffer grew
		r := c.roundTrip("GET", get("/", "h"))
		if r.StatusCode != 200 || r.Body != "ok" {
			t.Fatalf("status %d body %q", r.StatusCode, r.Body)
		}
		cookies := r.Header.Values("Set-Cookie")
		if len(cookies) != 12 {
			t.Fatalf("%d Set-Cookie fields, want 12", len(cookies))
		}
		for j, ck := range cookies {
			if !strings.HasPrefix(ck, fmt.Sprintf("c%d=", j)) || len(ck) != len(fmt.Sprintf("c%d=", j))+900 {
				t.Errorf("Set-Cookie %d out of order or damaged: %.20q", j, ck)
			}
		}
	}
	// A response head over the limit is a backend error.
	be2 := startBackend(t, rawResponse("HTTP/1.1 200 OK\r\nX-Huge: "+strings.Repeat("h", 20000)+"\r\nContent-Length: 0\r\n\r\n"))
	p2 := startProxy(t, `
server:
  max_request_line: 1KiB
  max_header_bytes: 16KiB
`+singleUpstream(be2.URL))
	c2 := dial(t, p2.Addr)
	if r := c2.roundTrip("GET", get("/", "h")); r.StatusCode != 502 {
		t.Errorf("oversized response head: status %d, want 502", r.StatusCode)
	}
}
