// Package config holds gatehouse's configuration: its types, the YAML decoder that records where every
// field came from, defaults, and validation. Decode, then Default, then Validate — in that order, in one
// place (Load) — so that the rest of the program only ever sees a complete, checked config.
//
// The schema has a static part, read once at start (Listeners, Admin, Server, AccessLog), and a
// dynamic part that a reload replaces while gatehouse runs (Forwarded, Routes, Upstreams).
package config

import "time"

// Config is a whole gatehouse configuration file.
type Config struct {
	// Listeners are the addresses gatehouse accepts client connections on. At least one is required.
	Listeners []Listener `yaml:"listeners"`
	// Server holds process-wide limits and timeouts.
	Server Server `yaml:"server"`
	// Admin is the admin listener: health, readiness, metrics, the admin API and pprof.
	Admin Admin `yaml:"admin"`
	// AccessLog says where the JSON-lines access log goes.
	AccessLog AccessLog `yaml:"access_log"`
	// ACME obtains and renews certificates automatically for TLS listeners with tls.acme.
	ACME *ACME `yaml:"acme"`
	// Forwarded controls X-Forwarded-* and Forwarded (RFC 7239) headers sent to backends.
	Forwarded Forwarded `yaml:"forwarded"`
	// Routes are matched most specific first (see docs/configuration.md, "Route precedence"): exact
	// host, then wildcard host, then any host; within those exact path, then longest prefix, then
	// regex; then more conditions; then order in the file. A request that no route matches gets 404.
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
	// TLS terminates TLS on this listener. Default: none (plain HTTP).
	TLS *ListenerTLS `yaml:"tls"`
	// RedirectToHTTPS answers every request on this (plain) listener with a 308 redirect to the
	// same URL over https, on HTTPSPort. Default false.
	RedirectToHTTPS bool `yaml:"redirect_to_https"`
	// HTTPSPort is the port redirects to https go to. Default 443 (left out of the URL).
	HTTPSPort int `yaml:"https_port"`
	// Protocols are the HTTP versions served: "h1" (HTTP/1.1), "h2" (HTTP/2 over TLS, chosen by
	// ALPN; TLS listeners only) and "h2c" (cleartext HTTP/2 with prior knowledge; plain listeners
	// only). Default: [h1, h2] with tls, [h1] without.
	Protocols []string `yaml:"protocols"`
}

// ListenerTLS configures TLS termination on a listener.
type ListenerTLS struct {
	// Certificates are PEM certificate chains with their keys. Each serves the names in its
	// certificate (exact and wildcard); the first one is the default for clients that send no
	// name or a name no certificate has. The files are read again when they change.
	Certificates []CertFiles `yaml:"certificates"`
	// MinVersion is the oldest TLS version accepted: "1.2" (the default) or "1.3".
	MinVersion string `yaml:"min_version"`
	// CipherSuites are the TLS 1.2 cipher suites offered, by their Go names
	// (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ...). Default: Go's secure defaults. TLS 1.3 suites
	// are not configurable.
	CipherSuites []string `yaml:"cipher_suites"`
	// SessionTickets turns TLS session resumption by tickets on; ticket keys are rotated daily.
	// Default true.
	SessionTickets *bool `yaml:"session_tickets"`
	// ClientAuth asks clients for certificates (mutual TLS).
	ClientAuth *ClientAuth `yaml:"client_auth"`
	// HSTS sends Strict-Transport-Security on every response of this listener. Default: none.
	HSTS *HSTS `yaml:"hsts"`
	// ACME serves the certificates of the top-level acme section on this listener (before the
	// certificate files, which then may be left out). Default false.
	ACME bool `yaml:"acme"`
}

