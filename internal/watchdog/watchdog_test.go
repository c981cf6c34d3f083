package watchdog

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func pipePair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c1.Close(); c2.Close() })
	return c1, c2
}

func TestDeadlineInterruptsBlockedRead(t *testing.T) {
	t.Parallel()
	w := New(2*time.Millisecond, time.Now)
	defer w.Close()
	a, _ := pipePair(t)
	d := w.Register(a)
	defer d.Unregister()
	d.Set(30 * time.Millisecond)
	start := time.Now()
	_, err := a.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read error %v, want a deadline error", err)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Errorf("fired after %v, before the 30ms timeout", el)
	}
	if !d.Fired() {
		t.Error("Fired() is false after the deadline fired")
	}
	if d.Set(time.Second) {
		t.Error("Set after firing must report false: the connection is spent")
	}
}

func TestClearedDeadlineDoesNotFire(t *testing.T) {
	t.Parallel()
	w := New(time.Millisecond, time.Now)
	defer w.Close()
	a, b := pipePair(t)
	d := w.Register(a)
	defer d.Unregister()
	d.Set(10 * time.Millisecond)
	if !d.Clear() {
		t.Fatal("Clear reported a fired deadline")
	}
	time.Sleep(40 * time.Millisecond)
	go b.Write([]byte("x"))
	if _, err := a.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read after Clear: %v", err)
	}
	if d.Fired() {
		t.Error("a cleared deadline fired")
	}
}

func TestRegisterUnregister(t *testing.T) {
	t.Parallel()
	w := New(time.Hour, time.Now)
	defer w.Close()
	a, b := pipePair(t)
	da, db := w.Register(a), w.Register(b)
	if w.Len() != 2 {
		t.Fatalf("Len %d, want 2", w.Len())
	}
	da.Unregister()
	da.Unregister() // idempotent
	if w.Len() != 1 || w.list[0] != db || db.idx != 0 {
		t.Fatalf("after Unregister: len %d", w.Len())
	}
	db.Unregister()
	if w.Len() != 0 {
		t.Fatalf("Len %d, want 0", w.Len())
	}
}

// A Deadline the caller owns is reused across connections: Watch after Unregister starts it
// disarmed (even after it fired) and watching the new connection only.
func TestWatchReusesDeadline(t *testing.T) {
	w := New(time.Millisecond, time.Now)
	defer w.Close()
	a, _ := pipePair(t)
	var d Deadline
	w.Watch(&d, a)
	d.Set(time.Millisecond)
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read error %v, want a deadline error", err)
	}
	d.Unregister()
	if w.Len() != 0 {
		t.Fatalf("Len %d after Unregister, want 0", w.Len())
	}
	c, e := pipePair(t)
	w.Watch(&d, c)
	if d.Fired() || w.Len() != 1 || d.conn != c {
		t.Fatalf("after Watch again: fired %v, len %d, watching the new conn %v", d.Fired(), w.Len(), d.conn == c)
	}
	if !d.Set(time.Hour) {
		t.Fatal("Set on a re-watched Deadline reported it fired")
	}
	go e.Write([]byte("x"))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read on the new conn: %v", err)
	}
	d.Unregister()
	allocs := testing.AllocsPerRun(100, func() {
		w.Watch(&d, c)
		d.Unregister()
	})
	if allocs != 0 {
		t.Errorf("Watch+Unregister allocate %v times, want 0", allocs)
	}
}

func TestTickFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want time.Duration }{
		{10 * time.Second, 50 * time.Millisecond},
		{500 * time.Millisecond, 50 * time.Millisecond},
		{200 * time.Millisecond, 20 * time.Millisecond},
		{time.Millisecond, time.Millisecond},
	} {
		if got := TickFor(c.in); got != c.want {
			t.Errorf("TickFor(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func BenchmarkSetClear(b *testing.B) {
	w := New(time.Hour, time.Now)
	defer w.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	c, _ := net.Dial("tcp", ln.Addr().String())
	defer c.Close()
	d := w.Register(c)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d.Set(time.Second)
		d.Clear()
	}
}

// TestCheck: a Deadline's check function runs once each interval of the watchdog's clock while
// checks are on, and not after Uncheck.
func TestCheck(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	w := New(time.Millisecond, clock)
	defer w.Close()
	a, _ := pipePair(t)
	var calls atomic.Int64
	var d Deadline
	w.WatchChecked(&d, a, func() { calls.Add(1) })
	defer d.Unregister()
	waitCalls := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); calls.Load() < want; {
			if time.Now().After(deadline) {
				t.Fatalf("%d checks, want %d", calls.Load(), want)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond) // ten ticks: no more with the clock still
		if got := calls.Load(); got != want {
			t.Fatalf("%d checks with the clock still, want %d", got, want)
		}
	}
	d.Check(time.Second)
	if !d.Checking() {
		t.Fatal("Checking is false after Check")
	}
	waitCalls(0) // not due yet
	advance(time.Second)
	waitCalls(1)
	advance(999 * time.Millisecond)
	waitCalls(1)
	advance(time.Millisecond)
	waitCalls(2)
	d.Uncheck()
	if d.Checking() {
		t.Fatal("Checking is true after Uncheck")
	}
	advance(time.Hour)
	waitCalls(2)
}
