package router

import (
	"bytes"
	"net/netip"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// Request is what the router sees of a request. A connection keeps one and reuses it: set the
// exported fields for each request and call Table.Match, which fills the derived forms (normalised
// path, lower-case host) in scratch space that is kept across requests, so routing allocates
// nothing once the scratch has grown to the connection's longest path and host.
//
// The byte slices are not copied: they must stay valid and unchanged while the Request is used.
type Request struct {
	// Method is the request method, compared case-sensitively.
	Method []byte
	// Host is the authority the request is for, as received (h1.Request.Host): a port, a trailing
	// dot and IPv6 brackets are allowed. Empty when the request has none (HTTP/1.0).
	Host []byte
	// Target is the origin-form target as received (h1.Request.Path): "/path?query", or "*", or
	// empty or starting with '?' when an absolute-form target had no path.
	Target []byte
	// Fields are the header fields in the order received.
	Fields []h1.Field
	// ClientIP is the TCP peer's address, for client_cidrs; the zero Addr matches no range. An
	// IPv4-mapped IPv6 address (::ffff:10.0.0.1) is read as the IPv4 address.
	ClientIP netip.Addr
	// TLS is set when the client connection is TLS: it is the scheme ("https") that a redirect keeps.
	TLS bool

	// Derived by prepare, valid until the exported fields change.
	host     []byte // lower-case, no port, brackets or trailing dot; own storage
	norm     []byte // normalised path; own storage
	path     []byte // the raw path, in Target
	query    []byte // after '?', in Target
	hasQuery bool
	rw       []byte // scratch for a regex rewrite
}

// prepare derives the host and paths from the exported fields.
func (r *Request) prepare() {
	r.path, r.query, r.hasQuery = splitTarget(r.Target)
	r.norm = AppendNormalized(r.norm[:0], r.path)
	h := stripPort(r.Host)
	if n := len(h); n > 1 && h[n-1] == '.' {
		h = h[:n-1] // "example.com." is the fully qualified spelling of "example.com"
	}
	r.host = appendLower(r.host[:0], h)
}

// NormalizedPath is the path in normal form (see AppendNormalized), as routes match it. Valid after
// Table.Match or Table.Explain.
func (r *Request) NormalizedPath() []byte { return r.norm }

// RawPath is the path as sent: Target up to any '?'; empty for "*" and for an absolute-form target
// without a path. Valid after Table.Match or Table.Explain.
func (r *Request) RawPath() []byte { return r.path }

// RawQuery is the query as sent, after the '?' and not decoded; HasQuery tells an empty query ("/?")
// from none. Valid after Table.Match or Table.Explain.
func (r *Request) RawQuery() []byte { return r.query }

// HasQuery reports whether the target has a '?'. Valid after Table.Match or Table.Explain.
func (r *Request) HasQuery() bool { return r.hasQuery }

// HostName is the host as routes match it: lower-case, without port, IPv6 brackets or trailing
// dot. Valid after Table.Match or Table.Explain.
func (r *Request) HostName() []byte { return r.host }

// stripPort drops a ":port" suffix and the brackets of an IP literal: "[::1]:80" is "::1", as hosts
// in the config are written.
func stripPort(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		if end := bytes.IndexByte(h, ']'); end > 0 {
			return h[1:end]
		}
		return h
	}
	if i := bytes.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

// splitHostPort splits a Host value into the host as sent (brackets kept) and the port digits
// (empty when there is none).
func splitHostPort(h []byte) (host, port []byte) {
	start := 0
	if len(h) > 0 && h[0] == '[' {
		if end := bytes.IndexByte(h, ']'); end > 0 {
			start = end
		}
	}
	if i := bytes.LastIndexByte(h[start:], ':'); i >= 0 {
		return h[:start+i], h[start+i+1:]
	}
	return h, nil
}

func appendLower(dst, s []byte) []byte {
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
