package router

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// Verdict is what Table.Explain says about one route.
type Verdict struct {
	// Route is the route this verdict is about.
	Route *Route
	// Matched is set when every condition of the route holds for the request.
	Matched bool
	// Winner is set on the route Match returns: the first route in the list that matched.
	Winner bool
	// Why is empty for the winner. For a route that did not match it names the first condition
	// that failed, in words (`path "/x" does not start with "/api"`); for a route that matched
	// after the winner it names the winner; for a route NewTable left out it starts "disabled: ".
	Why string
	// Then is set for the winner only: what gatehouse will do with the request, one line each
	// (the action and the target sent or the redirect location, the Host sent, each header change).
	Then []string
}

// Explain tells, route by route, how Match decides for a request: first the routes Match tries
// for it, in the order it tries them (see Table for the precedence), then the routes it does not
// try because their hosts do not match, in the order of Routes, then the routes NewTable left out.
// Every route of the table is listed once. It is for people (the explain command), not for the
// request path: it allocates.
func (t *Table) Explain(r *Request) []Verdict {
	r.prepare()
	cands := t.candidates(r)
	var winner *Route
	out := make([]Verdict, 0, len(t.routes)+len(t.disabled))
	for _, rt := range cands {
		v := Verdict{Route: rt}
		f := rt.check(r)
		v.Matched = f.kind == condNone
		switch {
		case v.Matched && winner == nil:
			winner, v.Winner, v.Then = rt, true, rt.outcome(r)
		case v.Matched:
			v.Why = fmt.Sprintf("matches, but route %q comes first", winner.Name)
		default:
			v.Why = rt.why(r, f)
		}
		out = append(out, v)
	}
	for _, rt := range t.routes {
		if !slices.Contains(cands, rt) {
			out = append(out, Verdict{Route: rt, Why: rt.why(r, failure{kind: condHost})})
		}
	}
	for _, rt := range t.disabled {
		msg := strings.ReplaceAll(rt.err.Error(), "\n", "; ")
		out = append(out, Verdict{Route: rt, Why: "disabled: " + msg})
	}
	return out
}

// why puts a failed condition in words.
func (rt *Route) why(r *Request, f failure) string {
	c := rt.c
	switch f.kind {
	case condHost:
		hosts := make([]string, len(c.hosts))
		for i, h := range c.hosts {
			hosts[i] = h.String()
		}
		if len(r.host) == 0 {
			return "the request has no host; the route wants " + joinOr(hosts)
		}
		return fmt.Sprintf("host %q is not %s", r.host, joinOr(hosts))
	case condPath:
		path := strconv.Quote(string(r.norm))
		if len(r.path) > 0 && string(r.path) != string(r.norm) {
			path += fmt.Sprintf(" (sent as %q)", r.path)
		}
		switch c.pathKind {
		case pathExact:
			return fmt.Sprintf("path %s is not %q", path, rt.Path)
		case pathPrefix:
			return fmt.Sprintf("path %s does not start with %q", path, rt.Prefix)
		}
		return fmt.Sprintf("path %s does not match regex %s", path, quoteRegex(rt.PathRegex))
	case condMethod:
		return fmt.Sprintf("method %s is not %s", r.Method, strings.Join(rt.Methods, ", "))
	case condHeader:
		m := &c.headers[f.i]
		var vals []string
		for i := range r.Fields {
			if fl := &r.Fields[i]; h1.EqualFold(fl.Name, m.name) {
				vals = append(vals, string(fl.Value))
			}
		}
		return "header " + m.shown + ": " + m.whyValues(vals)
	case condQuery:
		m := &c.query[f.i]
		var vals []string
		for q := r.query; len(q) > 0; {
			var name, value []byte
			name, value, q = NextParam(q)
			if string(name) == m.name {
				vals = append(vals, string(value))
			}
		}
		return "query " + m.shown + ": " + m.whyValues(vals)
	case condClient:
		cidrs := make([]string, len(c.cidrs))
		for i, p := range c.cidrs {
			cidrs[i] = p.String()
		}
		if !r.ClientIP.IsValid() {
			return "the client's address is unknown; the route wants " + joinOr(cidrs)
		}
		return fmt.Sprintf("client %s is not in %s", r.ClientIP.Unmap(), joinOr(cidrs))
	}
	return ""
}

