package balance

// leastConn is weighted least-connections: the eligible backend with the fewest in-flight requests
// per unit of weight (scaled by slow start) wins; ties, such as an idle pool, are broken at random
// in proportion to weight, so that weights hold at any concurrency (as nginx breaks ties with
// weighted round-robin). One pass, no state.
type leastConn struct{}

var _ policy = leastConn{}

func (leastConn) pick(t *tier, r *Request, now int64) int {
	best := -1
	var bestScore, sum float64
	for i := range t.bs {
		if !t.eligible(i, r, now) {
			continue
		}
		w := t.eff(i, now)
		score := float64(max(t.bs[i].State.InFlight(), 0)) / w
		switch {
		case best < 0 || score < bestScore:
			best, bestScore, sum = i, score, w
		case score == bestScore:
			sum += w
			if t.float()*sum < w {
				best = i
			}
		}
	}
	return best
}
