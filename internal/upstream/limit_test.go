package upstream

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// limited returns a backend with the given limit.
func limited(cfg LimitConfig) *Backend {
	b := NewBackend("10.0.0.1:80", Settings{}, nil, time.Now)
	b.SetLimit(cfg)
	return b
}

// waitFor polls cond until it holds, and fails the test after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// queued waits until n requests wait in b's queue.
func queued(t *testing.T, b *Backend, n int64) {
	t.Helper()
	waitFor(t, "requests are queued", func() bool { _, w := b.LimitStats(); return w == n })
}

// result waits for an asynchronous Acquire's result, and fails the test after a few seconds.
func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire did not return")
		return nil
	}
}

// acquireAsync runs Acquire in a goroutine; its result arrives on the channel.
func acquireAsync(b *Backend, maxWait time.Duration) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- b.Acquire(maxWait) }()
	return ch
}

func TestLimitImmediate(t *testing.T) {
	tests := []struct {
		name string
		cfg  LimitConfig
		ok   int   // acquires that succeed at once
		err  error // what the next one gets
	}{
		{"unlimited", LimitConfig{}, 1000, nil},
		{"negative is unlimited", LimitConfig{MaxConns: -1}, 1000, nil},
		{"limit without queue", LimitConfig{MaxConns: 3}, 3, ErrQueueFull},
		{"limit of one", LimitConfig{MaxConns: 1, QueueSize: 0}, 1, ErrQueueFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := limited(tt.cfg)
			for i := range tt.ok {
				if err := b.Acquire(0); err != nil {
					t.Fatalf("acquire %d: %v", i, err)
				}
			}
			if err := b.Acquire(0); !errors.Is(err, tt.err) {
				t.Fatalf("acquire %d: %v, want %v", tt.ok, err, tt.err)
			}
			if tt.err == nil {
				b.Release()
			}
			if in, w := b.LimitStats(); in != int64(tt.ok) || w != 0 {
				t.Fatalf("LimitStats = %d, %d; want %d, 0", in, w, tt.ok)
			}
			for range tt.ok {
				b.Release()
			}
			if in, _ := b.LimitStats(); in != 0 {
				t.Fatalf("%d admitted after releasing all", in)
			}
		})
	}
}

func TestLimitEnforcedUnderConcurrency(t *testing.T) {
	const limit = 3
	b := limited(LimitConfig{MaxConns: limit, QueueSize: 100, QueueTimeout: time.Minute})
	var cur, peak atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := b.Acquire(0); err != nil {
					failed.Add(1)
					return
				}
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(time.Microsecond)
				cur.Add(-1)
				b.Release()
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d acquires failed with room in the queue", failed.Load())
	}
	if p := peak.Load(); p > limit || p < 1 {
		t.Fatalf("peak concurrency %d, limit %d", p, limit)
	}
	if in, w := b.LimitStats(); in != 0 || w != 0 {
		t.Fatalf("LimitStats = %d, %d after all released", in, w)
	}
}

func TestLimitQueueBound(t *testing.T) {
	b := limited(LimitConfig{MaxConns: 1, QueueSize: 2, QueueTimeout: time.Minute})
	if err := b.Acquire(0); err != nil {
		t.Fatal(err)
	}
	w1 := acquireAsync(b, 0)
	queued(t, b, 1)
	w2 := acquireAsync(b, 0)
	queued(t, b, 2)
	if err := b.Acquire(0); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third waiter: %v, want ErrQueueFull", err)
	}
	for i, w := range []<-chan error{w1, w2} {
		b.Release()
		if err := result(t, w); err != nil {
			t.Fatalf("waiter %d: %v", i+1, err)
		}
	}
	b.Release()
	if in, w := b.LimitStats(); in != 0 || w != 0 {
		t.Fatalf("LimitStats = %d, %d after all released", in, w)
	}
}

func TestLimitTimeout(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		maxWait time.Duration
	}{
		{"queue timeout", 20 * time.Millisecond, 0},
		{"shorter maxWait", time.Minute, 20 * time.Millisecond},
		{"longer maxWait does not extend", 20 * time.Millisecond, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := limited(LimitConfig{MaxConns: 1, QueueSize: 1, QueueTimeout: tt.timeout})
			if err := b.Acquire(0); err != nil {
				t.Fatal(err)
			}
			done := acquireAsync(b, tt.maxWait)
			if err := result(t, done); !errors.Is(err, ErrQueueTimeout) {
				t.Fatalf("waiter: %v, want ErrQueueTimeout", err)
			}
			if in, w := b.LimitStats(); in != 1 || w != 0 {
				t.Fatalf("LimitStats = %d, %d; want 1, 0", in, w)
			}
			b.Release()
			if in, _ := b.LimitStats(); in != 0 {
				t.Fatalf("%d admitted after release", in)
			}
		})
	}
}