// ACME configures automatic certificates (RFC 8555): obtained at start for Names, on demand for
// names OnDemand allows, renewed ahead of expiry, kept in StorageDir.
type ACME struct {
	// Email is the ACME account's contact address. Optional.
	Email string `yaml:"email"`
	// Directory is the CA's ACME directory URL. Default: Let's Encrypt production,
	// https://acme-v02.api.letsencrypt.org/directory (staging:
	// https://acme-staging-v02.api.letsencrypt.org/directory). Using it means agreeing to the CA's
	// terms of service.
	Directory string `yaml:"directory"`
	// CARoot is a PEM file of roots to trust for the directory's own TLS (a private CA). Default:
	// the system roots.
	CARoot string `yaml:"ca_root"`
	// StorageDir keeps accounts, certificates and keys. Default: $XDG_DATA_HOME/gatehouse/acme or
	// ~/.local/share/gatehouse/acme.
	StorageDir string `yaml:"storage_dir"`
	// Names are the host names to obtain certificates for at start. Wildcards need DNS-01, which is
	// not offered.
	Names []string `yaml:"names"`
	// OnDemand lets a handshake for an allowed name obtain its certificate then.
	OnDemand *ACMEOnDemand `yaml:"on_demand"`
	// Challenges are the challenge types the CA may use: http-01 (answered on the plain
	// listeners) and tls-alpn-01 (on the TLS listeners). Default: both.
	Challenges []string `yaml:"challenges"`
	// RenewBefore renews a certificate this long before it expires. Default: when a third of its
	// lifetime is left.
	RenewBefore Duration `yaml:"renew_before"`
	// HTTPPort and TLSALPNPort are the local ports where the challenges arrive (the plain and the
	// TLS listener's). Default 80 and 443; set them when traffic reaches gatehouse through port
	// forwarding, or for a test CA.
	HTTPPort    int `yaml:"http_port"`
	TLSALPNPort int `yaml:"tls_alpn_port"`
}

// ACMEOnDemand limits on-demand issuance.
type ACMEOnDemand struct {
	// Allow lists the names (exact or *.example.com) a certificate may be obtained for. Required.
	Allow []string `yaml:"allow"`
}

// CertFiles is a certificate chain and its private key, both PEM files.
type CertFiles struct {
	// CertFile is the PEM certificate chain, leaf first. Required.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key. Required.
	KeyFile string `yaml:"key_file"`
}

// ClientAuth configures client certificates.
type ClientAuth struct {
	// Mode is "request" (ask; verify one that is sent) or "require" (refuse a handshake without a
	// valid one). Default "require".
	Mode string `yaml:"mode"`
	// CAFile is a PEM bundle of the CAs client certificates must chain to. Required.
	CAFile string `yaml:"ca_file"`
}

// HSTS is the Strict-Transport-Security policy.
type HSTS struct {
	// MaxAge is how long browsers remember to use https only. Default 8760h (a year).
	MaxAge Duration `yaml:"max_age"`
	// IncludeSubdomains adds includeSubDomains. Default false.
	IncludeSubdomains bool `yaml:"include_subdomains"`
	// Preload adds preload. Default false.
	Preload bool `yaml:"preload"`
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
	// HTTP2 bounds HTTP/2 client connections.
	HTTP2 HTTP2 `yaml:"http2"`
}

// HTTP2 bounds HTTP/2 client connections. Their header limits are the server's
// (max_header_bytes, max_header_count); their timeouts are server.timeouts' (client_header for
// the connection preface, keepalive_idle with no stream open, client_write_idle for writes).
type HTTP2 struct {
	// MaxConcurrentStreams is the most requests in flight on one connection. Default 128.
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
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

// Admin is the admin listener. It is separate from the listeners: its endpoints are never served
// to the public.
type Admin struct {
	// Address is host:port, or "off" to run without an admin listener. Default "127.0.0.1:9090".
	Address string `yaml:"address"`
	// Pprof serves Go's profiler under /debug/pprof/. Default false.
	Pprof bool `yaml:"pprof"`
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

// Duration is a time.Duration written as "5s", "250ms", "1m30s".
type Duration time.Duration

// Size is a byte count written as a number of bytes or with a unit: "512", "16KiB", "1MiB", "2GB".
type Size int64
