package upstream

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultQueueTimeout is how long a request waits for a free slot when LimitConfig.QueueTimeout is
// zero. One second: a wait longer than that costs the client more than a quick 503 and a retry.
const DefaultQueueTimeout = time.Second

// Errors of Acquire. The engine answers both with 503: the backend is saturated, not broken.
var (
	// ErrQueueFull means the backend is at its concurrency limit and its wait queue is full.
	ErrQueueFull = errors.New("upstream: backend at its concurrency limit and its wait queue is full")
	// ErrQueueTimeout means the request waited its whole queue timeout without a slot freeing up.
	ErrQueueTimeout = errors.New("upstream: timed out waiting for a slot on a backend at its concurrency limit")
)

// LimitConfig is a backend's circuit breaker: a cap on concurrent requests with a bounded wait
// queue in front of it. The zero value is unlimited.
type LimitConfig struct {
	// MaxConns is the most requests in flight to the backend at once; 0 means unlimited.
	MaxConns int
	// QueueSize is how many requests may wait for a slot beyond MaxConns; 0 means none (a request
	// over the limit fails at once with ErrQueueFull).
	QueueSize int
	// QueueTimeout is how long a request waits in the queue; 0 means DefaultQueueTimeout (1s).
	QueueTimeout time.Duration
}

// limiter is a counting semaphore whose fast path is one atomic add. Waiters queue in FIFO order
// and a Release hands its slot straight to the oldest, so newcomers do not overtake them (but for
// the instant between a Release that found no waiter and a waiter that has just queued).
type limiter struct {
	inUse   atomic.Int64 // admitted requests, plus for a moment each newcomer that finds the limit reached
	max     atomic.Int64 // 0: unlimited
	qsize   atomic.Int64 // the most waiters
	timeout atomic.Int64 // nanoseconds
	waiting atomic.Int64 // len(waiters), readable without the lock

	mu      sync.Mutex
	waiters []*waiter // oldest first
}

// waiter is a request in the queue; a grant sends on ch, under the limiter's lock.
type waiter struct{ ch chan struct{} }

// SetLimit sets the backend's concurrency limit and queue. It may be called at any time (on a
// reload): requests in flight keep their slots, waiters already queued stay, and a raised limit
// admits waiters at once.
func (b *Backend) SetLimit(cfg LimitConfig) {
	l := &b.limit
	if cfg.QueueTimeout <= 0 {
		cfg.QueueTimeout = DefaultQueueTimeout
	}
	l.mu.Lock()
	l.max.Store(int64(max(cfg.MaxConns, 0)))
	l.qsize.Store(int64(max(cfg.QueueSize, 0)))
	l.timeout.Store(int64(cfg.QueueTimeout))
	l.grantLocked()
	l.mu.Unlock()
}

// Acquire takes a slot for one request. It returns nil when the request may go (then Release must
// follow), ErrQueueFull when the backend is at its limit and the queue is full, and ErrQueueTimeout
// when no slot freed up in time. A request waits at most the queue timeout, or maxWait when that is
// positive and shorter (the request's remaining time budget).
//
// Below the limit, or without one, it is a single atomic add: no lock, no allocation.
func (b *Backend) Acquire(maxWait time.Duration) error {
	l := &b.limit
	n := l.inUse.Add(1)
	if m := l.max.Load(); m <= 0 || n <= m {
		return nil
	}
	return l.wait(maxWait)
}

// Release gives back the slot of a request that Acquire admitted.
func (b *Backend) Release() {
	l := &b.limit
	if l.waiting.Load() == 0 {
		l.inUse.Add(-1)
		// A waiter that queued after the first load checks for free slots after queueing, and this
		// load happens after the add: one of the two sees the other (atomics are sequentially
		// consistent), so no slot is left free with a waiter asleep.
		if l.waiting.Load() == 0 {
			return
		}
		l.mu.Lock()
		l.grantLocked()
		l.mu.Unlock()
		return
	}
	l.mu.Lock()
	if m := l.max.Load(); len(l.waiters) > 0 && (m <= 0 || l.inUse.Load() <= m) {
		l.grant() // the slot passes to the oldest waiter; the count stays
	} else {
		l.inUse.Add(-1)
		l.grantLocked()
	}
	l.mu.Unlock()
}

// LimitStats reports the requests holding a slot (for a moment also counting a newcomer about to be
// refused or queued) and the requests waiting in the queue.
func (b *Backend) LimitStats() (admitted, waiting int64) {
	return b.limit.inUse.Load(), b.limit.waiting.Load()
}

// wait is Acquire's slow path: the limit was reached when the newcomer counted itself in.
func (l *limiter) wait(maxWait time.Duration) error {
	l.mu.Lock()
	l.inUse.Add(-1) // undo the optimistic count; a slot is only ever taken under the lock from here
	l.grantLocked() // slots freed meanwhile go to older waiters first
	if len(l.waiters) == 0 && l.take() {
		l.mu.Unlock()
		return nil
	}
	if int64(len(l.waiters)) >= l.qsize.Load() {
		l.mu.Unlock()
		return ErrQueueFull
	}
	w := &waiter{ch: make(chan struct{}, 1)}
	l.waiters = append(l.waiters, w)
	l.waiting.Store(int64(len(l.waiters)))
	l.grantLocked() // a Release may have freed a slot before it could see this waiter
	timeout := time.Duration(l.timeout.Load())
	l.mu.Unlock()
	if maxWait > 0 && maxWait < timeout {
		timeout = maxWait
	}

	t := time.NewTimer(timeout)
	select {
	case <-w.ch:
		t.Stop()
		return nil
	case <-t.C:
	}
	l.mu.Lock()
	if i := slices.Index(l.waiters, w); i >= 0 {
		l.waiters = slices.Delete(l.waiters, i, i+1)
		l.waiting.Store(int64(len(l.waiters)))
		l.mu.Unlock()
		return ErrQueueTimeout
	}
	l.mu.Unlock()
	// Granted as the timer fired: the slot is already ours, and taking it wastes nothing.
	<-w.ch
	return nil
}

// take counts in one request if a slot is free.
func (l *limiter) take() bool {
	for {
		n, m := l.inUse.Load(), l.max.Load()
		if m > 0 && n >= m {
			return false
		}
		if l.inUse.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// grantLocked admits waiters, oldest first, while slots are free. The caller holds l.mu.
func (l *limiter) grantLocked() {
	for len(l.waiters) > 0 && l.take() {
		l.grant()
	}
}

// grant wakes the oldest waiter, whose slot is already counted. The caller holds l.mu.
func (l *limiter) grant() {
	w := l.waiters[0]
	l.waiters[0] = nil
	l.waiters = l.waiters[1:]
	l.waiting.Store(int64(len(l.waiters)))
	w.ch <- struct{}{}
}
