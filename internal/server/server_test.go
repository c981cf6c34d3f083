package server

import (
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"

	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holdHandler keeps every connection open until released, counting them.
type holdHandler struct {
	open    atomic.Int32
	release chan struct{}
	mu      sync.Mutex
	conns   []net.Conn
}

func (h *holdHandler) ServeConn(c net.Conn) {
	h.open.Add(1)
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
	<-h.release
	c.Close()
	h.open.Add(-1)
}

func (h *holdHandler) Shutdown(ctx context.Context) error {
	close(h.release)
	for h.open.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Past max_connections, a new connection is not served.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	lns, err := Listen([]string{"127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	h := &holdHandler{release: make(chan struct{})}
	s := New(h, lns, 2, t.Logf)
	s.Start()
	addr := s.Addrs()[0].String()
	var clients []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	waitFor(t, "two connections served", func() bool { return h.open.Load() == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := h.open.Load(); n != 2 {
		t.Fatalf("%d connections served with max_connections 2", n)
	}
	// Shutdown at the cap must not wait for a free slot (it once deadlocked there), and drains
	// the connections being served.
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.Close()
	}
	// After Shutdown nothing listens.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts after Shutdown")
	}
}

func TestListenReportsTheBusyAddress(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	freeAddr := freeport.Addr(t)
	_, err = Listen([]string{freeAddr, ln.Addr().String()})
	if err == nil || !contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("error %v does not name %s", err, ln.Addr())
	}
	// The listener opened before the failure was closed again.
	c, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("%s still held after a failed Listen: %v", freeAddr, err)
	}
	c.Close()
}

func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	lns, err := Listen([]string{"127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	stuck := &stuckHandler{}
	s := New(stuck, lns, 10, t.Logf)
	s.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the handler's deadline error", err)
	}
}

// stuckHandler never finishes draining.
type stuckHandler struct{}

func (stuckHandler) ServeConn(c net.Conn) { io.Copy(io.Discard, c); c.Close() }
func (stuckHandler) Shutdown(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
