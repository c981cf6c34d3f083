package upstream

import (
	"math"
	"sync/atomic"
	"time"
)

// State is what balancers, health checks and metrics read and write about a backend, beyond its
// connections. Every field is atomic: the request path reads it without locks.
//
// A backend is available when its active check (if any) passes and passive outlier detection has
// not ejected it. It carries its state across reloads: the gateway reuses a Backend whose pool and
// address did not change.
type State struct {
	inflight     atomic.Int64 // requests being served
	ewma         atomic.Int64 // peak-EWMA latency, nanoseconds; 0 before the first observation
	ewmaAt       atomic.Int64 // Unix nanoseconds of the last latency update
	activeDown   atomic.Bool  // the active health check says down
	ejectedUntil atomic.Int64 // Unix nanoseconds; passive ejection ends then
	rampFrom     atomic.Int64 // Unix nanoseconds the backend last became available (slow start)
}

// ewmaDecay is the time constant of the latency average: an observation's weight halves in about
// 0.7 of it. Ten seconds follows Finagle's and linkerd's peak-EWMA balancers.
const ewmaDecay = 10 * time.Second

// Begin counts a request starting on the backend; End counts it finished.
func (s *State) Begin() { s.inflight.Add(1) }

// End counts a request finished on the backend.
func (s *State) End() { s.inflight.Add(-1) }

// InFlight is the number of requests being served by the backend.
func (s *State) InFlight() int64 { return s.inflight.Load() }

// ObserveLatency folds a response latency into the peak-EWMA: a latency above the average replaces
// it at once (peak sensitivity), a lower one is blended in with a weight that grows with the time
// since the last observation.
func (s *State) ObserveLatency(d time.Duration, now int64) {
	if d <= 0 {
		d = 1
	}
	prev := s.ewma.Load()
	last := s.ewmaAt.Swap(now)
	if prev == 0 || int64(d) > prev {
		s.ewma.Store(int64(d))
		return
	}
	w := math.Exp(-float64(now-last) / float64(ewmaDecay))
	s.ewma.Store(int64(float64(prev)*w + float64(d)*(1-w)))
}

// Latency is the peak-EWMA latency, decayed toward zero for the time without observations, so that
// a backend that was slow once is tried again. Zero before the first observation.
func (s *State) Latency(now int64) time.Duration {
	v := s.ewma.Load()
	if v == 0 {
		return 0
	}
	idle := now - s.ewmaAt.Load()
	if idle <= 0 {
		return time.Duration(v)
	}
	return time.Duration(float64(v) * math.Exp(-float64(idle)/float64(ewmaDecay)))
}

// SetActive records the active health check's verdict; it reports whether the verdict changed. A
// backend that comes back up starts its slow start at now.
func (s *State) SetActive(up bool, now int64) bool {
	if s.activeDown.Swap(!up) == !up {
		return false
	}
	if up {
		s.rampFrom.Store(now)
	}
	return true
}

// ActiveUp reports the active health check's last verdict (true when there is no active check).
func (s *State) ActiveUp() bool { return !s.activeDown.Load() }

// Eject takes the backend out of rotation until the given time (Unix nanoseconds); its slow start
// begins then.
func (s *State) Eject(until int64) {
	s.ejectedUntil.Store(until)
	s.rampFrom.Store(until)
}

// Unject ends an ejection now.
func (s *State) Unject(now int64) {
	if s.ejectedUntil.Load() > now {
		s.ejectedUntil.Store(0)
		s.rampFrom.Store(now)
	}
}

// Ejected reports whether passive outlier detection holds the backend out at now.
func (s *State) Ejected(now int64) bool { return now < s.ejectedUntil.Load() }

// EjectedUntil is when the current or last ejection ends (Unix nanoseconds, 0 if never ejected).
func (s *State) EjectedUntil() int64 { return s.ejectedUntil.Load() }

// Available reports whether the backend may be picked at now.
func (s *State) Available(now int64) bool {
	return !s.activeDown.Load() && now >= s.ejectedUntil.Load()
}

// StartRamp begins a slow start at now: for a backend that was just added.
func (s *State) StartRamp(now int64) { s.rampFrom.Store(now) }

// Ramp is the share of its weight a backend gets at now during a slow start over window: it grows
// linearly from 10% to 100%. It is 1 without a window or once the window has passed.
func (s *State) Ramp(now int64, window time.Duration) float64 {
	if window <= 0 {
		return 1
	}
	from := s.rampFrom.Load()
	if from == 0 || now-from >= int64(window) {
		return 1
	}
	if now <= from {
		return minRamp
	}
	return max(minRamp, float64(now-from)/float64(window))
}

// minRamp is the share a backend gets at the start of its slow start: not zero, so that it is
// tried at all.
const minRamp = 0.1

// CopyFrom takes over another State's health, latency and slow start: for a backend rebuilt with
// new settings that is still the same server. In-flight counts stay with the requests' backend.
func (s *State) CopyFrom(o *State) {
	s.ewma.Store(o.ewma.Load())
	s.ewmaAt.Store(o.ewmaAt.Load())
	s.activeDown.Store(o.activeDown.Load())
	s.ejectedUntil.Store(o.ejectedUntil.Load())
	s.rampFrom.Store(o.rampFrom.Load())
}
