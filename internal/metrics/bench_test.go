package metrics

import (
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// benchRoute returns a route that has seen ten backends, as a route over a pool of ten would.
func benchRoute(b *testing.B) (*Route, []*upstream.Backend) {
	r := NewRegistry()
	rt := r.Route("api")
	bes := make([]*upstream.Backend, 10)
	for i := range bes {
		bes[i] = newBackend("127.0.0.1:" + strconv.Itoa(9000+i))
		rt.Observe(bes[i], 200, 0, 0, 0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	return rt, bes
}

func BenchmarkObserve(b *testing.B) {
	rt, bes := benchRoute(b)
	for i := 0; b.Loop(); i++ {
		rt.Observe(bes[i%len(bes)], 200, 3*time.Millisecond, 120, 900)
	}
}

func BenchmarkObserveLocal(b *testing.B) {
	rt, _ := benchRoute(b)
	for b.Loop() {
		rt.Observe(nil, 404, 50*time.Microsecond, 120, 90)
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	rt, bes := benchRoute(b)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			rt.Observe(bes[i%len(bes)], 200, 3*time.Millisecond, 120, 900)
			i++
		}
	})
}

func BenchmarkScrape(b *testing.B) {
	r := NewRegistry()
	bes := make([]*upstream.Backend, 10)
	for i := range bes {
		bes[i] = newBackend("127.0.0.1:" + strconv.Itoa(9000+i))
	}
	for n := range 20 {
		rt := r.Route("route" + strconv.Itoa(n))
		for _, be := range bes {
			rt.Observe(be, 200, time.Millisecond, 1, 1)
		}
	}
	r.SetSources(Sources{Backends: func() []PoolBackends { return []PoolBackends{{Pool: "p", Backends: bes}} }})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.prom.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
