package acme

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// Storage keeps certificates, keys, the ACME account and the locks that let several instances
// share it. The default is a directory (certmagic.FileStorage); a fleet shares one Redis or
// etcd implementation.
type Storage = certmagic.Storage

// ErrPending is wrapped by Start's error when a name has no certificate yet: its first attempt
// failed (or was not over when Start's context ended) and it is being retried in the
// background. The Manager is usable; the error is for the log.
var ErrPending = errors.New("acme: certificates pending")

// maxDerived bounds the configs kept per certificate lifetime (see Manager.withRenewal).
const maxDerived = 32

// challengeLookupTimeout bounds a look-up of another instance's challenge in the storage.
const challengeLookupTimeout = 5 * time.Second

// Manager obtains, renews and serves the certificates of a Config. Build one with New, call
// Start once, and Stop at the end. Its methods are safe for concurrent use.
type Manager struct {
	set      settings
	storage  Storage
	logf     func(string, ...any)
	cache    *certmagic.Cache
	managed  *certmagic.Config // for set.names
	onDemand *certmagic.Config // for names set.onDemand allows; nil without OnDemand
	issuer   *certmagic.ACMEIssuer

	ctx    context.Context // ends at Stop: background obtaining and retries
	cancel context.CancelFunc
	once   sync.Once

	logMu   sync.RWMutex // held for reading while logging, so that no line is logged after Stop
	stopped bool

	mu      sync.Mutex
	started bool
	derived map[derivedKey]*certmagic.Config
	waiting map[string]error // names Start waits for → nil until their first outcome
	pending int              // names in waiting without an outcome
	settled chan struct{}    // closed when pending reaches 0
}

// derivedKey names a copy of a certmagic config whose renewal ratio fits one lifetime.
type derivedKey struct {
	base     *certmagic.Config
	lifetime time.Duration
}

// New returns a Manager for cfg that keeps its assets in storage (nil: a directory, see
// Config.StorageDir). logf receives certmagic's log lines (info and above); it may be nil. New
// checks cfg and contacts nothing: Start begins the work.
func New(cfg Config, storage Storage, logf func(string, ...any)) (*Manager, error) {
	set, err := cfg.settings(storage == nil)
	if err != nil {
		return nil, err
	}
	if storage == nil {
		storage = &certmagic.FileStorage{Path: set.storageDir}
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		set:     set,
		storage: storage,
		logf:    logf,
		ctx:     ctx,
		cancel:  cancel,
		derived: make(map[derivedKey]*certmagic.Config),
	}
	zl := zap.New(newLogCore(m.log))
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   m.configForCert,
		RenewCheckInterval: set.renewCheck,
		Logger:             zl,
	})
	m.managed, m.issuer = m.newConfig(nil, zl)
	if set.onDemand != nil {
		allow := set.onDemand
		m.onDemand, _ = m.newConfig(&certmagic.OnDemandConfig{
			DecisionFunc: func(_ context.Context, name string) error {
				if !allow.allows(normalize(name)) {
					return fmt.Errorf("acme: %s is not allowed on demand", name)
				}
				return nil
			},
		}, zl)
	}
	return m, nil
}

// newConfig returns a certmagic config on m's cache with its own ACME issuer.
func (m *Manager) newConfig(od *certmagic.OnDemandConfig, zl *zap.Logger) (*certmagic.Config, *certmagic.ACMEIssuer) {
	cmc := certmagic.New(m.cache, certmagic.Config{
		RenewalWindowRatio: certmagic.DefaultRenewalWindowRatio,
		OnDemand:           od,
		Storage:            m.storage,
		Logger:             zl,
		OnEvent:            m.onEvent,
		ShouldEmitFunc:     wantEvent,
	})
	iss := certmagic.NewACMEIssuer(cmc, certmagic.ACMEIssuer{
		CA:                      m.set.directory,
		Email:                   m.set.email,
		Agreed:                  true,
		DisableHTTPChallenge:    !m.set.http01,
		DisableTLSALPNChallenge: !m.set.tlsALPN01,
		AltHTTPPort:             m.set.httpPort,
		AltTLSALPNPort:          m.set.tlsPort,
		TrustedRoots:            m.set.roots,
		Logger:                  zl,
	})
	cmc.Issuers = []certmagic.Issuer{iss}
	return cmc, iss
}

