package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// Upper bounds of upstream settings.
const (
	maxWeight        = 1000
	maxRetryAttempts = 10
	maxLoadFactor    = 100
)

func (v *validator) upstreams() {
	seen := map[string]int{}
	for i := range v.c.Upstreams {
		u := &v.c.Upstreams[i]
		p := fmt.Sprintf("upstreams[%d]", i)
		if u.Name == "" {
			v.errorf(p+".name", "an upstream needs a name; add name: so that routes can refer to it")
		} else if first, dup := seen[u.Name]; dup {
			v.errorf(p+".name", "upstream name %q is already used by upstreams[%d]; upstream names must be unique", u.Name, first)
		} else {
			seen[u.Name] = i
		}
		v.backends(p, u)
		if u.MaxIdlePerBackend < 0 || u.MaxIdlePerBackend > maxIdleLimit {
			v.errorf(p+".max_idle_per_backend", "max_idle_per_backend is %d; it must be from 0 (no pooling) to %d", u.MaxIdlePerBackend, maxIdleLimit)
		}
		if u.IdleTimeout <= 0 {
			v.errorf(p+".idle_timeout", "idle_timeout must be greater than 0; %s", durationHint)
		}
		if u.SlowStart < 0 {
			v.errorf(p+".slow_start", "slow_start must not be negative; %s, or 0 for none", durationHint)
		}
		v.balance(p, u)
		v.limits(p+".limits", u.Limits)
		if u.Health.Active != nil {
			v.activeHealth(p+".health.active", u.Health.Active)
		}
		v.passive(p+".health.passive", u.Health.Passive)
		v.retry(p+".retry", u.Retry)
		v.resolve(p+".resolve", u.Resolve)
		v.upstreamTLS(p, u)
		switch u.Protocol {
		case "h1", "h2":
		default:
			v.errorf(p+".protocol", "unknown protocol %q; write h1 (HTTP/1.1) or h2 (HTTP/2, needed for gRPC; h2c for http:// backends)", u.Protocol)
		}
		if a := u.Health.Active; a != nil && a.Type == "grpc" && u.Protocol != "h2" {
			v.errorf(p+".health.active.type", "a grpc check speaks HTTP/2 and this upstream's protocol is %q; set protocol: h2", u.Protocol)
		}
	}
}

// upstreamTLS checks the settings of connections to https:// backends.
func (v *validator) upstreamTLS(p string, u *Upstream) {
	t := u.TLS
	tp := p + ".tls"
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.errorf(tp+".key_file", "key_file is required with cert_file: the PEM private key of the client certificate")
	case t.KeyFile != "" && t.CertFile == "":
		v.errorf(tp+".cert_file", "cert_file is required with key_file: the PEM client certificate chain, leaf first")
	}
	if sn := t.ServerName; sn != "" {
		host, _, err := net.SplitHostPort(sn)
		switch {
		case strings.Contains(sn, "://"):
			v.errorf(tp+".server_name", "server_name %q must be a host name, not a URL; write the name the backends' certificates hold, such as api.internal", sn)
		case err == nil && checkHost(host) == "":
			v.errorf(tp+".server_name", "server_name %q must not include a port; write the name the backends' certificates hold, such as api.internal", sn)
		default:
			if msg := checkHost(sn); msg != "" {
				v.errorf(tp+".server_name", "invalid server_name: %s", msg)
			}
		}
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		v.errorf(tp+".ca_file", "ca_file is not used with insecure_skip_verify: true, which accepts any certificate; remove one of them")
	}
	if v.written(tp) && len(u.Backends) > 0 && !slices.ContainsFunc(u.Backends, func(b Backend) bool { return BackendTLS(b.URL) }) {
		v.errorf(tp, "tls settings only apply to https:// backends, and this upstream has none; write the backends as https://host:port, or remove tls")
	}
}

func (v *validator) backends(p string, u *Upstream) {
	if len(u.Backends) == 0 {
		v.errorf(p+".backends", "at least one backend is required; add one such as backends: [\"http://127.0.0.1:8081\"]")
		return
	}
	seen := map[string]int{}
	primaries := 0
	for j, b := range u.Backends {
		bp := fmt.Sprintf("%s.backends[%d]", p, j)
		addr, msg := backendAddr(b.URL)
		if msg != "" {
			if b.URL == "" {
				msg = "url is required; write a URL such as http://127.0.0.1:8081"
			}
			v.errorf(bp, "%s", msg)
			continue
		}
		addr = strings.ToLower(addr)
		if first, dup := seen[addr]; dup {
			v.errorf(bp, "backend %s is already listed as backends[%d]; to send it more requests, give it a weight", addr, first)
			continue
		}
		seen[addr] = j
		if b.Weight < 1 || b.Weight > maxWeight {
			v.errorf(bp+".weight", "weight is %d; it must be from 1 to %d", b.Weight, maxWeight)
		}
		if !b.Backup {
			primaries++
		}
	}
	if primaries == 0 && len(seen) > 0 {
		v.errorf(p+".backends", "every backend is a backup; at least one must not be (remove backup: true from one)")
	}
}

