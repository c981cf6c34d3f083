package balance

import (
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// Weights are honoured within 2% (relative) over 100k picks.
func TestWeightsHonoured(t *testing.T) {
	t.Parallel()
	equalLatency := func(*upstream.Backend) time.Duration { return 10 * time.Millisecond }
	tests := []struct {
		name    string
		policy  string
		weights []int
		// load: 0 picks without load; otherwise requests overlap, about load at a time.
		load int
		down int // 1-based index of a backend whose active check fails; its share goes to the rest
	}{
		{name: "weighted round-robin", policy: PolicyWeightedRoundRobin, weights: []int{1, 2, 3, 4}},
		{name: "weighted round-robin under load", policy: PolicyWeightedRoundRobin, weights: []int{1, 2, 3, 4}, load: 100},
		{name: "random", policy: PolicyRandom, weights: []int{2, 3, 5}},
		{name: "least_conn idle", policy: PolicyLeastConn, weights: []int{2, 3, 5}},
		{name: "least_conn under simulated completion", policy: PolicyLeastConn, weights: []int{1, 2, 3, 4}, load: 100},
		{name: "p2c_ewma idle", policy: PolicyP2CEWMA, weights: []int{2, 3, 5}},
		{name: "p2c_ewma equal latencies under load", policy: PolicyP2CEWMA, weights: []int{1, 2, 3, 4}, load: 100},
		{name: "consistent_hash without key", policy: PolicyConsistentHash, weights: []int{2, 3, 5}},
		{name: "weighted round-robin, one down", policy: PolicyWeightedRoundRobin, weights: []int{1, 2, 3, 4}, down: 3},
		{name: "random, one down", policy: PolicyRandom, weights: []int{2, 3, 4, 5}, down: 3},
		{name: "p2c_ewma idle, one down", policy: PolicyP2CEWMA, weights: []int{2, 3, 4, 5}, down: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			bs := backends(tt.weights...)
			p := mustPool(t, Config{Policy: tt.policy}, bs, clk)
			weights := floats(tt.weights...)
			if tt.down > 0 {
				bs[tt.down-1].State.SetActive(false, clk.nano())
				weights[tt.down-1] = 0
			}
			var counts []int
			if tt.load == 0 {
				counts = pickCounts(t, p, bs, &Request{}, 100_000)
			} else {
				counts = simulate(t, p, clk, bs, 100_000, 10*time.Millisecond/time.Duration(tt.load), equalLatency)
			}
			checkShares(t, counts, weights, 0.02)
		})
	}
}

// round_robin ignores weights and takes turns exactly; a down backend's turns spread over the rest.
func TestRoundRobin(t *testing.T) {
	t.Parallel()
	clk := newClock()
	bs := backends(1, 5, 1, 1)
	p := mustPool(t, Config{Policy: PolicyRoundRobin}, bs, clk)
	for i := range 8 {
		if be, _ := p.Pick(&Request{}); be != bs[i%4] {
			t.Fatalf("pick %d: %s, want %s", i, be.Addr, bs[i%4].Addr)
		}
	}
	bs[1].State.SetActive(false, clk.nano())
	counts := pickCounts(t, p, bs, &Request{}, 90_000)
	if counts[1] != 0 {
		t.Fatalf("down backend picked %d times", counts[1])
	}
	checkShares(t, []int{counts[0], counts[2], counts[3]}, floats(1, 1, 1), 0.02)
}

// The precomputed schedule is nginx's smooth weighted round-robin: weights 5, 1, 1 give
// a a b a c a a (the sequence in nginx's commit message), and a gcd is reduced.
func TestSmoothSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		weights []float64
		want    []int32
	}{
		{name: "nginx example", weights: []float64{5, 1, 1}, want: []int32{0, 0, 1, 0, 2, 0, 0}},
		{name: "gcd reduced", weights: []float64{20, 10, 10}, want: []int32{0, 1, 2, 0}},
		{name: "equal", weights: []float64{3, 3, 3}, want: []int32{0, 1, 2}},
		{name: "single", weights: []float64{7}, want: []int32{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := smoothSchedule(tt.weights)
			if len(got) != len(tt.want) {
				t.Fatalf("schedule %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("schedule %v, want %v", got, tt.want)
				}
			}
		})
	}
	t.Run("capped", func(t *testing.T) {
		t.Parallel()
		got := smoothSchedule([]float64{1_000_000, 999_999, 1})
		if len(got) > maxSchedule+3 {
			t.Fatalf("schedule of %d slots, cap %d", len(got), maxSchedule)
		}
		seen := [3]int{}
		for _, i := range got {
			seen[i]++
		}
		if seen[2] < 1 || seen[0] < seen[1] || seen[1] < len(got)/3 {
			t.Fatalf("slots per backend %v", seen)
		}
	})
}

