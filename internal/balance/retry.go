package balance

import "sync/atomic"

// retryWindow is the number of one-second buckets the retry budget looks back over.
const retryWindow = 10

// retryBudget counts requests and retries in a ring of one-second buckets, lock-free: each counter
// is one word holding the second it counts (high 32 bits, Unix seconds) and the count (low 32
// bits), so a counter moving on to a new second resets itself in the same compare-and-swap.
type retryBudget struct {
	ratio float64 // share of requests that may be retries
	floor float64 // retries always allowed per window (MinRetries × window)
	reqs  [retryWindow]atomic.Uint64
	rets  [retryWindow]atomic.Uint64
}

// bump adds one to the counter of second sec. A writer that fell a whole window behind drops its
// count rather than reset a newer second.
func bump(w *atomic.Uint64, sec uint32) {
	for {
		v := w.Load()
		stamp := uint32(v >> 32)
		var nv uint64
		switch {
		case stamp == sec:
			nv = v + 1
		case int32(sec-stamp) > 0:
			nv = uint64(sec)<<32 | 1
		default:
			return
		}
		if w.CompareAndSwap(v, nv) {
			return
		}
	}
}

// sum adds the counts of the ring's buckets within the window ending at second sec.
func sum(ring *[retryWindow]atomic.Uint64, sec uint32) uint64 {
	var n uint64
	for i := range ring {
		v := ring[i].Load()
		if age := sec - uint32(v>>32); age < retryWindow {
			n += v & 0xffffffff
		}
	}
	return n
}

func (b *retryBudget) request(sec uint32) { bump(&b.reqs[sec%retryWindow], sec) }

// allow counts a retry and returns true when retries in the window stay within the budget.
// Concurrent callers may overshoot it by their number, no more.
func (b *retryBudget) allow(sec uint32) bool {
	limit := max(b.floor, b.ratio*float64(sum(&b.reqs, sec)))
	if float64(sum(&b.rets, sec))+1 > limit {
		return false
	}
	bump(&b.rets[sec%retryWindow], sec)
	return true
}
