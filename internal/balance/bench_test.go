package balance

import (
	"math"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// benchPool is a pool of 10 backends of mixed weights with latencies observed, one of them
// ejected, as the engine would see it. The random source is the real one.
func benchPool(b *testing.B, cfg Config) (*Pool, []*upstream.Backend) {
	b.Helper()
	bs := backends(1, 2, 3, 1, 2, 3, 1, 2, 3, 1)
	now := time.Now().UnixNano()
	for i, be := range bs {
		be.State.ObserveLatency(time.Duration(i+1)*time.Millisecond, now)
	}
	bs[4].State.Eject(now + int64(time.Hour))
	p, err := NewPool("bench", cfg, bs, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	return p, bs
}

func benchConfigs() []struct {
	name string
	cfg  Config
} {
	return []struct {
		name string
		cfg  Config
	}{
		{name: "p2c_ewma", cfg: Config{Policy: PolicyP2CEWMA}},
		{name: "round_robin", cfg: Config{Policy: PolicyRoundRobin}},
		{name: "weighted_round_robin", cfg: Config{Policy: PolicyWeightedRoundRobin}},
		{name: "least_conn", cfg: Config{Policy: PolicyLeastConn}},
		{name: "random", cfg: Config{Policy: PolicyRandom}},
		{name: "maglev", cfg: Config{Policy: PolicyConsistentHash, Hash: HashConfig{Key: "header", Name: "X-User"}}},
		{name: "maglev_unbounded", cfg: Config{Policy: PolicyConsistentHash, Hash: HashConfig{Key: "header", Name: "X-User", LoadFactor: math.Inf(1)}}},
		{name: "ring", cfg: Config{Policy: PolicyConsistentHash, Hash: HashConfig{Key: "header", Name: "X-User", Algorithm: HashAlgorithmRing}}},
		{name: "p2c_ewma_slow_start", cfg: Config{Policy: PolicyP2CEWMA, SlowStart: time.Minute}},
	}
}

func BenchmarkPick(b *testing.B) {
	for _, bc := range benchConfigs() {
		b.Run(bc.name, func(b *testing.B) {
			p, _ := benchPool(b, bc.cfg)
			r := &Request{Key: []byte("user-1234567")}
			b.ReportAllocs()
			for b.Loop() {
				be, _ := p.Pick(r)
				be.State.Begin()
				be.State.End()
			}
		})
	}
}

// The engine passes the time it already read: Pick reads no clock.
func BenchmarkPickRequestNow(b *testing.B) {
	for _, bc := range benchConfigs() {
		b.Run(bc.name, func(b *testing.B) {
			p, _ := benchPool(b, bc.cfg)
			r := &Request{Key: []byte("user-1234567"), Now: time.Now().UnixNano()}
			b.ReportAllocs()
			for b.Loop() {
				be, _ := p.Pick(r)
				be.State.Begin()
				be.State.End()
			}
		})
	}
}

func BenchmarkPickParallel(b *testing.B) {
	for _, bc := range benchConfigs() {
		b.Run(bc.name, func(b *testing.B) {
			p, _ := benchPool(b, bc.cfg)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := &Request{Key: []byte("user-1234567")}
				for pb.Next() {
					be, _ := p.Pick(r)
					be.State.Begin()
					be.State.End()
				}
			})
		})
	}
}

func BenchmarkPickSticky(b *testing.B) {
	p, bs := benchPool(b, Config{Sticky: &StickyConfig{Cookie: "s", Secret: []byte(testSecret)}})
	v := p.AppendSetCookie(nil, bs[2])
	r := &Request{Sticky: v[2 : 2+stickyValueLen]}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		be, _ := p.Pick(r)
		if !p.StickyFor(r, be) {
			buf = p.AppendSetCookie(buf[:0], be)
		}
	}
}

func BenchmarkRetryBudget(b *testing.B) {
	p, _ := benchPool(b, Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.CountRequest()
			p.AllowRetry()
		}
	})
}

func BenchmarkSetBackends(b *testing.B) {
	for _, bc := range benchConfigs() {
		b.Run(bc.name, func(b *testing.B) {
			p, bs := benchPool(b, bc.cfg)
			b.ReportAllocs()
			for b.Loop() {
				p.SetBackends(bs)
			}
		})
	}
}
