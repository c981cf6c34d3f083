package config

// Upstream is a named pool of backends.
type Upstream struct {
	// Name is how routes refer to it. Required, unique.
	Name string `yaml:"name"`
	// Backends are the servers of the pool, each an "http://host:port" URL (port 80 by default,
	// no path, query or user info) or a mapping with url, weight and backup. A host name is
	// resolved again every Resolve.Interval, and each of its addresses becomes a backend.
	Backends []Backend `yaml:"backends"`
	// Balance is how requests are spread: "p2c_ewma" (the default: of two random backends, the one
	// with the lower latency × requests in flight), "round_robin", "weighted_round_robin",
	// "least_conn", "random", or "consistent_hash" (see Hash).
	Balance string `yaml:"balance"`
	// Hash configures consistent_hash.
	Hash Hash `yaml:"hash"`
	// Sticky pins a client to the backend it was first sent to, by a signed cookie.
	Sticky *Sticky `yaml:"sticky"`
	// SlowStart is the time over which a new or recovered backend's share of requests ramps from
	// 10% to its full weight. Default 0 (off).
	SlowStart Duration `yaml:"slow_start"`
	// MaxIdlePerBackend caps idle kept-alive connections kept per backend. Default 128.
	MaxIdlePerBackend int `yaml:"max_idle_per_backend"`
	// IdleTimeout closes a pooled connection idle this long. Default 60s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// Limits cap the requests in flight to each backend (circuit breaking).
	Limits Limits `yaml:"limits"`
	// Health configures active and passive health checks.
	Health Health `yaml:"health"`
	// Retry says when a failed request is tried again on another backend.
	Retry Retry `yaml:"retry"`
	// Resolve configures the re-resolution of backends given by host name.
	Resolve Resolve `yaml:"resolve"`
	// TLS configures connections to https:// backends.
	TLS UpstreamTLS `yaml:"tls"`
	// Protocol is the HTTP version spoken to the backends: "h1" (HTTP/1.1, the default) or "h2"
	// (HTTP/2: negotiated by ALPN for https:// backends, cleartext with prior knowledge (h2c) for
	// http:// ones). gRPC backends need h2.
	Protocol string `yaml:"protocol"`
}

