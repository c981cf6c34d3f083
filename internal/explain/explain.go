// Package explain answers "where does this request go, and why?" for a config: a one-line answer,
// then every route in the order gatehouse tries it with the condition that failed, what the chosen
// route does to the request, the upstream's policies, and which backends could take the request
// now (with the health a running gatehouse reports) and why the others cannot. It backs the
// `gatehouse explain` command.
package explain

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/gateway"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// Query is the request to explain, and where to ask for live state.
type Query struct {
	// Method is the request method. Default GET.
	Method string
	// URL is "http://host[:port]/path?query" (or https://), or "/path?query", whose Host then
	// comes from Headers (default "localhost").
	URL string
	// Headers are the request's header fields, each written "Name: value".
	Headers []string
	// From is the client's IP address, as the TCP peer gatehouse sees ("10.1.2.3"; a port, as in
	// "10.1.2.3:5000", is ignored). Default 127.0.0.1.
	From string
	// Live is the admin address (host:port) of a running gatehouse whose backend state
	// (/api/upstreams) tells which backends can take the request now; "" leaves live state out
	// and every backend is taken as up.
	Live string
	// Client fetches the live state. Default: a client with a 2 s timeout.
	Client *http.Client
	// Now is the time health, ejections and slow starts are judged at. Default time.Now.
	Now func() time.Time
}

// Run explains q against cfg (a loaded, validated config) and writes the explanation to w. It
// returns an error only when the request cannot be explained: a malformed URL, header or --from,
// or a config that does not compile (a route that does not compile, a backend name that does not
// resolve). A request gatehouse would refuse is explained.
func Run(w io.Writer, cfg *config.Config, q Query) error {
	if q.Now == nil {
		q.Now = time.Now
	}
	if q.Method == "" {
		q.Method = "GET"
	}
	raw, https, err := rawRequest(q)
	if err != nil {
		return err
	}
	ip, err := clientIP(q.From)
	if err != nil {
		return err
	}
	opts, err := gateway.EngineOptions(cfg)
	if err != nil {
		return err
	}
	var req h1.Request
	req.Fields = make([]h1.Field, 0, 16)
	if err := h1.ParseRequest(raw, &req, &opts.Limits); err != nil {
		var he *h1.Error
		if errors.As(err, &he) {
			fmt.Fprintf(w, "%s %s from %s\n→ refused before routing: %d %s (%s)\n", q.Method, q.URL, ip,
				he.Status, router.StatusText(he.Status), he.Reason)
			return nil
		}
		return fmt.Errorf("the request is not one gatehouse accepts: %w", err)
	}
	if req.HeadLen == 0 {
		return errors.New("the request is incomplete")
	}
	wd := watchdog.New(time.Second, q.Now)
	defer wd.Close()
	graph, err := gateway.CompileOffline(cfg, wd, q.Now)
	if err != nil {
		return err
	}
	defer graph.Close()
	rr := &router.Request{Method: req.Method, Host: req.Host, Target: req.Path, Fields: req.Fields, ClientIP: ip, TLS: https}
	verdicts := graph.Table.Explain(rr)

	var win *router.Verdict
	for i := range verdicts {
		if verdicts[i].Winner {
			win = &verdicts[i]
		}
	}
	var up *upstreamReport
	if win != nil && win.Route.Service != nil {
		svc := win.Route.Service
		up = analyse(svc, cfg.Upstream(svc.Name), &req, rr, q)
	}

	fmt.Fprintf(w, "%s %s from %s\n", req.Method, requestURL(rr), ip)
	fmt.Fprintf(w, "→ %s\n", summary(win, up, rr))
	if p := rr.RawPath(); len(p) > 0 && string(p) != string(rr.NormalizedPath()) {
		fmt.Fprintf(w, "  (routes match the path %q as %q)\n", p, rr.NormalizedPath())
	}

	writeRoutes(w, verdicts, win)
	if up != nil {
		up.write(w)
	}
	return nil
}

