// Package gateway compiles a validated config into what the engine runs: the routing table, the
// upstream pools and the engine's options.
package gateway

import (
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/proxy"
)

// EngineOptions returns the engine options of a config. The caller adds the logger, id generator and
// watchdog.
func EngineOptions(c *config.Config) (proxy.Options, error) {
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
		HTTP2: proxy.HTTP2Options{MaxConcurrentStreams: uint32(s.HTTP2.MaxConcurrentStreams)},
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
