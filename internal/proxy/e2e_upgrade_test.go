package proxy_test

// Protocol upgrades (WebSocket-style tunnels).

import (
	"io"
	"net"
	"testing"
)

// upgradeEcho answers an upgrade request with 101 and then echoes every byte until the proxy
// half-closes; any other request gets 200.
func upgradeEcho(c *bconn, r *recReq) bool {
	if r.Header.Get("Upgrade") == "" {
		c.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain")
		return true
	}
	c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Up: 1\r\n\r\n")
	_, _ = io.Copy(c.Conn, c.BR)
	return false
}

func TestE2EUpgradeTunnel(t *testing.T) {
	t.Parallel()
	be := startBackend(t, upgradeEcho)
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	// Bytes sent right behind the request go through the tunnel once it is up.
	c.send("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: echo\r\nX-Client: 1\r\n\r\nearly|")
	r := c.read("GET")
	if r.StatusCode != 101 {
		t.Fatalf("status %d, want 101", r.StatusCode)
	}
	if r.Header.Get("Upgrade") != "echo" || r.Header.Get("Connection") != "upgrade" && r.Header.Get("Connection") != "Upgrade" {
		t.Errorf("101 fields: Upgrade %q Connection %q", r.Header.Get("Upgrade"), r.Header.Values("Connection"))
	}
	if r.Header.Get("X-Up") != "1" {
		t.Errorf("101 lost the backend's fields: %v", r.Header)
	}
	got := be.next(t)
	if got.Header.Get("Upgrade") != "echo" || !headerHasToken(got.Header.Values("Connection"), "upgrade") {
		t.Errorf("backend got Upgrade %q Connection %q", got.Header.Values("Upgrade"), got.Header.Values("Connection"))
	}
	if got.Header.Get("X-Client") != "1" {
		t.Errorf("X-Client lost: %q", got.Lines)
	}
	expect := func(s string) {
		t.Helper()
		buf := make([]byte, len(s))
		if _, err := io.ReadFull(c.br, buf); err != nil || string(buf) != s {
			t.Fatalf("read %q (%v), want %q", buf, err, s)
		}
	}
	expect("early|")
	for _, msg := range []string{"ping", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", string(testData(100000, 3))} {
		done := make(chan struct{})
		go func() { // not c.send: no t.Fatal off the test goroutine
			defer close(done)
			_, _ = io.WriteString(c.nc, msg)
		}()
		expect(msg)
		<-done
	}
	// A half-close passes through: the backend ends, and so does the tunnel.
	if err := c.nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.expectClosed()
	if len(be.requests()) != 1 {
		t.Errorf("backend parsed %d requests; tunnel bytes must not be parsed", len(be.requests()))
	}
}

func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range splitList(v) {
			if equalFold(t, token) {
				return true
			}
		}
	}
	return false
}

func splitList(v string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == ',' {
			t := v[start:i]
			for len(t) > 0 && (t[0] == ' ' || t[0] == '\t') {
				t = t[1:]
			}
			for len(t) > 0 && (t[len(t)-1] == ' ' || t[len(t)-1] == '\t') {
				t = t[:len(t)-1]
			}
			out = append(out, t)
			start = i + 1
		}
	}
	return out
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func TestE2EUpgradeDeclined(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b")) // answers 200 to everything
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if r.StatusCode != 200 || r.Body != "b GET /ws|" {
		t.Fatalf("status %d body %q", r.StatusCode, r.Body)
	}
	// The connection still speaks HTTP.
	r = c.roundTrip("GET", get("/second", "h"))
	if r.StatusCode != 200 || r.Body != "b GET /second|" {
		t.Fatalf("second request: status %d body %q", r.StatusCode, r.Body)
	}
	reqs := be.requests()
	if len(reqs) != 2 || reqs[1].Target != "/second" {
		t.Errorf("backend requests %d", len(reqs))
	}
}

func TestE2EUpgradeRefusedCases(t *testing.T) {
	t.Parallel()
	// A backend that switches protocols whatever it is asked.
	be := startBackend(t, rawResponse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\n"))
	p := startProxy(t, singleUpstream(be.URL))
	t.Run("101-without-upgrade-request", func(t *testing.T) {
		c := dial(t, p.Addr)
		r := c.roundTrip("GET", get("/plain", "h"))
		if r.StatusCode != 502 {
			t.Errorf("status %d, want 502 for an unsolicited 101", r.StatusCode)
		}
		assertNoLeak(t, r)
	})
	t.Run("http10-upgrade", func(t *testing.T) {
		// HTTP/1.0 has no upgrades: the fields are dropped and a 101 is a backend error.
		c := dial(t, p.Addr)
		r := c.roundTrip("GET", "GET /ws HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		if r.StatusCode != 502 {
			t.Errorf("status %d, want 502", r.StatusCode)
		}
	})
}