// p2c_ewma sends most traffic away from a backend made 10× slower.
func TestP2CAvoidsSlowBackend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		gap  time.Duration // between requests: 10ms/gap requests overlap
	}{
		{name: "light load", gap: 5 * time.Millisecond},
		{name: "heavy load", gap: 250 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			bs := backends(1, 1, 1)
			slow := bs[2]
			p := mustPool(t, Config{}, bs, clk)
			lat := func(be *upstream.Backend) time.Duration {
				if be == slow {
					return 100 * time.Millisecond
				}
				return 10 * time.Millisecond
			}
			counts := simulate(t, p, clk, bs, 100_000, tt.gap, lat)
			share := float64(counts[2]) / 100_000
			if share >= 0.15 {
				t.Errorf("slow backend got %.1f%% of the traffic, want < 15%%", share*100)
			}
			if counts[2] == 0 {
				t.Error("slow backend never retried")
			}
			if d := float64(counts[0]-counts[1]) / float64(counts[0]+counts[1]); d > 0.05 || d < -0.05 {
				t.Errorf("fast backends unbalanced: %v", counts)
			}
		})
	}
}

// A backend without a latency observation is tried: p2c costs it with its rival's latency.
func TestP2CTriesUnmeasuredBackend(t *testing.T) {
	t.Parallel()
	clk := newClock()
	bs := backends(1, 1)
	bs[0].State.ObserveLatency(time.Second, clk.nano())
	p := mustPool(t, Config{}, bs, clk)
	counts := pickCounts(t, p, bs, &Request{}, 1000)
	if counts[1] < 400 {
		t.Fatalf("unmeasured backend picked %d of 1000 times", counts[1])
	}
}

// Slow start: a backend added by SetBackends ramps its share from 10% to 100% of its weight over
// the window, in every weighted policy and in round-robin.
func TestSlowStart(t *testing.T) {
	t.Parallel()
	const window = 10 * time.Second
	for _, policy := range []string{PolicyP2CEWMA, PolicyRoundRobin, PolicyWeightedRoundRobin, PolicyLeastConn, PolicyRandom} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			bs := backends(1, 1)
			p := mustPool(t, Config{Policy: policy, SlowStart: window}, bs[:1], clk)
			p.SetBackends(bs) // bs[1] is new: it ramps from now
			prev := -1.0
			for _, at := range []time.Duration{0, window / 4, window / 2, 3 * window / 4, window} {
				clk.set(time.Unix(1_700_000_000, 0).UnixNano() + int64(at))
				ramp := max(0.1, float64(at)/float64(window))
				want := ramp / (1 + ramp)
				counts := pickCounts(t, p, bs, &Request{}, 20_000)
				got := float64(counts[1]) / 20_000
				if got < want-0.04 || got > want+0.04 {
					t.Errorf("at %v: new backend's share %.3f, want %.3f", at, got, want)
				}
				if got <= prev {
					t.Errorf("at %v: share %.3f did not grow from %.3f", at, got, prev)
				}
				prev = got
			}
		})
	}
}

// With bounded loads, slow start lowers a ramping backend's cap: a hot key owned by it spills.
func TestSlowStartHashCap(t *testing.T) {
	t.Parallel()
	clk := newClock()
	bs := backends(1, 1, 1, 1)
	p := mustPool(t, Config{Policy: PolicyConsistentHash, Hash: HashConfig{Key: "path"}, SlowStart: 10 * time.Second}, bs, clk)
	r := &Request{Key: []byte("/hot")}
	owner, _ := p.Pick(r)
	owner.State.StartRamp(clk.nano()) // ramp 0.1: its cap is a tenth of the others'
	for range 400 {
		be, _ := p.Pick(r)
		be.State.Begin()
	}
	// cap = ceil(c × (total+1) × ramp / Σ weight × ramp) = ceil(1.25 × 400 × 0.1 / 3.1) = 17,
	// where it would be ceil(1.25 × 400 / 4) = 125 without the ramp.
	if n := owner.State.InFlight(); n > 17 || n < 10 {
		t.Fatalf("ramping owner holds %d of 400 in flight, want its cap 17", n)
	}
}