func (v *validator) balance(p string, u *Upstream) {
	policies := []string{"p2c_ewma", "round_robin", "weighted_round_robin", "least_conn", "random", "consistent_hash"}
	known := false
	for _, s := range policies {
		known = known || s == u.Balance
	}
	if !known {
		v.errorf(p+".balance", "unknown balance %q;%s write one of %s", u.Balance, didYouMean(u.Balance, policies), strings.Join(policies, ", "))
	}
	h := u.Hash
	switch h.Key {
	case "client_ip", "path":
		if h.Name != "" {
			v.errorf(p+".hash.name", "name is only used with key header or cookie; remove it")
		}
	case "header", "cookie":
		if h.Name == "" {
			v.errorf(p+".hash.name", "key %s needs the %s's name; add name:", h.Key, h.Key)
		} else if !h1.IsToken(h.Name) {
			v.errorf(p+".hash.name", "invalid %s name %q", h.Key, h.Name)
		}
	default:
		v.errorf(p+".hash.key", "unknown hash key %q; write client_ip, header, cookie or path", h.Key)
	}
	switch h.Algorithm {
	case "maglev", "ring":
	default:
		v.errorf(p+".hash.algorithm", "unknown hash algorithm %q; write maglev or ring", h.Algorithm)
	}
	if h.LoadFactor != 0 && (h.LoadFactor < 1 || h.LoadFactor > maxLoadFactor) {
		v.errorf(p+".hash.load_factor", "load_factor is %g; it must be from 1 to 100 (1.25 lets a backend take 25%% more than average), or 0 for no bound", h.LoadFactor)
	}
	if u.Balance != "consistent_hash" && (v.written(p+".hash") || h.Name != "") {
		v.errorf(p+".hash", "hash settings only apply with balance: consistent_hash")
	}
	if s := u.Sticky; s != nil {
		if !h1.IsToken(s.Cookie) || strings.ContainsAny(s.Cookie, "=") {
			v.errorf(p+".sticky.cookie", "invalid cookie name %q; use letters, digits, '-' and '_'", s.Cookie)
		}
		if s.Secret != "" && len(s.Secret) < 16 {
			v.errorf(p+".sticky.secret", "the secret is %d characters; use at least 16 random characters", len(s.Secret))
		}
		if s.MaxAge < 0 {
			v.errorf(p+".sticky.max_age", "max_age must not be negative; %s, or 0 for a session cookie", durationHint)
		}
	}
}

func (v *validator) limits(p string, l Limits) {
	if l.MaxConnections < 0 {
		v.errorf(p+".max_connections", "max_connections is %d; it must be 0 (unlimited) or more", l.MaxConnections)
	}
	if l.QueueSize < 0 {
		v.errorf(p+".queue_size", "queue_size is %d; it must be 0 or more", l.QueueSize)
	}
	if l.QueueSize > 0 && l.MaxConnections == 0 {
		v.errorf(p+".queue_size", "a queue needs max_connections; set it, or remove queue_size")
	}
	if l.QueueTimeout <= 0 {
		v.errorf(p+".queue_timeout", "queue_timeout must be greater than 0; %s", durationHint)
	}
}

// ParseStatusRange parses "200-399" or "200" into its bounds.
func ParseStatusRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi = lo
	var err2 error
	if isRange {
		hi, err2 = strconv.Atoi(strings.TrimSpace(b))
	}
	if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("invalid status range %q: write a range such as 200-399, or one status such as 200", s)
	}
	return lo, hi, nil
}

