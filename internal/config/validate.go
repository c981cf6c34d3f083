package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/tlsterm"
)

const (
	// minRequestLine is the smallest allowed server.max_request_line.
	minRequestLine = 256
	// maxHeaderBytesLimit is the largest allowed server.max_header_bytes.
	maxHeaderBytesLimit = 1 << 20
	// maxHeaderCountLimit is the largest allowed server.max_header_count.
	maxHeaderCountLimit = 1000
	maxStreamsLimit     = 10000 // HTTP2.MaxConcurrentStreams
	// maxIdleLimit is the largest allowed upstreams[].max_idle_per_backend.
	maxIdleLimit = 100000
)

// validator collects the problems Validate finds.
type validator struct {
	c    *Config
	file string
	errs Errors
}

// errorf records a problem at path, on the line path (or its nearest parent) was written on.
func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: lineOf(v.c.Lines, path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks a decoded and defaulted config and returns every problem it finds, sorted by
// line, or nil when there are none. It only reads c: it has no side effects and does no I/O.
func Validate(c *Config) Errors {
	v := &validator{c: c, file: fileName(c.Source)}
	v.listeners()
	v.listenerTLS()
	v.acme()
	v.admin()
	v.server()
	if c.AccessLog.Output == "" {
		v.errorf("access_log.output", "output must not be empty; write stdout, stderr, off or a file path")
	}
	v.forwarded()
	v.routes()
	v.upstreams()
	if len(v.errs) == 0 {
		return nil
	}
	v.errs.sort()
	return v.errs
}

// tls12Suites are the TLS 1.2 cipher suites that may be configured: Go's secure ones.
func tls12Suites() map[string]bool {
	m := map[string]bool{}
	for _, n := range tlsterm.TLS12Suites() {
		m[n] = true
	}
	return m
}

// cipherSuiteProblem says why name cannot be configured as a TLS 1.2 cipher suite: a TLS 1.3
// suite, an insecure one, or a name Go does not know; names are the suites that may be.
func cipherSuiteProblem(name string, names []string) string {
	switch _, class := tlsterm.ClassifySuite(name); class {
	case tlsterm.SuiteTLS13:
		return fmt.Sprintf("%s is a TLS 1.3 suite; TLS 1.3 suites are always on and cannot be configured, so list only TLS 1.2 suites: %s", name, strings.Join(names, ", "))
	case tlsterm.SuiteInsecure:
		return fmt.Sprintf("%s is insecure and cannot be configured; write one of %s", name, strings.Join(names, ", "))
	}
	return fmt.Sprintf("unknown TLS 1.2 cipher suite %q;%s write one of %s", name, didYouMean(name, names), strings.Join(names, ", "))
}

func (v *validator) listenerTLS() {
	for i, l := range v.c.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		if l.HTTPSPort < 1 || l.HTTPSPort > 65535 {
			v.errorf(p+".https_port", "https_port %d is out of range; write a port number from 1 to 65535", l.HTTPSPort)
		} else if !l.RedirectToHTTPS && v.written(p+".https_port") {
			v.errorf(p+".https_port", "https_port only applies with redirect_to_https: true; set that, or remove https_port")
		}
		v.protocols(p, &l)
		t := l.TLS
		if t == nil {
			continue
		}
		if l.RedirectToHTTPS {
			v.errorf(p+".redirect_to_https", "a TLS listener already serves https; redirect_to_https belongs on a plain listener")
		}
		if len(t.Certificates) == 0 && !t.ACME {
			v.errorf(p+".tls.certificates", "a TLS listener needs at least one certificate; add certificates: [{cert_file: ..., key_file: ...}], or acme: true with a top-level acme section")
		}
		if t.ACME && v.c.ACME == nil {
			v.errorf(p+".tls.acme", "acme: true needs the top-level acme section (names, email, ...)")
		}
		for j, c := range t.Certificates {
			cp := fmt.Sprintf("%s.tls.certificates[%d]", p, j)
			if c.CertFile == "" {
				v.errorf(cp+".cert_file", "cert_file is required: the PEM certificate chain, leaf first")
			}
			if c.KeyFile == "" {
				v.errorf(cp+".key_file", "key_file is required: the PEM private key of the certificate")
			}
		}
		switch t.MinVersion {
		case "1.2", "1.3":
		default:
			v.errorf(p+".tls.min_version", "min_version %q is not supported; write 1.2 or 1.3", t.MinVersion)
		}
		if len(t.CipherSuites) > 0 {
			known := tls12Suites()
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			for j, cs := range t.CipherSuites {
				if !known[cs] {
					v.errorf(fmt.Sprintf("%s.tls.cipher_suites[%d]", p, j), "%s", cipherSuiteProblem(cs, names))
				}
			}
			if t.MinVersion == "1.3" {
				v.errorf(p+".tls.cipher_suites", "cipher_suites only apply to TLS 1.2, and min_version is 1.3; remove them")
			}
		}
		if ca := t.ClientAuth; ca != nil {
			switch ca.Mode {
			case "request", "require":
			default:
				v.errorf(p+".tls.client_auth.mode", "unknown mode %q; write request (verify a certificate when sent) or require", ca.Mode)
			}
			if ca.CAFile == "" {
				v.errorf(p+".tls.client_auth.ca_file", "ca_file is required: the PEM bundle of the CAs client certificates must chain to")
			}
		}
		if h := t.HSTS; h != nil {
			switch {
			case h.MaxAge <= 0:
				v.errorf(p+".tls.hsts.max_age", "max_age must be greater than 0; %s, or leave it out for 8760h (a year)", durationHint)
			case h.MaxAge%Duration(time.Second) != 0:
				v.errorf(p+".tls.hsts.max_age", "max_age %s is not a whole number of seconds, which is what browsers are sent; write one such as 8760h", h.MaxAge)
			}
		}
	}
}

