// Package explain answers "where does this request go, and why?" for a config: every route in the
// order gatehouse tries it with the condition that failed, what the chosen route does to the
// request, and which backends could take it now. It backs the `gatehouse explain` command.
package explain

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/balance"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/gateway"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/service"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// Query is the request to explain.
type Query struct {
	Method  string
	URL     string   // "http://host/path?q" or "/path?q" (then the Host comes from Headers)
	Headers []string // "Name: value"
	From    string   // the client's IP; default 127.0.0.1
	// Live, when set, is the admin address of a running gatehouse whose backend health is used for
	// "could be chosen now"; "" leaves live state out.
	Live string
	// Client fetches the live state; default a client with a 2 s timeout.
	Client *http.Client
}

// Run explains q against the config and writes the explanation to w.
func Run(w io.Writer, cfg *config.Config, q Query) error {
	raw, err := rawRequest(q)
	if err != nil {
		return err
	}
	var req h1.Request
	req.Fields = make([]h1.Field, 0, 16)
	lim := h1.Limits{MaxRequestLine: 64 << 10, MaxHeaderBytes: 256 << 10, MaxHeaderCount: 1000}
	if err := h1.ParseRequest(raw, &req, &lim); err != nil {
		return fmt.Errorf("the request is not one gatehouse accepts: %w", err)
	}
	if req.HeadLen == 0 {
		return errors.New("the request is incomplete")
	}
	from := q.From
	if from == "" {
		from = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(from)
	if err != nil {
		return fmt.Errorf("--from %q is not an IP address", from)
	}
	wd := watchdog.New(time.Second, time.Now)
	defer wd.Close()
	graph, err := gateway.CompileOffline(cfg, wd, time.Now)
	if err != nil {
		return err
	}
	defer graph.Close()
	rr := &router.Request{Method: req.Method, Host: req.Host, Target: req.Path, Fields: req.Fields, ClientIP: ip}
	verdicts := graph.Table.Explain(rr)

	fmt.Fprintf(w, "%s %s from %s\n", req.Method, displayURL(&req), ip)
	if p := rr.RawPath(); string(p) != string(rr.NormalizedPath()) && len(p) > 0 {
		fmt.Fprintf(w, "path %q is matched as %q\n", p, rr.NormalizedPath())
	}
	fmt.Fprintf(w, "\nRoutes, in the order gatehouse tries them:\n")
	var winner *router.Route
	var then []string
	width := 0
	for _, v := range verdicts {
		width = max(width, len(v.Route.Name))
	}
	for _, v := range verdicts {
		mark, why := "  no ", v.Why
		switch {
		case v.Winner:
			mark, why = "  YES", "matches: chosen"
			winner, then = v.Route, v.Then
		case v.Matched:
			mark = "  (yes)"
		}
		fmt.Fprintf(w, "%-7s %-*s  %s\n", mark, width, v.Route.Name, why)
	}
	if winner == nil {
		fmt.Fprintf(w, "\nNo route matches: gatehouse answers 404 Not Found.\n")
		return nil
	}
	fmt.Fprintf(w, "\nRoute %q:\n", winner.Name)
	for _, line := range then {
		fmt.Fprintf(w, "  %s\n", line)
	}
	if winner.Service == nil {
		return nil
	}
	live, liveErr := fetchLive(q)
	return describeService(w, winner.Service, &req, rr, live, liveErr, q.Live)
}

// rawRequest writes the query as an HTTP/1.1 request head.
func rawRequest(q Query) ([]byte, error) {
	method := q.Method
	if method == "" {
		method = "GET"
	}
	target, host := q.URL, ""
	if strings.Contains(q.URL, "://") {
		u, err := url.Parse(q.URL)
		if err != nil {
			return nil, fmt.Errorf("invalid URL %q: %w", q.URL, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("invalid URL %q: use http:// or https://", q.URL)
		}
		host = u.Host
		target = u.RequestURI()
	} else if !strings.HasPrefix(target, "/") && target != "*" {
		return nil, fmt.Errorf("invalid URL %q: write http://host/path or /path", q.URL)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	hasHost := false
	for _, h := range q.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return nil, fmt.Errorf("header %q: write it as 'Name: value'", h)
		}
		if strings.EqualFold(strings.TrimSpace(name), "host") {
			hasHost = true
		}
		fmt.Fprintf(&b, "%s: %s\r\n", strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if !hasHost {
		if host == "" {
			host = "localhost"
		}
		fmt.Fprintf(&b, "Host: %s\r\n", host)
	}
	b.WriteString("\r\n")
	return []byte(b.String()), nil
}

func displayURL(req *h1.Request) string {
	return "http://" + string(req.Host) + string(req.Path)
}

// liveBackend is what the admin API says of a backend.
type liveBackend struct {
	Address      string     `json:"address"`
	Available    bool       `json:"available"`
	ActiveUp     bool       `json:"active_check_up"`
	EjectedUntil *time.Time `json:"ejected_until"`
	InFlight     int64      `json:"in_flight"`
}

type liveUpstream struct {
	Name     string        `json:"name"`
	Backends []liveBackend `json:"backends"`
}

// fetchLive reads /api/upstreams of a running gatehouse.
func fetchLive(q Query) (map[string]map[string]liveBackend, error) {
	if q.Live == "" {
		return nil, nil
	}
	cl := q.Client
	if cl == nil {
		cl = &http.Client{Timeout: 2 * time.Second}
	}
	resp, err := cl.Get("http://" + q.Live + "/api/upstreams")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	var ups []liveUpstream
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&ups); err != nil {
		return nil, err
	}
	out := map[string]map[string]liveBackend{}
	for _, u := range ups {
		m := map[string]liveBackend{}
		for _, b := range u.Backends {
			m[b.Address] = b
		}
		out[u.Name] = m
	}
	return out, nil
}

// describeService lists the service's backends and which could take the request now.
func describeService(w io.Writer, svc *service.Service, req *h1.Request, rr *router.Request,
	live map[string]map[string]liveBackend, liveErr error, liveAddr string) error {
	bs := svc.Backends()
	fmt.Fprintf(w, "\nUpstream %q: %s over %d backend(s)\n", svc.Name, svc.Pool.Policy(), len(bs))
	now := time.Now()
	switch {
	case liveAddr == "":
		fmt.Fprintf(w, "  health: not asked (--live off, or the config has no admin listener)\n")
	case liveErr != nil:
		fmt.Fprintf(w, "  health: not known: no running gatehouse answered at %s (%v); every backend is assumed up\n", liveAddr, liveErr)
	default:
		fmt.Fprintf(w, "  health: as the gatehouse running at %s sees it now\n", liveAddr)
		state := live[svc.Name]
		for _, be := range bs {
			lb, ok := state[be.Addr]
			if !ok {
				continue
			}
			be.State.SetActive(lb.ActiveUp, now.UnixNano())
			if lb.EjectedUntil != nil && lb.EjectedUntil.After(now) {
				be.State.Eject(lb.EjectedUntil.UnixNano())
			}
		}
	}
	ns := now.UnixNano()
	primaryUp := false
	for _, be := range bs {
		primaryUp = primaryUp || !be.Backup && be.State.Available(ns)
	}
	for _, be := range bs {
		fmt.Fprintf(w, "  %-24s weight %-4d %s\n", be.Addr, be.Weight, backendNote(be, ns, primaryUp))
	}
	pick := balance.Request{ClientIP: rr.ClientIP}
	switch kind, name := svc.Pool.HashKey(); kind {
	case balance.KeyHeader:
		pick.Key = req.Header(name)
	case balance.KeyCookie:
		pick.Key = req.Cookie(name)
	case balance.KeyPath:
		pick.Key = rr.NormalizedPath()
	}
	if name := svc.Pool.StickyCookie(); name != "" {
		pick.Sticky = req.Cookie(name)
	}
	be, outcome := svc.Pool.Pick(&pick)
	switch {
	case be == nil:
		fmt.Fprintf(w, "  no backend can take it now (%s): gatehouse answers 503\n", outcome)
	case svc.Pool.Policy() == "consistent_hash" || pick.Sticky != nil && svc.Pool.StickyFor(&pick, be):
		fmt.Fprintf(w, "  this request goes to %s\n", be.Addr)
	default:
		fmt.Fprintf(w, "  the balancer picks one of the backends marked 'can be chosen' per request\n")
	}
	if svc.Retry.Attempts > 0 {
		fmt.Fprintf(w, "  on failure: up to %d retries on other backends (idempotent requests; connect failures always move on)\n", svc.Retry.Attempts)
	}
	return nil
}

func backendNote(be *upstream.Backend, now int64, primaryUp bool) string {
	switch {
	case !be.State.ActiveUp():
		return "down (active health check)"
	case be.State.Ejected(now):
		return "ejected until " + time.Unix(0, be.State.EjectedUntil()).Format(time.TimeOnly)
	case be.Backup && primaryUp:
		return "backup: only when every primary is unavailable"
	case be.Backup:
		return "backup, can be chosen (no primary is available)"
	}
	return "can be chosen"
}
