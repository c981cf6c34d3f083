package metrics

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// The metric descriptions. They hold no state: immutable after package initialisation.
var (
	descRequests = prometheus.NewDesc("gatehouse_requests_total",
		"Requests finished, by route, backend (empty for answers gatehouse made itself) and status class.",
		[]string{"route", "backend", "code"}, nil)
	descDuration = prometheus.NewDesc("gatehouse_request_duration_seconds",
		"Time from the start of a request to its end, by route.",
		[]string{"route"}, nil)
	descBytesIn = prometheus.NewDesc("gatehouse_request_bytes_total",
		"Bytes read from clients, heads and bodies, by route.",
		[]string{"route"}, nil)
	descBytesOut = prometheus.NewDesc("gatehouse_response_bytes_total",
		"Bytes written to clients, heads and bodies, by route.",
		[]string{"route"}, nil)
	descClientConns = prometheus.NewDesc("gatehouse_client_connections",
		"Open client connections.",
		nil, nil)
	descHealthy = prometheus.NewDesc("gatehouse_backend_healthy",
		"1 when the backend's active health check passes (or there is none) and it is not skipped after a failed connect, else 0.",
		[]string{"pool", "backend"}, nil)
	descEjected = prometheus.NewDesc("gatehouse_backend_ejected",
		"1 while passive outlier detection holds the backend out of rotation, else 0.",
		[]string{"pool", "backend"}, nil)
	descInFlight = prometheus.NewDesc("gatehouse_backend_inflight_requests",
		"Requests being served by the backend.",
		[]string{"pool", "backend"}, nil)
	descLatency = prometheus.NewDesc("gatehouse_backend_latency_ewma_seconds",
		"Peak-EWMA response latency of the backend, decayed for the time without responses; 0 before the first.",
		[]string{"pool", "backend"}, nil)
	descOpenConns = prometheus.NewDesc("gatehouse_backend_open_connections",
		"Connections open to the backend, idle or busy.",
		[]string{"pool", "backend"}, nil)
	descRetries = prometheus.NewDesc("gatehouse_retries_total",
		"Requests sent once more after a failed attempt, by pool.",
		[]string{"pool"}, nil)
	descEjections = prometheus.NewDesc("gatehouse_ejections_total",
		"Backends ejected by passive outlier detection, by pool.",
		[]string{"pool"}, nil)
	descReloads = prometheus.NewDesc("gatehouse_config_reloads_total",
		"Config reload attempts, by outcome (success or failure).",
		[]string{"outcome"}, nil)
	descLastReloadOK = prometheus.NewDesc("gatehouse_config_last_reload_successful",
		"1 when the last config reload attempt succeeded (or none was made), 0 when it was refused.",
		nil, nil)
	descLoadedAt = prometheus.NewDesc("gatehouse_config_last_reload_success_timestamp_seconds",
		"Unix time the running config was loaded, at start or by the last successful reload.",
		nil, nil)
)

// collector is the Registry seen as a prometheus.Collector.
type collector Registry

var _ prometheus.Collector = (*collector)(nil)

// Describe sends every description the collector may use.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descRequests, descDuration, descBytesIn, descBytesOut, descClientConns,
		descHealthy, descEjected, descInFlight, descLatency, descOpenConns,
		descRetries, descEjections, descReloads, descLastReloadOK, descLoadedAt,
	} {
		ch <- d
	}
}

// Collect turns the counters and the sources into constant metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	r := (*Registry)(c)
	c.collectRoutes(ch)
	c.collectBackends(ch, r.src.Load())

	r.mu.RLock()
	pools := make([]*Pool, 0, len(r.pools))
	for _, p := range r.pools {
		pools = append(pools, p)
	}
	r.mu.RUnlock()
	for _, p := range pools {
		ch <- constMetric(descRetries, prometheus.CounterValue, float64(p.retries.Load()), p.name)
		ch <- constMetric(descEjections, prometheus.CounterValue, float64(p.ejections.Load()), p.name)
	}

	r.reloadMu.Lock()
	reloads, ok, at := r.reloads, r.lastAttemptOK, r.loadedAt
	r.reloadMu.Unlock()
	ch <- constMetric(descReloads, prometheus.CounterValue, float64(reloads[0]), "success")
	ch <- constMetric(descReloads, prometheus.CounterValue, float64(reloads[1]), "failure")
	ch <- constMetric(descLastReloadOK, prometheus.GaugeValue, boolValue(ok))
	if !at.IsZero() {
		ch <- constMetric(descLoadedAt, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
	}
}

// collectRoutes exports every route's counters. A status class is exported once it has counted a
// request, so that a route with a few backends does not show six series each from the start.
func (c *collector) collectRoutes(ch chan<- prometheus.Metric) {
	r := (*Registry)(c)
	r.mu.RLock()
	routes := make([]*Route, 0, len(r.routes))
	for _, rt := range r.routes {
		routes = append(routes, rt)
	}
	r.mu.RUnlock()
	for _, rt := range routes {
		for _, s := range rt.snapshot() {
			for i := range s.codes {
				if n := s.codes[i].Load(); n > 0 {
					ch <- constMetric(descRequests, prometheus.CounterValue, float64(n),
						rt.name, s.addr, classLabels[i])
				}
			}
		}
		buckets := make(map[float64]uint64, len(durationBounds))
		var count uint64
		for i, b := range durationBounds {
			count += rt.dur.buckets[i].Load()
			buckets[b.Seconds()] = count
		}
		count += rt.dur.buckets[len(durationBounds)].Load()
		sum := math.Float64frombits(rt.dur.sum.Load())
		ch <- constHistogram(descDuration, count, sum, buckets, rt.name)
		ch <- constMetric(descBytesIn, prometheus.CounterValue, float64(rt.bytesIn.Load()), rt.name)
		ch <- constMetric(descBytesOut, prometheus.CounterValue, float64(rt.bytesOut.Load()), rt.name)
	}
}

// collectBackends exports the client connection count and every backend's gauges.
func (c *collector) collectBackends(ch chan<- prometheus.Metric, src *Sources) {
	if src.ClientConns != nil {
		ch <- constMetric(descClientConns, prometheus.GaugeValue, float64(src.ClientConns()))
	}
	if src.Backends == nil {
		return
	}
	now := src.Clock().UnixNano()
	type key struct{ pool, addr string }
	seen := make(map[key]bool)
	for _, p := range src.Backends() {
		for _, be := range p.Backends {
			if be == nil || seen[key{p.Pool, be.Addr}] {
				continue
			}
			seen[key{p.Pool, be.Addr}] = true
			st := &be.State
			ch <- constMetric(descHealthy, prometheus.GaugeValue, boolValue(st.Available(now)), p.Pool, be.Addr)
			ch <- constMetric(descEjected, prometheus.GaugeValue, boolValue(st.Ejected(now)), p.Pool, be.Addr)
			ch <- constMetric(descInFlight, prometheus.GaugeValue, float64(st.InFlight()), p.Pool, be.Addr)
			ch <- constMetric(descLatency, prometheus.GaugeValue, st.Latency(now).Seconds(), p.Pool, be.Addr)
			ch <- constMetric(descOpenConns, prometheus.GaugeValue, float64(be.Open()), p.Pool, be.Addr)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// constMetric is prometheus.MustNewConstMetric without the panic: a label value that is not valid
// UTF-8 makes the scrape report an error for that metric and serve the rest.
func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

// constHistogram is constMetric for a histogram.
func constHistogram(d *prometheus.Desc, count uint64, sum float64, buckets map[float64]uint64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstHistogram(d, count, sum, buckets, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}
