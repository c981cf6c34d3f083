// Package router picks the route for a request and carries what the route says to do with it.
//
// A Route is written as plain data (conditions and actions), compiled once (Route.Compile, or
// NewTable), and collected in an immutable Table that answers Match for each request without
// allocating. Table.Explain says, in words, why each route did or did not match.
package router

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/internal/service"
)

// Route is one route: conditions that select requests, and what to do with them (forward to Service,
// answer Fixed, or Redirect). Every condition that is written must hold; a route without conditions
// matches every request. Fill the fields, then call Compile (or let NewTable do it); do not change
// a route after that.
type Route struct {
	// Name identifies the route in logs and explanations.
	Name string
	// NameBytes is Name as bytes, for the access log. Compile sets it from Name when nil.
	NameBytes []byte

	// Hosts are the hosts the route is for: exact names or IP literals ("api.example.com",
	// "10.0.0.1", "::1" or "[::1]"), or wildcards "*.example.com" that match any subdomain at any
	// depth (a.example.com, a.b.example.com) but not example.com itself. Case-insensitive, without a
	// port (the request's port is ignored) and a trailing dot is ignored. Empty: any host.
	Hosts []string
	// Path matches exactly this normalised path ("/login"). At most one of Path, Prefix and
	// PathRegex is set. Paths are case-sensitive.
	Path string
	// Prefix matches a normalised path that starts with it, byte for byte ("/api" matches /api,
	// /api/x and /apix). Empty: no path condition; "/" matches every path and so ranks as no path
	// condition too (see Table).
	Prefix string
	// PathRegex matches a normalised path in which this RE2 regular expression finds a match
	// (unanchored, as nginx's "location ~"): anchor it with ^ and $ to match the whole path.
	PathRegex string
	// Methods are the methods that match, compared case-sensitively (GET, POST). Empty: any method.
	Methods []string
	// Headers are conditions on request header fields; all must hold.
	Headers []FieldMatch
	// Query are conditions on query parameters; all must hold. See NextParam for how the query is
	// read: parameter names and values are compared as sent, without percent-decoding.
	Query []FieldMatch
	// ClientCIDRs are address ranges the client's IP (Request.ClientIP, the TCP peer) must be in,
	// one of them. A single address is a /32 or /128 range. Empty: any client.
	ClientCIDRs []netip.Prefix

	// Service is where requests go; nil when Fixed or Redirect is set.
	Service *service.Service
	// Metrics counts the route's requests; nil counts nothing.
	Metrics *metrics.Route
	// Fixed is the prebuilt answer of a respond route.
	Fixed *Fixed
	// Redirect answers with a redirect (see Redirect.AppendHead).
	Redirect *Redirect
	// Rewrite changes the target sent to the backend (see Route.AppendTarget); nil sends the target
	// as received.
	Rewrite *Rewrite
	// Host says what Host the backend receives; HostValue is the literal one.
	Host      HostMode
	HostValue string
	// MaxBody is the largest request body accepted, in bytes.
	MaxBody int64
	// RequireClientCert answers 403 to a request without a verified client certificate.
	RequireClientCert bool
	// Request and Response change the header fields.
	Request  HeaderOps
	Response HeaderOps

	c   *compiled // set by a successful Compile
	err error     // set by a failed Compile
}

// FieldMatch is a condition on a header field or query parameter. Which test it makes follows from
// what is written: Absent, Regex, Value, or none of them for "present".
//
// A header field sent several times, or a query parameter given several times, matches when any of
// its values does. Header values are compared whole, as received (a comma-separated list is not
// split); query values are compared as sent, without percent-decoding.
type FieldMatch struct {
	// Name is the field name (case-insensitive for headers, case-sensitive for query parameters).
	Name string
	// Value, when set, must equal the value exactly (case-sensitive).
	Value string
	// Regex, when set, is an RE2 regular expression that must find a match in the value
	// (unanchored: write ^ and $ to match the whole value).
	Regex string
	// Absent requires that the field is not sent at all.
	Absent bool
}

// FieldError is a route that does not compile: Field names the bad field in the config's words,
// relative to the route ("match.hosts[1]", "rewrite.regex", "redirect.status"), and Value is what
// was written there.
type FieldError struct {
	Field string
	Value string
	Err   error
}

