package proxy_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2EBugResetDestroysPipelinedAnswers pins a bug found by FuzzSmuggling: a connection closed
// with unread input (pipelined requests after a rejected one) was reset by the kernel, and the
// answers to requests the backend had already served were lost with the 400. The engine now shuts
// its write side and drains the input before it closes (lingering close).
func TestE2EBugResetDestroysPipelinedAnswers(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, singleUpstream(be.URL))
	nc, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A small receive buffer, read only once the engine has closed: the answers wait in flight.
	_ = nc.(*net.TCPConn).SetReadBuffer(2048)
	var in strings.Builder
	for i := 0; i < 140; i++ {
		in.WriteString(get("/ok", "h"))
	}
	in.WriteString("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n") // rejected: 400
	for i := 0; i < 20; i++ {
		in.WriteString(get("/after", "h"))
	}
	if _, err := io.WriteString(nc, in.String()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the engine answers, then closes
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(nc)
	if errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection reset after %d bytes: answers lost", len(got))
	}
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(got), "HTTP/1.1 200 OK"); n != 140 {
		t.Errorf("%d answers of 200, want 140", n)
	}
	if !strings.Contains(string(got), "HTTP/1.1 400 Bad Request") {
		t.Error("the 400 for the malformed request is missing")
	}
	if be.sawPath("/after") {
		t.Error("a request after the rejected one reached the backend")
	}
}

// Field names with '_' are not forwarded (as nginx by default), so that a backend reading '_' as
// '-' cannot see framing or forwarding fields that gatehouse never checked.
func TestE2EUnderscoreFieldsDropped(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("POST", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\n"+
		"X_Forwarded_For: 6.6.6.6\r\nX-Fine: 1\r\n\r\nhello")
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	req := be.next(t)
	for _, l := range req.Lines {
		if strings.Contains(l, "_") {
			t.Errorf("backend got %q", l)
		}
	}
	if req.Header.Get("X-Fine") != "1" || string(req.Body) != "hello" {
		t.Errorf("backend got %v %q", req.Header, req.Body)
	}
}

// Trailers obey the rules for head fields: no forwarding fields, no request id, nothing the route
// sets or removes, no '_' names, no framing.
func TestE2ERequestTrailersFiltered(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `routes:
  - name: main
    upstream: up
    request_headers: {set: {X-Gw: "1"}, remove: [X-Remove-Me]}
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	c := dial(t, p.Addr)
	r := c.roundTrip("POST", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"+
		"X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Request-Id: forged\r\nX-Gw: 0\r\nX-Remove-Me: 1\r\n"+
		"X_Odd: 1\r\nContent-Length: 5\r\nX-Checksum: abc\r\n\r\n")
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	req := be.next(t)
	if got := req.Trailer.Get("X-Checksum"); got != "abc" {
		t.Errorf("an ordinary trailer was lost: %v", req.Trailer)
	}
	for name := range req.Trailer {
		if name != "X-Checksum" {
			t.Errorf("trailer %s reached the backend", name)
		}
	}
}

// Upgrade: h2c is never tunnelled: the request is forwarded as a plain request.
func TestE2ENoH2CUpgrade(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"+
		"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	req := be.next(t)
	if req.Header.Get("Upgrade") != "" || req.Header.Get("Http2-Settings") != "" || req.Header.Get("Connection") != "" {
		t.Errorf("backend got an upgrade: %v", req.Header)
	}
	// The connection still speaks HTTP/1.1.
	if r := c.roundTrip("GET", get("/second", "h")); r.StatusCode != 200 {
		t.Errorf("second request: %d", r.StatusCode)
	}
}

// TestE2EBugInterimRelayedRaw pins a bug found by FuzzBackendResponse: 1xx answers were relayed
// byte for byte, hop-by-hop fields and fields named by Connection included.
func TestE2EBugInterimRelayedRaw(t *testing.T) {
	t.Parallel()
	be := startBackend(t, rawResponse("HTTP/1.1 103 Early Hints\r\nConnection: X-Secret\r\nX-Secret: 1\r\n"+
		"Keep-Alive: timeout=5\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	c.send(get("/", "h"))
	r := c.read("GET")
	if r.StatusCode != 103 || r.Header.Get("Link") == "" {
		t.Fatalf("interim %d %v", r.StatusCode, r.Header)
	}
	for _, h := range []string{"Connection", "X-Secret", "Keep-Alive"} {
		if r.Header.Get(h) != "" {
			t.Errorf("the 103 carries %s", h)
		}
	}
	if r = c.read("GET"); r.StatusCode != 200 || r.Body != "ok" {
		t.Errorf("final %d %q", r.StatusCode, r.Body)
	}
}

// TestE2EBugBodylessContentLengthList pins a bug found by FuzzBackendResponse: the answer to HEAD
// carried the backend's "Content-Length: 5, 5" as written, which strict clients reject.
func TestE2EBugBodylessContentLengthList(t *testing.T) {
	t.Parallel()
	be := startBackend(t, rawResponse("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n"))
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("HEAD", "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
	if r.StatusCode != 200 || r.ContentLength != 5 {
		t.Errorf("HEAD answer %d, Content-Length %d (%q)", r.StatusCode, r.ContentLength, r.Header["Content-Length"])
	}
}

// TestE2EBugMalformedChunkBeforeAnyOutput pins a bug found by FuzzBackendResponse: a malformed
// first chunk left the client with no answer at all, since the head was still gathered with the
// body; nothing had reached the client, so it now gets a clean 502.
func TestE2EBugMalformedChunkBeforeAnyOutput(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"zz\r\nhello\r\n0\r\n\r\n", "3\r\nhello\r\n0\r\n\r\n", "5\nhello\r\n0\r\n\r\n"} {
		be := startBackend(t, rawResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+body))
		p := startProxy(t, singleUpstream(be.URL))
		c := dial(t, p.Addr)
		r := c.roundTrip("GET", get("/", "h"))
		if r.StatusCode != 502 {
			t.Errorf("body %q: answer %d, want 502", body, r.StatusCode)
		}
	}
}