// writeRoutes prints every route's verdict, then what the chosen route does.
func writeRoutes(w io.Writer, verdicts []router.Verdict, win *router.Verdict) {
	fmt.Fprintf(w, "\nRoutes, in the order gatehouse tries them:\n")
	width := 0
	for _, v := range verdicts {
		width = max(width, len(v.Route.Name))
	}
	for _, v := range verdicts {
		mark, why := "no ", v.Why
		switch {
		case v.Winner:
			mark, why = "YES", "matches: chosen"
		case v.Matched:
			mark = "yes"
		}
		fmt.Fprintf(w, "  %s  %-*s  %s\n", mark, width, v.Route.Name, why)
	}
	if len(verdicts) == 0 {
		fmt.Fprintf(w, "  (the config has no routes)\n")
	}
	if win == nil {
		fmt.Fprintf(w, "\nNo route matches: gatehouse answers 404 Not Found.\n")
		return
	}
	fmt.Fprintf(w, "\nRoute %q:\n", win.Route.Name)
	for _, line := range win.Then {
		if strings.HasPrefix(line, "path ") && strings.Contains(line, " is read as ") {
			continue // said under the answer line
		}
		fmt.Fprintf(w, "  %s\n", line)
	}
}

// summary is the one-line answer: where the request ends up.
func summary(win *router.Verdict, up *upstreamReport, rr *router.Request) string {
	if win == nil {
		return "no route matches: 404 Not Found"
	}
	rt := win.Route
	name := fmt.Sprintf("route %q", rt.Name)
	switch {
	case rt.Fixed != nil:
		return fmt.Sprintf("%s: gatehouse answers %d %s itself", name, rt.Fixed.Status, router.StatusText(rt.Fixed.Status))
	case rt.Redirect != nil:
		loc := string(rt.Redirect.AppendLocation(nil, rr))
		s := fmt.Sprintf("%s: redirect %d to %s", name, rt.Redirect.Status, loc)
		if loc == requestURL(rr) {
			s += " (the URL asked for: the client would loop)"
		}
		return s
	case up == nil:
		return name
	}
	sep := " "
	if strings.HasPrefix(up.summary, ":") {
		sep = ""
	}
	return fmt.Sprintf("%s → upstream %q%s%s", name, up.svc.Name, sep, up.summary)
}

// requestURL is the URL the request asks for, as a redirect location would write it.
func requestURL(rr *router.Request) string {
	scheme := "http://"
	if rr.TLS {
		scheme = "https://"
	}
	return scheme + string(rr.Host) + string(rr.Target)
}

// rawRequest writes the query as an HTTP/1.1 request head, and reports whether the URL is https.
func rawRequest(q Query) (raw []byte, https bool, err error) {
	method := q.Method
	if method == "" {
		method = "GET"
	}
	if strings.ContainsAny(method, " \t\r\n") {
		return nil, false, fmt.Errorf("invalid method %q", method)
	}
	target, host := q.URL, ""
	if strings.Contains(q.URL, "://") {
		u, err := url.Parse(q.URL)
		if err != nil {
			return nil, false, fmt.Errorf("invalid URL %q: %w", q.URL, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, false, fmt.Errorf("invalid URL %q: use http:// or https://", q.URL)
		}
		if u.User != nil {
			return nil, false, fmt.Errorf("invalid URL %q: leave out the user info", q.URL)
		}
		host, https = u.Host, u.Scheme == "https"
		target = u.RequestURI()
		if u.ForceQuery && !strings.Contains(target, "?") {
			target += "?"
		}
	} else if !strings.HasPrefix(target, "/") && target != "*" {
		return nil, false, fmt.Errorf("invalid URL %q: write http://host/path or /path", q.URL)
	}
	if strings.ContainsAny(target, " \t\r\n") {
		return nil, false, fmt.Errorf("invalid URL %q: escape spaces and line breaks (%%20)", q.URL)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	hasHost := false
	for _, h := range q.Headers {
		name, value, ok := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, false, fmt.Errorf("header %q: write it as 'Name: value'", h)
		}
		if strings.ContainsAny(h, "\r\n") {
			return nil, false, fmt.Errorf("header %q: a header is one line", h)
		}
		if strings.EqualFold(name, "host") {
			if hasHost {
				return nil, false, fmt.Errorf("header %q: give Host once", h)
			}
			hasHost = true
		}
		fmt.Fprintf(&b, "%s: %s\r\n", name, value)
	}
	if !hasHost {
		if host == "" {
			host = "localhost"
		}
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	b.WriteString("\r\n")
	return []byte(b.String()), https, nil
}

// clientIP parses --from: an IP address, or an address with a port; default 127.0.0.1.
func clientIP(from string) (netip.Addr, error) {
	if from == "" {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	if ip, err := netip.ParseAddr(from); err == nil {
		return ip.Unmap(), nil
	}
	if ap, err := netip.ParseAddrPort(from); err == nil {
		return ap.Addr().Unmap(), nil
	}
	return netip.Addr{}, fmt.Errorf("--from %q is not an IP address (write one such as 10.1.2.3 or 2001:db8::1)", from)
}
