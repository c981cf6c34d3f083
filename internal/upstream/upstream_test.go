package upstream

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// fakeClock is a settable clock for idle-timeout tests.
type fakeClock struct{ ns atomic.Int64 }

func (f *fakeClock) now() time.Time      { return time.Unix(0, f.ns.Load()) }
func (f *fakeClock) add(d time.Duration) { f.ns.Add(int64(d)) }
func newClock() *fakeClock               { f := &fakeClock{}; f.ns.Store(time.Unix(1000, 0).UnixNano()); return f }
func settings(maxIdle int) Settings {
	return Settings{MaxIdle: maxIdle, IdleTimeout: time.Minute, ConnectTimeout: time.Second}
}

// newPool is a Backend of a loopback test server, with idle connections up to maxIdle and a fake
// clock; the watchdog ends with the test.
func newPool(t *testing.T, maxIdle int) (*server, *Backend, *fakeClock) {
	t.Helper()
	s := listen(t)
	wd := watchdog.New(time.Hour, time.Now)
	t.Cleanup(wd.Close)
	clk := newClock()
	return s, NewBackend(s.ln.Addr().String(), settings(maxIdle), wd, clk.now), clk
}

func dial(t *testing.T, b *Backend) *Conn {
	t.Helper()
	c, err := b.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// server accepts connections and keeps them open until the test ends, or closes them on demand.
type server struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func listen(t *testing.T) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.closeAll() })
	return s
}

func (s *server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func TestPoolMostRecentlyUsedFirst(t *testing.T) {
	t.Parallel()
	_, b, _ := newPool(t, 2)
	c1, c2, c3 := dial(t, b), dial(t, b), dial(t, b)
	b.Put(c1)
	b.Put(c2)
	b.Put(c3) // over MaxIdle 2: closed
	if b.Idle() != 2 || b.Open() != 2 {
		t.Fatalf("idle %d open %d, want 2 and 2", b.Idle(), b.Open())
	}
	if got := b.Get(false); got != c2 || !got.Reused {
		t.Error("Get did not return the most recently used connection, marked reused")
	}
	if got := b.Get(false); got != c1 {
		t.Error("second Get did not return the older connection")
	}
	if b.Get(false) != nil {
		t.Error("Get on an empty pool returned a connection")
	}
}

func TestPoolIdleTimeout(t *testing.T) {
	t.Parallel()
	_, b, clk := newPool(t, 8)
	old := dial(t, b)
	b.Put(old)
	clk.add(30 * time.Second)
	young := dial(t, b)
	b.Put(young)
	clk.add(40 * time.Second) // old is 70s idle, young 40s
	b.Reap()
	if b.Idle() != 1 || b.Open() != 1 {
		t.Fatalf("after Reap idle %d open %d, want 1 and 1", b.Idle(), b.Open())
	}
	clk.add(30 * time.Second) // young is 70s idle too
	if b.Get(false) != nil {
		t.Error("Get returned a connection past its idle timeout")
	}
	if b.Open() != 0 {
		t.Errorf("open %d after expiry, want 0", b.Open())
	}
}

// A pooled connection the backend closed is noticed before reuse (after staleCheckAfter idle).
func TestPoolDetectsClosedConnection(t *testing.T) {
	t.Parallel()
	s, b, clk := newPool(t, 8)
	c := dial(t, b)
	for s.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	b.Put(c)
	s.closeAll()
	time.Sleep(20 * time.Millisecond) // let the FIN arrive
	clk.add(2 * staleCheckAfter)
	if got := b.Get(false); got != nil {
		t.Error("Get returned a connection the backend had closed")
	}
}

// A probe after the first allocates nothing, and still tells a live connection from a closed one.
func TestProbeAllocs(t *testing.T) {
	s, b, _ := newPool(t, 8)
	c := dial(t, b)
	defer c.Close()
	if !c.alive() {
		t.Fatal("a live connection failed the probe")
	}
	if n := testing.AllocsPerRun(100, func() { c.alive() }); n != 0 {
		t.Errorf("a probe allocates %v times, want 0", n)
	}
	for s.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.closeAll()
	deadline := time.Now().Add(5 * time.Second)
	for c.alive() {
		if time.Now().After(deadline) {
			t.Fatal("the probe never saw the backend's close")
		}
		time.Sleep(time.Millisecond)
	}
}

// Get(true) probes even a connection idle for less than staleCheckAfter: for a request that must
// not be sent twice (a POST), a connection the backend closed is never used.
func TestPoolProbeOnDemand(t *testing.T) {
	t.Parallel()
	s, b, _ := newPool(t, 8)
	live := dial(t, b)
	b.Put(live)
	if got := b.Get(true); got != live {
		t.Fatal("a live connection failed the probe")
	}
	b.Put(live)
	for s.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.closeAll()
	time.Sleep(20 * time.Millisecond) // let the FIN arrive
	if got := b.Get(true); got != nil {
		t.Error("Get(true) returned a connection the backend had closed")
	}
}

func TestPoolKeepsLiveConnection(t *testing.T) {
	t.Parallel()
	_, b, clk := newPool(t, 8)
	c := dial(t, b)
	b.Put(c)
	clk.add(2 * staleCheckAfter)
	if got := b.Get(false); got != c {
		t.Error("a live connection idle past the stale check was not reused")
	}
}

func TestPutRefusesDirtyConnection(t *testing.T) {
	t.Parallel()
	_, b, _ := newPool(t, 8)
	c := dial(t, b)
	c.In.Buf[0] = 'x'
	c.In.W = 1 // an unread byte: the backend sent more than the response
	b.Put(c)
	if b.Idle() != 0 || b.Open() != 0 {
		t.Errorf("a connection with unread bytes was pooled: idle %d open %d", b.Idle(), b.Open())
	}
}

func BenchmarkGetPut(b *testing.B) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		for {
			if _, err := ln.Accept(); err != nil {
				return
			}
		}
	}()
	wd := watchdog.New(time.Hour, time.Now)
	defer wd.Close()
	be := NewBackend(ln.Addr().String(), settings(8), wd, time.Now)
	c, _ := be.Dial(context.Background())
	be.Put(c)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		be.Put(be.Get(false))
	}
}
