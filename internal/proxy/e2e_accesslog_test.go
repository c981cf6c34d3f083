package proxy_test

// The access log: one JSON line per request, with what was asked, answered, and by whom.

import (
	"bufio"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestE2EAccessLog(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
routes:
  - name: api
    match: {hosts: [app.example], path_prefix: /api/}
    upstream: up
  - name: local
    match: {path_prefix: /local}
    respond: {body: local}
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	c := dial(t, p.Addr)
	cr := &countingReader{r: c.nc}
	c.br = bufio.NewReader(cr)

	cases := []struct {
		method, raw                    string
		wantMethod, wantHost, wantPath string
		status                         int
		upstream, route                string
		requestID                      string // "" for a generated one
	}{
		{"GET", "GET /api/x?q=1 HTTP/1.1\r\nHost: app.example:8080\r\nX-Request-Id: client-id-1\r\n\r\n",
			"GET", "app.example:8080", "/api/x?q=1", 200, be.Addr, "api", "client-id-1"},
		{"POST", "POST /api/y HTTP/1.1\r\nHost: app.example\r\nContent-Length: 5\r\n\r\nhello",
			"POST", "app.example", "/api/y", 200, be.Addr, "api", ""},
		{"HEAD", "HEAD /local HTTP/1.1\r\nHost: other.example\r\n\r\n",
			"HEAD", "other.example", "/local", 200, "", "local", ""},
		{"GET", "GET /api/x HTTP/1.1\r\nHost: other.example\r\n\r\n",
			"GET", "other.example", "/api/x", 404, "", "", ""},
		{"GET", "GET http://app.example/api/abs HTTP/1.1\r\nHost: app.example\r\n\r\n",
			"GET", "app.example", "http://app.example/api/abs", 200, be.Addr, "api", ""},
	}
	var prevOut int64
	for i, tc := range cases {
		before := time.Now().Add(-time.Second)
		r := c.roundTrip(tc.method, tc.raw)
		if r.StatusCode != tc.status {
			t.Fatalf("request %d: status %d, want %d", i, r.StatusCode, tc.status)
		}
		out := cr.n.Load() - prevOut
		prevOut = cr.n.Load()
		lines := p.logLines(i + 1)
		if len(lines) != i+1 {
			t.Fatalf("after %d requests the log has %d lines", i+1, len(lines))
		}
		l := lines[i]
		if tc.wantMethod != "" && (l.Method != tc.wantMethod || l.Host != tc.wantHost || l.Path != tc.wantPath) {
			t.Errorf("request %d: logged %q %q %q, want %q %q %q", i, l.Method, l.Host, l.Path, tc.wantMethod, tc.wantHost, tc.wantPath)
		}
		if l.Status != tc.status || l.Upstream != tc.upstream || l.Route != tc.route {
			t.Errorf("request %d: logged status %d upstream %q route %q, want %d %q %q", i, l.Status, l.Upstream, l.Route,
				tc.status, tc.upstream, tc.route)
		}
		if tc.requestID != "" && l.RequestID != tc.requestID || tc.requestID == "" && !hex32.MatchString(l.RequestID) {
			t.Errorf("request %d: request_id %q", i, l.RequestID)
		}
		if l.BytesOut != out {
			t.Errorf("request %d: bytes_out %d, but the client read %d bytes", i, l.BytesOut, out)
		}
		if l.BytesIn != int64(len(tc.raw)) {
			t.Errorf("request %d: bytes_in %d, but the client sent %d bytes", i, l.BytesIn, len(tc.raw))
		}
		ts, err := time.Parse(time.RFC3339Nano, l.Time)
		if err != nil || ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("request %d: time %q (%v)", i, l.Time, err)
		}
		if l.DurationMS < 0 || l.DurationMS > 5000 {
			t.Errorf("request %d: duration_ms %v", i, l.DurationMS)
		}
		if !strings.HasPrefix(l.Client, "127.0.0.1:") || l.Client != c.nc.LocalAddr().String() {
			t.Errorf("request %d: client %q, want %s", i, l.Client, c.nc.LocalAddr())
		}
	}
	// The backend saw the ids that were logged.
	lines := p.logLines(len(cases))
	reqs := be.requests()
	if len(reqs) != 3 {
		t.Fatalf("backend got %d requests", len(reqs))
	}
	for i, li := range []int{0, 1, 4} {
		if got := reqs[i].Header.Get("X-Request-Id"); got != lines[li].RequestID {
			t.Errorf("backend request %d has id %q, log line %d has %q", i, got, li, lines[li].RequestID)
		}
	}
}

