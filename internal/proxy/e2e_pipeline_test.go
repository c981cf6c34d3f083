package proxy_test

// Pipelining and connection persistence.

import (
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"

	"fmt"
	"strings"
	"testing"
	"time"
)

func TestE2EPipelining(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
routes:
  - name: local
    match: {path_prefix: /local}
    respond: {body: local}
  - name: main
    upstream: up
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	c := dial(t, p.Addr)
	c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody" +
		"POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
		"GET /local HTTP/1.1\r\nHost: h\r\n\r\n" +
		"HEAD /5 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"GET /nowhere/../6 HTTP/1.1\r\nHost: h\r\n\r\n")
	want := []struct{ method, body string }{
		{"GET", "b GET /1|"},
		{"POST", "b POST /2|body"},
		{"POST", "b POST /3|abc"},
		{"GET", "local"},
		{"HEAD", ""},
		{"GET", "b GET /nowhere/../6|"},
	}
	for i, w := range want {
		r := c.read(w.method)
		if r.StatusCode != 200 || r.Body != w.body {
			t.Errorf("response %d: status %d body %q, want 200 %q", i+1, r.StatusCode, r.Body, w.body)
		}
		if r.Close {
			t.Errorf("response %d closes the connection", i+1)
		}
	}
	var got []string
	for _, r := range be.requests() {
		got = append(got, r.Method+" "+r.Target)
	}
	wantBackend := []string{"GET /1", "POST /2", "POST /3", "HEAD /5", "GET /nowhere/../6"}
	if len(got) != len(wantBackend) {
		t.Fatalf("backend got %q, want %q", got, wantBackend)
	}
	for i := range got {
		if got[i] != wantBackend[i] {
			t.Errorf("backend request %d is %q, want %q", i+1, got[i], wantBackend[i])
		}
	}
	if n := be.connCount(); n != 1 {
		t.Errorf("backend connections %d, want 1", n)
	}
	c.expectOpen(100 * time.Millisecond)
}