// acme checks the acme section the way the certificate manager will when gatehouse starts, so
// that a config that validates does not then fail to start over it.
func (v *validator) acme() {
	a := v.c.ACME
	if a == nil {
		return
	}
	used := false
	for _, l := range v.c.Listeners {
		used = used || l.TLS != nil && l.TLS.ACME
	}
	if !used {
		v.errorf("acme", "no TLS listener uses acme; add acme: true to a listener's tls section")
	}
	if len(a.Names) == 0 && a.OnDemand == nil {
		path := "acme"
		if v.written("acme.names") { // names: [], or not a list (reported by the decoder)
			path = "acme.names"
		}
		v.errorf(path, "acme needs names to obtain certificates for, or on_demand")
	}
	if e := a.Email; e != "" {
		if at := strings.IndexByte(e, '@'); at < 1 || at == len(e)-1 || strings.Count(e, "@") != 1 || strings.ContainsAny(e, " \t<>,;:\"") {
			v.errorf("acme.email", "email %q is not an address; write one such as ops@example.com, or leave it out", e)
		}
	}
	if d := a.Directory; d != "" {
		if u, err := url.Parse(d); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf("acme.directory", "directory %q must be an https:// URL, such as https://acme-staging-v02.api.letsencrypt.org/directory; leave it out for Let's Encrypt", d)
		}
	}
	for i, n := range a.Names {
		if msg := checkACMEName(n); msg != "" {
			v.errorf(fmt.Sprintf("acme.names[%d]", i), "%s", msg)
		}
	}
	if od := a.OnDemand; od != nil {
		if len(od.Allow) == 0 {
			v.errorf("acme.on_demand.allow", "allow must list the names (or *.example.com patterns) that may get a certificate on demand; an empty list would let anyone make gatehouse ask for certificates")
		}
		for i, p := range od.Allow {
			pat := strings.TrimSpace(p)
			rest, wild := strings.CutPrefix(pat, "*.")
			switch {
			case strings.Contains(rest, "*"):
				v.errorf(fmt.Sprintf("acme.on_demand.allow[%d]", i), "pattern %q: a wildcard may only start a pattern, as *. in *.example.com", p)
			case !wild:
				if msg := checkACMEName(pat); msg != "" {
					v.errorf(fmt.Sprintf("acme.on_demand.allow[%d]", i), "%s; a pattern is written *.example.com", msg)
				}
			default:
				if msg := dnsNameProblem(strings.TrimSuffix(rest, ".")); msg != "" {
					v.errorf(fmt.Sprintf("acme.on_demand.allow[%d]", i), "pattern %q: %s", p, msg)
				}
			}
		}
	}
	for i, c := range a.Challenges {
		if c != "http-01" && c != "tls-alpn-01" {
			v.errorf(fmt.Sprintf("acme.challenges[%d]", i), "unknown challenge %q; write http-01 or tls-alpn-01 (dns-01 is not offered)", c)
		}
	}
	if a.RenewBefore == 0 && v.written("acme.renew_before") {
		v.errorf("acme.renew_before", "renew_before must be greater than 0; %s, or leave it out to renew when a third of a certificate's lifetime is left", durationHint)
	}
	for _, f := range []struct {
		name string
		port int
	}{{"http_port", a.HTTPPort}, {"tls_alpn_port", a.TLSALPNPort}} {
		if f.port < 0 || f.port > 65535 || f.port == 0 && v.written("acme."+f.name) {
			v.errorf("acme."+f.name, "%s %d is out of range; write a port number from 1 to 65535", f.name, f.port)
		}
	}
}

