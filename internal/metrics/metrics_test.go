package metrics

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// fixedNow is the fake clock of every test.
var fixedNow = time.Unix(1_700_000_000, 0)

func clock() time.Time { return fixedNow }

func newBackend(addr string) *upstream.Backend {
	return upstream.NewBackend(addr, upstream.Settings{}, nil, clock)
}

// scrape fetches /metrics over loopback and returns the text and its parsed families.
func scrape(t *testing.T, r *Registry) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	return string(body), fams
}

func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(text, "\n"+l+"\n") {
			t.Errorf("missing line %q", l)
		}
	}
}

func noLines(t *testing.T, text string, prefixes ...string) {
	t.Helper()
	for _, p := range prefixes {
		if strings.Contains(text, "\n"+p) {
			t.Errorf("unexpected line starting %q", p)
		}
	}
}

func TestClassOf(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   string
	}{
		{"continue", 100, "1xx"},
		{"switching", 101, "1xx"},
		{"ok", 200, "2xx"},
		{"top of 2xx", 299, "2xx"},
		{"redirect", 308, "3xx"},
		{"client gone", 499, "4xx"},
		{"bad gateway", 502, "5xx"},
		{"last valid", 599, "5xx"},
		{"unset", 0, "other"},
		{"below 100", 99, "other"},
		{"negative", -200, "other"},
		{"600", 600, "other"},
		{"huge", 1 << 30, "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classLabels[classOf(tc.status)]; got != tc.want {
				t.Errorf("classOf(%d) = %s, want %s", tc.status, got, tc.want)
			}
		})
	}
}

func TestHistogramBuckets(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		le   float64 // the smallest bucket that counts it; +Inf for none
	}{
		{"zero", 0, 0.0005},
		{"negative counts as zero", -time.Second, 0.0005},
		{"on a bound is inside it", 500 * time.Microsecond, 0.0005},
		{"just past a bound", 500*time.Microsecond + 1, 0.001},
		{"middle", 30 * time.Millisecond, 0.05},
		{"last bound", 10 * time.Second, 10},
		{"past the last bound", 11 * time.Second, math.Inf(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegistry()
			r.Route("r").Observe(nil, 200, tc.d, 0, 0)
			_, fams := scrape(t, r)
			h := fams["gatehouse_request_duration_seconds"].GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 1 {
				t.Fatalf("count %d, want 1", h.GetSampleCount())
			}
			if want := max(tc.d, 0).Seconds(); h.GetSampleSum() != want {
				t.Errorf("sum %v, want %v", h.GetSampleSum(), want)
			}
			for _, b := range h.GetBucket() {
				want := uint64(0)
				if b.GetUpperBound() >= tc.le {
					want = 1
				}
				if b.GetCumulativeCount() != want {
					t.Errorf("le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
				}
			}
		})
	}
}