// Regression: a waiter that timed out must not keep a place that a later Release hands a slot to,
// or that slot would be lost.
func TestLimitTimedOutWaiterDoesNotStealASlot(t *testing.T) {
	b := limited(LimitConfig{MaxConns: 1, QueueSize: 2, QueueTimeout: time.Minute})
	if err := b.Acquire(0); err != nil {
		t.Fatal(err)
	}
	// Usually the short waiter queues first and times out ahead of the long one; under load the
	// order may differ, and the test holds either way.
	short := acquireAsync(b, 10*time.Millisecond)
	long := acquireAsync(b, 0)
	if err := result(t, short); !errors.Is(err, ErrQueueTimeout) {
		t.Fatalf("short waiter: %v", err)
	}
	queued(t, b, 1)
	b.Release()
	if err := result(t, long); err != nil {
		t.Fatalf("long waiter: %v", err)
	}
	if in, w := b.LimitStats(); in != 1 || w != 0 {
		t.Fatalf("LimitStats = %d, %d; want 1, 0", in, w)
	}
	b.Release()
	if err := b.Acquire(0); err != nil {
		t.Fatalf("acquire after all released: %v", err)
	}
	b.Release()
}

func TestLimitFIFO(t *testing.T) {
	b := limited(LimitConfig{MaxConns: 1, QueueSize: 5, QueueTimeout: time.Minute})
	if err := b.Acquire(0); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 5)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Acquire(0); err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			order <- i
		}()
		queued(t, b, int64(i+1))
	}
	for want := range 5 {
		b.Release()
		if got := <-order; got != want {
			t.Fatalf("waiter %d admitted, want %d", got, want)
		}
	}
	b.Release()
	wg.Wait()
}

func TestLimitSetLimit(t *testing.T) {
	tests := []struct {
		name  string
		to    LimitConfig
		woken int // of 3 waiters behind a limit of 1
	}{
		{"raised", LimitConfig{MaxConns: 3, QueueSize: 3}, 2},
		{"removed", LimitConfig{}, 3},
		{"lowered", LimitConfig{MaxConns: 1, QueueSize: 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := limited(LimitConfig{MaxConns: 1, QueueSize: 3, QueueTimeout: time.Minute})
			if err := b.Acquire(0); err != nil {
				t.Fatal(err)
			}
			var ws []<-chan error
			for i := range 3 {
				ws = append(ws, acquireAsync(b, 0))
				queued(t, b, int64(i+1))
			}
			b.SetLimit(tt.to)
			for i := range tt.woken {
				if err := result(t, ws[i]); err != nil {
					t.Fatalf("waiter %d: %v", i, err)
				}
			}
			if _, w := b.LimitStats(); w != int64(3-tt.woken) {
				t.Fatalf("%d still waiting, want %d", w, 3-tt.woken)
			}
			// Release everything: the rest of the waiters get their turn one by one.
			for i := range 3 - tt.woken {
				b.Release()
				if err := result(t, ws[tt.woken+i]); err != nil {
					t.Fatalf("waiter %d: %v", tt.woken+i, err)
				}
			}
			for range 4 - (3 - tt.woken) {
				b.Release()
			}
			if in, w := b.LimitStats(); in != 0 || w != 0 {
				t.Fatalf("LimitStats = %d, %d after all released", in, w)
			}
		})
	}
}

// A limit lowered below the requests in flight admits nobody until enough of them have finished.
func TestLimitLoweredWithRequestsInFlight(t *testing.T) {
	b := limited(LimitConfig{MaxConns: 3})
	for range 3 {
		if err := b.Acquire(0); err != nil {
			t.Fatal(err)
		}
	}
	b.SetLimit(LimitConfig{MaxConns: 1})
	for i := range 3 {
		if err := b.Acquire(0); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("with %d in flight: %v, want ErrQueueFull", 3-i, err)
		}
		b.Release()
	}
	if err := b.Acquire(0); err != nil {
		t.Fatalf("with none in flight: %v", err)
	}
	b.Release()
}

func BenchmarkAcquireReleaseUnlimited(b *testing.B) {
	be := limited(LimitConfig{})
	b.ReportAllocs()
	for b.Loop() {
		if be.Acquire(0) == nil {
			be.Release()
		}
	}
}

func BenchmarkAcquireReleaseBelowLimit(b *testing.B) {
	be := limited(LimitConfig{MaxConns: 1 << 20, QueueSize: 10})
	b.ReportAllocs()
	for b.Loop() {
		if be.Acquire(0) == nil {
			be.Release()
		}
	}
}

func BenchmarkAcquireReleaseBelowLimitParallel(b *testing.B) {
	be := limited(LimitConfig{MaxConns: 1 << 20, QueueSize: 10})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if be.Acquire(0) == nil {
				be.Release()
			}
		}
	})
}

// BenchmarkAcquireReleaseContended is the slow path: 4× more goroutines than slots, all queueing.
func BenchmarkAcquireReleaseContended(b *testing.B) {
	be := limited(LimitConfig{MaxConns: 2, QueueSize: 1 << 10, QueueTimeout: time.Minute})
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if be.Acquire(0) == nil {
				be.Release()
			}
		}
	})
}
