package router

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// pathKind is a route's kind of path condition, in precedence order.
type pathKind uint8

const (
	pathExact pathKind = iota
	pathPrefix
	pathRegex
	pathAny
)

// fieldOp is the test a FieldMatch makes.
type fieldOp uint8

const (
	opPresent fieldOp = iota
	opAbsent
	opEqual
	opRegex
)

// compiled is what Compile builds from a route's fields.
type compiled struct {
	hosts       []hostPattern
	pathKind    pathKind
	pathRe      *regexp.Regexp
	headers     []fieldMatcher
	query       []fieldMatcher
	cidrs       []netip.Prefix // masked
	rewrite     *regexp.Regexp // Rewrite.Regex
	replacement []byte         // Rewrite.Replacement
	conds       int            // conditions other than host and path, for precedence
}

// hostPattern is one compiled entry of Route.Hosts.
type hostPattern struct {
	name     string // lower-case; for a wildcard, the suffix without "*."
	wildcard bool
}

func (p hostPattern) String() string {
	if p.wildcard {
		return "*." + p.name
	}
	return p.name
}

// matches reports whether the lower-case host matches: exactly, or as a subdomain of a wildcard's
// suffix at any depth.
func (p hostPattern) matches(host []byte) bool {
	if !p.wildcard {
		return string(host) == p.name
	}
	n := len(host) - len(p.name)
	return n >= 2 && host[n-1] == '.' && string(host[n:]) == p.name
}

// compileHost checks and lower-cases one entry of Route.Hosts.
func compileHost(h string) (hostPattern, error) {
	s := strings.ToLower(h)
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	if len(s) > 1 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	switch {
	case s == "":
		return hostPattern{}, errors.New("a host must not be empty; write a host name such as example.com")
	case s == "*":
		return hostPattern{}, errors.New("a lone * would match every host; leave hosts out to match any host")
	}
	p := hostPattern{name: s}
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		p = hostPattern{name: rest, wildcard: true}
	}
	if strings.Contains(p.name, "*") {
		return hostPattern{}, errors.New("a wildcard must be the whole first label, as in *.example.com")
	}
	if strings.Contains(p.name, ":") {
		if a, err := netip.ParseAddr(p.name); err == nil && a.Is6() && !p.wildcard {
			return p, nil
		}
		return hostPattern{}, errors.New("a host must not include a port: the request's port is ignored when matching")
	}
	for _, label := range strings.Split(p.name, ".") {
		if label == "" {
			return hostPattern{}, errors.New("a host name must not have an empty label (\"..\" or a leading dot)")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return hostPattern{}, errors.New("a host name may hold only letters, digits, '-', '_' and dots")
			}
		}
	}
	return p, nil
}

// fieldMatcher is one compiled FieldMatch.
type fieldMatcher struct {
	name  string // lower-case for a header, as written for a query parameter
	shown string // as written, for explanations
	op    fieldOp
	value string // the value for opEqual, the pattern for opRegex
	re    *regexp.Regexp
}

// test reports whether one value passes an opEqual or opRegex test.
func (m *fieldMatcher) test(v []byte) bool {
	if m.op == opRegex {
		return m.re.Match(v)
	}
	return string(v) == m.value
}

// matchHeader tests the request's header fields.
func (m *fieldMatcher) matchHeader(fields []h1.Field) bool {
	seen := false
	for i := range fields {
		f := &fields[i]
		if !h1.EqualFold(f.Name, m.name) {
			continue
		}
		seen = true
		if m.op == opPresent {
			return true
		}
		if m.op != opAbsent && m.test(f.Value) {
			return true
		}
	}
	return !seen && m.op == opAbsent
}

// matchQuery tests the request's query parameters.
func (m *fieldMatcher) matchQuery(q []byte) bool {
	seen := false
	for len(q) > 0 {
		var name, value []byte
		name, value, q = NextParam(q)
		if string(name) != m.name {
			continue
		}
		seen = true
		if m.op == opPresent {
			return true
		}
		if m.op != opAbsent && m.test(value) {
			return true
		}
	}
	return !seen && m.op == opAbsent
}

// condKind names the condition that a request fails, in the order they are tested.
type condKind uint8

const (
	condNone condKind = iota // every condition holds
	condHost
	condPath
	condMethod
	condHeader
	condQuery
	condClient
)

// failure is the first condition a request fails: its kind and, for headers and query, its index.
type failure struct {
	kind condKind
	i    int
}

// check tests every condition but the host (which the table's index decides) on a prepared request.
func (rt *Route) check(r *Request) failure {
	c := rt.c
	switch c.pathKind {
	case pathExact:
		if string(r.norm) != rt.Path {
			return failure{kind: condPath}
		}
	case pathPrefix:
		if len(r.norm) < len(rt.Prefix) || string(r.norm[:len(rt.Prefix)]) != rt.Prefix {
			return failure{kind: condPath}
		}
	case pathRegex:
		if !c.pathRe.Match(r.norm) {
			return failure{kind: condPath}
		}
	}
	if len(rt.Methods) > 0 && !containsMethod(rt.Methods, r.Method) {
		return failure{kind: condMethod}
	}
	for i := range c.headers {
		if !c.headers[i].matchHeader(r.Fields) {
			return failure{kind: condHeader, i: i}
		}
	}
	for i := range c.query {
		if !c.query[i].matchQuery(r.query) {
			return failure{kind: condQuery, i: i}
		}
	}
	if len(c.cidrs) > 0 && !inPrefixes(c.cidrs, r.ClientIP.Unmap()) {
		return failure{kind: condClient}
	}
	return failure{}
}

// matchHost reports whether a prepared request's host is one of the route's; a route without hosts
// matches any.
func (rt *Route) matchHost(host []byte) bool {
	if len(rt.c.hosts) == 0 {
		return true
	}
	for _, p := range rt.c.hosts {
		if p.matches(host) {
			return true
		}
	}
	return false
}

func containsMethod(ms []string, m []byte) bool {
	for _, s := range ms {
		if string(m) == s {
			return true
		}
	}
	return false
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
