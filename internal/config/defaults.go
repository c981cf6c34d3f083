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
)

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
	DefaultFailTimeout      = 10 * time.Second // Upstream.FailTimeout
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

	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.Name == "" {
			l.Name = l.Address
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
		setString(&r.Match.PathPrefix, p+".match.path_prefix", DefaultPathPrefix)
		setString(&r.UpstreamHost, p+".upstream_host", DefaultUpstreamHost)
		setSize(&r.MaxBodySize, p+".max_body_size", DefaultMaxBodySize)
		if r.Respond != nil {
			setInt(&r.Respond.Status, p+".respond.status", DefaultRespondStatus)
		}
	}

	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		p := "upstreams[" + strconv.Itoa(i) + "]"
		setInt(&u.MaxIdlePerBackend, p+".max_idle_per_backend", DefaultMaxIdlePerBackend)
		setDuration(&u.IdleTimeout, p+".idle_timeout", DefaultIdleTimeout)
		setDuration(&u.FailTimeout, p+".fail_timeout", DefaultFailTimeout)
	}
}
