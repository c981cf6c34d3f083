package proxy_test

// Client timeouts and graceful shutdown.

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestE2ESlowloris(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, serverWith("client_header", "500ms")+singleUpstream(be.URL))
	c := dial(t, p.Addr)
	head := "GET / HTTP/1.1\r\nHost: h\r\nX-Slow: " + strings.Repeat("a", 100) + "\r\n\r\n"
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(head); i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.nc.Write([]byte{head[i]}); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	data, _ := io.ReadAll(c.br) // the 408, if any, then the end
	took := time.Since(start)
	if took > generous {
		t.Errorf("a client trickling its head was cut after %v; client_header is 500ms", took)
	}
	if s := string(data); s != "" && !strings.HasPrefix(s, "HTTP/1.1 408 ") {
		t.Errorf("answer %q, want 408 or nothing", s)
	}
	if be.connCount() != 0 {
		t.Errorf("the backend was contacted")
	}
}

func TestE2EClientTimeouts(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, serverWith("client_header", "300ms", "client_body_idle", "300ms", "keepalive_idle", "300ms")+
		singleUpstream(be.URL))
	t.Run("silent-new-connection", func(t *testing.T) {
		t.Parallel()
		c := dial(t, p.Addr)
		start := time.Now()
		ok, extra := c.closed(5 * time.Second)
		if !ok || extra != "" {
			t.Errorf("closed %v, sent %q; want a silent close", ok, extra)
		}
		if time.Since(start) > generous {
			t.Errorf("closed after %v", time.Since(start))
		}
	})
	t.Run("keepalive-idle", func(t *testing.T) {
		t.Parallel()
		c := dial(t, p.Addr)
		if r := c.roundTrip("GET", get("/", "h")); r.StatusCode != 200 || r.Close {
			t.Fatalf("status %d close %v", r.StatusCode, r.Close)
		}
		start := time.Now()
		ok, extra := c.closed(5 * time.Second)
		if !ok || extra != "" {
			t.Errorf("idle kept-alive connection: closed %v, sent %q; want a silent close", ok, extra)
		}
		if time.Since(start) > generous {
			t.Errorf("closed after %v; keepalive_idle is 300ms", time.Since(start))
		}
	})
	t.Run("partial-head", func(t *testing.T) {
		t.Parallel()
		c := dial(t, p.Addr)
		c.send("GET / HTTP/1.1\r\nHost: h\r\n")
		r, err := c.tryRead("GET")
		if err == nil && r.StatusCode != 408 {
			t.Errorf("status %d, want 408", r.StatusCode)
		}
		c.expectClosed()
	})
	t.Run("stalled-body", func(t *testing.T) {
		t.Parallel()
		for _, length := range []int{10, 1 << 20} { // buffered and streamed bodies
			c := dial(t, p.Addr)
			c.send("POST /stall HTTP/1.1\r\nHost: h\r\nContent-Length: " + strconv.Itoa(length) + "\r\n\r\nabc")
			r, err := c.tryRead("POST")
			if err == nil && r.StatusCode != 408 {
				t.Errorf("length %d: status %d, want 408", length, r.StatusCode)
			}
			c.expectClosed()
		}
	})
}

func TestE2EGracefulShutdown(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		if r.Target == "/slow" {
			time.Sleep(500 * time.Millisecond)
		}
		c.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
		return true
	})
	p := startProxy(t, singleUpstream(be.URL))

	idle := dial(t, p.Addr)
	if r := idle.roundTrip("GET", get("/fast", "h")); r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	be.next(t)
	busy := dial(t, p.Addr)
	busy.send(get("/slow", "h"))
	be.next(t) // the slow request is at the backend

	type result struct {
		took time.Duration
		err  error
	}
	shut := make(chan result, 1)
	go func() {
		took, err := p.shutdown(5 * time.Second)
		shut <- result{took, err}
	}()

	// The idle connection is closed at once, without an answer.
	idle.expectClosed()
	// The request in flight completes, and its connection then closes.
	r := busy.read("GET")
	if r.StatusCode != 200 || r.Body != "done" {
		t.Errorf("in-flight request: status %d body %q", r.StatusCode, r.Body)
	}
	if !r.Close {
		t.Errorf("the response during shutdown does not say Connection: close")
	}
	busy.expectClosed()
	res := <-shut
	if res.err != nil {
		t.Errorf("Shutdown: %v after %v", res.err, res.took)
	}
	if p.H.Active() != 0 {
		t.Errorf("%d connections still active", p.H.Active())
	}
	// New connections are refused.
	if nc, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		nc.Close()
		t.Errorf("a new connection was accepted after shutdown")
	}
}