// Error reads like `match.path_regex "a(b": error parsing regexp: ...`.
func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Err.Error()
	}
	return fmt.Sprintf("%s %q: %v", e.Field, e.Value, e.Err)
}

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// Compile checks the route and builds what Match needs. It returns nil, or an error that joins one
// *FieldError per bad field (errors.Join: use errors.As for the first, or the Unwrap() []error
// method for all). Compile is idempotent: a second call returns the first call's result. It sets
// NameBytes from Name when NameBytes is nil.
func (rt *Route) Compile() error {
	if rt.c != nil || rt.err != nil {
		return rt.err
	}
	if rt.NameBytes == nil && rt.Name != "" {
		rt.NameBytes = []byte(rt.Name)
	}
	c := &compiled{pathKind: pathAny}
	var errs []error
	bad := func(field, value string, err error) {
		errs = append(errs, &FieldError{Field: field, Value: value, Err: err})
	}
	for i, h := range rt.Hosts {
		p, err := compileHost(h)
		if err != nil {
			bad(fmt.Sprintf("match.hosts[%d]", i), h, err)
			continue
		}
		c.hosts = append(c.hosts, p)
	}
	c.compilePath(rt, bad)
	for i, m := range rt.Methods {
		if !h1.IsToken(m) {
			bad(fmt.Sprintf("match.methods[%d]", i), m, errors.New("not a valid method name; write GET, POST and so on"))
		}
	}
	c.headers = compileFields(rt.Headers, "match.headers", true, bad)
	c.query = compileFields(rt.Query, "match.query", false, bad)
	for i, p := range rt.ClientCIDRs {
		if !p.IsValid() {
			bad(fmt.Sprintf("match.client_cidrs[%d]", i), p.String(), errors.New("not a valid address range; write one such as 10.0.0.0/8"))
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		c.cidrs = append(c.cidrs, p.Masked())
	}
	if rt.Rewrite != nil {
		c.rewrite = rt.Rewrite.compile(bad)
		c.replacement = []byte(rt.Rewrite.Replacement)
	}
	if rt.Redirect != nil {
		rt.Redirect.check(bad)
	}
	if len(errs) > 0 {
		rt.err = errors.Join(errs...)
		return rt.err
	}
	if len(rt.Methods) > 0 {
		c.conds++
	}
	if len(c.cidrs) > 0 {
		c.conds++
	}
	c.conds += len(c.headers) + len(c.query)
	rt.c = c
	return nil
}

func (c *compiled) compilePath(rt *Route, bad func(field, value string, err error)) {
	n := 0
	for _, s := range []string{rt.Path, rt.Prefix, rt.PathRegex} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		bad("match", "", errors.New("write at most one of path, path_prefix and path_regex"))
		return
	}
	switch {
	case rt.Path != "":
		checkNormal("match.path", rt.Path, bad)
		c.pathKind = pathExact
	case rt.Prefix != "":
		checkNormal("match.path_prefix", rt.Prefix, bad)
		if rt.Prefix != "/" { // every normalised path starts with "/": that is no condition
			c.pathKind = pathPrefix
		}
	case rt.PathRegex != "":
		re, err := regexp.Compile(rt.PathRegex)
		if err != nil {
			bad("match.path_regex", rt.PathRegex, err)
			return
		}
		c.pathKind, c.pathRe = pathRegex, re
	}
}

// checkNormal reports a path or prefix that no request can match because it is not in the normal
// form requests are matched in.
func checkNormal(field, p string, bad func(field, value string, err error)) {
	if p[0] != '/' {
		bad(field, p, errors.New(`a path starts with "/"`))
		return
	}
	if n := string(AppendNormalized(nil, []byte(p))); n != p {
		bad(field, p, fmt.Errorf("paths are matched in normal form (escapes of letters, digits and -._~ decoded, other escapes in upper case, no // or dot segments), in which this is %q: write that", n))
	}
}

func compileFields(fs []FieldMatch, field string, header bool, bad func(field, value string, err error)) []fieldMatcher {
	var out []fieldMatcher
	for i, f := range fs {
		p := field + "[" + strconv.Itoa(i) + "]"
		m := fieldMatcher{name: f.Name, shown: f.Name, value: f.Value}
		switch {
		case f.Name == "":
			bad(p+".name", "", errors.New("a name is required"))
			continue
		case header && !h1.IsToken(f.Name):
			bad(p+".name", f.Name, errors.New("not a valid header name: use only letters, digits and !#$%&'*+-.^_`|~"))
			continue
		case header:
			m.name = string(appendLower(nil, []byte(f.Name)))
		}
		written := 0
		for _, set := range []bool{f.Value != "", f.Regex != "", f.Absent} {
			if set {
				written++
			}
		}
		switch {
		case written > 1:
			bad(p, "", errors.New("write at most one of value, regex and absent"))
			continue
		case f.Absent:
			m.op = opAbsent
		case f.Regex != "":
			re, err := regexp.Compile(f.Regex)
			if err != nil {
				bad(p+".regex", f.Regex, err)
				continue
			}
			m.op, m.re, m.value = opRegex, re, f.Regex
		case f.Value != "":
			m.op = opEqual
		}
		out = append(out, m)
	}
	return out
}
