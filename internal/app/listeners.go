package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/acme"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/internal/server"
	"github.com/gatehouse-proxy/gatehouse/internal/tlsterm"
)

// certReloadInterval is how often TLS listeners look for changed certificate files.
const certReloadInterval = 2 * time.Second

// listenerSetup is what serving one listener takes beyond its socket.
type listenerSetup struct {
	ep   *proxy.Endpoint
	term *tlsterm.Terminator // nil for a plain listener
}

// setupListener builds the endpoint (and the TLS terminator) of a listener's config.
func setupListener(l *config.Listener, am *acme.Manager, logf func(string, ...any)) (*listenerSetup, error) {
	ep := proxy.Endpoint{
		RedirectHTTPS: l.RedirectToHTTPS, HTTPSPort: l.HTTPSPort,
		H2:   l.TLS != nil && slices.Contains(l.Protocols, "h2"),
		H2C:  l.TLS == nil && slices.Contains(l.Protocols, "h2c"),
		NoH1: len(l.Protocols) > 0 && !slices.Contains(l.Protocols, "h1"),
	}
	if am != nil && l.TLS == nil {
		ep.ACMEChallenge = am.HTTPChallenge
	}
	st := &listenerSetup{}
	if t := l.TLS; t != nil {
		o := tlsterm.Options{
			SessionTickets: t.SessionTickets == nil || *t.SessionTickets,
			ReloadInterval: certReloadInterval,
			Logf:           logf,
		}
		var err error
		if o.MinVersion, err = tlsterm.ParseMinVersion(t.MinVersion); err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		for _, c := range t.Certificates {
			o.Certificates = append(o.Certificates, tlsterm.CertFiles{CertFile: c.CertFile, KeyFile: c.KeyFile})
		}
		if o.CipherSuites, err = tlsterm.ParseCipherSuites(t.CipherSuites); err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		o.NextProtos = alpn(l.Protocols)
		if t.ACME && am != nil {
			o.GetCertificate = am.GetCertificate
			o.NextProtos = append(o.NextProtos, am.TLSALPNProtos()...)
		}
		if ca := t.ClientAuth; ca != nil {
			o.ClientCAFile = ca.CAFile
			if o.ClientAuth, err = tlsterm.ParseClientAuthMode(ca.Mode); err != nil {
				return nil, fmt.Errorf("listener %s: %w", l.Name, err)
			}
		}
		term, err := tlsterm.New(o)
		if err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		st.term = term
		ep.TLS = true
		if h := t.HSTS; h != nil {
			ep.HSTS = proxy.HSTSValue(int64(time.Duration(h.MaxAge)/time.Second), h.IncludeSubdomains, h.Preload)
		}
	}
	var err error
	if st.ep, err = proxy.NewEndpoint(ep); err != nil {
		if st.term != nil {
			st.term.Close()
		}
		return nil, fmt.Errorf("listener %s: %w", l.Name, err)
	}
	return st, nil
}

// alpn lists the ALPN protocols a TLS listener offers for its protocols, HTTP/2 first.
func alpn(protocols []string) []string {
	var out []string
	if slices.Contains(protocols, "h2") {
		out = append(out, "h2")
	}
	if slices.Contains(protocols, "h1") || len(protocols) == 0 {
		out = append(out, "http/1.1")
	}
	return out
}

// serveListeners opens the listeners of cfg with their TLS and endpoint settings.
func (a *App) serveListeners(cfg *config.Config, h *proxy.Handler) (*server.Server, error) {
	setups := make([]*listenerSetup, len(cfg.Listeners))
	for i := range cfg.Listeners {
		st, err := setupListener(&cfg.Listeners[i], a.acme, a.opts.Logf)
		if err != nil {
			return nil, err
		}
		setups[i] = st
		if st.term != nil {
			a.terms = append(a.terms, st.term)
		}
	}
	addrs := make([]string, len(cfg.Listeners))
	for i, l := range cfg.Listeners {
		addrs[i] = l.Address
	}
	lns, err := server.Listen(addrs)
	if err != nil {
		return nil, err
	}
	for i, st := range setups {
		if st.term != nil {
			lns[i] = tls.NewListener(lns[i], st.term.Config())
		}
	}
	srv := server.New(h, lns, cfg.Server.MaxConnections, a.opts.Logf)
	for i, st := range setups {
		ep := st.ep
		srv.ServeWith(i, func(nc net.Conn) { h.ServeConnOn(nc, ep) })
	}
	return srv, nil
}

// startACME makes the certificate manager of the config's acme section (nil without one).
func startACME(c *config.ACME, logf func(string, ...any)) (*acme.Manager, error) {
	if c == nil {
		return nil, nil
	}
	ac := acme.Config{
		Email: c.Email, Directory: c.Directory, CARoot: c.CARoot, StorageDir: c.StorageDir,
		Names: c.Names, Challenges: c.Challenges, RenewBefore: time.Duration(c.RenewBefore),
		HTTPPort: c.HTTPPort, TLSALPNPort: c.TLSALPNPort,
	}
	if c.OnDemand != nil {
		ac.OnDemand = &acme.OnDemand{Allow: c.OnDemand.Allow}
	}
	m, err := acme.New(ac, nil, logf)
	if err != nil {
		return nil, err
	}
	// A storage that cannot keep certificates is a reason not to start, not a log line.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.CheckStorage(ctx); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// acmeStartTimeout bounds the wait for the first attempt at every certificate at start; the
// manager goes on retrying in the background after it.
const acmeStartTimeout = 2 * time.Minute

// obtainCertificates runs the ACME manager's first round in the background, once the listeners
// answer challenges.
func (a *App) obtainCertificates() {
	defer a.done.Done()
	ctx, cancel := context.WithTimeout(context.Background(), acmeStartTimeout)
	defer cancel()
	go func() {
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := a.acme.Start(ctx); err != nil {
		a.opts.Logf("%v", err) // the manager's errors start with "acme: "
	}
}