// checkACMEName says why name cannot get a certificate from an ACME CA by HTTP-01 or
// TLS-ALPN-01, or returns "". Case (ASCII only) and a trailing dot do not matter.
func checkACMEName(name string) string {
	n := strings.TrimSuffix(strings.TrimSpace(name), ".")
	if strings.Contains(n, "*") {
		return fmt.Sprintf("wildcard %q needs the DNS-01 challenge, which gatehouse does not offer; list the names, or allow them with on_demand", name)
	}
	if _, err := netip.ParseAddr(strings.Trim(n, "[]")); err == nil {
		return fmt.Sprintf("%q is an IP address; ACME certificates here are for DNS names", name)
	}
	if msg := dnsNameProblem(n); msg != "" {
		return fmt.Sprintf("name %q: %s", name, msg)
	}
	return ""
}

// dnsNameProblem says why name is not a fully qualified DNS host name (ASCII letters, digits and
// '-', parts of 1 to 63 characters, 253 at most, at least two parts), or returns "".
func dnsNameProblem(name string) string {
	switch {
	case name == "":
		return "empty name"
	case len(name) > 253:
		return "longer than 253 characters"
	}
	labels := strings.Split(name, ".")
	for _, label := range labels {
		if label == "" || len(label) > 63 {
			return "each dot-separated part must be 1 to 63 characters"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "a part may not start or end with '-'"
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Sprintf("character %q is not allowed: use letters, digits and '-' (internationalized names in punycode, xn--...)", c)
			}
		}
	}
	if len(labels) < 2 {
		return "a single part; a CA issues certificates only for fully qualified names such as example.com"
	}
	return ""
}

func (v *validator) admin() {
	a := v.c.Admin.Address
	if a == "off" {
		return
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		v.errorf("admin.address", "invalid address %q: write host:port such as 127.0.0.1:9090, or off", a)
		return
	}
	if msg := checkPort(port); msg != "" {
		v.errorf("admin.address", "invalid address %q: %s", a, msg)
		return
	}
	if host != "" {
		if msg := checkHost(host); msg != "" {
			v.errorf("admin.address", "invalid address %q: %s", a, msg)
			return
		}
	}
	for i, l := range v.c.Listeners {
		lh, lp, err := net.SplitHostPort(l.Address)
		if err == nil && lp == port && (lh == host || lh == "" || host == "") {
			v.errorf("admin.address", "address %q is also listeners[%d]; the admin listener needs an address of its own, never the public one", a, i)
			return
		}
	}
}

func (v *validator) listeners() {
	if len(v.c.Listeners) == 0 {
		v.errorf("listeners", "at least one listener is required; add one such as listeners: [{address: \"127.0.0.1:8080\"}]")
		return
	}
	seen := map[string]int{}
	for i, l := range v.c.Listeners {
		p := fmt.Sprintf("listeners[%d].address", i)
		if l.Address == "" {
			v.errorf(p, "address is required; write host:port such as 127.0.0.1:8080 or :80")
			continue
		}
		host, port, err := net.SplitHostPort(l.Address)
		if err != nil {
			v.errorf(p, "invalid address %q: write host:port such as 127.0.0.1:8080, :80 or [::1]:8080", l.Address)
			continue
		}
		if msg := checkPort(port); msg != "" {
			v.errorf(p, "invalid address %q: %s", l.Address, msg)
			continue
		}
		if host != "" {
			if msg := checkHost(host); msg != "" {
				v.errorf(p, "invalid address %q: %s", l.Address, msg)
				continue
			}
		}
		n, _ := strconv.Atoi(port)
		key := net.JoinHostPort(strings.ToLower(host), strconv.Itoa(n))
		if first, dup := seen[key]; dup {
			v.errorf(p, "address %q is already used by listeners[%d]; each listener needs its own address", l.Address, first)
			continue
		}
		seen[key] = i
	}
}

