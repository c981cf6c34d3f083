package balance

import (
	"math/bits"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// policy picks a backend of a tier for a request. It returns the backend's index in t.bs, or -1
// only when no backend of the tier is eligible (available at now and not in r.Tried): Pool.Pick
// relies on a policy being complete.
type policy interface {
	pick(t *tier, r *Request, now int64) int
}

// tier is the primaries or the backups of an immutable backend set, with the policy state built for
// them. Nothing in it changes after the set is published, except atomics inside the policy.
type tier struct {
	bs    []*upstream.Backend
	w     []float64 // each backend's configured weight, at least 1
	cum   []uint64  // cumulative weights: cum[i] = w[0] + … + w[i]
	slow  time.Duration
	rng   func() uint64
	pol   policy
	total uint64 // cum[len-1]
}

// newTier snapshots the weights of bs.
func newTier(bs []*upstream.Backend, slow time.Duration, rng func() uint64) tier {
	t := tier{bs: bs, w: make([]float64, len(bs)), cum: make([]uint64, len(bs)), slow: slow, rng: rng}
	for i, be := range bs {
		w := max(be.Weight, 1)
		t.w[i] = float64(w)
		t.total += uint64(w)
		t.cum[i] = t.total
	}
	return t
}

// pick runs the tier's policy; -1 when the tier is empty or nothing in it is eligible.
func (t *tier) pick(r *Request, now int64) int {
	if len(t.bs) == 0 {
		return -1
	}
	return t.pol.pick(t, r, now)
}

// tried reports whether be is in r.Tried.
func tried(r *Request, be *upstream.Backend) bool {
	for _, x := range r.Tried {
		if x == be {
			return true
		}
	}
	return false
}

// eligible reports whether backend i may be picked for r at now.
func (t *tier) eligible(i int, r *Request, now int64) bool {
	be := t.bs[i]
	return be.State.Available(now) && !tried(r, be)
}

// anyAvailable reports whether some backend of the tier is available at now, tried or not.
func (t *tier) anyAvailable(now int64) bool {
	for _, be := range t.bs {
		if be.State.Available(now) {
			return true
		}
	}
	return false
}

// ramp is backend i's slow-start share at now, in [0.1, 1].
func (t *tier) ramp(i int, now int64) float64 {
	if t.slow <= 0 {
		return 1
	}
	return t.bs[i].State.Ramp(now, t.slow)
}

// eff is backend i's weight scaled by its slow start.
func (t *tier) eff(i int, now int64) float64 { return t.w[i] * t.ramp(i, now) }

// intn is a uniform random integer in [0, n).
func (t *tier) intn(n uint64) uint64 {
	hi, _ := bits.Mul64(t.rng(), n)
	return hi
}

// float is a uniform random number in [0, 1).
func (t *tier) float() float64 { return float64(t.rng()>>11) / (1 << 53) }

// acceptRamp keeps backend i with the probability of its slow-start share: policies that draw a
// candidate without looking at weights thin a ramping backend's picks this way.
func (t *tier) acceptRamp(i int, now int64) bool {
	r := t.ramp(i, now)
	return r >= 1 || t.float() < r
}

// drawWeighted is a random index with probability proportional to the configured weight.
func (t *tier) drawWeighted() int {
	x := t.intn(t.total)
	lo, hi := 0, len(t.cum)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// drawTries is how many random candidates draw rejects before it falls back to a full scan.
const drawTries = 4

// draw is a random eligible index other than exclude, with probability proportional to the
// weight (when weighted) times the slow-start share; -1 when there is none. It samples and
// rejects, which is O(log n), and scans only when a few samples failed, so a down backend costs a
// little and a mostly-down tier stays exact.
func (t *tier) draw(r *Request, now int64, exclude int, weighted bool) int {
	n := uint64(len(t.bs))
	for range drawTries {
		var i int
		if weighted {
			i = t.drawWeighted()
		} else {
			i = int(t.intn(n))
		}
		if i != exclude && t.eligible(i, r, now) && t.acceptRamp(i, now) {
			return i
		}
	}
	return t.scan(r, now, exclude, weighted)
}

// scan is draw's exact fallback: one pass of weighted reservoir sampling over the eligible
// backends other than exclude.
func (t *tier) scan(r *Request, now int64, exclude int, weighted bool) int {
	pick := -1
	var sum float64
	for i := range t.bs {
		if i == exclude || !t.eligible(i, r, now) {
			continue
		}
		w := t.ramp(i, now)
		if weighted {
			w *= t.w[i]
		}
		sum += w
		if t.float()*sum < w {
			pick = i
		}
	}
	return pick
}