// TestE2EBugShutdownIgnoresCtxWhileWaitingOnBackend: Handler.Shutdown promises to close the remaining
// connections when ctx ends, but it only "kicks" them (conn.kick in conn.go), which sets a read
// deadline on the client socket. A connection whose goroutine is blocked reading the backend's
// response (conn.receive, forward.go) is not interrupted, so Shutdown keeps waiting until the
// backend answers or upstream_header passes (60s by default), long after the drain timeout.
// kick should also interrupt the connection's current upstream I/O (e.g. set a past deadline on
// the upstream connection in use).
// Found failing when this test was written; the engine was changed during the same session and it now
// passes. Kept as a regression test.
func TestE2EBugShutdownIgnoresCtxWhileWaitingOnBackend(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(c *bconn, r *recReq) bool { <-c.Done; return false })
	p := startProxy(t, serverWith("upstream_header", "6s")+singleUpstream(be.URL))
	c := dial(t, p.Addr)
	c.send(get("/hang", "h"))
	be.next(t)
	took, err := p.shutdown(200 * time.Millisecond)
	if err == nil {
		t.Errorf("Shutdown returned nil although a request was still in flight when its ctx ended")
	}
	if took > 2500*time.Millisecond {
		t.Errorf("Shutdown took %v with a 200ms drain: the connection waiting on the backend was not closed when ctx ended", took)
	}
}

// TestE2EBugShutdownDoesNotEndActiveTunnel: when Shutdown's ctx ends, it kicks every connection by
// setting a past read deadline on the client socket. In an upgraded connection, pump (tunnel.go)
// treats the resulting timeout as "this side is quiet" whenever the other side was active within
// the idle timeout, and simply sets a fresh read deadline, so the kick is lost: a tunnel with
// traffic is never closed and Shutdown does not return until the tunnel ends on its own. pump
// should stop when the handler is draining and the kick fired (or Shutdown should close tunnels
// outright).
// Found failing when this test was written; the engine was changed during the same session and it now
// passes. Kept as a regression test.
func TestE2EBugShutdownDoesNotEndActiveTunnel(t *testing.T) {
	t.Parallel()
	be := startBackend(t, upgradeEcho)
	p := startProxy(t, serverWith("upstream_body_idle", "1s")+singleUpstream(be.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	if r.StatusCode != 101 {
		t.Fatalf("status %d", r.StatusCode)
	}
	// Keep the tunnel busy for at most 6s.
	var pings atomic.Int64
	stop := make(chan struct{})
	pinger := make(chan struct{})
	go func() {
		defer close(pinger)
		buf := make([]byte, 4)
		end := time.Now().Add(6 * time.Second)
		for time.Now().Before(end) {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			_ = c.nc.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.nc.Write([]byte("ping")); err != nil {
				return
			}
			if _, err := io.ReadFull(c.br, buf); err != nil {
				return
			}
			pings.Add(1)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	took, err := p.shutdown(200 * time.Millisecond)
	close(stop)
	<-pinger
	if took > 2500*time.Millisecond {
		t.Errorf("Shutdown took %v with a 200ms drain: the active tunnel was not closed when ctx ended (%d pings echoed)", took, pings.Load())
	}
	if err == nil {
		t.Errorf("Shutdown returned nil although a tunnel was open when its ctx ended")
	}
}

func TestE2EUpstreamBodyIdle(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		c.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
		<-c.Done // then stalls
		return false
	})
	p := startProxy(t, serverWith("upstream_body_idle", "300ms")+singleUpstream(be.URL))
	c := dial(t, p.Addr)
	start := time.Now()
	c.send(get("/", "h"))
	r, err := c.tryRead("GET")
	if err == nil && r.BodyErr == nil {
		t.Errorf("status %d with a complete body %q from a stalled backend", r.StatusCode, r.Body)
	}
	c.expectClosed()
	if took := time.Since(start); took > generous {
		t.Errorf("the stalled response was cut after %v; upstream_body_idle is 300ms", took)
	}
}

func TestE2ESlowReaderClientWriteIdle(t *testing.T) {
	t.Parallel()
	const size = 64 << 20 // far more than the socket buffers hold
	backendDone := make(chan error, 1)
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		c.write("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n")
		chunk := make([]byte, 64<<10)
		var err error
		_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
		for n := 0; n < size && err == nil; n += len(chunk) {
			_, err = c.Write(chunk)
		}
		backendDone <- err
		return false
	})
	p := startProxy(t, serverWith("client_write_idle", "300ms", "upstream_body_idle", "5s")+singleUpstream(be.URL))
	c := dial(t, p.Addr)
	c.send(get("/big", "h")) // and never read
	start := time.Now()
	lines := p.logLines(1) // the request ends
	if took := time.Since(start); took > generous {
		t.Errorf("a client that does not read held its response for %v; client_write_idle is 300ms", took)
	}
	if lines[0].BytesOut >= size {
		t.Errorf("logged bytes_out %d of %d", lines[0].BytesOut, size)
	}
	select {
	case err := <-backendDone:
		if err == nil {
			t.Errorf("the backend could write the whole body: the proxy kept reading it for a client that went away")
		}
	case <-time.After(ioTimeout):
		t.Errorf("the backend connection was never closed")
	}
}

