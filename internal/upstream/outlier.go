package upstream

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Result is how one exchange with a backend ended, as passive outlier detection sees it.
type Result uint8

const (
	// Success is any answer that is not a 5xx. It ends both failure streaks.
	Success Result = iota
	// Failure5xx is a 5xx answer. It counts toward the 5xx streak and ends the connect-failure streak
	// (the backend did answer).
	Failure5xx
	// FailureConnect is a connection refused, a connect timeout, or a connection reset or closed
	// before any answer. It counts toward the connect-failure streak and leaves the 5xx streak alone.
	FailureConnect
)

// Defaults of OutlierConfig.
const (
	// DefaultConsecutive5xx is Envoy's default for consecutive_5xx.
	DefaultConsecutive5xx = 5
	// DefaultConsecutiveFailures is stricter than the 5xx trigger: a backend that refuses
	// connections is dead, not slow. nginx (max_fails=1) ejects after one; three tolerates a lone
	// reset of a kept-alive connection, which the engine retries anyway.
	DefaultConsecutiveFailures = 3
	// DefaultBaseEjection is Envoy's base_ejection_time and nginx's fail_timeout.
	DefaultBaseEjection = 10 * time.Second
	// DefaultMaxEjection caps the growth of repeated ejections.
	DefaultMaxEjection = 5 * time.Minute
	// DefaultMaxEjectedPercent keeps at least half of a pool in rotation.
	DefaultMaxEjectedPercent = 50
)

// OutlierConfig tunes passive outlier detection for a pool.
type OutlierConfig struct {
	// Consecutive5xx is the number of consecutive 5xx answers that eject a backend; 0 disables the
	// trigger. DefaultOutlierConfig sets DefaultConsecutive5xx (5).
	Consecutive5xx int
	// ConsecutiveFailures is the number of consecutive connect failures (refused, timed out, reset
	// before any answer) that eject a backend; 0 disables the trigger. DefaultOutlierConfig sets
	// DefaultConsecutiveFailures (3).
	ConsecutiveFailures int
	// BaseEjection is how long a first ejection lasts; the n-th in a row lasts
	// BaseEjection×2^(n-1). 0 means DefaultBaseEjection (10s).
	BaseEjection time.Duration
	// MaxEjection caps the length of an ejection. 0 means DefaultMaxEjection (5m); it is raised to
	// BaseEjection when below it.
	MaxEjection time.Duration
	// MaxEjectedPercent is the largest share of the pool's backends ejected at once, in percent:
	// at most floor(n×p/100) of n, so that below 100 a lone backend is never ejected. 0 means
	// DefaultMaxEjectedPercent (50); values above 100 mean 100.
	MaxEjectedPercent int
}

// DefaultOutlierConfig is the configuration with every default filled in.
func DefaultOutlierConfig() OutlierConfig {
	return OutlierConfig{
		Consecutive5xx:      DefaultConsecutive5xx,
		ConsecutiveFailures: DefaultConsecutiveFailures,
		BaseEjection:        DefaultBaseEjection,
		MaxEjection:         DefaultMaxEjection,
		MaxEjectedPercent:   DefaultMaxEjectedPercent,
	}
}

// outlierState is a backend's part of outlier detection. The streaks are written on the request
// path; level and until only under the Outlier's lock.
type outlierState struct {
	n5xx  atomic.Int64 // consecutive 5xx answers
	nfail atomic.Int64 // consecutive connect failures
	level atomic.Int64 // ejections in a row, before decay: the next lasts base×2^level
	until atomic.Int64 // Unix nanoseconds the last ejection by this detector ends
}

// Outlier is passive outlier detection for one pool: it ejects a backend whose answers fail too
// many times in a row, for a time that doubles with each ejection in a row, and never ejects more
// than a share of the pool. Report is safe for concurrent use; on success it costs two atomic loads.
//
// A backend's ejection level decays by one step for each BaseEjection it stays in rotation after its
// last ejection ended, as Envoy's does, so a backend that misbehaves again after a long quiet time
// starts at the base duration.
type Outlier struct {
	cfg      OutlierConfig
	maxLevel int64 // the level at which an ejection reaches MaxEjection
	clock    func() time.Time
	backends atomic.Pointer[[]*Backend]
	total    atomic.Uint64

	mu sync.Mutex // serializes ejections, so the share cap holds
}