func TestE2EAccessLogConcurrent(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, singleUpstream(be.URL))
	const clients, each = 8, 10
	done := make(chan struct{})
	for i := 0; i < clients; i++ {
		c := dial(t, p.Addr)
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < each; j++ {
				if _, err := io.WriteString(c.nc, get("/c", "h")); err != nil {
					return
				}
				if _, err := c.tryRead("GET"); err != nil {
					return
				}
			}
		}()
	}
	for i := 0; i < clients; i++ {
		<-done
	}
	lines := p.logLines(clients * each)
	if len(lines) != clients*each {
		t.Errorf("%d log lines for %d requests", len(lines), clients*each)
	}
	ids := map[string]bool{}
	for _, l := range lines {
		if l.Status != 200 || l.Path != "/c" || l.Route != "main" {
			t.Errorf("line %s", l.raw)
		}
		if ids[l.RequestID] {
			t.Errorf("request id %s logged twice", l.RequestID)
		}
		ids[l.RequestID] = true
	}
}

// TestE2EBugHeaderTimeout408NotLogged: a client whose request head does not arrive within
// client_header is answered 408 (conn.readHead, conn.go), but readHead writes the 408 with
// writeErrorNow and returns without logging, unlike every other answer (reject logs a 400/414/431,
// handle's answers are logged by serve). The access log therefore never shows 408s for slow or
// stalled heads, which are exactly the slowloris attempts an operator looks for. readHead's timeout
// path should log the entry as reject does.
// Found failing when this test was written; the engine was changed during the same session and it now
// passes. Kept as a regression test.
func TestE2EBugHeaderTimeout408NotLogged(t *testing.T) {
	t.Parallel()
	p := startProxy(t, serverWith("client_header", "200ms")+"routes: [{name: r, respond: {body: x}}]\n")
	c := dial(t, p.Addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n")
	r, err := c.tryRead("GET")
	if err != nil || r.StatusCode != 408 {
		t.Skipf("no 408 answered (%v); nothing to log", err)
	}
	c.expectClosed()
	time.Sleep(100 * time.Millisecond) // several flush intervals
	if s := p.logBuf.String(); !strings.Contains(s, `"status":408`) {
		t.Errorf("a 408 was answered but not logged; log: %q", s)
	}
}

// TestE2EBugRejectLogsStaleBytesOut: the access log line of a request rejected at parse time (400,
// 414, 431, ...) reports bytes_out including the bytes of the previous response on the connection.
// conn.reject (conn.go) sets start, status, bytesIn, route, upstream, id and the log metadata for
// the new entry but never resets c.bytesOut, and writeClient adds to it, so the counter carries over
// from the previous request (and, as conns are pooled, possibly from a previous connection).
// reject should set c.bytesOut = 0 before writing its answer.
// Found failing when this test was written; the engine was changed during the same session and it now
// passes. Kept as a regression test.
func TestE2EBugRejectLogsStaleBytesOut(t *testing.T) {
	t.Parallel()
	p := startProxy(t, "routes: [{name: r, respond: {body: hello}}]\n")
	c := dial(t, p.Addr)
	cr := &countingReader{r: c.nc}
	c.br = bufio.NewReader(cr)
	if r := c.roundTrip("GET", get("/", "h")); r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	first := cr.n.Load()
	bad := "GET /bad HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n"
	if r := c.roundTrip("GET", bad); r.StatusCode != 400 {
		t.Fatalf("status %d", r.StatusCode)
	}
	c.expectClosed()
	lines := p.logLines(2)
	if lines[0].BytesOut != first {
		t.Errorf("first line: bytes_out %d, the client read %d", lines[0].BytesOut, first)
	}
	if got, want := lines[1].BytesOut, cr.n.Load()-first; got != want {
		t.Errorf("rejected request: bytes_out %d, but its 400 answer was %d bytes", got, want)
	}
	if lines[1].Status != 400 || lines[1].BytesIn != int64(len(bad)) {
		t.Errorf("rejected request: status %d bytes_in %d", lines[1].Status, lines[1].BytesIn)
	}
}