func TestScrapeRequests(t *testing.T) {
	r := NewRegistry()
	api := r.Route("api")
	b1, b2 := newBackend("127.0.0.1:9001"), newBackend("127.0.0.1:9002")
	// Durations that are exact binary fractions of a second, so that the sum is exact: 2⁻⁹ s, 2⁻⁶ s.
	for range 3 {
		api.Observe(b1, 200, 1953125*time.Nanosecond, 100, 1000)
	}
	api.Observe(b2, 503, 15625*time.Microsecond, 100, 50)
	api.Observe(nil, 404, 0, 80, 60)
	r.Route(NoRoute).Observe(nil, 404, time.Millisecond, 70, 40)
	r.Route("old").Observe(nil, 0, 15*time.Second, -1, -1)

	text, fams := scrape(t, r)
	wantLines(t, text,
		`gatehouse_requests_total{backend="127.0.0.1:9001",code="2xx",route="api"} 3`,
		`gatehouse_requests_total{backend="127.0.0.1:9002",code="5xx",route="api"} 1`,
		`gatehouse_requests_total{backend="",code="4xx",route="api"} 1`,
		`gatehouse_requests_total{backend="",code="4xx",route=""} 1`,
		`gatehouse_requests_total{backend="",code="other",route="old"} 1`,
		`gatehouse_request_bytes_total{route="api"} 480`,
		`gatehouse_response_bytes_total{route="api"} 3110`,
		`gatehouse_request_bytes_total{route="old"} 0`,
		`gatehouse_request_duration_seconds_bucket{route="api",le="0.0025"} 4`,
		`gatehouse_request_duration_seconds_bucket{route="api",le="0.025"} 5`,
		`gatehouse_request_duration_seconds_bucket{route="api",le="+Inf"} 5`,
		`gatehouse_request_duration_seconds_count{route="api"} 5`,
		`gatehouse_request_duration_seconds_sum{route="api"} 0.021484375`,
		`gatehouse_request_duration_seconds_bucket{route="old",le="10"} 0`,
		`gatehouse_request_duration_seconds_bucket{route="old",le="+Inf"} 1`,
		`gatehouse_config_reloads_total{outcome="success"} 0`,
		`gatehouse_config_last_reload_successful 1`,
	)
	// Only classes that counted something are exported.
	noLines(t, text, `gatehouse_requests_total{backend="127.0.0.1:9001",code="5xx"`)
	// No sources were set: no connection or backend gauges, no load time.
	noLines(t, text, "gatehouse_client_connections", "gatehouse_backend_", "gatehouse_config_last_reload_success_timestamp")
	if fams["go_goroutines"] == nil {
		t.Error("the Go runtime collector is missing")
	}

	// Every route's histogram is cumulative, and its count is the number of requests it counted.
	perRoute := map[string]uint64{}
	for _, m := range fams["gatehouse_requests_total"].GetMetric() {
		perRoute[label(m, "route")] += uint64(m.GetCounter().GetValue())
	}
	for _, m := range fams["gatehouse_request_duration_seconds"].GetMetric() {
		h := m.GetHistogram()
		prev := uint64(0)
		for _, b := range h.GetBucket() {
			if b.GetCumulativeCount() < prev {
				t.Errorf("route %q: bucket le=%v = %d below the previous %d", label(m, "route"), b.GetUpperBound(), b.GetCumulativeCount(), prev)
			}
			prev = b.GetCumulativeCount()
		}
		if h.GetSampleCount() != prev || h.GetSampleCount() != perRoute[label(m, "route")] {
			t.Errorf("route %q: count %d, last bucket %d, requests %d", label(m, "route"), h.GetSampleCount(), prev, perRoute[label(m, "route")])
		}
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestCountersSurviveReload pins that a reload, which asks for the routes again and recreates the
// Backend objects, continues the same series instead of resetting or duplicating them.
func TestCountersSurviveReload(t *testing.T) {
	r := NewRegistry()
	api := r.Route("api")
	api.Observe(newBackend("127.0.0.1:9001"), 200, time.Millisecond, 10, 10)
	api.Observe(newBackend("127.0.0.1:9002"), 200, time.Millisecond, 10, 10)
	r.Route("gone").Observe(nil, 200, time.Millisecond, 10, 10)
	r.Pool("p1").Retry()
	r.Pool("p2").Ejection()

	// The reload: same route name, new Backend object for 9001, 9002 removed, "gone" removed.
	api2 := r.Route("api")
	if api2 != api {
		t.Fatal("Route returned a new object for the same name")
	}
	nb := newBackend("127.0.0.1:9001")
	r.Retain(map[string][]*upstream.Backend{"api": {nb}}, []string{"p1"})
	api2.Observe(nb, 200, time.Millisecond, 10, 10)
	api2.Observe(nb, 201, time.Millisecond, 10, 10)
	r.Pool("p1").Retry()

	text, _ := scrape(t, r)
	wantLines(t, text,
		`gatehouse_requests_total{backend="127.0.0.1:9001",code="2xx",route="api"} 3`,
		`gatehouse_request_duration_seconds_count{route="api"} 4`,
		`gatehouse_retries_total{pool="p1"} 2`,
	)
	noLines(t, text,
		`gatehouse_requests_total{backend="127.0.0.1:9002"`,
		`gatehouse_requests_total{backend="",code="2xx",route="gone"}`,
		`gatehouse_request_bytes_total{route="gone"}`,
		`gatehouse_ejections_total{pool="p2"}`,
	)
	if got := r.Route("gone"); got.dur.buckets[1].Load() != 0 {
		t.Error("a forgotten route came back with its old counts")
	}
}

func TestRetainKeepsNoRoute(t *testing.T) {
	r := NewRegistry()
	r.Route(NoRoute).Observe(nil, 404, 0, 1, 1)
	r.Retain(nil, nil)
	text, _ := scrape(t, r)
	wantLines(t, text, `gatehouse_requests_total{backend="",code="4xx",route=""} 1`)
}

// TestCacheBounded pins that reloads that keep replacing Backend objects without Retain neither
// grow the pointer cache past maxCached nor split the series.
func TestCacheBounded(t *testing.T) {
	r := NewRegistry()
	rt := r.Route("api")
	for range 3 * maxCached {
		rt.Observe(newBackend("127.0.0.1:9001"), 200, 0, 0, 0)
	}
	if n := len(*rt.cache.Load()); n != maxCached {
		t.Errorf("cache holds %d backends, want %d", n, maxCached)
	}
	text, _ := scrape(t, r)
	wantLines(t, text, `gatehouse_requests_total{backend="127.0.0.1:9001",code="2xx",route="api"} 96`)
}

func TestBackendGauges(t *testing.T) {
	r := NewRegistry()
	a, b := newBackend("10.0.0.1:80"), newBackend("10.0.0.2:80")
	a.State.Begin()
	a.State.Begin()
	a.State.ObserveLatency(250*time.Millisecond, fixedNow.UnixNano())
	b.State.SetActive(false, fixedNow.UnixNano())
	b.State.Eject(fixedNow.Add(time.Minute).UnixNano())
	conns := 7
	r.SetSources(Sources{
		ClientConns: func() int { return conns },
		Backends: func() []PoolBackends {
			return []PoolBackends{
				{Pool: "web", Backends: []*upstream.Backend{a, b, a}}, // a listed twice
				{Pool: "other", Backends: []*upstream.Backend{a, nil}},
			}
		},
		Clock: clock,
	})
	r.ConfigLoaded(time.Unix(1_600_000_000, 0))
	text, _ := scrape(t, r)
	wantLines(t, text,
		`gatehouse_client_connections 7`,
		`gatehouse_backend_healthy{backend="10.0.0.1:80",pool="web"} 1`,
		`gatehouse_backend_healthy{backend="10.0.0.2:80",pool="web"} 0`,
		`gatehouse_backend_ejected{backend="10.0.0.1:80",pool="web"} 0`,
		`gatehouse_backend_ejected{backend="10.0.0.2:80",pool="web"} 1`,
		`gatehouse_backend_inflight_requests{backend="10.0.0.1:80",pool="web"} 2`,
		`gatehouse_backend_inflight_requests{backend="10.0.0.1:80",pool="other"} 2`,
		`gatehouse_backend_latency_ewma_seconds{backend="10.0.0.1:80",pool="web"} 0.25`,
		`gatehouse_backend_latency_ewma_seconds{backend="10.0.0.2:80",pool="web"} 0`,
		`gatehouse_backend_open_connections{backend="10.0.0.1:80",pool="web"} 0`,
		`gatehouse_config_last_reload_success_timestamp_seconds 1.6e+09`,
	)

	// The sources are read at every scrape: a later state shows.
	conns = 3
	a.State.End()
	text, _ = scrape(t, r)
	wantLines(t, text,
		`gatehouse_client_connections 3`,
		`gatehouse_backend_inflight_requests{backend="10.0.0.1:80",pool="web"} 1`,
	)
}

func TestReloadOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		outcomes []bool
		lines    []string
	}{
		{"none", nil, []string{
			`gatehouse_config_reloads_total{outcome="success"} 0`,
			`gatehouse_config_reloads_total{outcome="failure"} 0`,
			`gatehouse_config_last_reload_successful 1`,
		}},
		{"success then failure", []bool{true, false}, []string{
			`gatehouse_config_reloads_total{outcome="success"} 1`,
			`gatehouse_config_reloads_total{outcome="failure"} 1`,
			`gatehouse_config_last_reload_successful 0`,
			`gatehouse_config_last_reload_success_timestamp_seconds 1.7e+09`,
		}},
		{"failure then success", []bool{false, true, true}, []string{
			`gatehouse_config_reloads_total{outcome="success"} 2`,
			`gatehouse_config_reloads_total{outcome="failure"} 1`,
			`gatehouse_config_last_reload_successful 1`,
			`gatehouse_config_last_reload_success_timestamp_seconds 1.700000002e+09`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegistry()
			r.ConfigLoaded(time.Unix(1_000_000_000, 0))
			for i, ok := range tc.outcomes {
				r.Reload(ok, fixedNow.Add(time.Duration(i)*time.Second))
			}
			text, _ := scrape(t, r)
			wantLines(t, text, tc.lines...)
		})
	}
}

