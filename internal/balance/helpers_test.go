package balance

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Unix(1_700_000_000, 0).UnixNano())
	return c
}
func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) nano() int64         { return c.ns.Load() }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) set(ns int64)        { c.ns.Store(ns) }

// backends returns one backend per weight, at 10.0.0.i:80.
func backends(weights ...int) []*upstream.Backend {
	bs := make([]*upstream.Backend, len(weights))
	for i, w := range weights {
		bs[i] = &upstream.Backend{Addr: fmt.Sprintf("10.0.0.%d:80", i+1), Weight: w}
	}
	return bs
}

// seeded returns a deterministic random source, for tests that count shares: a fixed seed makes
// them reproducible. Not safe for concurrent use.
func seeded(seed uint64) func() uint64 { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)).Uint64 }

// mustPool builds a pool with a seeded random source.
func mustPool(t testing.TB, cfg Config, bs []*upstream.Backend, clk *fakeClock) *Pool {
	t.Helper()
	p, err := newPool("test", cfg, bs, clk.now, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// index maps each backend to its position in bs.
func index(bs []*upstream.Backend) map[*upstream.Backend]int {
	m := make(map[*upstream.Backend]int, len(bs))
	for i, be := range bs {
		m[be] = i
	}
	return m
}

// pickCounts picks n times without load and counts the picks per backend of bs.
func pickCounts(t testing.TB, p *Pool, bs []*upstream.Backend, r *Request, n int) []int {
	t.Helper()
	idx := index(bs)
	counts := make([]int, len(bs))
	for range n {
		be, out := p.Pick(r)
		if out != Picked {
			t.Fatalf("Pick: %v", out)
		}
		counts[idx[be]]++
	}
	return counts
}

// checkShares fails unless each backend's share of counts is within tol (relative) of its weight's.
func checkShares(t testing.TB, counts []int, weights []float64, tol float64) {
	t.Helper()
	var n int
	var sumW float64
	for i := range counts {
		n += counts[i]
		sumW += weights[i]
	}
	for i, c := range counts {
		want := weights[i] / sumW
		got := float64(c) / float64(n)
		if math.Abs(got-want) > tol*want {
			t.Errorf("backend %d (weight %v): share %.4f, want %.4f ± %.0f%%", i, weights[i], got, want, tol*100)
		}
	}
}

func floats(ws ...int) []float64 {
	f := make([]float64, len(ws))
	for i, w := range ws {
		f[i] = float64(w)
	}
	return f
}

// simulate drives p with a fake clock: a request arrives every gap, takes lat(backend) and then
// ends, feeding its latency to the backend's peak-EWMA. It returns the picks per backend of bs.
func simulate(t testing.TB, p *Pool, clk *fakeClock, bs []*upstream.Backend, n int, gap time.Duration, lat func(*upstream.Backend) time.Duration) []int {
	t.Helper()
	idx := index(bs)
	counts := make([]int, len(bs))
	var q events
	var r Request
	start := clk.nano()
	for k := range n {
		now := start + int64(k)*int64(gap)
		for len(q) > 0 && q[0].at <= now {
			e := heap.Pop(&q).(event)
			e.be.State.ObserveLatency(e.lat, e.at)
			e.be.State.End()
		}
		clk.set(now)
		be, out := p.Pick(&r)
		if out != Picked {
			t.Fatalf("Pick: %v", out)
		}
		counts[idx[be]]++
		be.State.Begin()
		d := lat(be)
		heap.Push(&q, event{at: now + int64(d), lat: d, be: be})
	}
	for len(q) > 0 { // leave the backends idle for the next test step
		e := heap.Pop(&q).(event)
		e.be.State.End()
	}
	return counts
}

type event struct {
	at  int64
	lat time.Duration
	be  *upstream.Backend
}

type events []event

func (q events) Len() int           { return len(q) }
func (q events) Less(i, j int) bool { return q[i].at < q[j].at }
func (q events) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *events) Push(x any)        { *q = append(*q, x.(event)) }
func (q *events) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// allPolicies lists every policy, for tests that hold for all of them.
func allPolicies() []string {
	return []string{PolicyP2CEWMA, PolicyRoundRobin, PolicyWeightedRoundRobin, PolicyLeastConn, PolicyRandom, PolicyConsistentHash}
}

// hashKeyed fills r.Key when the pool hashes, so that hash policies take their keyed path.
func hashKeyed(p *Pool, r *Request, key string) {
	if k, _ := p.HashKey(); k != KeyNone && k != KeyClientIP {
		r.Key = []byte(key)
	}
}
