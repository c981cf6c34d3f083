package balance

import "time"

// p2cEWMA is the power of two choices over peak-EWMA latency (Finagle's and linkerd's default):
// two distinct eligible candidates are drawn in proportion to weight × slow-start share, and the
// one with the lower cost wins,
//
//	cost = latency × (1 + in-flight / (weight × ramp))
//
// the time a new request would expect to wait if the backend served weight × ramp requests at
// once. Drawing by weight and keeping the first candidate on a tie makes an idle pool's shares
// follow the weights exactly; under load, in-flight/weight evens out, so the weights still hold
// while the latency term steers traffic away from slow backends. A backend without a latency
// observation yet (or whose average has decayed to nothing) is costed with the other candidate's
// latency, so that it is compared on load alone and gets tried.
type p2cEWMA struct{}

var _ policy = p2cEWMA{}

func (p2cEWMA) pick(t *tier, r *Request, now int64) int {
	a := t.draw(r, now, -1, true)
	if a < 0 || len(t.bs) == 1 {
		return a
	}
	b := t.draw(r, now, a, true)
	if b < 0 {
		return a
	}
	la, lb := t.bs[a].State.Latency(now), t.bs[b].State.Latency(now)
	switch {
	case la == 0 && lb == 0:
		la, lb = time.Nanosecond, time.Nanosecond
	case la == 0:
		la = lb
	case lb == 0:
		lb = la
	}
	if p2cCost(t, b, lb, now) < p2cCost(t, a, la, now) {
		return b
	}
	return a
}

func p2cCost(t *tier, i int, lat time.Duration, now int64) float64 {
	return float64(lat) * (1 + float64(max(t.bs[i].State.InFlight(), 0))/t.eff(i, now))
}