// whyValues says why the values a field was sent with fail the matcher.
func (m *fieldMatcher) whyValues(vals []string) string {
	if m.op == opAbsent {
		return "sent, but the route wants it absent"
	}
	if len(vals) == 0 {
		switch m.op {
		case opEqual:
			return fmt.Sprintf("missing (the route wants %q)", m.value)
		case opRegex:
			return fmt.Sprintf("missing (the route wants a match for %s)", quoteRegex(m.value))
		}
		return "missing"
	}
	quoted := make([]string, len(vals))
	for i, v := range vals {
		quoted[i] = strconv.Quote(v)
	}
	list := strings.Join(quoted, ", ")
	switch {
	case m.op == opEqual && len(vals) == 1:
		return fmt.Sprintf("%s is not %q", list, m.value)
	case m.op == opEqual:
		return fmt.Sprintf("%s are not %q", list, m.value)
	case len(vals) == 1:
		return fmt.Sprintf("%s does not match %s", list, quoteRegex(m.value))
	}
	return fmt.Sprintf("%s do not match %s", list, quoteRegex(m.value))
}

// outcome says what happens to a request this route won.
func (rt *Route) outcome(r *Request) []string {
	var lines []string
	if len(r.path) > 0 && string(r.path) != string(r.norm) {
		lines = append(lines, fmt.Sprintf("path %q is read as %q", r.path, r.norm))
	}
	switch {
	case rt.Fixed != nil:
		body := "no body"
		if n := len(rt.Fixed.Body); n > 0 {
			body = fmt.Sprintf("a %d-byte body", n)
		}
		lines = append(lines, fmt.Sprintf("respond %d %s with %s", rt.Fixed.Status, StatusText(rt.Fixed.Status), body))
	case rt.Redirect != nil:
		loc := rt.Redirect.AppendLocation(nil, r)
		lines = append(lines, fmt.Sprintf("redirect %d %s to %s", rt.Redirect.Status, StatusText(rt.Redirect.Status), loc))
	default:
		to := "forward (the route has no upstream)"
		if rt.Service != nil {
			to = fmt.Sprintf("forward to upstream %q", rt.Service.Name)
		}
		target := rt.AppendTarget(nil, r)
		line := fmt.Sprintf("%s as %s %s", to, r.Method, target)
		if sent := (&Route{}).AppendTarget(nil, r); string(sent) != string(target) {
			line += fmt.Sprintf(" (rewritten from %s)", sent)
		}
		lines = append(lines, line)
		switch {
		case rt.Host == HostLiteral:
			lines = append(lines, "Host: "+rt.HostValue)
		case rt.Host == HostBackend:
			lines = append(lines, "Host: the backend's address")
		case len(r.Host) == 0:
			lines = append(lines, "Host: the backend's address (the request has none)")
		default:
			lines = append(lines, fmt.Sprintf("Host: %s (the client's)", r.Host))
		}
		lines = appendOps(lines, "request", &rt.Request)
	}
	return appendOps(lines, "response", &rt.Response)
}

// appendOps describes header changes: removals (names in Drop that no Set replaces), then Set, then
// Add.
func appendOps(lines []string, kind string, o *HeaderOps) []string {
	for _, d := range o.Drop {
		if !slices.ContainsFunc(o.Set, func(h Header) bool { return strings.EqualFold(h.Name, d) }) {
			lines = append(lines, fmt.Sprintf("%s header %s: removed", kind, d))
		}
	}
	for _, h := range o.Set {
		lines = append(lines, fmt.Sprintf("%s header %s: set to %q", kind, h.Name, h.Value))
	}
	for _, h := range o.Add {
		lines = append(lines, fmt.Sprintf("%s header %s: added %q", kind, h.Name, h.Value))
	}
	return lines
}

// quoteRegex quotes a regular expression as Go source does, in backquotes when it can, so that its
// backslashes read as written.
func quoteRegex(s string) string {
	if strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// joinOr joins "a", "a or b", "a, b or c".
func joinOr(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
