package config

import (
	"strconv"
	"strings"
	"time"
)

// Default values, as documented on the fields in types.go.
const (
	DefaultMaxRequestLine    = 8 << 10   // Server.MaxRequestLine: 8KiB
	DefaultMaxHeaderBytes    = 32 << 10  // Server.MaxHeaderBytes: 32KiB
	DefaultMaxHeaderCount    = 100       // Server.MaxHeaderCount
	DefaultMaxConnections    = 50000     // Server.MaxConnections
	DefaultAccessLogOutput   = "stdout"  // AccessLog.Output
	DefaultForwardedPolicy   = "append"  // Forwarded.Policy
	DefaultPathPrefix        = "/"       // Match.PathPrefix
	DefaultUpstreamHost      = "pass"    // Route.UpstreamHost
	DefaultMaxBodySize       = 100 << 20 // Route.MaxBodySize: 100MiB
	DefaultRespondStatus     = 200       // Respond.Status
	DefaultMaxIdlePerBackend = 128       // Upstream.MaxIdlePerBackend
	DefaultAdminAddress      = "127.0.0.1:9090"
	DefaultRedirectStatus    = 302 // Redirect.Status
	DefaultBalance           = "p2c_ewma"
	DefaultHashKey           = "client_ip"
	DefaultHashAlgorithm     = "maglev"
	DefaultLoadFactor        = 1.25
	DefaultStickyCookie      = "gatehouse_sticky"
	DefaultHealthType        = "http"
	DefaultHealthMethod      = "GET"
	DefaultHealthPath        = "/"
	DefaultHealthStatus      = "200-399"
	DefaultRise              = 2
	DefaultFall              = 3
	DefaultConsecutive5xx    = 5
	DefaultConsecutiveFails  = 3
	DefaultMaxEjectedPercent = 50
	DefaultRetryAttempts     = 2
	DefaultRetryBudget       = 0.2
	DefaultRetryMinPerSecond = 3
	DefaultResolveFamily     = "ip"
	DefaultHTTPSPort         = 443
	DefaultTLSMinVersion     = "1.2"
	DefaultClientAuthMode    = "require"
	DefaultHSTSMaxAge        = 365 * 24 * time.Hour
	DefaultMaxStreams        = 128  // HTTP2.MaxConcurrentStreams (nginx's)
	DefaultUpstreamProtocol  = "h1" // Upstream.Protocol
)

// DefaultProtocols are a listener's protocols when none are written: HTTP/1.1, and HTTP/2 by ALPN
// on a TLS listener.
func DefaultProtocols(tls bool) []string {
	if tls {
		return []string{"h1", "h2"}
	}
	return []string{"h1"}
}

// DefaultRetryStatuses are the backend statuses retried by default (Retry.OnStatus).
func DefaultRetryStatuses() []int { return []int{502, 503, 504} }

// Default timeouts, as documented on the fields in types.go.
const (
	DefaultClientHeader     = 10 * time.Second // Timeouts.ClientHeader
	DefaultClientBodyIdle   = 30 * time.Second // Timeouts.ClientBodyIdle
	DefaultClientWriteIdle  = 30 * time.Second // Timeouts.ClientWriteIdle
	DefaultKeepAliveIdle    = 60 * time.Second // Timeouts.KeepAliveIdle
	DefaultUpstreamConnect  = 5 * time.Second  // Timeouts.UpstreamConnect
	DefaultUpstreamHeader   = 60 * time.Second // Timeouts.UpstreamHeader
	DefaultUpstreamBodyIdle = 60 * time.Second // Timeouts.UpstreamBodyIdle
	DefaultShutdownDrain    = 30 * time.Second // Timeouts.ShutdownDrain
	DefaultIdleTimeout      = 60 * time.Second // Upstream.IdleTimeout
	DefaultQueueTimeout     = time.Second      // Limits.QueueTimeout
	DefaultHealthInterval   = 5 * time.Second  // ActiveHealth.Interval
	DefaultHealthTimeout    = 2 * time.Second  // ActiveHealth.Timeout
	DefaultBaseEjection     = 10 * time.Second // Passive.BaseEjection
	DefaultMaxEjection      = 5 * time.Minute  // Passive.MaxEjection
	DefaultResolveInterval  = 30 * time.Second // Resolve.Interval
)

