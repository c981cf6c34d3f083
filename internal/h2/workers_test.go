package h2

import (
	"bytes"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// goid is the calling goroutine's id, read from its stack header ("goroutine 12 [running]:").
func goid() int {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	f := bytes.Fields(b[:n])
	id, _ := strconv.Atoi(string(f[1]))
	return id
}

// connectTo starts a server with opts and returns a client connection to it, past its handshake,
// and the server's side of it.
func connectTo(t *testing.T, opts Options) (*rawClient, *Conn) {
	t.Helper()
	srv := startServer(t, opts, nil)
	cl := dialRaw(t, srv.addr)
	cl.handshake()
	return cl, <-srv.newc
}

// waitFor polls cond under the connection's mutex until it holds, or fails the test after 5s.
func waitFor(t *testing.T, c *Conn, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWorkerReuse: a finished handler goroutine waits for the next stream and serves it (no new
// goroutine per request); idle workers that no stream needed end after workerLinger, and a later
// request starts a fresh one.
func TestWorkerReuse(t *testing.T) {
	e := newTestEngine()
	var mu sync.Mutex
	var ran []int // the goroutine of each request, in the order they started: one at a time
	serve := func(vc net.Conn) {
		mu.Lock()
		ran = append(ran, goid())
		mu.Unlock()
		e.serve(vc)
	}
	cl, conn := connectTo(t, Options{Serve: serve, workerLinger: time.Hour})
	for i := range 5 {
		id := cl.get("/r" + strconv.Itoa(i))
		if res, _ := cl.collect(id); res[id].status != "404" {
			t.Fatalf("request %d: %+v", i, res[id])
		}
		waitFor(t, conn, "the worker to go idle", func() bool { return len(conn.idleW) == 1 })
	}
	mu.Lock()
	for i, got := range ran[1:] {
		if got != ran[0] {
			t.Errorf("/r%d ran on goroutine %d, /r0 on %d: want the idle worker reused", i+1, got, ran[0])
		}
	}
	mu.Unlock()
	conn.mu.Lock()
	if conn.workers != 1 || conn.spawned != 1 {
		t.Errorf("%d workers, %d started: want 1 and 1", conn.workers, conn.spawned)
	}
	conn.mu.Unlock()
	// Two looks, as two lingers pass with the worker unused since the first: it ends.
	conn.trimIdle()
	conn.trimIdle()
	waitFor(t, conn, "the unneeded worker to end", func() bool {
		return conn.workers == 0 && len(conn.idleW) == 0 && !conn.trimArmed
	})
	id := cl.get("/after")
	if res, _ := cl.collect(id); res[id].status != "404" {
		t.Fatalf("after: %+v", res[id])
	}
	mu.Lock()
	if len(ran) != 6 || ran[5] == ran[0] {
		t.Errorf("goroutines %v: want /after on a new one", ran)
	}
	mu.Unlock()
}

// TestWorkersKeptAcrossBursts: between bursts of concurrent requests no stream is open, yet the
// workers of one burst serve the next: the connection keeps what its recent peak used.
func TestWorkersKeptAcrossBursts(t *testing.T) {
	e := newTestEngine()
	cl, conn := connectTo(t, Options{Serve: e.serve, workerLinger: time.Hour})
	const burst = 40
	run := func() {
		var ids []uint32
		for range burst {
			ids = append(ids, cl.get("/x"))
		}
		res, _ := cl.collect(ids...)
		for _, id := range ids {
			if res[id].status != "404" {
				t.Fatalf("stream %d: %+v", id, res[id])
			}
		}
		waitFor(t, conn, "every handler to finish", func() bool { return conn.handlers == 0 })
	}
	run()
	conn.mu.Lock()
	kept, spawned := len(conn.idleW), conn.spawned
	conn.mu.Unlock()
	if kept < 1 || kept != spawned {
		t.Fatalf("after a burst: %d idle of %d started, want all kept", kept, spawned)
	}
	run()
	conn.mu.Lock()
	more := conn.spawned - spawned
	conn.mu.Unlock()
	if more > burst-kept {
		t.Errorf("the second burst started %d goroutines with %d idle: want at most %d", more, kept, burst-kept)
	}
}

// TestIdleWorkersTrimmed: after a burst, the workers that a look finds unneeded since the last
// end; a long stream's busy worker stays.
func TestIdleWorkersTrimmed(t *testing.T) {
	e := newTestEngine()
	cl, conn := connectTo(t, Options{Serve: e.serve, workerLinger: time.Hour})
	// The long stream: a request whose body never ends keeps its handler reading.
	cl.request(false, ":method", "POST", ":scheme", "http", ":path", "/echo", ":authority", "a")
	const burst = 40
	var ids []uint32
	for range burst {
		ids = append(ids, cl.request(true, ":method", "GET", ":scheme", "http", ":path", "/hold", ":authority", "a"))
	}
	for range burst {
		<-e.started
	}
	waitFor(t, conn, "a worker per stream", func() bool { return conn.workers == burst+1 })
	close(e.hold)
	res, _ := cl.collect(ids...)
	for _, id := range ids {
		if res[id].status != "200" {
			t.Fatalf("stream %d: %+v", id, res[id])
		}
	}
	waitFor(t, conn, "the burst's workers to go idle", func() bool { return len(conn.idleW) == burst })
	// Two looks: the first sets the low-water mark (all idle since the list began), the second
	// finds none of them used since.
	conn.trimIdle()
	conn.trimIdle()
	waitFor(t, conn, "the idle workers to end", func() bool {
		return conn.workers == 1 && len(conn.idleW) == 0 && conn.handlers == 1
	})
}

// TestIdleWorkersEndOnTheirOwn: the linger timer trims without help; a quiet connection ends up
// with no handler goroutine.
func TestIdleWorkersEndOnTheirOwn(t *testing.T) {
	e := newTestEngine()
	cl, conn := connectTo(t, Options{Serve: e.serve, workerLinger: 5 * time.Millisecond})
	var ids []uint32
	for range 10 {
		ids = append(ids, cl.get("/x"))
	}
	cl.collect(ids...)
	waitFor(t, conn, "the workers to end", func() bool {
		return conn.spawned > 0 && conn.workers == 0 && !conn.trimArmed
	})
}
