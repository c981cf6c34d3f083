package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/service"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// compileRoutes builds the routing table of a validated config over its services.
func (g *Gateway) compileRoutes(c *config.Config, services map[string]*service.Service) (*router.Table, error) {
	routes := make([]*router.Route, 0, len(c.Routes))
	var errs config.Errors
	for i := range c.Routes {
		rt, err := g.route(&c.Routes[i], services)
		if err == nil {
			err = rt.Compile()
		}
		if err != nil {
			errs = append(errs, routeErrors(c, i, err)...)
			continue
		}
		routes = append(routes, rt)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	t := router.NewTable(routes)
	if err := t.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// routeErrors turns a route's compile error into config errors that name the file, line and field.
func routeErrors(c *config.Config, i int, err error) config.Errors {
	base := fmt.Sprintf("routes[%d]", i)
	var out config.Errors
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *router.FieldError
		if errors.As(err, &fe) {
			// The path names the field: the message need not say it again.
			msg := fe.Err.Error()
			if fe.Value != "" {
				msg = fmt.Sprintf("%q: %v", fe.Value, fe.Err)
			}
			out = append(out, c.ErrorAt(base+"."+fe.Field, msg))
			return
		}
		out = append(out, c.ErrorAt(base, err.Error()))
	}
	walk(err)
	return out
}

// route compiles one route of the config.
func (g *Gateway) route(r *config.Route, services map[string]*service.Service) (*router.Route, error) {
	m := &r.Match
	rt := &router.Route{
		Name:              r.Name,
		NameBytes:         []byte(r.Name),
		Hosts:             slices.Clone(m.Hosts),
		Path:              m.Path,
		Prefix:            m.PathPrefix,
		PathRegex:         m.PathRegex,
		Methods:           slices.Clone(m.Methods),
		Headers:           fieldMatches(m.Headers),
		Query:             fieldMatches(m.Query),
		MaxBody:           int64(r.MaxBodySize),
		RequireClientCert: r.RequireClientCert,
		Request:           ops(r.RequestHeaders),
		Response:          ops(r.ResponseHeaders),
	}
	if rt.Prefix == config.DefaultPathPrefix && rt.Path == "" && rt.PathRegex == "" {
		rt.Prefix = "" // "/" matches every path: no path condition, for precedence
	}
	for i, s := range m.ClientCIDRs {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, &router.FieldError{Field: fmt.Sprintf("match.client_cidrs[%d]", i), Value: s,
				Err: errors.New("not an address or address range; write one such as 10.0.0.0/8 or 192.0.2.7")}
		}
		rt.ClientCIDRs = append(rt.ClientCIDRs, p)
	}
	switch r.UpstreamHost {
	case "", "pass":
		rt.Host = router.HostPass
	case "backend":
		rt.Host = router.HostBackend
	default:
		rt.Host, rt.HostValue = router.HostLiteral, r.UpstreamHost
	}
	if w := r.Rewrite; w != nil {
		rt.Rewrite = &router.Rewrite{
			NormalizedPath: w.NormalizedPath, Regex: w.Regex, Replacement: w.Replacement,
			StripPrefix: w.StripPrefix, AddPrefix: w.AddPrefix,
		}
	}
	switch {
	case r.Respond != nil:
		rt.Fixed = router.NewFixed(r.Respond.Status, r.Respond.Body, r.Respond.Headers)
	case r.Redirect != nil:
		d := r.Redirect
		rt.Redirect = &router.Redirect{Status: d.Status, Scheme: d.Scheme, Host: d.Host, Port: d.Port, Path: d.Path, StripQuery: d.StripQuery}
	default:
		rt.Service = services[r.Upstream]
		if rt.Service == nil {
			return nil, &router.FieldError{Field: "upstream", Value: r.Upstream, Err: errors.New("no upstream has this name")}
		}
	}
	if g.metrics != nil {
		rt.Metrics = g.metrics.Route(r.Name)
	}
	return rt, nil
}

func fieldMatches(fs []config.FieldMatch) []router.FieldMatch {
	var out []router.FieldMatch
	for _, f := range fs {
		out = append(out, router.FieldMatch{Name: f.Name, Value: f.Value, Regex: f.Regex, Absent: f.Present != nil && !*f.Present})
	}
	return out
}

func ops(h config.HeaderOps) router.HeaderOps {
	var o router.HeaderOps
	for _, n := range h.Remove {
		o.Drop = append(o.Drop, strings.ToLower(n))
	}
	for _, n := range sortedKeys(h.Set) {
		o.Drop = append(o.Drop, strings.ToLower(n))
		o.Set = append(o.Set, router.Header{Name: n, Value: h.Set[n]})
	}
	for _, n := range sortedKeys(h.Add) {
		o.Add = append(o.Add, router.Header{Name: n, Value: h.Add[n]})
	}
	return o
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// RouteBackends maps each route's name to the backends it may forward to (nil for a route that
// answers itself), for the metrics to forget what is gone.
func (gr *Graph) RouteBackends() map[string][]*upstream.Backend {
	out := map[string][]*upstream.Backend{}
	for _, rt := range gr.Table.Routes() {
		if rt.Service != nil {
			out[rt.Name] = rt.Service.Backends()
		} else {
			out[rt.Name] = nil
		}
	}
	return out
}

// ServiceNames lists the services' names.
func (gr *Graph) ServiceNames() []string {
	names := make([]string, 0, len(gr.Services))
	for n := range gr.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Check compiles the routes of a validated config without starting anything (no DNS, no health
// checks), to find the problems that only compiling shows. `gatehouse validate` runs it.
func Check(c *config.Config) error {
	services := map[string]*service.Service{}
	for _, u := range c.Upstreams {
		services[u.Name] = &service.Service{Name: u.Name}
	}
	g := &Gateway{}
	_, err := g.compileRoutes(c, services)
	return err
}
