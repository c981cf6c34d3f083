package gateway

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/balance"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/health"
	"github.com/gatehouse-proxy/gatehouse/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/service"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// Gateway turns configs into routing graphs, and keeps what should outlive one config: backends
// with their connections and health, services with their health checkers, DNS watchers and metrics.
// Apply a new config and swap the graph it returns into the engine; what the new config no longer
// uses is released.
type Gateway struct {
	wd      *watchdog.Watchdog
	clock   func() time.Time
	logf    func(string, ...any)
	metrics *metrics.Registry
	secret  []byte // signs sticky cookies of upstreams that set no secret; kept across reloads
	offline bool

	mu       sync.Mutex
	cfg      *config.Config
	services map[string]*svcState
	live     map[backendKey]*upstream.Backend
	watchers map[watchKey]*watchState
	// tlsConfigs are the client TLS configs of https backends by their settings, so that an
	// unchanged upstream keeps its Backends across reloads.
	tlsConfigs map[string]*tls.Config
	closed     bool
}

// Options are what a Gateway needs from the process.
type Options struct {
	Watchdog *watchdog.Watchdog // enforces backend connections' deadlines; required
	Clock    func() time.Time   // default time.Now
	Logf     func(string, ...any)
	Metrics  *metrics.Registry // where routes count their requests; nil counts nothing
	// Offline builds graphs without active health checks, for tools that only look at a config.
	Offline bool
}

// New returns a Gateway with nothing configured.
func New(o Options) (*Gateway, error) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("sticky cookie secret: %w", err)
	}
	return &Gateway{
		wd: o.Watchdog, clock: o.Clock, logf: o.Logf, metrics: o.Metrics, secret: secret, offline: o.Offline,
		services: map[string]*svcState{}, live: map[backendKey]*upstream.Backend{},
		watchers: map[watchKey]*watchState{}, tlsConfigs: map[string]*tls.Config{},
	}, nil
}

// Graph is a compiled dynamic config: what the engine routes with.
type Graph struct {
	Table    *router.Table
	Services map[string]*service.Service

	gw *Gateway
}

// Compile builds the graph of a validated config with a Gateway of its own, for uses that never
// reload (tests, tools). Graph.Close releases it.
func Compile(c *config.Config, wd *watchdog.Watchdog, clock func() time.Time) (*Graph, error) {
	return compile(c, Options{Watchdog: wd, Clock: clock})
}

// CompileOffline is Compile without active health checks: for tools that look at a config.
func CompileOffline(c *config.Config, wd *watchdog.Watchdog, clock func() time.Time) (*Graph, error) {
	return compile(c, Options{Watchdog: wd, Clock: clock, Offline: true})
}

func compile(c *config.Config, o Options) (*Graph, error) {
	g, err := New(o)
	if err != nil {
		return nil, err
	}
	gr, err := g.Apply(c)
	if err != nil {
		g.Close()
		return nil, err
	}
	return gr, nil
}

// Close releases the Gateway the graph was built by: health checks, DNS watchers, connections.
func (gr *Graph) Close() { gr.gw.Close() }

// Reap closes pooled connections past their idle timeout.
func (gr *Graph) Reap() { gr.gw.Reap() }

