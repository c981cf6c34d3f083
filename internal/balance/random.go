package balance

// weightedRandom picks at random in proportion to weight times slow-start share. No state.
type weightedRandom struct{}

var _ policy = weightedRandom{}

func (weightedRandom) pick(t *tier, r *Request, now int64) int {
	return t.draw(r, now, -1, true)
}
