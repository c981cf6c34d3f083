package app

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/gateway"
	"github.com/gatehouse-proxy/gatehouse/internal/metrics"
)

// ErrNoConfigFile is Reload's error when gatehouse runs a config that did not come from a file.
var ErrNoConfigFile = errors.New("there is no config file to reload: gatehouse runs the embedded default or a command-line config")

// Reload reads the config file again and, when it is valid, swaps its routes and upstreams in:
// requests in flight and open tunnels go on undisturbed, and backends whose settings did not
// change keep their connections and health. An invalid config is refused, with every problem in
// the error, and the running one keeps serving. source says what asked ("SIGHUP", "file change",
// "admin API"), for the log.
func (a *App) Reload(source string) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	err := a.reload()
	now := time.Now()
	st := ReloadStatus{Time: now, OK: err == nil, Source: source}
	if err != nil {
		st.Error = err.Error()
		a.opts.Logf("reload (%s) refused, the running config keeps serving: %v", source, err)
	} else {
		a.opts.Logf("reload (%s): config %s applied", source, a.opts.Path)
	}
	a.metrics.Reload(err == nil, now)
	a.mu.Lock()
	a.last = st
	a.mu.Unlock()
	return err
}

func (a *App) reload() error {
	if a.opts.Path == "" {
		return ErrNoConfigFile
	}
	cfg, err := config.Load(a.opts.Path)
	if err != nil {
		return err
	}
	a.mu.Lock()
	old := a.cfg
	a.mu.Unlock()
	// The static sections are read at start only: the running ones stay, so that nothing of a
	// changed one takes effect halfway (a new connect timeout would rebuild every backend and drop
	// its pooled connections) and /api/config shows what runs.
	changed := staticChanges(old, cfg)
	keepStatic(cfg, old)
	eo, err := gateway.EngineOptions(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", a.opts.Path, err)
	}
	graph, err := a.gw.Apply(cfg)
	if err != nil {
		var ce config.Errors
		if errors.As(err, &ce) {
			return err // they name the file and line already
		}
		return fmt.Errorf("%s: %w", a.opts.Path, err)
	}
	a.handler.SetForwarded(eo.Forwarded, eo.Trusted)
	a.handler.SetTable(graph.Table)
	a.mu.Lock()
	a.cfg, a.graph = cfg, graph
	a.mu.Unlock()
	if len(changed) > 0 {
		a.opts.Logf("reload: %s changed; these are read at start only: restart gatehouse to apply them", strings.Join(changed, ", "))
	}
	a.metrics.Retain(graph.RouteBackends(), graph.ServiceNames())
	return nil
}

// keepStatic copies the sections that a reload does not apply from the running config old into
// the new config cfg.
func keepStatic(cfg, old *config.Config) {
	cfg.Listeners, cfg.Admin, cfg.Server, cfg.AccessLog, cfg.ACME = old.Listeners, old.Admin, old.Server, old.AccessLog, old.ACME
}

// staticChanges names the sections of the static config that differ between two configs.
func staticChanges(old, cur *config.Config) []string {
	var out []string
	for _, s := range []struct {
		name string
		a, b any
	}{
		{"listeners", old.Listeners, cur.Listeners},
		{"admin", old.Admin, cur.Admin},
		{"server", old.Server, cur.Server},
		{"access_log", old.AccessLog, cur.AccessLog},
		{"acme", old.ACME, cur.ACME},
	} {
		if !reflect.DeepEqual(s.a, s.b) {
			out = append(out, s.name)
		}
	}
	return out
}

// watchFile reloads the config when the file's content changes. It polls: that works on every
// file system, for editors that replace the file and for ConfigMaps that swap a symlink.
func (a *App) watchFile() {
	defer a.done.Done()
	sum := func() ([32]byte, bool) {
		b, err := os.ReadFile(a.opts.Path)
		if err != nil {
			return [32]byte{}, false
		}
		return sha256.Sum256(b), true
	}
	last, _ := sum()
	t := time.NewTicker(a.opts.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
		}
		cur, ok := sum()
		if !ok || bytes.Equal(cur[:], last[:]) {
			continue
		}
		last = cur
		a.Reload("file change")
	}
}

// LastReload is the outcome of the last reload attempt; its Time is zero before the first.
func (a *App) LastReload() ReloadStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// backendsForMetrics lists the running services' backends, for the per-backend gauges.
func (a *App) backendsForMetrics() []metrics.PoolBackends {
	var out []metrics.PoolBackends
	for _, s := range a.gw.Services() {
		out = append(out, metrics.PoolBackends{Pool: s.Name, Backends: s.Backends()})
	}
	return out
}
