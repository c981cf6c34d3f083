package router

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Table is an immutable set of compiled routes, indexed by host.
//
// Precedence: for a request, Match tries the routes in this order and returns the first whose
// every condition holds.
//
//  1. Routes that name the request's host exactly (port, case and a trailing dot ignored).
//  2. Routes that name it by a wildcard, the longest suffix first: *.api.example.com before
//     *.example.com.
//  3. Routes for any host (no hosts).
//
// A route that lists several hosts takes its place by the host that matched. Within each of these
// groups:
//
//  1. exact path (path) first, then path prefix (path_prefix), the longest first, then regular
//     expression (path_regex), then routes without a path condition, among them those with the
//     prefix "/" (which every path has);
//  2. then routes with more of the other conditions first, counting a methods list as one, each
//     header and each query condition as one, and a client_cidrs list as one;
//  3. then the order in the config file.
//
// Paths are matched in their normal form (see AppendNormalized) and case-sensitively.
type Table struct {
	routes   []*Route            // the compiled routes, in precedence order (see order)
	exact    map[string][]*Route // by lower-case host
	wild     map[string][]*Route // by wildcard suffix ("example.com" for *.example.com)
	any      []*Route            // routes without hosts
	disabled []*Route            // routes that did not compile
	err      error
}

// NewTable compiles the routes that are not compiled yet (Route.Compile) and indexes them. A route
// that does not compile is left out, so that one bad route does not take the others down: Err
// reports it and Explain lists it. Routes are shared, not copied: do not change them afterwards.
func NewTable(routes []*Route) *Table {
	t := &Table{exact: map[string][]*Route{}, wild: map[string][]*Route{}}
	order := map[*Route]int{}
	var errs []error
	for i, rt := range routes {
		if err := rt.Compile(); err != nil {
			t.disabled = append(t.disabled, rt)
			errs = append(errs, fmt.Errorf("route %q: %w", rt.Name, err))
			continue
		}
		if _, dup := order[rt]; dup {
			continue
		}
		order[rt] = i
		t.routes = append(t.routes, rt)
		if len(rt.c.hosts) == 0 {
			t.any = append(t.any, rt)
		}
		for _, h := range rt.c.hosts {
			m := t.exact
			if h.wildcard {
				m = t.wild
			}
			if !slices.Contains(m[h.name], rt) {
				m[h.name] = append(m[h.name], rt)
			}
		}
	}
	t.err = errors.Join(errs...)
	within := func(a, b *Route) int {
		return cmp.Or(
			cmp.Compare(a.c.pathKind, b.c.pathKind),
			cmp.Compare(pathLen(b), pathLen(a)),
			cmp.Compare(b.c.conds, a.c.conds),
			cmp.Compare(order[a], order[b]),
		)
	}
	for _, m := range []map[string][]*Route{t.exact, t.wild} {
		for _, rs := range m {
			slices.SortFunc(rs, within)
		}
	}
	slices.SortFunc(t.any, within)
	slices.SortFunc(t.routes, func(a, b *Route) int {
		ka, la := hostRank(a)
		kb, lb := hostRank(b)
		return cmp.Or(cmp.Compare(ka, kb), cmp.Compare(lb, la), within(a, b))
	})
	return t
}

// hostRank places a route in the table's static order: 0 when it names a host exactly, 1 when it
// names only wildcards (with the length of its longest suffix), 2 when it is for any host.
func hostRank(rt *Route) (rank, suffix int) {
	if len(rt.c.hosts) == 0 {
		return 2, 0
	}
	rank = 1
	for _, h := range rt.c.hosts {
		if !h.wildcard {
			return 0, 0
		}
		suffix = max(suffix, len(h.name))
	}
	return rank, suffix
}

func pathLen(rt *Route) int {
	switch rt.c.pathKind {
	case pathExact:
		return len(rt.Path)
	case pathPrefix:
		return len(rt.Prefix)
	}
	return 0
}

// Routes returns the compiled routes in precedence order: routes naming a host exactly, then those
// naming only wildcards (longest suffix first), then those for any host, each group ordered as
// Match orders routes within a group. The order in which Match tries routes for one request is
// Explain's.
func (t *Table) Routes() []*Route { return t.routes }

// Err joins the errors of the routes NewTable left out because they did not compile; nil when
// every route compiled.
func (t *Table) Err() error { return t.err }

// Match returns the route for a request, or nil when none matches (the caller answers 404). It
// derives the request's normalised path and host first (see Request); it does not allocate once
// the request's scratch space has grown.
func (t *Table) Match(r *Request) *Route {
	r.prepare()
	if rs, ok := t.exact[string(r.host)]; ok {
		if rt := firstMatch(rs, r); rt != nil {
			return rt
		}
	}
	if len(t.wild) > 0 {
		h := r.host
		for i := 1; i < len(h); i++ { // the longest suffix first
			if h[i] != '.' {
				continue
			}
			if rs, ok := t.wild[string(h[i+1:])]; ok {
				if rt := firstMatch(rs, r); rt != nil {
					return rt
				}
			}
		}
	}
	return firstMatch(t.any, r)
}

func firstMatch(rs []*Route, r *Request) *Route {
	for _, rt := range rs {
		if rt.check(r).kind == condNone {
			return rt
		}
	}
	return nil
}

// candidates returns the routes Match tries for a prepared request, in the order it tries them,
// each once.
func (t *Table) candidates(r *Request) []*Route {
	var out []*Route
	add := func(rs []*Route) {
		for _, rt := range rs {
			if !slices.Contains(out, rt) {
				out = append(out, rt)
			}
		}
	}
	add(t.exact[string(r.host)])
	h := r.host
	for i := 1; i < len(h); i++ {
		if h[i] == '.' {
			add(t.wild[string(h[i+1:])])
		}
	}
	add(t.any)
	return out
}
