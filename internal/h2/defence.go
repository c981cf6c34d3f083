package h2

import "time"

// The abuse budgets. Each is a token bucket: a frame or event of its kind takes a token, tokens come
// back at a steady rate (and for useful work), and a client that empties one gets GOAWAY
// ENHANCE_YOUR_CALM.
//
//   - resets: the client's RST_STREAM on a stream whose request we accepted (and streams the client
//     made us reset: malformed requests, streams over the limit). Burst 4 × MaxConcurrentStreams
//     (at least 100), refilled at MaxConcurrentStreams per second and by one per completed response,
//     so a client whose resets are a fraction of its completed requests never runs dry, while a
//     reset loop (CVE-2023-44487) is cut off after about 600 streams and 128 more per second. What
//     the handlers of reset streams cost is bounded separately: they count against the handler cap.
//   - junk: frames that make us work but carry no request: PING, SETTINGS, PRIORITY, empty DATA
//     without END_STREAM, DATA on closed streams, unknown frame types, and WINDOW_UPDATEs of less
//     than 1 KiB (the "data dribble" of CVE-2019-9511: a window opened a byte at a time makes us
//     send a frame per byte). Burst 1000, refilled at 1000 per second, by two per request stream
//     and by one per DATA frame we send. A flood is cut off after about 1000 frames and 1000 more
//     per second, while legitimate control traffic stays far below. Larger WINDOW_UPDATEs are not
//     counted (clients send many: Go's two per 4 KiB read, even for streams already closed): a
//     flood of them overflows the window, a FLOW_CONTROL_ERROR, within 2^21 frames.
//   - RST_STREAM on closed streams is not counted: clients send it legitimately when they cancel
//     what we have just finished, and it costs a map lookup.
const (
	minWindowUpdate = 1024 // smaller WINDOW_UPDATE increments count as junk
	junkBurst       = 1000
	junkRate        = 1000 // per second
	// frameBudgetSlack is what a frame read may take besides a full frame and twice the header list
	// limit: the CONTINUATION frames' headers. See connReader.
	frameBudgetSlack = 4096
	// maxReadFrame is the largest frame we read: we advertise no SETTINGS_MAX_FRAME_SIZE.
	maxReadFrame = 16384
)

func resetBurst(maxStreams uint32) float64 { return float64(max(4*maxStreams, 100)) }

// bucket is a token bucket.
type bucket struct {
	tokens, burst, rate float64
	last                time.Time
}

func (b *bucket) init(burst, rate float64, now time.Time) {
	b.tokens, b.burst, b.rate, b.last = burst, burst, rate, now
}

// take spends a token; it reports false when there was none.
func (b *bucket) take(now time.Time) bool {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// give returns n tokens, for useful work done.
func (b *bucket) give(n float64) { b.tokens = min(b.burst, b.tokens+n) }