func TestE2EInterimResponses(t *testing.T) {
	t.Parallel()
	be := startBackend(t, rawResponse("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"+
		"HTTP/1.1 102 Processing\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	c.send(get("/", "h"))
	r := c.read("GET")
	if r.StatusCode != 103 || r.Header.Get("Link") == "" {
		t.Errorf("first answer %d %v, want 103 with Link", r.StatusCode, r.Header)
	}
	if r = c.read("GET"); r.StatusCode != 102 {
		t.Errorf("second answer %d, want 102", r.StatusCode)
	}
	if r = c.read("GET"); r.StatusCode != 200 || r.Body != "ok" {
		t.Errorf("final answer %d %q", r.StatusCode, r.Body)
	}
	// An HTTP/1.0 client gets only the final answer.
	c10 := dial(t, p.Addr)
	c10.send("GET / HTTP/1.0\r\n\r\n")
	if r = c10.read("GET"); r.StatusCode != 200 || r.Body != "ok" {
		t.Errorf("HTTP/1.0: answer %d %q, want only the final 200", r.StatusCode, r.Body)
	}
	c10.expectClosed()
}

// A backend that sends 1xx answers without end must not hold the request forever: after 16
// interim answers the client gets 502 (the interim answers already relayed stay relayed).
func TestE2EEndlessInterimResponses(t *testing.T) {
	t.Parallel()
	be := startBackend(t, rawResponse(strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 40)))
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	c.send(get("/", "h"))
	interim := 0
	for {
		r := c.read("GET")
		if r.StatusCode == 103 {
			interim++
			continue
		}
		if r.StatusCode != 502 {
			t.Fatalf("final answer %d, want 502", r.StatusCode)
		}
		break
	}
	if interim != 16 {
		t.Errorf("%d interim answers relayed before the 502, want 16", interim)
	}
}

// TestE2EBugSlowBackendOutlivesClientHeaderTimeout pins a bug: the client connection's header
// deadline stayed armed while the request waited on the backend, so a backend slower than
// client_header (but within upstream_header) had its answer lost: the watchdog cut the client.
func TestE2EBugSlowBackendOutlivesClientHeaderTimeout(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		time.Sleep(700 * time.Millisecond)
		c.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
		return true
	})
	p := startProxy(t, serverWith("client_header", "200ms", "keepalive_idle", "200ms", "upstream_header", "5s")+
		singleUpstream(be.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", get("/", "h"))
	if r.StatusCode != 200 || r.Body != "slow" {
		t.Errorf("answer %d %q, want 200 slow", r.StatusCode, r.Body)
	}
	// The same holds for the second request on the connection (keep-alive deadline).
	r = c.roundTrip("GET", get("/", "h"))
	if r.StatusCode != 200 || r.Body != "slow" {
		t.Errorf("second answer %d %q, want 200 slow", r.StatusCode, r.Body)
	}
}
