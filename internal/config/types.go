// Package config holds gatehouse's configuration: its types, the YAML decoder that records where every
// field came from, defaults, and validation. Decode, then Default, then Validate — in that order, in one
// place (Load) — so that the rest of the program only ever sees a complete, checked config.
//
// The schema has a static part, read once at start (Listeners, Server, AccessLog), and a dynamic part
// that later issues hot-reload (Routes, Upstreams, Forwarded).
package config

import "time"

// Config is a whole gatehouse configuration file.
type Config struct {
	// Listeners are the addresses gatehouse accepts client connections on. At least one is required.
	Listeners []Listener `yaml:"listeners"`
	// Server holds process-wide limits and timeouts.
	Server Server `yaml:"server"`
	// AccessLog says where the JSON-lines access log goes.
	AccessLog AccessLog `yaml:"access_log"`
	// Forwarded controls X-Forwarded-* and Forwarded (RFC 7239) headers sent to backends.
	Forwarded Forwarded `yaml:"forwarded"`
	// Routes are matched in order of specificity (exact host before any host, longest path prefix
	// first, then order in the file). A request that no route matches gets 404.
	Routes []Route `yaml:"routes"`
	// Upstreams are named pools of backends that routes forward to.
	Upstreams []Upstream `yaml:"upstreams"`

	// Source is the file the config was read from ("" for the embedded default). Not a YAML field.
	Source string `yaml:"-"`
	// Lines maps a field path ("routes[2].upstream", "upstreams[1].backends[0]",
	// "routes[0].request_headers.set.X-Foo") to the line it was written on; a path is present
	// exactly when the field was written in the file. Not a YAML field.
	Lines map[string]int `yaml:"-"`
}

// Listener is one address to accept HTTP/1.1 connections on.
type Listener struct {
	// Name identifies the listener in logs. Default: the address.
	Name string `yaml:"name"`
	// Address is host:port, e.g. "127.0.0.1:8080" or ":80". Required.
	Address string `yaml:"address"`
}

// Server holds limits and timeouts that apply to every listener.
type Server struct {
	// MaxRequestLine is the longest request line accepted; longer gets 414. Default 8KiB.
	MaxRequestLine Size `yaml:"max_request_line"`
	// MaxHeaderBytes is the largest request head (request line and all header lines) accepted;
	// larger gets 431. Default 32KiB.
	MaxHeaderBytes Size `yaml:"max_header_bytes"`
	// MaxHeaderCount is the most header fields a request may carry; more gets 431. Default 100.
	MaxHeaderCount int `yaml:"max_header_count"`
	// MaxConnections caps concurrent client connections across all listeners; past it, new
	// connections wait in the kernel's accept queue. Default 50000.
	MaxConnections int `yaml:"max_connections"`
	// Timeouts bound every wait on a client or a backend.
	Timeouts Timeouts `yaml:"timeouts"`
}

// Timeouts bound the time gatehouse waits on a peer. Every one must be positive.
type Timeouts struct {
	// ClientHeader bounds reading a whole request head, from its first byte. Default 10s.
	ClientHeader Duration `yaml:"client_header"`
	// ClientBodyIdle bounds the wait for the next bytes of a request body. Default 30s.
	ClientBodyIdle Duration `yaml:"client_body_idle"`
	// ClientWriteIdle bounds a blocked write to the client. Default 30s.
	ClientWriteIdle Duration `yaml:"client_write_idle"`
	// KeepAliveIdle bounds the wait for the next request on a kept-alive connection. Default 60s.
	KeepAliveIdle Duration `yaml:"keepalive_idle"`
	// UpstreamConnect bounds a TCP connect to a backend. Default 5s.
	UpstreamConnect Duration `yaml:"upstream_connect"`
	// UpstreamHeader bounds the wait for a backend's response head after the request was sent.
	// Default 60s.
	UpstreamHeader Duration `yaml:"upstream_header"`
	// UpstreamBodyIdle bounds the wait for the next bytes of a response body. Default 60s.
	UpstreamBodyIdle Duration `yaml:"upstream_body_idle"`
	// ShutdownDrain is how long in-flight requests may run after SIGTERM/SIGINT. Default 30s.
	ShutdownDrain Duration `yaml:"shutdown_drain"`
}