// checkPort is "" when port is a decimal number from 1 to 65535, else what is wrong with it.
func checkPort(port string) string {
	if port == "" {
		return "the port is missing; write a port number from 1 to 65535"
	}
	for _, r := range port {
		if r < '0' || r > '9' {
			return fmt.Sprintf("port %q is not a number; write a port number from 1 to 65535", port)
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("port %s is out of range; write a port number from 1 to 65535", port)
	}
	return ""
}

// checkHost is "" when host is an IP address or a valid host name, else what is wrong with it.
func checkHost(host string) string {
	if strings.Contains(host, ":") || strings.HasPrefix(host, "[") {
		if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil && a.Is6() && a.Zone() == "" {
			return ""
		}
		return fmt.Sprintf("%q is not a valid IPv6 address", host)
	}
	if strings.HasPrefix(host, "*") {
		return fmt.Sprintf("host %q: wildcards are not supported; list each host name", host)
	}
	if len(host) > 253 {
		return fmt.Sprintf("host name %q is longer than 253 characters", host[:20]+"...")
	}
	labels := strings.Split(host, ".")
	if last := labels[len(labels)-1]; last != "" && strings.Trim(last, "0123456789") == "" {
		if a, err := netip.ParseAddr(host); err != nil || !a.Is4() {
			return fmt.Sprintf("%q is not a valid IPv4 address", host)
		}
		return ""
	}
	for _, label := range labels {
		if label == "" || len(label) > 63 {
			return fmt.Sprintf("host %q is not a valid host name: each dot-separated part must be 1 to 63 characters", host)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Sprintf("host %q is not a valid host name: use only letters, digits, '-', '_' and '.'", host)
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("host %q is not a valid host name: a part may not start or end with '-'", host)
		}
	}
	return ""
}

// protocols checks a listener's HTTP versions against its TLS setting.
func (v *validator) protocols(p string, l *Listener) {
	pp := p + ".protocols"
	if len(l.Protocols) == 0 {
		v.errorf(pp, "a listener needs at least one protocol; write [h1], [h1, h2] (with tls) or [h1, h2c] (without), or remove protocols for the default")
		return
	}
	seen := map[string]bool{}
	for j, proto := range l.Protocols {
		ep := fmt.Sprintf("%s[%d]", pp, j)
		switch {
		case seen[proto]:
			v.errorf(ep, "protocol %q is listed twice; list each once", proto)
		case proto == "h2" && l.TLS == nil:
			v.errorf(ep, "h2 is HTTP/2 over TLS and this listener has no tls; for cleartext HTTP/2 with prior knowledge write h2c, or add tls")
		case proto == "h2c" && l.TLS != nil:
			v.errorf(ep, "h2c is cleartext HTTP/2 and this listener terminates TLS; write h2, which clients choose by ALPN")
		case proto != "h1" && proto != "h2" && proto != "h2c":
			v.errorf(ep, "unknown protocol %q; write h1 (HTTP/1.1), h2 (HTTP/2 over TLS) or h2c (cleartext HTTP/2)", proto)
		}
		seen[proto] = true
	}
}

func (v *validator) server() {
	s := v.c.Server
	switch {
	case s.MaxRequestLine < minRequestLine:
		v.errorf("server.max_request_line", "max_request_line is %s; it must be at least %d bytes", s.MaxRequestLine, minRequestLine)
	case s.MaxRequestLine > s.MaxHeaderBytes && s.MaxHeaderBytes > 0:
		v.errorf("server.max_request_line", "max_request_line (%s) must not be larger than max_header_bytes (%s), which includes the request line", s.MaxRequestLine, s.MaxHeaderBytes)
	}
	switch {
	case s.MaxHeaderBytes <= 0:
		v.errorf("server.max_header_bytes", "max_header_bytes must be greater than 0; write a size such as 32KiB")
	case s.MaxHeaderBytes > maxHeaderBytesLimit:
		v.errorf("server.max_header_bytes", "max_header_bytes is %s; it must be at most 1MiB", s.MaxHeaderBytes)
	}
	if s.MaxHeaderCount < 1 || s.MaxHeaderCount > maxHeaderCountLimit {
		v.errorf("server.max_header_count", "max_header_count is %d; it must be from 1 to %d", s.MaxHeaderCount, maxHeaderCountLimit)
	}
	if s.MaxConnections < 1 {
		v.errorf("server.max_connections", "max_connections is %d; it must be at least 1", s.MaxConnections)
	}
	if n := s.HTTP2.MaxConcurrentStreams; n < 1 || n > maxStreamsLimit {
		v.errorf("server.http2.max_concurrent_streams", "max_concurrent_streams is %d; it must be from 1 to %d (100 or more is what clients expect)", n, maxStreamsLimit)
	}
	t := s.Timeouts
	for _, f := range []struct {
		name string
		d    Duration
	}{
		{"client_header", t.ClientHeader},
		{"client_body_idle", t.ClientBodyIdle},
		{"client_write_idle", t.ClientWriteIdle},
		{"keepalive_idle", t.KeepAliveIdle},
		{"upstream_connect", t.UpstreamConnect},
		{"upstream_header", t.UpstreamHeader},
		{"upstream_body_idle", t.UpstreamBodyIdle},
		{"shutdown_drain", t.ShutdownDrain},
	} {
		if f.d <= 0 {
			v.errorf("server.timeouts."+f.name, "%s must be greater than 0; %s", f.name, durationHint)
		}
	}
}

func (v *validator) forwarded() {
	f := v.c.Forwarded
	switch f.Policy {
	case "append", "replace", "off":
	default:
		v.errorf("forwarded.policy", "unknown policy %q; write append, replace or off", f.Policy)
	}
	for i, s := range f.TrustedProxies {
		if _, msg := parseTrusted(s); msg != "" {
			v.errorf(fmt.Sprintf("forwarded.trusted_proxies[%d]", i), "%s", msg)
		}
	}
}

// parseTrusted parses a trusted proxy entry, a CIDR or a bare IP address (which means /32 or
// /128). The message is "" on success, else what is wrong.
func parseTrusted(s string) (netip.Prefix, string) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Sprintf("invalid CIDR %q: write an address range such as 10.0.0.0/8 or fd00::/8, or a single address", s)
		}
		return p.Masked(), ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Sprintf("invalid address %q: write an IP address such as 10.0.0.1 or ::1, or a CIDR such as 10.0.0.0/8", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), ""
}

