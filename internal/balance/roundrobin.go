package balance

import "sync/atomic"

// roundRobin takes the backends in turn, ignoring weights. An unavailable or tried backend's turn
// goes to a uniformly random other one (not to its neighbour, which would double that one's
// share). Slow start: a ramping backend keeps its turn with the probability of its ramp share and
// otherwise passes it on the same way.
type roundRobin struct {
	next *atomic.Uint64 // shared with the policy of the previous backend set, to keep the rotation
}

var _ policy = (*roundRobin)(nil)

func newRoundRobin(prev policy) *roundRobin {
	if p, ok := prev.(*roundRobin); ok {
		return &roundRobin{next: p.next}
	}
	return &roundRobin{next: new(atomic.Uint64)}
}

func (p *roundRobin) pick(t *tier, r *Request, now int64) int {
	i := int((p.next.Add(1) - 1) % uint64(len(t.bs)))
	if t.eligible(i, r, now) && t.acceptRamp(i, now) {
		return i
	}
	return t.draw(r, now, -1, false)
}
