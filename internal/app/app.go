// Package app assembles a running gatehouse from a config: listeners, engine, pools, access log,
// watchdog; and takes it down again. cmd/gatehouse only parses the command line and calls it.
package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/gateway"
	"github.com/gatehouse-proxy/gatehouse/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/internal/reqid"
	"github.com/gatehouse-proxy/gatehouse/internal/server"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// App is a running gatehouse.
type App struct {
	cfg     *config.Config
	wd      *watchdog.Watchdog
	graph   *gateway.Graph
	handler *proxy.Handler
	srv     *server.Server
	log     *accesslog.Logger
	logC    io.Closer
	stop    chan struct{}
	reaped  chan struct{}
}

// Start opens the listeners of a validated config and starts serving. errorf receives operational
// messages (a backend that misbehaves, accept errors).
func Start(cfg *config.Config, errorf func(string, ...any)) (*App, error) {
	opts, err := gateway.Options(cfg)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, stop: make(chan struct{}), reaped: make(chan struct{})}
	a.wd = watchdog.New(watchdog.TickFor(gateway.Shortest(opts)), time.Now)
	fail := func(err error) (*App, error) {
		a.release()
		return nil, err
	}
	if a.graph, err = gateway.Compile(cfg, a.wd, time.Now); err != nil {
		return fail(err)
	}
	if a.log, a.logC, err = accesslog.Open(cfg.AccessLog.Output); err != nil {
		return fail(err)
	}
	ids, err := reqid.New()
	if err != nil {
		return fail(err)
	}
	opts.Log, opts.IDs, opts.Watchdog, opts.Clock, opts.Errorf = a.log, ids, a.wd, time.Now, errorf
	a.handler = proxy.New(opts, a.graph.Table)
	addrs := make([]string, len(cfg.Listeners))
	for i, l := range cfg.Listeners {
		addrs[i] = l.Address
	}
	lns, err := server.Listen(addrs)
	if err != nil {
		return fail(err)
	}
	a.srv = server.New(a.handler, lns, cfg.Server.MaxConnections, errorf)
	a.srv.Start()
	go a.reap()
	return a, nil
}

// reap closes pooled connections past their idle timeout, so that an idle pool holds no stale sockets.
func (a *App) reap() {
	defer close(a.reaped)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.graph.Reap()
		}
	}
}

// Addrs returns the addresses listened on.
func (a *App) Addrs() []net.Addr { return a.srv.Addrs() }

// Active is the number of open client connections.
func (a *App) Active() int { return a.handler.Active() }

// Shutdown stops accepting, lets in-flight requests finish within the config's drain timeout (or
// until ctx ends), then closes everything.
func (a *App) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(a.cfg.Server.Timeouts.ShutdownDrain))
	defer cancel()
	err := a.srv.Shutdown(ctx)
	close(a.stop)
	<-a.reaped
	a.release()
	if err != nil {
		return fmt.Errorf("shutdown: drain timeout passed with requests in flight: %w", err)
	}
	return nil
}

func (a *App) release() {
	if a.graph != nil {
		a.graph.Close()
	}
	if a.logC != nil {
		a.logC.Close()
	}
	if a.wd != nil {
		a.wd.Close()
	}
}
