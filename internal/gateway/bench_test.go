package gateway

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/balance"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// BenchmarkDecide measures what issue 3 adds to each request before it is sent: routing on the
// normalised path, picking a backend and counting the request in the metrics, for the benchmark
// configs in bench/ (one route and one backend; 100 routes, the request matching the last one, and
// 10 backends under p2c_ewma). The difference between the two, against the ~18µs of CPU a proxied
// request costs in total (bench/run), is the routing overhead the issue bounds at 10%.
func BenchmarkDecide(b *testing.B) {
	for _, bc := range []struct{ name, file string }{
		{"1route", "../../bench/gatehouse-1route.yaml"},
		{"100routes", "../../bench/gatehouse-100routes.yaml"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg, err := config.Load(bc.file)
			if err != nil {
				b.Fatal(err)
			}
			wd := watchdog.New(time.Hour, time.Now)
			defer wd.Close()
			g, err := New(Options{Watchdog: wd, Metrics: metrics.NewRegistry(), Offline: true})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			gr, err := g.Apply(cfg)
			if err != nil {
				b.Fatal(err)
			}
			raw := []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
			var req h1.Request
			req.Fields = make([]h1.Field, 0, 16)
			if err := h1.ParseRequest(raw, &req, &h1.Limits{}); err != nil {
				b.Fatal(err)
			}
			rr := &router.Request{Method: req.Method, Host: req.Host, Target: req.Path, Fields: req.Fields,
				ClientIP: netip.MustParseAddr("127.0.0.1")}
			pick := balance.Request{ClientIP: rr.ClientIP, Tried: make([]*upstream.Backend, 0, 4)}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rt := gr.Table.Match(rr)
				pool := rt.Service.Pool
				pool.CountRequest()
				pick.Tried = pick.Tried[:0]
				pick.Now = time.Now().UnixNano()
				be, _ := pool.Pick(&pick)
				be.State.Begin()
				be.State.ObserveLatency(500*time.Microsecond, pick.Now)
				be.State.End()
				rt.Metrics.Observe(be, 200, time.Millisecond, 80, 200)
			}
		})
	}
}