func (v *validator) activeHealth(p string, a *ActiveHealth) {
	switch a.Type {
	case "http", "tcp", "grpc":
	default:
		v.errorf(p+".type", "unknown check type %q; write http, tcp or grpc", a.Type)
	}
	if a.GRPCService != "" && a.Type != "grpc" {
		v.errorf(p+".grpc_service", "grpc_service applies to type: grpc checks only; set that, or remove grpc_service")
	}
	if !h1.IsToken(a.Method) {
		v.errorf(p+".method", "invalid method %q; write GET, HEAD and so on", a.Method)
	}
	if !strings.HasPrefix(a.Path, "/") || strings.ContainsAny(a.Path, " #") {
		v.errorf(p+".path", "path %q must start with \"/\" and hold no spaces or '#', such as /healthz", a.Path)
	}
	if a.Host != "" {
		h := a.Host
		if host, port, err := net.SplitHostPort(h); err == nil {
			if msg := checkPort(port); msg != "" {
				v.errorf(p+".host", "invalid host %q: %s", a.Host, msg)
			}
			h = host
		}
		if msg := checkHost(h); msg != "" {
			v.errorf(p+".host", "%s", msg)
		}
	}
	if _, _, err := ParseStatusRange(a.Status); err != nil {
		v.errorf(p+".status", "%v", err)
	}
	if a.Interval <= 0 {
		v.errorf(p+".interval", "interval must be greater than 0; %s", durationHint)
	}
	if a.Timeout <= 0 {
		v.errorf(p+".timeout", "timeout must be greater than 0; %s", durationHint)
	} else if a.Interval > 0 && a.Timeout > a.Interval {
		v.errorf(p+".timeout", "timeout (%s) must not be longer than interval (%s)", a.Timeout, a.Interval)
	}
	if a.Rise < 1 {
		v.errorf(p+".rise", "rise is %d; it must be at least 1", a.Rise)
	}
	if a.Fall < 1 {
		v.errorf(p+".fall", "fall is %d; it must be at least 1", a.Fall)
	}
	if a.Type == "grpc" && (a.Body != "" || v.written(p+".status") || v.written(p+".path") || v.written(p+".method")) {
		v.errorf(p+".type", "a grpc check asks grpc.health.v1.Health/Check; method, path, status and body apply to http checks (name the service with grpc_service)")
	}
	if a.Type == "tcp" && (a.Body != "" || v.written(p+".status") || v.written(p+".path") || v.written(p+".method") || v.written(p+".host")) {
		v.errorf(p+".type", "a tcp check only connects; method, path, host, status and body apply to http checks")
	}
}

func (v *validator) passive(p string, ps Passive) {
	if ps.Consecutive5xx < 0 {
		v.errorf(p+".consecutive_5xx", "consecutive_5xx is %d; it must be 0 (off) or more", ps.Consecutive5xx)
	}
	if ps.ConsecutiveFailures < 0 {
		v.errorf(p+".consecutive_failures", "consecutive_failures is %d; it must be 0 (off) or more", ps.ConsecutiveFailures)
	}
	if ps.BaseEjection <= 0 {
		v.errorf(p+".base_ejection", "base_ejection must be greater than 0; %s", durationHint)
	}
	if ps.MaxEjection < ps.BaseEjection {
		v.errorf(p+".max_ejection", "max_ejection (%s) must not be shorter than base_ejection (%s)", ps.MaxEjection, ps.BaseEjection)
	}
	if ps.MaxEjectedPercent < 1 || ps.MaxEjectedPercent > 100 {
		v.errorf(p+".max_ejected_percent", "max_ejected_percent is %d; it must be from 1 to 100 (to never eject, set consecutive_5xx and consecutive_failures to 0)", ps.MaxEjectedPercent)
	}
}

func (v *validator) retry(p string, r Retry) {
	if r.Attempts < 0 || r.Attempts > maxRetryAttempts {
		v.errorf(p+".attempts", "attempts is %d; it must be from 0 (no retries) to %d", r.Attempts, maxRetryAttempts)
	}
	for i, st := range r.OnStatus {
		if st < 500 || st > 599 {
			v.errorf(fmt.Sprintf("%s.on_status[%d]", p, i), "status %d cannot be retried; list 5xx statuses such as 502, 503, 504", st)
		}
	}
	if r.PerTryTimeout < 0 {
		v.errorf(p+".per_try_timeout", "per_try_timeout must not be negative; %s, or 0 for none", durationHint)
	}
	if r.MinPerSecond < 0 {
		v.errorf(p+".min_per_second", "min_per_second is %d; it must be 0 or more", r.MinPerSecond)
	}
}

func (v *validator) resolve(p string, r Resolve) {
	if r.Interval <= 0 {
		v.errorf(p+".interval", "interval must be greater than 0; %s", durationHint)
	}
	switch r.Family {
	case "ip", "ip4", "ip6":
	default:
		v.errorf(p+".family", "unknown family %q; write ip (A and AAAA), ip4 or ip6", r.Family)
	}
	if r.Resolver != "" {
		h, port, err := net.SplitHostPort(r.Resolver)
		if err != nil {
			h, port = strings.TrimSuffix(strings.TrimPrefix(r.Resolver, "["), "]"), "53"
		}
		if msg := checkPort(port); msg != "" {
			v.errorf(p+".resolver", "invalid resolver %q: %s", r.Resolver, msg)
		} else if _, err := netip.ParseAddr(h); err != nil {
			v.errorf(p+".resolver", "invalid resolver %q: write the DNS server's IP address, such as 10.0.0.2 or 10.0.0.2:53", r.Resolver)
		}
	}
}
