package config

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"unicode"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

func (v *validator) routes() {
	c := v.c
	if len(c.Routes) == 0 {
		v.errorf("routes", "at least one route is required; add one under routes: with an upstream, a respond or a redirect")
		return
	}
	var upstreamNames []string
	for _, u := range c.Upstreams {
		if u.Name != "" {
			upstreamNames = append(upstreamNames, u.Name)
		}
	}
	names := map[string]int{}
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if first, dup := names[r.Name]; dup {
			v.errorf(p+".name", "route name %q is already used by routes[%d]; route names must be unique", r.Name, first)
		} else {
			names[r.Name] = i
		}
		actions := 0
		for _, set := range []bool{r.Upstream != "", r.Respond != nil, r.Redirect != nil} {
			if set {
				actions++
			}
		}
		switch {
		case actions > 1:
			v.errorf(p, "route %q has more than one of upstream, respond and redirect; keep one of them", r.Name)
		case actions == 0:
			v.errorf(p, "route %q has none of upstream, respond and redirect; add upstream: NAME to forward, respond: to answer directly, or redirect: to send the client elsewhere", r.Name)
		case r.Upstream != "" && c.Upstream(r.Upstream) == nil:
			if len(upstreamNames) == 0 {
				v.errorf(p+".upstream", "upstream %q is not defined; there are no upstreams: add one under upstreams:", r.Upstream)
			} else {
				v.errorf(p+".upstream", "upstream %q is not defined;%s defined upstreams: %s", r.Upstream, didYouMean(r.Upstream, upstreamNames), strings.Join(upstreamNames, ", "))
			}
		}
		v.match(p+".match", r.Match)
		v.upstreamHost(p+".upstream_host", r.UpstreamHost)
		if r.MaxBodySize <= 0 {
			v.errorf(p+".max_body_size", "max_body_size must be greater than 0; write a size such as 10MiB, or leave it out for 100MiB")
		}
		if r.Respond != nil {
			if st := r.Respond.Status; st < 200 || st > 599 {
				v.errorf(p+".respond.status", "status %d is not allowed; write a status code from 200 to 599", st)
			}
			v.headerMap(p+".respond.headers", r.Respond.Headers, "respond")
		}
		if r.Redirect != nil {
			v.redirect(p+".redirect", r.Redirect)
		}
		if r.Rewrite != nil {
			if r.Upstream == "" {
				v.errorf(p+".rewrite", "rewrite only applies to routes that forward to an upstream; remove it or add upstream:")
			}
			v.rewrite(p+".rewrite", r.Rewrite)
		}
		if r.RequireClientCert && !v.anyClientAuth() {
			v.errorf(p+".require_client_cert", "require_client_cert needs a listener with tls.client_auth; without one this route answers every request 403")
		}
		v.headerOps(p+".request_headers", r.RequestHeaders, "request")
		v.headerOps(p+".response_headers", r.ResponseHeaders, "response")
	}
}

func (v *validator) match(p string, m Match) {
	seen := map[string]int{}
	for i, h := range m.Hosts {
		hp := fmt.Sprintf("%s.hosts[%d]", p, i)
		if h == "" {
			v.errorf(hp, "host must not be empty; write a host name such as example.com")
			continue
		}
		if _, port, err := net.SplitHostPort(h); err == nil && port != "" {
			v.errorf(hp, "host %q must not include a port; the port is ignored when matching", h)
			continue
		}
		name := h
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			name = rest
			if strings.Contains(rest, "*") || !strings.Contains(rest, ".") && rest != "localhost" {
				v.errorf(hp, "wildcard host %q is too broad or malformed; write it as *.example.com", h)
				continue
			}
		} else if strings.Contains(h, "*") {
			v.errorf(hp, "host %q: a wildcard must be the whole first label, as in *.example.com", h)
			continue
		}
		if msg := checkHost(name); msg != "" {
			v.errorf(hp, "%s", msg)
			continue
		}
		key := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
		if first, dup := seen[key]; dup {
			v.errorf(hp, "host %q is already listed as hosts[%d]; remove one", h, first)
			continue
		}
		seen[key] = i
	}
	paths := 0
	for _, s := range []string{m.Path, m.PathRegex} {
		if s != "" {
			paths++
		}
	}
	if m.PathPrefix != "" && (m.PathPrefix != DefaultPathPrefix || v.written(p+".path_prefix")) {
		paths++
	}
	if paths > 1 {
		v.errorf(p, "write at most one of path, path_prefix and path_regex")
	}
	if m.Path != "" {
		v.pathValue(p+".path", "path", m.Path)
	}
	if m.PathPrefix != "" || v.written(p+".path_prefix") {
		v.pathValue(p+".path_prefix", "path_prefix", m.PathPrefix)
	}
	if m.PathRegex != "" {
		v.regex(p+".path_regex", m.PathRegex)
	}
	for i, meth := range m.Methods {
		if !h1.IsToken(meth) {
			v.errorf(fmt.Sprintf("%s.methods[%d]", p, i), "method %q is not a valid method name; write GET, POST and so on", meth)
		} else if meth != strings.ToUpper(meth) && strings.ToUpper(meth) == strings.ToUpper(strings.ToLower(meth)) && isStandardMethod(strings.ToUpper(meth)) {
			v.errorf(fmt.Sprintf("%s.methods[%d]", p, i), "method %q: methods are case-sensitive; write %s", meth, strings.ToUpper(meth))
		}
	}
	for i, f := range m.Headers {
		fp := fmt.Sprintf("%s.headers[%d]", p, i)
		if f.Name == "" {
			v.errorf(fp+".name", "name is required; write the header field's name")
		} else if !h1.IsToken(f.Name) {
			v.errorf(fp+".name", "invalid header name %q: use only letters, digits and !#$%%&'*+-.^_`|~", f.Name)
		}
		v.fieldMatch(fp, f)
	}
	for i, f := range m.Query {
		fp := fmt.Sprintf("%s.query[%d]", p, i)
		if f.Name == "" {
			v.errorf(fp+".name", "name is required; write the query parameter's name")
		}
		v.fieldMatch(fp, f)
	}
	for i, s := range m.ClientCIDRs {
		if _, msg := parseTrusted(s); msg != "" {
			v.errorf(fmt.Sprintf("%s.client_cidrs[%d]", p, i), "%s", msg)
		}
	}
}

func isStandardMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH":
		return true
	}
	return false
}

func (v *validator) fieldMatch(p string, f FieldMatch) {
	n := 0
	if f.Value != "" || v.written(p+".value") {
		n++
	}
	if f.Regex != "" {
		n++
		v.regex(p+".regex", f.Regex)
	}
	if f.Present != nil {
		n++
	}
	if n > 1 {
		v.errorf(p, "write at most one of value, regex and present")
	}
}

// written reports whether path was written in the file.
func (v *validator) written(path string) bool {
	_, ok := v.c.Lines[path]
	return ok
}

func (v *validator) pathValue(p, field, s string) {
	switch {
	case !strings.HasPrefix(s, "/"):
		v.errorf(p, "%s %q must start with \"/\", such as /api/", field, s)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		v.errorf(p, "%s %q must not contain spaces or control characters; percent-encode them (%%20)", field, s)
	case strings.ContainsAny(s, "?#"):
		v.errorf(p, "%s %q must not contain '?' or '#'; it matches the path only, not the query", field, s)
	}
}

func (v *validator) regex(p, re string) {
	if _, err := regexp.Compile(re); err != nil {
		msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		v.errorf(p, "invalid regular expression %q: %s (RE2 syntax: https://github.com/google/re2/wiki/Syntax)", re, msg)
	}
}

func (v *validator) redirect(p string, r *Redirect) {
	switch r.Status {
	case 301, 302, 303, 307, 308:
	default:
		v.errorf(p+".status", "redirect status %d is not a redirect; write 301, 302, 303, 307 or 308", r.Status)
	}
	switch r.Scheme {
	case "", "http", "https":
	default:
		v.errorf(p+".scheme", "scheme %q is not supported; write http or https", r.Scheme)
	}
	if r.Host != "" {
		if _, _, err := net.SplitHostPort(r.Host); err == nil {
			v.errorf(p+".host", "host %q includes a port; write the port in port:", r.Host)
		} else if msg := checkHost(r.Host); msg != "" {
			v.errorf(p+".host", "%s", msg)
		}
	}
	if r.Scheme == "" && r.Host == "" && r.Port == 0 && r.Path == "" {
		v.errorf(p, "the redirect changes nothing and would send the client back to the same URL; set scheme, host, port or path")
	}
	if strings.HasPrefix(r.Path, "//") {
		v.errorf(p+".path", "path %q starts with //, which browsers read as another host; write a single /", r.Path)
	}
	if r.Port != 0 && (r.Port < 1 || r.Port > 65535) {
		v.errorf(p+".port", "port %d is out of range; write a port number from 1 to 65535", r.Port)
	}
	if r.Path != "" {
		v.pathValue(p+".path", "path", r.Path)
	}
}

func (v *validator) rewrite(p string, r *Rewrite) {
	if r.Regex != "" {
		v.regex(p+".regex", r.Regex)
	} else if r.Replacement != "" {
		v.errorf(p+".replacement", "replacement needs a regex to replace; add regex:")
	}
	if r.StripPrefix != "" {
		v.pathValue(p+".strip_prefix", "strip_prefix", r.StripPrefix)
	}
	if r.AddPrefix != "" {
		v.pathValue(p+".add_prefix", "add_prefix", r.AddPrefix)
	}
}

func (v *validator) upstreamHost(p, h string) {
	if h == "pass" || h == "backend" {
		return
	}
	msg := ""
	if h == "" {
		msg = "it is empty"
	} else if host, port, err := net.SplitHostPort(h); err == nil {
		if msg = checkPort(port); msg == "" {
			msg = checkHost(host)
		}
	} else {
		msg = checkHost(h)
	}
	if msg != "" {
		v.errorf(p, "invalid upstream_host %q (%s); write pass, backend, or a host name such as example.com or example.com:8080", h, msg)
	}
}

// anyClientAuth reports whether some listener asks clients for certificates.
func (v *validator) anyClientAuth() bool {
	for _, l := range v.c.Listeners {
		if l.TLS != nil && l.TLS.ClientAuth != nil {
			return true
		}
	}
	return false
}