// Start checks that the storage works, then obtains the certificates of Config.Names (or loads
// them from the storage, renewing those due) and returns when every name has its certificate
// or has failed once, or when ctx ends. Failed names are retried in the background with
// backoff until Stop; the error then wraps ErrPending and says which names and why. Any other
// error means the storage is unusable and nothing was started. Start the listeners that answer
// the challenges (see HTTPChallenge, GetCertificate) first; call Start once.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	started := m.started
	m.started = true
	m.mu.Unlock()
	if started {
		return errors.New("acme: already started")
	}
	if err := m.checkStorage(ctx); err != nil {
		return err
	}
	names := m.set.names
	if len(names) == 0 {
		return nil
	}
	settled := m.expect(names)
	if err := m.managed.ManageAsync(m.ctx, names); err != nil {
		return fmt.Errorf("acme: %w", err)
	}
	select {
	case <-settled:
	case <-ctx.Done():
	case <-m.ctx.Done():
	}
	return m.outcome(ctx)
}

// CheckStorage tells whether the storage can keep certificates (Start checks it too): for a
// caller that wants to refuse to start rather than log that certificates cannot be kept.
func (m *Manager) CheckStorage(ctx context.Context) error { return m.checkStorage(ctx) }

// checkStorage writes, reads back and deletes a probe key, so that a storage that cannot keep
// what an issuance costs is found before any order.
func (m *Manager) checkStorage(ctx context.Context) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	key := "gatehouse_probe_" + hex.EncodeToString(b[:])
	want := []byte("gatehouse storage probe")
	if err := m.storage.Store(ctx, key, want); err != nil {
		return fmt.Errorf("acme: storage unusable: %w", err)
	}
	got, err := m.storage.Load(ctx, key)
	if derr := m.storage.Delete(ctx, key); err == nil && derr != nil {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("acme: storage unusable: %w", err)
	}
	if string(got) != string(want) {
		return errors.New("acme: storage unusable: it returned other bytes than were stored")
	}
	return nil
}

// expect registers the names Start waits for, before any event about them can come.
func (m *Manager) expect(names []string) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.waiting = make(map[string]error, len(names))
	for _, n := range names {
		m.waiting[n] = nil
	}
	m.pending = len(names)
	m.settled = make(chan struct{})
	return m.settled
}

// errNone marks a name whose certificate is in the cache.
var errNone = errors.New("ok")