// backendAddr parses a backend URL into "host:port" (port 80 when none is written). The message
// is "" on success, else what is wrong.
func backendAddr(raw string) (string, string) {
	example := "write a URL such as http://127.0.0.1:8081"
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", fmt.Sprintf("backend %q is not a URL; %s", raw, example)
	}
	defaultPort := "80"
	switch strings.ToLower(scheme) {
	case "http":
	case "https":
		defaultPort = "443"
	default:
		return "", fmt.Sprintf("backend %q: scheme %q is not supported; use http:// or https://", raw, scheme)
	}
	if rest == "" {
		return "", fmt.Sprintf("backend %q has no host; %s", raw, example)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Sprintf("backend %q is not a valid URL; %s", raw, example)
	}
	switch {
	case u.User != nil:
		return "", fmt.Sprintf("backend %q must not contain user info (user@); remove it", raw)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Sprintf("backend %q must not have a query (?...); remove it", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fmt.Sprintf("backend %q must not have a fragment (#...); remove it", raw)
	case u.Opaque != "" || (u.Path != "" && u.Path != "/"):
		return "", fmt.Sprintf("backend %q must not have a path; gatehouse sends the client's path as is, so write only http://host:port", raw)
	case u.Host == "":
		return "", fmt.Sprintf("backend %q has no host; %s", raw, example)
	}
	host, port := u.Hostname(), u.Port()
	if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Sprintf("backend %q: the port is missing after ':'; write a port number from 1 to 65535", raw)
	}
	if port == "" {
		port = defaultPort
	}
	if msg := checkPort(port); msg != "" {
		return "", fmt.Sprintf("backend %q: %s", raw, msg)
	}
	if msg := checkHost(host); msg != "" {
		return "", fmt.Sprintf("backend %q: %s", raw, msg)
	}
	n, _ := strconv.Atoi(port)
	return net.JoinHostPort(host, strconv.Itoa(n)), ""
}