// NewOutlier returns a detector for one pool; clock is the time source (time.Now in production).
// Zero durations and percent get their defaults; zero thresholds disable their trigger.
func NewOutlier(cfg OutlierConfig, clock func() time.Time) *Outlier {
	if cfg.BaseEjection <= 0 {
		cfg.BaseEjection = DefaultBaseEjection
	}
	if cfg.MaxEjection <= 0 {
		cfg.MaxEjection = DefaultMaxEjection
	}
	cfg.MaxEjection = max(cfg.MaxEjection, cfg.BaseEjection)
	if cfg.MaxEjectedPercent <= 0 {
		cfg.MaxEjectedPercent = DefaultMaxEjectedPercent
	}
	cfg.MaxEjectedPercent = min(cfg.MaxEjectedPercent, 100)
	if clock == nil {
		clock = time.Now
	}
	o := &Outlier{cfg: cfg, clock: clock}
	for d := cfg.BaseEjection; d < cfg.MaxEjection && d <= math.MaxInt64/2; d *= 2 {
		o.maxLevel++
	}
	o.backends.Store(&[]*Backend{})
	return o
}

// SetBackends sets the pool's membership, which the ejection cap is a share of. Reloads and
// discovery call it; it does not change any backend's state.
func (o *Outlier) SetBackends(bs []*Backend) {
	bs = append([]*Backend(nil), bs...)
	o.backends.Store(&bs)
}

// Report records how an exchange with b ended and reports whether it ejected b.
func (o *Outlier) Report(b *Backend, r Result) (ejected bool) {
	h := &b.outlier
	switch r {
	case Success:
		// Loads first: in the common case nothing is written and the cache line stays shared.
		if h.n5xx.Load() != 0 {
			h.n5xx.Store(0)
		}
		if h.nfail.Load() != 0 {
			h.nfail.Store(0)
		}
		return false
	case Failure5xx:
		if h.nfail.Load() != 0 {
			h.nfail.Store(0)
		}
		if o.cfg.Consecutive5xx <= 0 || h.n5xx.Add(1) < int64(o.cfg.Consecutive5xx) {
			return false
		}
	case FailureConnect:
		if o.cfg.ConsecutiveFailures <= 0 || h.nfail.Add(1) < int64(o.cfg.ConsecutiveFailures) {
			return false
		}
	default:
		return false
	}
	return o.eject(b)
}

// eject ejects b unless it is already ejected or the pool's share of ejected backends is reached.
// When the cap refuses, the streak is kept, so b is ejected on its next failure once there is room.
func (o *Outlier) eject(b *Backend) bool {
	h := &b.outlier
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock().UnixNano()
	if b.State.Ejected(now) {
		// Answers to requests sent before the ejection: they say nothing new.
		h.n5xx.Store(0)
		h.nfail.Store(0)
		return false
	}
	bs := *o.backends.Load()
	n, ejected, member := len(bs), 0, false
	for _, x := range bs {
		member = member || x == b
		if x.State.Ejected(now) {
			ejected++
		}
	}
	if !member {
		n++
	}
	if ejected >= n*o.cfg.MaxEjectedPercent/100 {
		return false
	}
	level := min(o.levelAt(h, now), o.maxLevel)
	d := min(o.cfg.BaseEjection<<level, o.cfg.MaxEjection)
	until := now + int64(d)
	b.State.Eject(until)
	h.level.Store(min(level+1, o.maxLevel))
	h.until.Store(until)
	h.n5xx.Store(0)
	h.nfail.Store(0)
	o.total.Add(1)
	return true
}

// levelAt is h's ejection level at now, after one step of decay per BaseEjection spent in rotation
// since its last ejection ended.
func (o *Outlier) levelAt(h *outlierState, now int64) int64 {
	level := h.level.Load()
	end := h.until.Load()
	if level == 0 || now <= end {
		return level
	}
	return max(0, level-(now-end)/int64(o.cfg.BaseEjection))
}

// Ejections is the number of ejections so far, for metrics.
func (o *Outlier) Ejections() uint64 { return o.total.Load() }

// OutlierStatus is a backend's outlier detection state, for the admin API.
type OutlierStatus struct {
	// Consecutive5xx is the current streak of 5xx answers.
	Consecutive5xx int64
	// ConsecutiveFailures is the current streak of connect failures.
	ConsecutiveFailures int64
	// Level is the number of recent ejections in a row, after decay: the next ejection lasts
	// BaseEjection×2^Level, capped at MaxEjection.
	Level int64
	// EjectedUntil is when the current or last ejection ends; zero if never ejected.
	EjectedUntil time.Time
}

// Status is b's outlier detection state at the detector's clock's now.
func (o *Outlier) Status(b *Backend) OutlierStatus {
	h := &b.outlier
	s := OutlierStatus{
		Consecutive5xx:      h.n5xx.Load(),
		ConsecutiveFailures: h.nfail.Load(),
		Level:               o.levelAt(h, o.clock().UnixNano()),
	}
	if u := b.State.EjectedUntil(); u != 0 {
		s.EjectedUntil = time.Unix(0, u)
	}
	return s
}
