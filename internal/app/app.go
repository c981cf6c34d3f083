// Package app assembles a running gatehouse from a config: listeners, engine, gateway (routes,
// services, health, discovery), access log, metrics, admin listener and watchdog; reloads the
// dynamic config; and takes it all down again. cmd/gatehouse only parses the command line and
// calls it.
package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/internal/acme"
	"github.com/gatehouse-proxy/gatehouse/internal/admin"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/gateway"
	"github.com/gatehouse-proxy/gatehouse/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/internal/reqid"
	"github.com/gatehouse-proxy/gatehouse/internal/server"
	"github.com/gatehouse-proxy/gatehouse/internal/tlsterm"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// Options say how an App runs beyond its config.
type Options struct {
	// Path is the config file, re-read on Reload; "" when the config did not come from a file
	// (the embedded default, or the proxy command): Reload then refuses.
	Path string
	// WatchInterval is how often the config file is checked for changes; 0 turns watching off.
	WatchInterval time.Duration
	// Logf receives operational messages (reloads, backends going down, accept errors).
	Logf func(string, ...any)
}

// App is a running gatehouse.
type App struct {
	opts    Options
	wd      *watchdog.Watchdog
	gw      *gateway.Gateway
	metrics *metrics.Registry
	handler *proxy.Handler
	srv     *server.Server
	admin   *admin.Server
	log     *accesslog.Logger
	logC    io.Closer
	terms   []*tlsterm.Terminator // certificate stores of TLS listeners
	acme    *acme.Manager         // automatic certificates; nil without an acme section
	stop    chan struct{}
	done    sync.WaitGroup

	shutOnce sync.Once  // Shutdown runs once; later calls return its result
	shutErr  error      // what the first Shutdown returned
	reloadMu sync.Mutex // serialises reloads
	mu       sync.Mutex
	cfg      *config.Config // the running config
	graph    *gateway.Graph
	last     ReloadStatus
	draining bool
}

// ReloadStatus is the outcome of the last reload attempt.
type ReloadStatus struct {
	Time   time.Time `json:"time"`
	OK     bool      `json:"ok"`
	Error  string    `json:"error,omitempty"`
	Source string    `json:"source,omitempty"` // what asked: signal, file change, admin API
}

// Start opens the listeners of a validated config and starts serving.
func Start(cfg *config.Config, o Options) (*App, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	opts, err := gateway.EngineOptions(cfg)
	if err != nil {
		return nil, err
	}
	a := &App{opts: o, cfg: cfg, stop: make(chan struct{}), metrics: metrics.NewRegistry()}
	shortest := gateway.Shortest(opts)
	for _, u := range cfg.Upstreams {
		if pt := time.Duration(u.Retry.PerTryTimeout); pt > 0 {
			shortest = min(shortest, pt)
		}
	}
	a.wd = watchdog.New(watchdog.TickFor(shortest), time.Now)
	fail := func(err error) (*App, error) {
		a.release()
		return nil, err
	}
	if a.gw, err = gateway.New(gateway.Options{Watchdog: a.wd, Clock: time.Now, Logf: o.Logf, Metrics: a.metrics}); err != nil {
		return fail(err)
	}
	if a.graph, err = a.gw.Apply(cfg); err != nil {
		return fail(err)
	}
	if a.log, a.logC, err = accesslog.Open(cfg.AccessLog.Output); err != nil {
		return fail(err)
	}
	ids, err := reqid.New()
	if err != nil {
		return fail(err)
	}
	opts.Log, opts.IDs, opts.Watchdog, opts.Clock, opts.Errorf, opts.Metrics = a.log, ids, a.wd, time.Now, o.Logf, a.metrics
	a.handler = proxy.New(opts, a.graph.Table)
	a.metrics.SetSources(metrics.Sources{ClientConns: a.handler.Active, Backends: a.backendsForMetrics, Clock: time.Now})
	a.metrics.ConfigLoaded(time.Now())
	if cfg.Admin.Address != "off" {
		a.admin, err = admin.Start(admin.Options{
			Addr: cfg.Admin.Address, Pprof: cfg.Admin.Pprof, Metrics: a.metrics.Handler(),
			Controller: (*controller)(a), Logf: o.Logf,
		})
		if err != nil {
			return fail(fmt.Errorf("admin listener: %w", err))
		}
	}
	if a.acme, err = startACME(cfg.ACME, o.Logf); err != nil {
		if a.admin != nil {
			a.admin.Shutdown(context.Background())
		}
		return fail(err)
	}
	if a.srv, err = a.serveListeners(cfg, a.handler); err != nil {
		if a.admin != nil {
			a.admin.Shutdown(context.Background())
		}
		return fail(err)
	}
	a.srv.Start()
	if a.acme != nil {
		a.done.Add(1)
		go a.obtainCertificates()
	}
	a.done.Add(1)
	go a.reap()
	if o.Path != "" && o.WatchInterval > 0 {
		a.done.Add(1)
		go a.watchFile()
	}
	return a, nil
}

// reap closes pooled connections past their idle timeout, so that an idle pool holds no stale sockets.
func (a *App) reap() {
	defer a.done.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.gw.Reap()
		}
	}
}

// Addrs returns the addresses listened on.
func (a *App) Addrs() []net.Addr { return a.srv.Addrs() }

// AdminAddr returns the admin listener's address, or nil when it is off.
func (a *App) AdminAddr() net.Addr {
	if a.admin == nil {
		return nil
	}
	return a.admin.Addr()
}

// Active is the number of open client connections.
func (a *App) Active() int { return a.handler.Active() }

// Shutdown stops accepting, lets in-flight requests finish within the config's drain timeout (or
// until ctx ends), then closes everything. Calling it again waits for nothing and returns the
// first call's result.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutOnce.Do(func() { a.shutErr = a.shutdown(ctx) })
	return a.shutErr
}

func (a *App) shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.draining = true
	drain := time.Duration(a.cfg.Server.Timeouts.ShutdownDrain)
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, drain)
	defer cancel()
	err := a.srv.Shutdown(ctx)
	close(a.stop)
	a.done.Wait()
	if a.admin != nil {
		actx, acancel := context.WithTimeout(context.Background(), time.Second)
		a.admin.Shutdown(actx)
		acancel()
	}
	a.release()
	if err != nil {
		return fmt.Errorf("shutdown: drain timeout passed with requests in flight: %w", err)
	}
	return nil
}

func (a *App) release() {
	if a.acme != nil {
		a.acme.Stop()
	}
	for _, t := range a.terms {
		t.Close()
	}
	if a.gw != nil {
		a.gw.Close()
	}
	if a.logC != nil {
		a.logC.Close()
	}
	if a.wd != nil {
		a.wd.Close()
	}
}