// UpstreamTLS configures TLS to backends written as https:// URLs. Certificates are always
// verified unless InsecureSkipVerify is set.
type UpstreamTLS struct {
	// CAFile is a PEM bundle of the CAs backend certificates must chain to. Default: the system's.
	CAFile string `yaml:"ca_file"`
	// ServerName is the name sent in SNI and verified in the backend's certificate. Default: the
	// backend URL's host.
	ServerName string `yaml:"server_name"`
	// CertFile and KeyFile are a client certificate to present to backends (mutual TLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// InsecureSkipVerify accepts any backend certificate. Default false; for tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Backend is one server of an upstream. In YAML it is written as its URL alone, or as a mapping.
type Backend struct {
	// URL is "http://host:port". Required.
	URL string `yaml:"url"`
	// Weight is the backend's share relative to the others, 1 to 1000. Default 1.
	Weight int `yaml:"weight"`
	// Backup backends get requests only when every other backend is unavailable. Default false.
	Backup bool `yaml:"backup"`
}

// Hash configures consistent hashing.
type Hash struct {
	// Key is what is hashed: "client_ip" (the default), "header", "cookie" or "path".
	Key string `yaml:"key"`
	// Name is the header or cookie name, for Key header or cookie.
	Name string `yaml:"name"`
	// Algorithm is "maglev" (the default) or "ring".
	Algorithm string `yaml:"algorithm"`
	// LoadFactor bounds a backend's load to this multiple of the average requests in flight, so a
	// hot key spills over to the next backend. Default 1.25; 0 turns the bound off.
	LoadFactor float64 `yaml:"load_factor"`
}

// Sticky configures sticky sessions by cookie.
type Sticky struct {
	// Cookie is the cookie's name. Default "gatehouse_sticky".
	Cookie string `yaml:"cookie"`
	// Secret signs the cookie so that clients cannot pick a backend themselves. Default: a random
	// secret made at start, kept across reloads (but not restarts).
	Secret string `yaml:"secret"`
	// MaxAge is the cookie's lifetime. Default 0: a session cookie.
	MaxAge Duration `yaml:"max_age"`
}

// Limits cap the concurrent requests to each backend.
type Limits struct {
	// MaxConnections is the most requests in flight to one backend. Default 0: unlimited.
	MaxConnections int `yaml:"max_connections"`
	// QueueSize is how many more requests may wait for a free slot; past it they get 503.
	// Default 0.
	QueueSize int `yaml:"queue_size"`
	// QueueTimeout is how long a request waits in the queue before it gets 503. Default 1s.
	QueueTimeout Duration `yaml:"queue_timeout"`
}

// Health configures health checks.
type Health struct {
	// Active probes each backend on a timer. Default: none.
	Active *ActiveHealth `yaml:"active"`
	// Passive ejects backends that fail requests (outlier detection). On by default.
	Passive Passive `yaml:"passive"`
}

// ActiveHealth probes backends.
type ActiveHealth struct {
	// Type is "http" (the default), "tcp" (a connect) or "grpc" (the gRPC health checking
	// protocol, grpc.health.v1.Health/Check; needs protocol h2).
	Type string `yaml:"type"`
	// GRPCService is the service name asked about by a grpc check. Default "": the whole server.
	GRPCService string `yaml:"grpc_service"`
	// Method is the HTTP method. Default GET.
	Method string `yaml:"method"`
	// Path is the HTTP path probed. Default "/".
	Path string `yaml:"path"`
	// Host is the Host header sent. Default: the backend's host:port.
	Host string `yaml:"host"`
	// Status is the range of statuses that pass, "200-399" (the default) or a single "200".
	Status string `yaml:"status"`
	// Body, when set, must appear in the first 64KiB of the response body.
	Body string `yaml:"body"`
	// Interval is the time between probes. Default 5s.
	Interval Duration `yaml:"interval"`
	// Timeout bounds a probe. Default 2s.
	Timeout Duration `yaml:"timeout"`
	// Rise is how many passing probes in a row bring a backend up. Default 2.
	Rise int `yaml:"rise"`
	// Fall is how many failing probes in a row take it down. Default 3.
	Fall int `yaml:"fall"`
}

// Passive configures outlier detection.
type Passive struct {
	// Consecutive5xx is how many 5xx answers in a row eject a backend. Default 5; 0 turns it off.
	Consecutive5xx int `yaml:"consecutive_5xx"`
	// ConsecutiveFailures is how many connection failures in a row (refused, reset, timed out)
	// eject a backend. Default 3; 0 turns it off.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// BaseEjection is how long the first ejection lasts; each further one doubles. Default 10s.
	BaseEjection Duration `yaml:"base_ejection"`
	// MaxEjection caps an ejection's length. Default 5m.
	MaxEjection Duration `yaml:"max_ejection"`
	// MaxEjectedPercent caps the share of the pool ejected at once, 1-100. Default 50: a pool of
	// one backend never ejects it.
	MaxEjectedPercent int `yaml:"max_ejected_percent"`
}

// Retry says when a request is tried again on another backend. A connect failure is always
// retried (nothing reached the backend); a 502, 503 or 504, or a per-try timeout, only for an
// idempotent request whose body has not been streamed.
type Retry struct {
	// Attempts is the most retries after the first try. Default 2; 0 turns off retries of answers
	// and timeouts (a connect failure still moves on to another backend: nothing was sent).
	Attempts int `yaml:"attempts"`
	// OnStatus lists the backend statuses that are retried. Default [502, 503, 504].
	OnStatus []int `yaml:"on_status"`
	// PerTryTimeout bounds one try, from sending the request to the response head. Default 0:
	// only server.timeouts.upstream_header applies.
	PerTryTimeout Duration `yaml:"per_try_timeout"`
	// Budget caps retries at this share of the requests over the last 10 seconds, so that retries
	// cannot multiply an outage, written "20%". Default 20%.
	Budget Percent `yaml:"budget"`
	// MinPerSecond retries per second are allowed whatever the budget. Default 3.
	MinPerSecond int `yaml:"min_per_second"`
}

// Resolve configures DNS discovery for backends given by host name.
type Resolve struct {
	// Interval is how often host names are resolved again. Default 30s.
	Interval Duration `yaml:"interval"`
	// Resolver is the DNS server ("10.0.0.2:53"). Default: the system's resolver.
	Resolver string `yaml:"resolver"`
	// Family is "ip" (A and AAAA records, the default), "ip4" or "ip6".
	Family string `yaml:"family"`
}