// AccessLog says where access log lines go.
type AccessLog struct {
	// Output is "stdout", "stderr", "off", or a file path (appended to). Default "stdout".
	Output string `yaml:"output"`
}

// Forwarded controls the X-Forwarded-For/-Proto/-Host and Forwarded headers.
type Forwarded struct {
	// Policy is "append" (keep incoming values only from trusted proxies, then add ours), "replace"
	// (drop incoming values, send ours) or "off" (send nothing, pass incoming through). Default "append".
	Policy string `yaml:"policy"`
	// TrustedProxies are CIDRs ("10.0.0.0/8") or addresses whose forwarded headers are kept.
	// Default: none, so a client cannot forge its address.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Route matches requests and says what to do with them: forward to an upstream or respond.
type Route struct {
	// Name identifies the route in logs and errors. Default "route-N" (N its index).
	Name string `yaml:"name"`
	// Match selects requests. An empty match selects every request.
	Match Match `yaml:"match"`
	// Upstream is the name of the upstream to forward to. Exactly one of Upstream and Respond is set.
	Upstream string `yaml:"upstream"`
	// Respond answers directly with a fixed response.
	Respond *Respond `yaml:"respond"`
	// UpstreamHost is the Host sent to the backend: "pass" (the client's, the default), "backend"
	// (the backend's host:port), or a literal host name.
	UpstreamHost string `yaml:"upstream_host"`
	// MaxBodySize is the largest request body accepted; larger gets 413. Default 100MiB; 0 is not
	// allowed, write a size.
	MaxBodySize Size `yaml:"max_body_size"`
	// RequestHeaders change the request sent to the backend.
	RequestHeaders HeaderOps `yaml:"request_headers"`
	// ResponseHeaders change the response sent to the client.
	ResponseHeaders HeaderOps `yaml:"response_headers"`
}

// Match selects requests by host and path prefix.
type Match struct {
	// Hosts are exact host names or IP literals, written without a port (the request's port is
	// ignored). Matching is case-insensitive: Default lower-cases them, and writes IPv6 literals
	// without brackets ("::1"). Empty matches any host.
	Hosts []string `yaml:"hosts"`
	// PathPrefix matches a path that starts with it. Must start with "/". Default "/".
	PathPrefix string `yaml:"path_prefix"`
}

// Respond is a fixed response.
type Respond struct {
	// Status is the HTTP status code, 200-599 (1xx is not allowed). Default 200.
	Status int `yaml:"status"`
	// Body is sent as is.
	Body string `yaml:"body"`
	// Headers are added to the response. Content-Length is always computed; framing and hop-by-hop
	// headers (Transfer-Encoding, Connection, ...) may not be set.
	Headers map[string]string `yaml:"headers"`
}

// HeaderOps changes header fields. Remove runs before Set. Neither may touch the headers that
// frame a message or are hop-by-hop (Content-Length, Transfer-Encoding, Connection, Upgrade,
// Keep-Alive, TE, Trailer) or Host (see Route.UpstreamHost).
type HeaderOps struct {
	// Set replaces a field (or adds it when absent).
	Set map[string]string `yaml:"set"`
	// Remove deletes fields by name (case-insensitive).
	Remove []string `yaml:"remove"`
}

// Upstream is a named pool of backends, balanced round-robin.
type Upstream struct {
	// Name is how routes refer to it. Required, unique.
	Name string `yaml:"name"`
	// Backends are "http://host:port" URLs (port defaults to 80), without a path, query or user
	// info. At least one. BackendAddrs gives their "host:port" addresses.
	Backends []string `yaml:"backends"`
	// MaxIdlePerBackend caps idle kept-alive connections kept per backend. Default 128.
	MaxIdlePerBackend int `yaml:"max_idle_per_backend"`
	// IdleTimeout closes a pooled connection idle this long. Default 60s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// FailTimeout is how long a backend that refused a connection is skipped, in pools of two or more
	// backends (a single backend is always tried, as nginx does). Default 10s.
	FailTimeout Duration `yaml:"fail_timeout"`
}

// Duration is a time.Duration written as "5s", "250ms", "1m30s".
type Duration time.Duration

// Size is a byte count written as a number of bytes or with a unit: "512", "16KiB", "1MiB", "2GB".
type Size int64
