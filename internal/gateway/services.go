package gateway

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/balance"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/discovery"
	"github.com/gatehouse-proxy/gatehouse/internal/health"
	"github.com/gatehouse-proxy/gatehouse/internal/service"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// svcState is a service and what the gateway needs to rebuild it: the config it was built from
// and, for backends given by host name, the addresses DNS last gave.
type svcState struct {
	svc      *service.Service
	cfg      config.Upstream
	poolKey  string // the settings the pool was built from; another key needs another pool
	checkKey string // the same for the health checker
	// resolved maps a backends[] index written as a host name to its current "ip:port" list.
	resolved map[int][]string
	watches  map[string]bool // "host:port" being watched
}

// backendKey identifies a Backend across reloads: the same upstream, address, weight, role and
// connection settings give back the same Backend, with its connections and health.
type backendKey struct {
	upstream string
	addr     string
	weight   int
	backup   bool
	set      upstream.Settings
}

// settings are the connection settings of an upstream's backends.
func (g *Gateway) settings(c *config.Config, u *config.Upstream) upstream.Settings {
	return upstream.Settings{
		MaxIdle:        u.MaxIdlePerBackend,
		IdleTimeout:    time.Duration(u.IdleTimeout),
		ConnectTimeout: time.Duration(c.Server.Timeouts.UpstreamConnect),
		HTTP2:          u.Protocol == "h2",
	}
}

// fingerprint is a stable text of v, to tell whether settings changed between reloads.
func fingerprint(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("gateway: fingerprint: %v", err)) // config types always marshal
	}
	return string(b)
}

// poolConfig is the balancing part of an upstream's config.
func (g *Gateway) poolConfig(u *config.Upstream) (balance.Config, error) {
	bc := balance.Config{
		Policy:      u.Balance,
		SlowStart:   time.Duration(u.SlowStart),
		RetryBudget: float64(u.Retry.Budget),
		MinRetries:  u.Retry.MinPerSecond,
		Hash: balance.HashConfig{
			Key:        u.Hash.Key,
			Name:       u.Hash.Name,
			Algorithm:  u.Hash.Algorithm,
			LoadFactor: u.Hash.LoadFactor,
		},
	}
	// The config's zeros mean "none"; balance reads zero as "the default".
	if bc.Hash.LoadFactor == 0 {
		bc.Hash.LoadFactor = math.Inf(1)
	}
	if bc.RetryBudget == 0 {
		bc.RetryBudget = math.SmallestNonzeroFloat64
	}
	if bc.MinRetries == 0 {
		bc.MinRetries = -1
	}
	if s := u.Sticky; s != nil {
		secret := []byte(s.Secret)
		if len(secret) == 0 {
			secret = g.secret
		}
		bc.Sticky = &balance.StickyConfig{Cookie: s.Cookie, Secret: secret, MaxAge: time.Duration(s.MaxAge)}
	}
	return bc, nil
}

func healthConfig(a *config.ActiveHealth) health.Config {
	lo, hi, _ := config.ParseStatusRange(a.Status) // validated
	return health.Config{
		Type: a.Type, GRPCService: a.GRPCService, Method: a.Method, Path: a.Path, Host: a.Host,
		StatusMin: lo, StatusMax: hi, Body: a.Body,
		Interval: time.Duration(a.Interval), Timeout: time.Duration(a.Timeout),
		Rise: a.Rise, Fall: a.Fall,
	}
}

func outlierConfig(p config.Passive) upstream.OutlierConfig {
	return upstream.OutlierConfig{
		Consecutive5xx:      p.Consecutive5xx,
		ConsecutiveFailures: p.ConsecutiveFailures,
		BaseEjection:        time.Duration(p.BaseEjection),
		MaxEjection:         time.Duration(p.MaxEjection),
		MaxEjectedPercent:   p.MaxEjectedPercent,
	}
}