// settle records the first outcome of a name Start waits for (err nil: it has a certificate).
func (m *Manager) settle(name string, err error) {
	if err == nil {
		err = errNone
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev, ok := m.waiting[name]; !ok || prev != nil {
		return
	}
	m.waiting[name] = err
	m.pending--
	if m.pending == 0 {
		close(m.settled)
	}
}

// outcome is Start's result once waiting is over.
func (m *Manager) outcome(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var failed []string
	var errs []error
	for name, err := range m.waiting {
		switch {
		case err == errNone:
			continue
		case err == nil && ctx.Err() != nil:
			err = fmt.Errorf("%s: not done: %w", name, context.Cause(ctx))
		case err == nil:
			err = fmt.Errorf("%s: not done: manager stopped", name)
		default:
			err = fmt.Errorf("%s: %w", name, err)
		}
		failed = append(failed, name)
		errs = append(errs, err)
	}
	m.waiting = nil
	if len(failed) == 0 {
		return nil
	}
	sort.Strings(failed)
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return fmt.Errorf("%w for %s (retrying in the background): %w", ErrPending, strings.Join(failed, ", "), errors.Join(errs...))
}

// wantEvent says which certmagic events onEvent uses, so that the others (one per handshake)
// cost nothing.
func wantEvent(event string) bool {
	return event == "cached_managed_cert" || event == "cert_failed"
}

// onEvent receives certmagic's events: a certificate in the cache, or a failed attempt.
func (m *Manager) onEvent(_ context.Context, event string, data map[string]any) error {
	switch event {
	case "cached_managed_cert":
		sans, _ := data["sans"].([]string)
		for _, n := range sans {
			m.settle(n, nil)
		}
	case "cert_failed":
		name, _ := data["identifier"].(string)
		err, _ := data["error"].(error)
		if err == nil {
			err = errors.New("certificate not obtained")
		}
		m.settle(name, err)
	}
	return nil
}

// configForCert is the cache's GetConfigForCert: the config that renews cert.
func (m *Manager) configForCert(cert certmagic.Certificate) (*certmagic.Config, error) {
	base := m.managed
	if m.onDemand != nil && !slices.ContainsFunc(cert.Names, m.isManaged) {
		base = m.onDemand
	}
	return m.withRenewal(base, cert.Lifetime()), nil
}

// isManaged reports whether name is one of Config.Names.
func (m *Manager) isManaged(name string) bool {
	return slices.Contains(m.set.names, normalize(name))
}

// withRenewal returns base, or with RenewBefore set a copy of it whose renewal ratio (the
// fraction of the lifetime left when renewal starts, certmagic's measure) turns RenewBefore
// into that ratio for certificates of the given lifetime.
func (m *Manager) withRenewal(base *certmagic.Config, lifetime time.Duration) *certmagic.Config {
	if m.set.renewBefore <= 0 || lifetime <= 0 {
		return base
	}
	key := derivedKey{base, lifetime}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.derived[key]; ok {
		return c
	}
	if len(m.derived) >= maxDerived {
		clear(m.derived)
	}
	c := *base
	c.RenewalWindowRatio = renewalRatio(m.set.renewBefore, lifetime)
	m.derived[key] = &c
	return &c
}

// maxRenewalRatio caps the renewal ratio: a certificate is renewed once half its lifetime is
// left at the latest, never sooner. Without it, a RenewBefore at or past the lifetime (30 days
// with the CA's 6-day certificates) would renew at every check, and soon meet the CA's rate
// limits.
const maxRenewalRatio = 0.5

// renewalRatio turns RenewBefore into certmagic's renewal ratio for certificates of lifetime.
func renewalRatio(before, lifetime time.Duration) float64 {
	return min(maxRenewalRatio, float64(before)/float64(lifetime))
}

// configFor returns the config that serves the normalized name, or nil when the Manager does
// not serve it.
func (m *Manager) configFor(name string) *certmagic.Config {
	if name == "" {
		return nil
	}
	if slices.Contains(m.set.names, name) {
		return m.managed
	}
	if m.onDemand != nil && m.set.onDemand.allows(name) {
		return m.onDemand
	}
	return nil
}

// GetCertificate is for a TLS listener's hook: for a name the Manager serves (one of
// Config.Names or allowed on demand) it returns the certificate, obtaining it first on demand,
// or the TLS-ALPN-01 challenge certificate when the client offers only ALPNProto; an error
// when it serves the name but has no certificate for it (not obtained yet, or issuance
// failed). For any other name, or no name, it returns nil, nil and does nothing else.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normalize(hello.ServerName)
	cmc := m.configFor(name)
	if cmc == nil {
		return nil, nil
	}
	if cmc == m.onDemand && m.set.renewBefore > 0 {
		if certs := m.cache.AllMatchingCertificates(name); len(certs) > 0 {
			cmc = m.withRenewal(cmc, certs[0].Lifetime())
		}
	}
	if hello.Conn == nil { // certmagic logs the peer's address
		h := *hello
		h.Conn = noConn{}
		hello = &h
	}
	cert, err := cmc.GetCertificate(hello)
	if err != nil {
		return nil, fmt.Errorf("acme: %s: %w", name, err)
	}
	return cert, nil
}

// TLSALPNProtos returns the protocols to add to a TLS listener's NextProtos for the
// TLS-ALPN-01 challenge: [ALPNProto], or none when that challenge is not used.
func (m *Manager) TLSALPNProtos() []string {
	if !m.set.tlsALPN01 {
		return nil
	}
	return []string{ALPNProto}
}

// Stop ends background work: renewals, retries, on-demand issuance in progress. A certificate
// already obtained stays in the storage for the next Manager. Stop may be called more than once.
func (m *Manager) Stop() {
	m.once.Do(func() {
		m.cancel()
		m.cache.Stop()
		m.logMu.Lock()
		m.stopped = true
		m.logMu.Unlock()
	})
}

// log passes a line to logf unless the Manager is stopped.
func (m *Manager) log(line string) {
	m.logMu.RLock()
	defer m.logMu.RUnlock()
	if !m.stopped {
		m.logf("acme: %s", line)
	}
}

// noConn stands for the connection of a ClientHelloInfo built without one (a test's, a
// caller's look-up): certmagic reads the peer's address for its log lines.
type noConn struct{ net.Conn }

// LocalAddr returns 0.0.0.0:0.
func (noConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }

// RemoteAddr returns 0.0.0.0:0.
func (noConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }
