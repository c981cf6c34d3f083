package balance

import (
	"math"
	"sync/atomic"
)

// maxSchedule caps the length of a smooth weighted round-robin schedule; weights whose reduced sum
// is larger are scaled down to fit (each keeps at least one slot).
const maxSchedule = 1 << 14

// weightedRoundRobin is nginx's smooth weighted round-robin, precomputed: the schedule lists one
// full cycle of nginx's picks (weights 5,1,1 give a a b a c a a), and an atomic counter walks it, so
// a pick takes no lock. An unavailable or tried backend's slot goes to a weighted-random other one;
// slow start thins a ramping backend's slots the same way, with the probability of its ramp share,
// so the schedule is rebuilt only when the backend set changes.
type weightedRoundRobin struct {
	next  *atomic.Uint64 // shared with the previous set's policy
	sched []int32        // backend indices
}

var _ policy = (*weightedRoundRobin)(nil)

func newWeightedRoundRobin(t *tier, prev policy) *weightedRoundRobin {
	p := &weightedRoundRobin{sched: smoothSchedule(t.w)}
	if q, ok := prev.(*weightedRoundRobin); ok {
		p.next = q.next
	} else {
		p.next = new(atomic.Uint64)
	}
	return p
}

func (p *weightedRoundRobin) pick(t *tier, r *Request, now int64) int {
	i := int(p.sched[(p.next.Add(1)-1)%uint64(len(p.sched))])
	if t.eligible(i, r, now) && t.acceptRamp(i, now) {
		return i
	}
	return t.draw(r, now, -1, true)
}

// smoothSchedule runs nginx's smooth weighted round-robin for one cycle: every step, each
// backend's current value grows by its weight and the largest (the first on ties) is picked and
// lowered by the total. Weights are reduced by their greatest common divisor first.
func smoothSchedule(weights []float64) []int32 {
	if len(weights) == 0 {
		return nil
	}
	w := make([]int64, len(weights))
	var g, sum int64
	for i, f := range weights {
		w[i] = int64(f)
		g = gcd(g, w[i])
	}
	for i := range w {
		w[i] /= g
		sum += w[i]
	}
	if sum > maxSchedule {
		scale := float64(maxSchedule) / float64(sum)
		sum = 0
		for i := range w {
			w[i] = max(1, int64(math.Round(float64(w[i])*scale)))
			sum += w[i]
		}
	}
	sched := make([]int32, sum)
	cur := make([]int64, len(w))
	for k := range sched {
		best := 0
		for i := range w {
			cur[i] += w[i]
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= sum
		sched[k] = int32(best)
	}
	return sched
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