// Default fills in every field that was not written in the file with its default value. A field
// counts as written when c.Lines has its path, so a value written as 0 or "" stays as written and
// Validate reports it, rather than being silently replaced; when c.Lines is nil (a config built in
// code) every zero field is defaulted. Names are the exception: an empty listener or route name
// always gets its default. Default also lower-cases match.hosts and strips the brackets from IPv6
// literals there ("[::1]" becomes "::1"). Default is idempotent.
func Default(c *Config) {
	// absent reports whether path was not written in the file.
	absent := func(path string) bool {
		_, ok := c.Lines[path]
		return !ok
	}
	setSize := func(p *Size, path string, v Size) {
		if *p == 0 && absent(path) {
			*p = v
		}
	}
	setInt := func(p *int, path string, v int) {
		if *p == 0 && absent(path) {
			*p = v
		}
	}
	setString := func(p *string, path string, v string) {
		if *p == "" && absent(path) {
			*p = v
		}
	}
	setDuration := func(p *Duration, path string, v time.Duration) {
		if *p == 0 && absent(path) {
			*p = Duration(v)
		}
	}
	setFloat := func(p *float64, path string, v float64) {
		if *p == 0 && absent(path) {
			*p = v
		}
	}

	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.Name == "" {
			l.Name = l.Address
		}
		lp := "listeners[" + strconv.Itoa(i) + "]"
		setInt(&l.HTTPSPort, lp+".https_port", DefaultHTTPSPort)
		if l.Protocols == nil && absent(lp+".protocols") {
			l.Protocols = DefaultProtocols(l.TLS != nil)
		}
		if t := l.TLS; t != nil {
			setString(&t.MinVersion, lp+".tls.min_version", DefaultTLSMinVersion)
			if t.SessionTickets == nil {
				on := true
				t.SessionTickets = &on
			}
			if t.ClientAuth != nil {
				setString(&t.ClientAuth.Mode, lp+".tls.client_auth.mode", DefaultClientAuthMode)
			}
			if t.HSTS != nil {
				setDuration(&t.HSTS.MaxAge, lp+".tls.hsts.max_age", DefaultHSTSMaxAge)
			}
		}
	}

	s := &c.Server
	setSize(&s.MaxRequestLine, "server.max_request_line", DefaultMaxRequestLine)
	setSize(&s.MaxHeaderBytes, "server.max_header_bytes", DefaultMaxHeaderBytes)
	setInt(&s.MaxHeaderCount, "server.max_header_count", DefaultMaxHeaderCount)
	setInt(&s.MaxConnections, "server.max_connections", DefaultMaxConnections)
	t := &s.Timeouts
	setDuration(&t.ClientHeader, "server.timeouts.client_header", DefaultClientHeader)
	setDuration(&t.ClientBodyIdle, "server.timeouts.client_body_idle", DefaultClientBodyIdle)
	setDuration(&t.ClientWriteIdle, "server.timeouts.client_write_idle", DefaultClientWriteIdle)
	setDuration(&t.KeepAliveIdle, "server.timeouts.keepalive_idle", DefaultKeepAliveIdle)
	setDuration(&t.UpstreamConnect, "server.timeouts.upstream_connect", DefaultUpstreamConnect)
	setDuration(&t.UpstreamHeader, "server.timeouts.upstream_header", DefaultUpstreamHeader)
	setDuration(&t.UpstreamBodyIdle, "server.timeouts.upstream_body_idle", DefaultUpstreamBodyIdle)
	setDuration(&t.ShutdownDrain, "server.timeouts.shutdown_drain", DefaultShutdownDrain)

	setInt(&s.HTTP2.MaxConcurrentStreams, "server.http2.max_concurrent_streams", DefaultMaxStreams)

	setString(&c.Admin.Address, "admin.address", DefaultAdminAddress)
	setString(&c.AccessLog.Output, "access_log.output", DefaultAccessLogOutput)
	setString(&c.Forwarded.Policy, "forwarded.policy", DefaultForwardedPolicy)

	for i := range c.Routes {
		r := &c.Routes[i]
		p := "routes[" + strconv.Itoa(i) + "]"
		if r.Name == "" {
			r.Name = "route-" + strconv.Itoa(i)
		}
		for j, h := range r.Match.Hosts {
			h = strings.ToLower(h)
			if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") && strings.Contains(h, ":") {
				h = h[1 : len(h)-1]
			}
			r.Match.Hosts[j] = h
		}
		if r.Match.Path == "" && r.Match.PathRegex == "" {
			setString(&r.Match.PathPrefix, p+".match.path_prefix", DefaultPathPrefix)
		}
		setString(&r.UpstreamHost, p+".upstream_host", DefaultUpstreamHost)
		setSize(&r.MaxBodySize, p+".max_body_size", DefaultMaxBodySize)
		if r.Respond != nil {
			setInt(&r.Respond.Status, p+".respond.status", DefaultRespondStatus)
		}
		if r.Redirect != nil {
			setInt(&r.Redirect.Status, p+".redirect.status", DefaultRedirectStatus)
		}
	}

	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		p := "upstreams[" + strconv.Itoa(i) + "]"
		setInt(&u.MaxIdlePerBackend, p+".max_idle_per_backend", DefaultMaxIdlePerBackend)
		setDuration(&u.IdleTimeout, p+".idle_timeout", DefaultIdleTimeout)
		setString(&u.Protocol, p+".protocol", DefaultUpstreamProtocol)
		for j := range u.Backends {
			setInt(&u.Backends[j].Weight, p+".backends["+strconv.Itoa(j)+"].weight", 1)
		}
		setString(&u.Balance, p+".balance", DefaultBalance)
		setString(&u.Hash.Key, p+".hash.key", DefaultHashKey)
		setString(&u.Hash.Algorithm, p+".hash.algorithm", DefaultHashAlgorithm)
		setFloat(&u.Hash.LoadFactor, p+".hash.load_factor", DefaultLoadFactor)
		if u.Sticky != nil {
			setString(&u.Sticky.Cookie, p+".sticky.cookie", DefaultStickyCookie)
		}
		setDuration(&u.Limits.QueueTimeout, p+".limits.queue_timeout", DefaultQueueTimeout)
		if a := u.Health.Active; a != nil {
			ap := p + ".health.active"
			setString(&a.Type, ap+".type", DefaultHealthType)
			setString(&a.Method, ap+".method", DefaultHealthMethod)
			setString(&a.Path, ap+".path", DefaultHealthPath)
			setString(&a.Status, ap+".status", DefaultHealthStatus)
			setDuration(&a.Interval, ap+".interval", DefaultHealthInterval)
			timeout := DefaultHealthTimeout
			if a.Interval > 0 {
				timeout = min(timeout, time.Duration(a.Interval))
			}
			setDuration(&a.Timeout, ap+".timeout", timeout)
			setInt(&a.Rise, ap+".rise", DefaultRise)
			setInt(&a.Fall, ap+".fall", DefaultFall)
		}
		pp := p + ".health.passive"
		ps := &u.Health.Passive
		setInt(&ps.Consecutive5xx, pp+".consecutive_5xx", DefaultConsecutive5xx)
		setInt(&ps.ConsecutiveFailures, pp+".consecutive_failures", DefaultConsecutiveFails)
		setDuration(&ps.BaseEjection, pp+".base_ejection", DefaultBaseEjection)
		setDuration(&ps.MaxEjection, pp+".max_ejection", max(DefaultMaxEjection, time.Duration(ps.BaseEjection)))
		setInt(&ps.MaxEjectedPercent, pp+".max_ejected_percent", DefaultMaxEjectedPercent)
		rp := p + ".retry"
		rt := &u.Retry
		setInt(&rt.Attempts, rp+".attempts", DefaultRetryAttempts)
		if rt.OnStatus == nil && absent(rp+".on_status") {
			rt.OnStatus = DefaultRetryStatuses()
		}
		if rt.Budget == 0 && absent(rp+".budget") {
			rt.Budget = DefaultRetryBudget
		}
		setInt(&rt.MinPerSecond, rp+".min_per_second", DefaultRetryMinPerSecond)
		setDuration(&u.Resolve.Interval, p+".resolve.interval", DefaultResolveInterval)
		setString(&u.Resolve.Family, p+".resolve.family", DefaultResolveFamily)
	}
}
