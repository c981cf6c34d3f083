package proxy_test

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestE2EClientGoneCancelsBackend: an HTTP/1.1 client that closes its connection while its request
// waits on an HTTP/1.1 backend (for the head, or in the middle of the body) gives up the request
// as in nginx: the backend connection is closed within about a check interval (a second), not at
// upstream_header (60s) or upstream_body_idle, the request is logged 499, and the backend is not
// held to account. A client that only half-closes after its request counts as gone too (nginx's
// "client prematurely closed connection").
func TestE2EClientGoneCancelsBackend(t *testing.T) {
	t.Parallel()
	closed := make(chan string, 10)
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		if r.Target == "/streaming" {
			c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart of it")
		}
		_, _ = c.BR.ReadByte() // waits for the proxy to close the connection
		closed <- r.Target
		return false
	})
	p := startProxy(t, singleUpstream(be.URL))
	tests := []struct {
		name, path string
		leave      func(nc net.Conn)
	}{
		{"waiting for the head", "/waiting", func(nc net.Conn) { nc.Close() }},
		{"in the middle of the body", "/streaming", func(nc net.Conn) { nc.Close() }},
		{"half-closed", "/half", func(nc net.Conn) { _ = nc.(*net.TCPConn).CloseWrite() }},
	}
	for _, tt := range tests {
		c := dial(t, p.Addr)
		c.send(get(tt.path, "a"))
		if r := be.next(t); r.Target != tt.path {
			t.Fatalf("%s: the backend got %s", tt.name, r.Target)
		}
		if tt.path == "/streaming" {
			_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
			line, err := c.br.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
				t.Fatalf("%s: status line %q, %v", tt.name, line, err)
			}
		}
		tt.leave(c.nc)
		select {
		case got := <-closed:
			if got != tt.path {
				t.Errorf("%s: the backend's connection for %s closed", tt.name, got)
			}
		case <-time.After(10 * time.Second): // checks run every second; the timeouts are 60s
			t.Fatalf("%s: the backend connection stayed open after the client left", tt.name)
		}
	}
	lines := p.logLines(len(tests))
	for i, l := range lines {
		if l.Status != 499 {
			t.Errorf("request %d logged %d, want 499", i, l.Status)
		}
	}
	if b := p.backendAt("up", be.Addr); b.State.Ejected(time.Now().UnixNano()) {
		t.Error("the backend was ejected for the clients' leaving")
	}
	if errs := p.errors(); len(errs) > 0 {
		t.Errorf("the clients' leaving was reported as backend problems: %q", errs)
	}
}

// TestE2EClientStillThere: checks of a client that waits longer than the check interval find it
// there: the slow answer and the next request on the connection go through.
func TestE2EClientStillThere(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		if r.Target == "/slow" {
			time.Sleep(2500 * time.Millisecond) // two checks or more
		}
		c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	for _, path := range []string{"/slow", "/next"} {
		r := c.roundTrip("GET", get(path, "a"))
		if r.StatusCode != 200 || r.Body != "ok" {
			t.Fatalf("%s: %d %q", path, r.StatusCode, r.Body)
		}
	}
	for i, l := range p.logLines(2) {
		if l.Status != 200 {
			t.Errorf("request %d logged %d, want 200", i, l.Status)
		}
	}
}
