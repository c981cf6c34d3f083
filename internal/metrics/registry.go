// Package metrics exports gatehouse's Prometheus metrics.
//
// The request path never touches a Prometheus type: it updates plain atomics in objects resolved
// once per route and pool when a config is built (Registry.Route, Registry.Pool), and a
// prometheus.Collector turns them into constant metrics when /metrics is scraped. Backend state
// (health, ejection, in-flight requests, latency) and the number of client connections are not
// copied at all: they are read from their owners at scrape time through Sources.
//
// A Registry lives for the whole process and survives config reloads: asking for the same route or
// pool again returns the same counters. After a reload, Retain forgets what the new config no
// longer has.
package metrics

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// NoRoute is the name under which requests that matched no route are counted; it is never
// forgotten by Retain. An empty label value is how Prometheus says "none".
const NoRoute = ""

// Registry holds every gatehouse metric, plus the Go runtime and process collectors.
type Registry struct {
	prom *prometheus.Registry
	src  atomic.Pointer[Sources]

	mu     sync.RWMutex
	routes map[string]*Route // guarded by mu
	pools  map[string]*Pool  // guarded by mu

	reloadMu      sync.Mutex
	reloads       [2]uint64 // by outcome: 0 success, 1 failure; guarded by reloadMu
	lastAttemptOK bool      // guarded by reloadMu
	loadedAt      time.Time // when the running config was loaded; guarded by reloadMu
}

// Sources are read at scrape time. Every field may be nil: the metrics it feeds are then left out.
type Sources struct {
	// ClientConns returns the number of open client connections
	// (gatehouse_client_connections).
	ClientConns func() int
	// Backends returns the pools of the running config and their backends, for the per-backend
	// gauges; being a function, it follows reloads. A pool and address listed twice is exported
	// once.
	Backends func() []PoolBackends
	// Clock is the time that ejections, fail timeouts and latency decay are judged at. Default
	// time.Now.
	Clock func() time.Time
}

// PoolBackends is one pool of the running config.
type PoolBackends struct {
	// Pool is the pool's name, the value of the pool label.
	Pool string
	// Backends are the pool's backends; each one's Addr is the value of the backend label.
	Backends []*upstream.Backend
}

// NewRegistry returns a Registry with no sources; it already serves the Go runtime and process
// metrics.
func NewRegistry() *Registry {
	r := &Registry{
		prom:          prometheus.NewRegistry(),
		routes:        make(map[string]*Route),
		pools:         make(map[string]*Pool),
		lastAttemptOK: true,
	}
	r.src.Store(&Sources{Clock: time.Now})
	r.prom.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		(*collector)(r),
	)
	return r
}

// Handler serves the metrics in the Prometheus text format (or another format the scraper asks
// for). A collector that fails is reported in the output's errors and the rest is still served.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.prom, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Register adds a collector of another package (the health checker's, say) to what Handler
// serves. Its metric names should start with "gatehouse_".
func (r *Registry) Register(c prometheus.Collector) error { return r.prom.Register(c) }

// SetSources replaces the functions read at scrape time. It is safe to call while scrapes run.
func (r *Registry) SetSources(s Sources) {
	if s.Clock == nil {
		s.Clock = time.Now
	}
	r.src.Store(&s)
}

// Route returns the counters of the route with this name, creating them the first time; later
// calls with the same name, across reloads, return the same *Route until Retain forgets it.
// Use NoRoute for requests that matched no route.
func (r *Registry) Route(name string) *Route {
	r.mu.RLock()
	rt := r.routes[name]
	r.mu.RUnlock()
	if rt != nil {
		return rt
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rt = r.routes[name]; rt == nil {
		rt = newRoute(name)
		r.routes[name] = rt
	}
	return rt
}

// Pool holds the retry and ejection counters of one upstream pool.
type Pool struct {
	name      string
	retries   atomic.Uint64
	ejections atomic.Uint64
}

// Retry counts a request sent once more, to the same or another backend of the pool.
func (p *Pool) Retry() { p.retries.Add(1) }

// Ejection counts a backend of the pool ejected by passive outlier detection.
func (p *Pool) Ejection() { p.ejections.Add(1) }

// Pool returns the counters of the pool with this name, creating them the first time; like Route,
// the same name gives the same *Pool across reloads. Its methods are lock-free and alloc-free; a
// method value (p.Ejection) makes a callback for packages that cannot import this one.
func (r *Registry) Pool(name string) *Pool {
	r.mu.RLock()
	p := r.pools[name]
	r.mu.RUnlock()
	if p != nil {
		return p
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p = r.pools[name]; p == nil {
		p = &Pool{name: name}
		r.pools[name] = p
	}
	return p
}

// Retry counts a retry in the named pool: r.Pool(pool).Retry(), for callers that did not resolve
// the pool beforehand (a read-locked map lookup; no allocation once the pool exists).
func (r *Registry) Retry(pool string) { r.Pool(pool).Retry() }

// Ejection counts an ejection in the named pool: r.Pool(pool).Ejection().
func (r *Registry) Ejection(pool string) { r.Pool(pool).Ejection() }

// Reload counts a config reload attempt that ended at the given time: ok when the new config was
// applied, false when it was refused and the old one kept serving.
func (r *Registry) Reload(ok bool, at time.Time) {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	r.lastAttemptOK = ok
	if ok {
		r.reloads[0]++
		r.loadedAt = at
	} else {
		r.reloads[1]++
	}
}

// ConfigLoaded records the time the first config was loaded at start, which
// gatehouse_config_last_reload_success_timestamp_seconds shows until the first successful reload.
// It counts no reload.
func (r *Registry) ConfigLoaded(at time.Time) {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	r.loadedAt = at
}

// Retain forgets what the running config no longer has, so that /metrics stops showing it and its
// objects can be collected: routes not in routes (except NoRoute), within a kept route the
// backend addresses not among its backends (routes maps a route's name to the backends it may
// forward to; nil for a route that answers itself), and pools not in pools. A route or pool asked
// for again later starts from zero, which Prometheus reads as a counter reset.
//
// Call it after each successful reload. Requests of the old config still finishing afterwards
// may bring a forgotten backend's series back until the next call; their counts to a forgotten
// route are dropped.
func (r *Registry) Retain(routes map[string][]*upstream.Backend, pools []string) {
	r.mu.Lock()
	var kept []*Route
	for name, rt := range r.routes {
		if _, ok := routes[name]; !ok && name != NoRoute {
			delete(r.routes, name)
			continue
		}
		kept = append(kept, rt)
	}
	for name := range r.pools {
		found := false
		for _, p := range pools {
			if p == name {
				found = true
				break
			}
		}
		if !found {
			delete(r.pools, name)
		}
	}
	r.mu.Unlock()
	for _, rt := range kept {
		rt.retain(routes[rt.name])
	}
}