func TestE2EConnectionPersistence(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
routes:
  - name: local
    match: {path_prefix: /local}
    respond: {body: local}
  - name: main
    match: {path_prefix: /up}
    upstream: up
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	cases := []struct {
		name      string
		raw       string
		keep      bool
		keepAlive bool // the answer says Connection: keep-alive
	}{
		{"http10-forwarded", "GET /up HTTP/1.0\r\n\r\n", false, false},
		{"http10-local", "GET /local HTTP/1.0\r\n\r\n", false, false},
		{"http10-404", "GET /nothing HTTP/1.0\r\n\r\n", false, false},
		{"http10-keepalive-forwarded", "GET /up HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, true},
		{"http10-keepalive-local", "GET /local HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true, true},
		{"http11-forwarded", "GET /up HTTP/1.1\r\nHost: h\r\n\r\n", true, false},
		{"http11-close-forwarded", "GET /up HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false, false},
		{"http11-close-local", "GET /local HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false, false},
		{"http11-close-404", "GET /nothing HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", false, false},
		{"http11-close-among-tokens", "GET /up HTTP/1.1\r\nHost: h\r\nConnection: x-foo, close\r\n\r\n", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, p.Addr)
			// A second request right behind the first: it must be answered only if the
			// connection is kept.
			c.send(tc.raw + "GET /local HTTP/1.1\r\nHost: h\r\n\r\n")
			r := c.read("GET")
			if r.StatusCode == 0 {
				t.Fatal("no response")
			}
			if r.Close == tc.keep {
				t.Errorf("response closes=%v, want %v (Connection %q)", r.Close, !tc.keep, r.Header.Values("Connection"))
			}
			if ka := r.Header.Get("Connection") == "keep-alive"; ka != tc.keepAlive {
				t.Errorf("Connection %q; want keep-alive: %v", r.Header.Values("Connection"), tc.keepAlive)
			}
			if !tc.keep {
				c.expectClosed()
				return
			}
			r = c.read("GET")
			if r.StatusCode != 200 || r.Body != "local" {
				t.Errorf("second response: status %d body %q", r.StatusCode, r.Body)
			}
			c.expectOpen(100 * time.Millisecond)
		})
	}
}

// TestE2EBugHTTP10KeepAliveErrorLacksConnectionHeader: an error the proxy answers itself (404 for
// no route, 502/503/504 for a backend problem) to an HTTP/1.0 client that asked for keep-alive keeps
// the connection open but does not say "Connection: keep-alive". conn.writeError (conn.go) only
// ever adds "Connection: close"; unlike the fixed-response path (localAnswer, which uses
// appendConnection) it never adds the keep-alive token that an HTTP/1.0 client needs to know the
// connection persists (RFC 9112 §9.3). The client then assumes the server will close and the
// proxy holds the connection open until keepalive_idle. It should add "Connection: keep-alive"
// when the request is HTTP/1.0 and the connection is kept (as appendConnection does).
// Found failing when this test was written; the engine was changed during the same session and it now
// passes. Kept as a regression test.
func TestE2EBugHTTP10KeepAliveErrorLacksConnectionHeader(t *testing.T) {
	t.Parallel()
	p := startProxy(t, `
routes:
  - name: dead
    match: {path_prefix: /dead}
    upstream: dead
upstreams:
  - name: dead
    backends: [http://`+freeport.Addr(t)+`]
`)
	for _, path := range []string{"/nothing", "/dead"} {
		c := dial(t, p.Addr)
		r := c.roundTrip("GET", "GET "+path+" HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if r.Close {
			continue // closing is fine too, and then says so
		}
		if got := r.Header.Get("Connection"); got != "keep-alive" {
			t.Errorf("GET %s: %d answer to an HTTP/1.0 keep-alive request has Connection %q, want keep-alive", path, r.StatusCode, got)
			// The proxy does keep it open, which the client cannot know.
			c.expectOpen(100 * time.Millisecond)
		}
	}
}

// Request heads that straddle the 4 KiB read buffer, a head that needs the buffer grown, many small
// pipelined requests, and empty lines between requests.
func TestE2EPipeliningBufferBoundaries(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
server:
  max_request_line: 1KiB
  max_header_bytes: 16KiB
  max_header_count: 50
routes:
  - name: main
    upstream: up
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	t.Run("many-small", func(t *testing.T) {
		t.Parallel()
		var sb strings.Builder
		for i := 0; i < 300; i++ {
			fmt.Fprintf(&sb, "GET /s%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		}
		c := dial(t, p.Addr)
		c.send(sb.String())
		for i := 0; i < 300; i++ {
			if r := c.read("GET"); r.StatusCode != 200 || r.Body != fmt.Sprintf("b GET /s%d|", i) {
				t.Fatalf("response %d: status %d body %q", i, r.StatusCode, r.Body)
			}
		}
		c.expectOpen(50 * time.Millisecond)
	})
	t.Run("straddling-heads-and-bodies", func(t *testing.T) {
		t.Parallel()
		var sb strings.Builder
		for i := 0; i < 20; i++ {
			pad := strings.Repeat("p", 900+i*37)
			body := strings.Repeat("b", i*101)
			fmt.Fprintf(&sb, "POST /m%d HTTP/1.1\r\nHost: h\r\nX-Pad: %s\r\nContent-Length: %d\r\n\r\n%s", i, pad, len(body), body)
		}
		c := dial(t, p.Addr)
		c.send(sb.String())
		for i := 0; i < 20; i++ {
			want := fmt.Sprintf("b POST /m%d|%s", i, strings.Repeat("b", i*101))
			if r := c.read("POST"); r.StatusCode != 200 || r.Body != want {
				t.Fatalf("response %d: status %d body of %d bytes", i, r.StatusCode, len(r.Body))
			}
		}
	})
	t.Run("grown-head-then-more", func(t *testing.T) {
		t.Parallel()
		var big strings.Builder
		for i := 0; i < 10; i++ {
			fmt.Fprintf(&big, "X-Big-%d: %s\r\n", i, strings.Repeat("v", 1000))
		}
		c := dial(t, p.Addr)
		c.send("GET /big HTTP/1.1\r\nHost: h\r\n" + big.String() + "\r\n" + get("/after1", "h") + "\r\n" + get("/after2", "h"))
		for _, want := range []string{"b GET /big|", "b GET /after1|", "b GET /after2|"} {
			if r := c.read("GET"); r.StatusCode != 200 || r.Body != want {
				t.Fatalf("status %d body %q, want %q", r.StatusCode, r.Body, want)
			}
		}
		// The big head arrived whole at the backend.
		for _, r := range be.requests() {
			if r.Target == "/big" && r.Header.Get("X-Big-9") != strings.Repeat("v", 1000) {
				t.Errorf("X-Big-9 at the backend: %d bytes", len(r.Header.Get("X-Big-9")))
			}
		}
		// And the connection carries on with its normal buffer.
		if r := c.roundTrip("GET", get("/after3", "h")); r.StatusCode != 200 {
			t.Errorf("status %d", r.StatusCode)
		}
	})
	t.Run("head-arriving-byte-by-byte", func(t *testing.T) {
		t.Parallel()
		c := dial(t, p.Addr)
		msg := "POST /slow HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nContent-Length: 3\r\n\r\nabc"
		for i := 0; i < len(msg); i++ {
			c.send(msg[i : i+1])
			time.Sleep(time.Millisecond)
		}
		if r := c.read("POST"); r.StatusCode != 200 || r.Body != "b POST /slow|abc" {
			t.Errorf("status %d body %q", r.StatusCode, r.Body)
		}
	})
}
