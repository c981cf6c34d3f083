package app

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-proxy/gatehouse/internal/admin"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// controller is the App as the admin API sees it.
type controller App

var _ admin.Controller = (*controller)(nil)

// Config is the running config as a JSON-ready tree in the YAML's own field names, with secrets
// redacted.
func (c *controller) Config() any {
	a := (*App)(c)
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	return configTree(cfg)
}

// configTree turns a config into maps and lists keyed by the YAML field names.
func configTree(cfg *config.Config) any {
	red := *cfg
	red.Upstreams = make([]config.Upstream, len(cfg.Upstreams))
	for i, u := range cfg.Upstreams {
		if u.Sticky != nil && u.Sticky.Secret != "" {
			s := *u.Sticky
			s.Secret = "(redacted)"
			u.Sticky = &s
		}
		red.Upstreams[i] = u
	}
	b, err := yaml.Marshal(&red)
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	var tree map[string]any
	if err := yaml.Unmarshal(b, &tree); err != nil {
		return map[string]string{"error": err.Error()}
	}
	tree["source"] = cfg.Source
	return tree
}

// upstreamView is one service in /api/upstreams.
type upstreamView struct {
	Name     string        `json:"name"`
	Backends []backendView `json:"backends"`
}

type backendView struct {
	Address      string     `json:"address"`
	Weight       int        `json:"weight"`
	Backup       bool       `json:"backup"`
	Available    bool       `json:"available"`
	ActiveUp     bool       `json:"active_check_up"`
	EjectedUntil *time.Time `json:"ejected_until,omitempty"`
	InFlight     int64      `json:"in_flight"`
	LatencyMS    float64    `json:"latency_ewma_ms"`
	Open         int64      `json:"open_connections"`
	Idle         int        `json:"idle_connections"`
	LastCheck    *time.Time `json:"last_check,omitempty"`
	LastError    string     `json:"last_check_error,omitempty"`
}

// Upstreams is every service's backends and their state.
func (c *controller) Upstreams() any {
	a := (*App)(c)
	now := time.Now()
	ns := now.UnixNano()
	out := []upstreamView{}
	for _, s := range a.gw.Services() {
		checks := map[string]checkView{}
		if s.Checker != nil {
			for _, st := range s.Checker.Status() {
				checks[st.Addr] = checkView{at: st.LastCheck, err: st.LastError}
			}
		}
		v := upstreamView{Name: s.Name}
		for _, be := range s.Backends() {
			bv := backendView{
				Address: be.Addr, Weight: be.Weight, Backup: be.Backup,
				Available: be.State.Available(ns), ActiveUp: be.State.ActiveUp(),
				InFlight: be.State.InFlight(), LatencyMS: float64(be.State.Latency(ns)) / 1e6,
				Open: be.Open(), Idle: be.Idle(),
			}
			if be.State.Ejected(ns) {
				t := time.Unix(0, be.State.EjectedUntil())
				bv.EjectedUntil = &t
			}
			if ch, ok := checks[be.Addr]; ok && !ch.at.IsZero() {
				at := ch.at
				bv.LastCheck, bv.LastError = &at, ch.err
			}
			v.Backends = append(v.Backends, bv)
		}
		out = append(out, v)
	}
	return out
}

type checkView struct {
	at  time.Time
	err string
}

// Reload reloads the config file.
func (c *controller) Reload() error { return (*App)(c).Reload("admin API") }

// LastReload is the last reload attempt.
func (c *controller) LastReload() any { return (*App)(c).LastReload() }

// Ready reports whether gatehouse serves and is not shutting down.
func (c *controller) Ready() bool {
	a := (*App)(c)
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.draining
}