func TestPoolCounters(t *testing.T) {
	r := NewRegistry()
	p := r.Pool("api")
	if r.Pool("api") != p {
		t.Fatal("Pool returned a new object for the same name")
	}
	eject := p.Ejection // a callback for a package that cannot import metrics
	eject()
	r.Ejection("api")
	r.Retry("api")
	r.Retry("web")
	text, _ := scrape(t, r)
	wantLines(t, text,
		`gatehouse_ejections_total{pool="api"} 2`,
		`gatehouse_retries_total{pool="api"} 1`,
		`gatehouse_retries_total{pool="web"} 1`,
		`gatehouse_ejections_total{pool="web"} 0`,
	)
}

func TestInvalidLabelDoesNotBreakScrape(t *testing.T) {
	r := NewRegistry()
	r.Route("ok").Observe(nil, 200, 0, 0, 0)
	r.Route("bad\xff").Observe(nil, 200, 0, 0, 0)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `gatehouse_requests_total{backend="",code="2xx",route="ok"} 1`) {
		t.Errorf("the valid route is missing:\n%s", body)
	}
}

// TestConcurrent runs requests, reloads and scrapes at once; under -race it checks the hot path's
// synchronisation, and at the end that no request was lost.
func TestConcurrent(t *testing.T) {
	r := NewRegistry()
	addrs := []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"}
	const workers, perWorker = 8, 500
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // reloads: new Backend objects for the same addresses
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			bes := []*upstream.Backend{newBackend(addrs[0]), newBackend(addrs[1]), newBackend(addrs[2])}
			r.Retain(map[string][]*upstream.Backend{"api": bes}, []string{"p"})
		}
	}()
	go func() { // scrapes
		defer bg.Done()
		h := r.Handler()
		for {
			select {
			case <-stop:
				return
			default:
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bes := []*upstream.Backend{newBackend(addrs[0]), newBackend(addrs[1]), newBackend(addrs[2])}
			for i := range perWorker {
				rt := r.Route("api") // as a reload would
				rt.Observe(bes[(w+i)%3], 200, time.Duration(i)*time.Microsecond, 1, 2)
				r.Pool("p").Retry()
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()

	_, fams := scrape(t, r)
	var total float64
	for _, m := range fams["gatehouse_requests_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	if total != workers*perWorker {
		t.Errorf("requests %v, want %d", total, workers*perWorker)
	}
	h := fams["gatehouse_request_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != workers*perWorker {
		t.Errorf("histogram count %d, want %d", h.GetSampleCount(), workers*perWorker)
	}
	if got := fams["gatehouse_retries_total"].GetMetric()[0].GetCounter().GetValue(); got != workers*perWorker {
		t.Errorf("retries %v, want %d", got, workers*perWorker)
	}
}

func TestObserveAllocs(t *testing.T) {
	r := NewRegistry()
	rt := r.Route("api")
	bes := make([]*upstream.Backend, 10)
	for i := range bes {
		bes[i] = newBackend("127.0.0.1:" + strconv.Itoa(9000+i))
		rt.Observe(bes[i], 200, 0, 0, 0) // first sight of each backend
	}
	p := r.Pool("api")
	tests := []struct {
		name string
		fn   func()
	}{
		{"backend", func() { rt.Observe(bes[9], 200, 3*time.Millisecond, 100, 1000) }},
		{"local", func() { rt.Observe(nil, 404, time.Millisecond, 100, 50) }},
		{"retry", func() { p.Retry() }},
		{"retry by name", func() { r.Retry("api") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tc.fn); n != 0 {
				t.Errorf("%v allocs per call, want 0", n)
			}
		})
	}
}