// Apply builds the graph of a validated config. Services, backends and watchers that the config
// leaves unchanged are reused with their state; those it no longer names are released. On error
// nothing running is changed: routes are compiled, host names resolved and balancing settings
// checked before any running service is touched.
func (g *Gateway) Apply(c *config.Config) (*Graph, error) {
	// Routes first, against stand-in services: a route that does not compile is found before
	// anything is built.
	if err := Check(c); err != nil {
		return nil, err
	}
	var stale []*watchState
	defer func() {
		// Outside the lock: a watcher's goroutine may be waiting for it to report a change.
		for _, w := range stale {
			w.w.Close()
		}
	}()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errors.New("gateway closed")
	}
	for _, w := range g.watchers {
		w.used, w.existed = false, true
	}
	if err := g.prepare(c); err != nil {
		stale = g.unusedWatchers(false)
		return nil, err
	}
	// What building may change in running services, to put back if the build fails.
	type running struct {
		checker  *health.Checker
		backends []*upstream.Backend
	}
	prev := map[string]running{}
	for name, st := range g.services {
		prev[name] = running{checker: st.svc.Checker, backends: st.svc.Backends()}
	}
	built := map[string]*svcState{}
	fail := func(err error) (*Graph, error) {
		for name, st := range built {
			old, p := g.services[name], prev[name]
			if old != nil && p.checker != nil && st.svc.Checker == p.checker {
				if old.svc.Checker != p.checker {
					old.svc.Checker = p.checker // handed over by buildService: hand it back
				}
				p.checker.Watch(p.backends)
			} else {
				st.svc.Close()
			}
			if old != nil && st.svc.Pool == old.svc.Pool {
				old.svc.Pool.SetBackends(p.backends)
			}
		}
		stale = g.unusedWatchers(false)
		return nil, err
	}
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		st, err := g.buildService(c, u, g.services[u.Name])
		if err != nil {
			return fail(config.Errors{c.ErrorAt(fmt.Sprintf("upstreams[%d]", i), err.Error())})
		}
		built[u.Name] = st
	}
	graph := &Graph{Services: map[string]*service.Service{}, gw: g}
	for name, st := range built {
		graph.Services[name] = st.svc
	}
	table, err := g.compileRoutes(c, graph.Services)
	if err != nil {
		return fail(err)
	}
	graph.Table = table
	// Commit: retire what the new config does not use.
	for name, old := range g.services {
		if st, ok := built[name]; !ok || st.svc.Checker != old.svc.Checker {
			old.svc.Close()
		}
	}
	g.services, g.cfg = built, c
	stale = g.unusedWatchers(true)
	g.setLive()
	return graph, nil
}

// prepare does what may fail in building c's services before anything running is touched: it
// checks each upstream's balancing settings and resolves (and starts watching) the backends given
// by host name. Errors name the file, line and field. Called with g.mu held.
func (g *Gateway) prepare(c *config.Config) error {
	var errs config.Errors
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		bc, err := g.poolConfig(u)
		if err == nil {
			_, err = balance.NewPool(u.Name, bc, nil, g.clock)
		}
		if err != nil {
			errs = append(errs, c.ErrorAt(fmt.Sprintf("upstreams[%d]", i), err.Error()))
		}
		for j, b := range u.Backends {
			host, port, _ := net.SplitHostPort(config.BackendAddr(b.URL))
			if _, err := netip.ParseAddr(host); err == nil {
				continue
			}
			if _, err := g.watch(u, j, host, port); err != nil {
				errs = append(errs, c.ErrorAt(fmt.Sprintf("upstreams[%d].backends[%d]", i, j),
					fmt.Sprintf("%s: %v", b.URL, err)))
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// unusedWatchers removes and returns the DNS watchers to close, for the caller to close outside
// the lock: after a commit, those the new config does not use; after a failed Apply, those it
// started (the running config's are kept).
func (g *Gateway) unusedWatchers(commit bool) []*watchState {
	var out []*watchState
	for k, w := range g.watchers {
		if commit && w.used || !commit && w.existed {
			continue
		}
		out = append(out, w)
		delete(g.watchers, k)
	}
	return out
}

// setLive records the backends in use and closes the pooled connections of those no longer used.
// Called with g.mu held.
func (g *Gateway) setLive() {
	live := map[backendKey]*upstream.Backend{}
	for name, st := range g.services {
		for _, be := range st.svc.Backends() {
			live[backendKey{upstream: name, addr: be.Addr, weight: be.Weight, backup: be.Backup, set: be.Settings()}] = be
		}
	}
	for k, be := range g.live {
		if live[k] != be {
			be.CloseIdle()
		}
	}
	g.live = live
}

// Reap closes pooled connections past their idle timeout.
func (g *Gateway) Reap() {
	g.mu.Lock()
	bs := make([]*upstream.Backend, 0, len(g.live))
	for _, be := range g.live {
		bs = append(bs, be)
	}
	g.mu.Unlock()
	for _, be := range bs {
		be.Reap()
	}
}

// Services returns the running services by name, sorted.
func (g *Gateway) Services() []*service.Service {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*service.Service, 0, len(g.services))
	for _, st := range g.services {
		out = append(out, st.svc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Close stops health checks and DNS watchers and closes every pooled connection.
func (g *Gateway) Close() {
	g.mu.Lock()
	g.closed = true
	services, watchers, live := g.services, g.watchers, g.live
	g.services, g.watchers, g.live = nil, nil, nil
	g.mu.Unlock()
	for _, w := range watchers {
		w.w.Close()
	}
	for _, st := range services {
		st.svc.Close()
	}
	for _, be := range live {
		be.CloseIdle()
	}
}