// buildService returns the service for upstream u: the running one, updated, when there is one
// of that name, else a new one. Backends given by host name are resolved (the first time
// synchronously). Called with g.mu held.
func (g *Gateway) buildService(c *config.Config, u *config.Upstream, old *svcState) (*svcState, error) {
	bc, err := g.poolConfig(u)
	if err != nil {
		return nil, err
	}
	st := &svcState{cfg: *u, resolved: map[int][]string{}, watches: map[string]bool{}}
	st.poolKey = fingerprint([]any{u.Balance, u.Hash, u.Sticky, u.SlowStart, u.Retry.Budget, u.Retry.MinPerSecond})
	if u.Health.Active != nil {
		// Probes speak to the backends as the engine does: a new protocol or TLS setting needs
		// new probe clients, so a new checker (the backends keep their verdicts).
		st.checkKey = fingerprint([]any{u.Health.Active, u.Protocol, u.TLS})
	}
	// Resolve host names: every address becomes a backend.
	for i, b := range u.Backends {
		addr := config.BackendAddr(b.URL)
		host, port, _ := net.SplitHostPort(addr)
		if _, err := netip.ParseAddr(host); err == nil {
			continue
		}
		addrs, err := g.watch(u, i, host, port)
		if err != nil {
			return nil, fmt.Errorf("upstream %q: backend %s: %w", u.Name, b.URL, err)
		}
		st.resolved[i] = addrs
		st.watches[net.JoinHostPort(host, port)] = true
	}
	bs, err := g.backends(c, u, st.resolved, old != nil)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", u.Name, err)
	}
	svc := &service.Service{Name: u.Name}
	if g.metrics != nil {
		svc.Metrics = g.metrics.Pool(u.Name)
	}
	svc.Retry.Attempts = u.Retry.Attempts
	svc.Retry.PerTryTimeout = time.Duration(u.Retry.PerTryTimeout)
	svc.Retry.SetOnStatus(u.Retry.OnStatus)
	if old != nil && old.poolKey == st.poolKey {
		svc.Pool = old.svc.Pool
		svc.Pool.SetBackends(bs)
	} else {
		if svc.Pool, err = balance.NewPool(u.Name, bc, bs, g.clock); err != nil {
			return nil, fmt.Errorf("upstream %q: %w", u.Name, err)
		}
	}
	svc.Outlier = upstream.NewOutlier(outlierConfig(u.Health.Passive), g.clock)
	svc.Outlier.SetBackends(bs)
	if u.Health.Active != nil && !g.offline {
		if old != nil && old.checkKey == st.checkKey && old.svc.Checker != nil {
			svc.Checker = old.svc.Checker
		} else {
			svc.Checker = health.New(healthConfig(u.Health.Active), g.logf, g.clock)
		}
		svc.Checker.Watch(bs)
	} else {
		// No active checks (any more): a verdict an earlier checker left must not hold forever.
		now := g.clock().UnixNano()
		for _, be := range bs {
			be.State.SetActive(true, now)
		}
	}
	st.svc = svc
	return st, nil
}

// backends returns the Backends of u: the ones already running when nothing about them changed,
// new ones otherwise. With ramp set (the upstream is already serving), a new server starts its
// slow start; the first backends of an upstream do not, as balance.NewPool's do not: ramping
// them all together changes nothing at first, but would weaken the slow start of any backend
// that comes back within slow_start of their creation. Called with g.mu held.
func (g *Gateway) backends(c *config.Config, u *config.Upstream, resolved map[int][]string, ramp bool) ([]*upstream.Backend, error) {
	plain := g.settings(c, u)
	var bs []*upstream.Backend
	seen := map[string]bool{}
	for i, b := range u.Backends {
		addrs, ok := resolved[i]
		if !ok {
			addrs = []string{config.BackendAddr(b.URL)}
		}
		set := plain
		if config.BackendTLS(b.URL) {
			// A backend given by name is verified against that name, not its resolved address.
			name := ""
			if _, resolvedByDNS := resolved[i]; resolvedByDNS {
				name, _, _ = net.SplitHostPort(config.BackendAddr(b.URL))
			}
			tc, err := g.clientTLS(u, name)
			if err != nil {
				return nil, err
			}
			set.TLS = tc
		}
		for _, addr := range addrs {
			if seen[addr] {
				continue // two names for one address: one backend
			}
			seen[addr] = true
			k := backendKey{upstream: u.Name, addr: addr, weight: b.Weight, backup: b.Backup, set: set}
			be := g.live[k]
			if be == nil {
				be = upstream.NewBackend(addr, set, g.wd, g.clock)
				be.Weight, be.Backup = b.Weight, b.Backup
				if prev := g.byAddr(u.Name, addr); prev != nil {
					be.State.CopyFrom(&prev.State) // the same server with new settings keeps its health
				} else if ramp {
					be.State.StartRamp(g.clock().UnixNano())
				}
			}
			be.SetLimit(upstream.LimitConfig{
				MaxConns: u.Limits.MaxConnections, QueueSize: u.Limits.QueueSize,
				QueueTimeout: time.Duration(u.Limits.QueueTimeout),
			})
			bs = append(bs, be)
		}
	}
	return bs, nil
}

