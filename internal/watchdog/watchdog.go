// Package watchdog enforces I/O timeouts without arming a runtime timer per read or write.
//
// Each connection owns a Deadline: an atomic Unix-nanosecond instant that the serving goroutine moves
// forward as it enters each phase (waiting for a request head, a body, a backend's answer). One
// goroutine per Watchdog wakes every tick, and when a deadline has passed it sets the connection's
// net.Conn deadline to the past, which makes the blocked Read or Write return a timeout error. The
// hot path pays one atomic store per phase instead of a SetDeadline call (a runtime timer update).
// Deadlines fire up to one tick late or early; ticks are a small fraction of any timeout.
package watchdog

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const kicked = -1

// past is a deadline long gone; SetDeadline(past) interrupts blocked I/O at once.
var past = time.Unix(1, 0)

// Watchdog watches registered connections.
type Watchdog struct {
	now  atomic.Int64 // coarse clock: Unix nanoseconds at the last tick
	tick time.Duration
	mu   sync.Mutex
	list []*Deadline
	stop chan struct{}
	done chan struct{}
}

// Deadline is the timeout state of one connection. Its methods other than Unregister may be called
// only by the connection's owner goroutine.
type Deadline struct {
	at   atomic.Int64 // 0: none; >0: Unix nanoseconds; kicked: fired
	conn net.Conn
	w    *Watchdog
	idx  int // position in w.list, guarded by w.mu

	// Periodic checks (Check): the watchdog calls check at checkAt, then every checkEvery.
	check      func()
	checkAt    atomic.Int64 // 0: not checking
	checkEvery atomic.Int64
}

// New starts a watchdog that checks deadlines every tick (clamped to 1ms..1s). clock gives the time;
// pass time.Now outside tests. Stop it with Close.
func New(tick time.Duration, clock func() time.Time) *Watchdog {
	tick = max(time.Millisecond, min(tick, time.Second))
	w := &Watchdog{tick: tick, stop: make(chan struct{}), done: make(chan struct{})}
	w.now.Store(clock().UnixNano())
	go w.run(clock)
	return w
}

// TickFor picks a tick for the shortest timeout in use: a tenth of it, at most 50ms, so that a
// timeout fires at most 50ms late (a per-try timeout set by a later reload included).
func TickFor(shortest time.Duration) time.Duration {
	return max(time.Millisecond, min(shortest/10, 50*time.Millisecond))
}

func (w *Watchdog) run(clock func() time.Time) {
	defer close(w.done)
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		now := clock().UnixNano()
		w.now.Store(now)
		w.mu.Lock()
		for _, d := range w.list {
			if at := d.at.Load(); at > 0 && at <= now && d.at.CompareAndSwap(at, kicked) {
				_ = d.conn.SetDeadline(past)
			}
			if at := d.checkAt.Load(); at > 0 && at <= now && d.checkAt.CompareAndSwap(at, now+d.checkEvery.Load()) {
				d.check()
			}
		}
		w.mu.Unlock()
	}
}

// Close stops the watchdog's goroutine. Deadlines no longer fire afterwards.
func (w *Watchdog) Close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// Now is the watchdog's coarse clock, at most one tick behind.
func (w *Watchdog) Now() int64 { return w.now.Load() }

// Register starts watching c. Call Unregister when c is closed.
func (w *Watchdog) Register(c net.Conn) *Deadline {
	d := new(Deadline)
	w.Watch(d, c)
	return d
}

// Watch is Register into a Deadline the caller owns (say, a field of a pooled connection), so that
// watching a connection allocates nothing. d must not be watched already: a Deadline used before
// must have been Unregistered. d starts disarmed.
func (w *Watchdog) Watch(d *Deadline, c net.Conn) { w.WatchChecked(d, c, nil) }

// WatchChecked is Watch with a check function for Check: the watchdog's goroutine calls it, with
// the watchdog's lock held (so not after Unregister), and it must not block: a non-blocking probe
// of the connection, say. nil: Check must not be called.
func (w *Watchdog) WatchChecked(d *Deadline, c net.Conn, check func()) {
	d.at.Store(0)
	d.checkAt.Store(0)
	d.conn, d.w, d.check = c, w, check
	w.mu.Lock()
	d.idx = len(w.list)
	w.list = append(w.list, d)
	w.mu.Unlock()
}

// Len is the number of connections watched.
func (w *Watchdog) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.list)
}

// Unregister stops watching the connection.
func (d *Deadline) Unregister() {
	w := d.w
	w.mu.Lock()
	if d.idx >= 0 {
		last := len(w.list) - 1
		w.list[d.idx] = w.list[last]
		w.list[d.idx].idx = d.idx
		w.list[last] = nil
		w.list = w.list[:last]
		d.idx = -1
	}
	w.mu.Unlock()
}

// Set arms the deadline timeout from now. It reports false if the deadline had already fired: the
// connection's I/O is then interrupted for good and the connection must be closed.
func (d *Deadline) Set(timeout time.Duration) bool {
	return d.at.Swap(d.w.now.Load()+int64(timeout)) != kicked
}

// Clear disarms the deadline. It reports false if the deadline had fired.
func (d *Deadline) Clear() bool { return d.at.Swap(0) != kicked }

// Check has the watchdog call the check function given to WatchChecked every interval, the first
// time an interval from now (each up to a tick late), until Uncheck. A check that the watchdog had
// begun may still run after Uncheck returns: the function must tell whether it is still wanted.
func (d *Deadline) Check(every time.Duration) {
	d.checkEvery.Store(int64(every))
	d.checkAt.Store(d.w.now.Load() + int64(every))
}

// Uncheck ends the checks Check began.
func (d *Deadline) Uncheck() { d.checkAt.Store(0) }

// Checking reports whether checks are on (for the check function: are they still wanted?).
func (d *Deadline) Checking() bool { return d.checkAt.Load() != 0 }

// Fired reports whether the deadline fired.
func (d *Deadline) Fired() bool { return d.at.Load() == kicked }
