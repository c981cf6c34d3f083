// Package gateway compiles a validated config into what the engine runs: the routing table, the
// upstream pools and the engine's options.
package gateway

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// Graph is the compiled dynamic config.
type Graph struct {
	Table *router.Table
	Pools []*upstream.Pool
}

// Close closes every pool's idle connections.
func (g *Graph) Close() {
	for _, p := range g.Pools {
		p.Close()
	}
}

// Reap closes idle connections past their timeout.
func (g *Graph) Reap() {
	for _, p := range g.Pools {
		p.Reap()
	}
}

// Compile builds the routing table and pools of a config that passed validation.
func Compile(c *config.Config, wd *watchdog.Watchdog, clock func() time.Time) (*Graph, error) {
	g := &Graph{}
	pools := map[string]*upstream.Pool{}
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		set := upstream.Settings{
			MaxIdle:        u.MaxIdlePerBackend,
			IdleTimeout:    time.Duration(u.IdleTimeout),
			ConnectTimeout: time.Duration(c.Server.Timeouts.UpstreamConnect),
		}
		var bes []*upstream.Backend
		for _, addr := range u.BackendAddrs() {
			bes = append(bes, upstream.NewBackend(addr, set, wd, clock))
		}
		p := upstream.NewPool(u.Name, bes, clock)
		pools[u.Name] = p
		g.Pools = append(g.Pools, p)
	}
	var routes []*router.Route
	for i := range c.Routes {
		r := &c.Routes[i]
		rt := &router.Route{
			Name:      r.Name,
			NameBytes: []byte(r.Name),
			Prefix:    r.Match.PathPrefix,
			MaxBody:   int64(r.MaxBodySize),
			Request:   ops(r.RequestHeaders),
			Response:  ops(r.ResponseHeaders),
		}
		for _, h := range r.Match.Hosts {
			rt.Hosts = append(rt.Hosts, strings.ToLower(h))
		}
		switch r.UpstreamHost {
		case "", "pass":
			rt.Host = router.HostPass
		case "backend":
			rt.Host = router.HostBackend
		default:
			rt.Host, rt.HostValue = router.HostLiteral, r.UpstreamHost
		}
		if r.Respond != nil {
			rt.Fixed = router.NewFixed(r.Respond.Status, r.Respond.Body, r.Respond.Headers)
		} else {
			rt.Pool = pools[r.Upstream]
			if rt.Pool == nil {
				return nil, fmt.Errorf("route %q: no upstream named %q", r.Name, r.Upstream)
			}
		}
		routes = append(routes, rt)
	}
	g.Table = router.NewTable(routes)
	return g, nil
}

func ops(h config.HeaderOps) router.HeaderOps {
	var o router.HeaderOps
	for _, n := range h.Remove {
		o.Drop = append(o.Drop, strings.ToLower(n))
	}
	names := make([]string, 0, len(h.Set))
	for n := range h.Set {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		l := strings.ToLower(n)
		o.Drop = append(o.Drop, l)
		o.Set = append(o.Set, router.Header{Name: n, Value: h.Set[n]})
	}
	return o
}

// Options returns the engine options of a config. The caller adds the logger, id generator and
// watchdog.
func Options(c *config.Config) (proxy.Options, error) {
	s := &c.Server
	t := &s.Timeouts
	o := proxy.Options{
		Limits: h1.Limits{
			MaxRequestLine: int(s.MaxRequestLine),
			MaxHeaderBytes: int(s.MaxHeaderBytes),
			MaxHeaderCount: s.MaxHeaderCount,
		},
		Timeouts: proxy.Timeouts{
			ClientHeader:     time.Duration(t.ClientHeader),
			ClientBodyIdle:   time.Duration(t.ClientBodyIdle),
			ClientWriteIdle:  time.Duration(t.ClientWriteIdle),
			KeepAliveIdle:    time.Duration(t.KeepAliveIdle),
			UpstreamConnect:  time.Duration(t.UpstreamConnect),
			UpstreamHeader:   time.Duration(t.UpstreamHeader),
			UpstreamBodyIdle: time.Duration(t.UpstreamBodyIdle),
		},
	}
	switch c.Forwarded.Policy {
	case "replace":
		o.Forwarded = proxy.ForwardedReplace
	case "off":
		o.Forwarded = proxy.ForwardedOff
	default:
		o.Forwarded = proxy.ForwardedAppend
	}
	for _, p := range c.Forwarded.TrustedProxies {
		pf, err := parsePrefix(p)
		if err != nil {
			return o, err
		}
		o.Trusted = append(o.Trusted, pf)
	}
	return o, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Shortest returns the shortest timeout of a config, to size the watchdog's tick.
func Shortest(o proxy.Options) time.Duration {
	t := o.Timeouts
	d := t.ClientHeader
	for _, x := range []time.Duration{t.ClientBodyIdle, t.ClientWriteIdle, t.KeepAliveIdle, t.UpstreamHeader, t.UpstreamBodyIdle} {
		d = min(d, x)
	}
	return d
}