// clientTLS returns the TLS client config of an upstream's https backends: the same *tls.Config
// for the same settings, so that a reload keeps their Backends (and connections). An h2 upstream's
// offers ALPN "h2" alone.
//
// name is the host name of a backend given by name: its resolved addresses are verified against
// it (and send it as SNI) unless the upstream sets server_name.
func (g *Gateway) clientTLS(u *config.Upstream, name string) (*tls.Config, error) {
	if u.TLS.ServerName != "" {
		name = ""
	}
	h2 := u.Protocol == "h2"
	key := fingerprint(u.TLS) + "|" + name + "|" + u.Protocol
	if tc, ok := g.tlsConfigs[key]; ok {
		return tc, nil
	}
	t := u.TLS
	tc, err := upstream.ClientTLS(upstream.TLSOptions{
		CAFile: t.CAFile, ServerName: t.ServerName, CertFile: t.CertFile, KeyFile: t.KeyFile,
		InsecureSkipVerify: t.InsecureSkipVerify,
	})
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if name != "" {
		tc = tc.Clone()
		tc.ServerName = name
	}
	if h2 {
		tc.NextProtos = []string{"h2"} // HTTP/2 by ALPN only: a backend that picks http/1.1 fails
	}
	g.tlsConfigs[key] = tc
	return tc, nil
}

// byAddr finds a running backend of upstream name at addr, whatever its settings.
func (g *Gateway) byAddr(name, addr string) *upstream.Backend {
	for k, be := range g.live {
		if k.upstream == name && k.addr == addr {
			return be
		}
	}
	return nil
}

// watch resolves host now and keeps resolving it; a change rebuilds the upstream's backends.
// Called with g.mu held.
func (g *Gateway) watch(u *config.Upstream, index int, host, port string) ([]string, error) {
	wk := watchKey{upstream: u.Name, index: index, host: host, port: port, cfg: fingerprint(u.Resolve)}
	if w, ok := g.watchers[wk]; ok {
		w.used = true
		return w.addrs, nil
	}
	res := discovery.NewResolver(u.Resolve.Resolver)
	dw := discovery.NewWatcher(res, discovery.Config{Interval: time.Duration(u.Resolve.Interval), Family: u.Resolve.Family}, g.logf)
	w := &watchState{w: dw, used: true}
	name := u.Name
	addrs, err := dw.Watch(host, port, func(addrs []string) { g.resolvedChanged(wk, name, addrs) })
	if err != nil {
		dw.Close()
		return nil, err
	}
	w.addrs = addrs
	g.watchers[wk] = w
	return addrs, nil
}

type watchKey struct {
	upstream string
	index    int
	host     string
	port     string
	cfg      string
}

type watchState struct {
	w       *discovery.Watcher
	addrs   []string
	used    bool // used by the config being applied
	existed bool // running before the config being applied
}

// resolvedChanged applies a DNS change to the running service, without a reload.
func (g *Gateway) resolvedChanged(wk watchKey, name string, addrs []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	w, ok := g.watchers[wk]
	if !ok || g.closed {
		return
	}
	w.addrs = slices.Clone(addrs)
	st := g.services[name]
	if st == nil || st.resolved[wk.index] == nil {
		return
	}
	st.resolved[wk.index] = w.addrs
	bs, err := g.backends(g.cfg, &st.cfg, st.resolved, true)
	if err != nil {
		g.logf("upstream %s: %s resolves to %v, but its backends cannot be built: %v", name, wk.host, addrs, err)
		return
	}
	st.svc.SetBackends(bs)
	g.setLive()
	g.logf("upstream %s: %s resolves to %v", name, wk.host, addrs)
}
