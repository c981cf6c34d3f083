// Package router picks the route for a request and carries what the route says to do with it.
package router

import (
	"bytes"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// HostMode says what Host the backend receives.
type HostMode uint8

// Host modes.
const (
	HostPass    HostMode = iota // the client's Host
	HostBackend                 // the backend's host:port
	HostLiteral                 // Route.HostValue
)

// Header is a field to set.
type Header struct {
	Name  string // as written in the config
	Value string
}

// HeaderOps is a compiled set/remove list. Drop holds the lower-case names of fields to remove before
// the Set fields are appended: every Remove name and every Set name.
type HeaderOps struct {
	Drop []string
	Set  []Header
}

// Dropped reports whether a field of this name is removed.
func (o *HeaderOps) Dropped(name []byte) bool {
	for _, d := range o.Drop {
		if h1.EqualFold(name, d) {
			return true
		}
	}
	return false
}

// Removes reports whether the field with this lower-case name is removed (or replaced by a Set):
// for the fields gatehouse writes itself.
func (o *HeaderOps) Removes(lower string) bool { return slices.Contains(o.Drop, lower) }

// AppendSet appends the Set fields as header lines.
func (o *HeaderOps) AppendSet(dst []byte) []byte {
	for i := range o.Set {
		dst = append(dst, o.Set[i].Name...)
		dst = append(dst, ": "...)
		dst = append(dst, o.Set[i].Value...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

// Route is one compiled route.
type Route struct {
	Name      string
	NameBytes []byte
	// Hosts are lower-case host names without port; empty matches any host.
	Hosts []string
	// Prefix is the path prefix.
	Prefix string
	// Pool is where requests go; nil when Fixed is set.
	Pool *upstream.Pool
	// Fixed is the prebuilt answer of a respond route.
	Fixed *Fixed
	// Host says what Host the backend receives; HostValue is the literal one.
	Host      HostMode
	HostValue string
	// MaxBody is the largest request body accepted, in bytes.
	MaxBody int64
	// Request and Response change the header fields.
	Request  HeaderOps
	Response HeaderOps

	order int
}

// Fixed is a prebuilt response: Head holds the status line and fields without the final CRLF and
// without Connection, so that the engine can add that.
type Fixed struct {
	Status int
	Head   []byte
	Body   []byte
}

// NewFixed builds a fixed response. Headers are written in sorted order.
func NewFixed(status int, body string, headers map[string]string) *Fixed {
	var b []byte
	b = AppendStatusLine(b, status)
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.EqualFold(n, "content-length") {
			continue
		}
		b = append(b, n...)
		b = append(b, ": "...)
		b = append(b, headers[n]...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	return &Fixed{Status: status, Head: b, Body: []byte(body)}
}

// AppendStatusLine appends "HTTP/1.1 NNN Reason\r\n".
func AppendStatusLine(b []byte, status int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, StatusText(status)...)
	return append(b, "\r\n"...)
}

// Table is an immutable set of routes in precedence order: routes naming hosts before routes for any
// host, then longer path prefixes first, then the order in the config file.
type Table struct {
	routes []*Route
}

// NewTable orders routes by precedence.
func NewTable(routes []*Route) *Table {
	rs := make([]*Route, len(routes))
	for i, r := range routes {
		r.order = i
		rs[i] = r
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if (len(a.Hosts) > 0) != (len(b.Hosts) > 0) {
			return len(a.Hosts) > 0
		}
		if len(a.Prefix) != len(b.Prefix) {
			return len(a.Prefix) > len(b.Prefix)
		}
		return a.order < b.order
	})
	return &Table{routes: rs}
}

// Routes returns the routes in precedence order.
func (t *Table) Routes() []*Route { return t.routes }

// Match returns the route for a request's host (any port is ignored) and target, or nil.
func (t *Table) Match(host, target []byte) *Route {
	host = stripPort(host)
	if n := len(host); n > 1 && host[n-1] == '.' {
		host = host[:n-1] // "example.com." is the fully qualified spelling of "example.com"
	}
	path := target
	if len(path) == 0 || path[0] != '/' {
		// "*" (OPTIONS), or an absolute-form target without a path ("http://h?q"): the root.
		path = rootPath
	}
	for _, r := range t.routes {
		if len(r.Hosts) > 0 && !matchHost(r.Hosts, host) {
			continue
		}
		if len(path) >= len(r.Prefix) && string(path[:len(r.Prefix)]) == r.Prefix {
			return r
		}
	}
	return nil
}

var rootPath = []byte("/")

func matchHost(hosts []string, host []byte) bool {
	for _, h := range hosts {
		if h1.EqualFold(host, h) {
			return true
		}
	}
	return false
}

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
