// Package tlsterm terminates TLS for gatehouse's listeners: it loads certificate chains and keys
// from PEM files, picks one per handshake by SNI, reloads the files when they change without a
// restart, and asks clients for certificates (mutual TLS) when told to.
//
// A Terminator builds one *tls.Config (Config) to hand to tls.NewListener or tls.Server. The
// certificates it serves are held in an immutable set behind an atomic pointer: a handshake reads
// the pointer and looks a name up in maps of pre-parsed certificates, and Reload builds a new set
// from the files and swaps the pointer. A set that fails to load is never swapped in: the old one
// keeps serving.
//
// Choosing a certificate for a ClientHello:
//  1. Options.GetCertificate (for ACME-managed names), when set; a nil certificate falls through.
//  2. The exact server name, compared case-insensitively, a trailing dot ignored.
//  3. A wildcard: *.example.com covers a.example.com, not a.b.example.com nor example.com, as
//     certificate verification does.
//  4. With no server name (a client that connects by IP address): the certificate whose IP
//     address SAN is the connection's local address.
//  5. The default certificate: the first of Options.Certificates.
//
// When two certificates name the same host, the one listed first serves it.
//
// Session resumption (Options.SessionTickets) uses crypto/tls's automatic ticket keys: the
// shared Config makes a new random key every 24 hours and accepts tickets sealed by keys up to
// 7 days old, so a stolen key exposes at most a week of sessions and no key survives a restart.
// Keys are per process; a fleet that wants resumption across machines needs shared keys, which
// this package does not set.
package tlsterm

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ClientAuthMode is whether a listener asks clients for certificates.
type ClientAuthMode int

const (
	// ClientAuthNone asks for no client certificate (the default).
	ClientAuthNone ClientAuthMode = iota
	// ClientAuthRequest asks for a certificate and verifies one that is sent against the client
	// CA bundle; a client that sends none is accepted, one that sends a bad one is refused.
	ClientAuthRequest
	// ClientAuthRequire refuses a handshake without a client certificate that verifies against
	// the client CA bundle.
	ClientAuthRequire
)

// String is the mode's configuration name: "none", "request" or "require".
func (m ClientAuthMode) String() string {
	switch m {
	case ClientAuthNone:
		return "none"
	case ClientAuthRequest:
		return "request"
	case ClientAuthRequire:
		return "require"
	}
	return fmt.Sprintf("ClientAuthMode(%d)", int(m))
}

func (m ClientAuthMode) tls() tls.ClientAuthType {
	switch m {
	case ClientAuthRequest:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}

// CertFiles is a certificate chain and its private key, both PEM files.
type CertFiles struct {
	// CertFile is the PEM certificate chain, leaf first. Required.
	CertFile string
	// KeyFile is the PEM private key of the leaf (PKCS#8, SEC 1 EC or PKCS#1 RSA, unencrypted).
	// Required.
	KeyFile string
}

// Options configure a Terminator.
type Options struct {
	// Certificates are the chains served. Each serves the DNS and IP names in its leaf; the first
	// is the default for clients that send no name or a name no certificate has. At least one is
	// required unless GetCertificate is set.
	Certificates []CertFiles
	// MinVersion is the oldest TLS version accepted: tls.VersionTLS12 (the default, when 0) or
	// tls.VersionTLS13.
	MinVersion uint16
	// CipherSuites are the TLS 1.2 cipher suites offered (see ParseCipherSuites); only Go's secure
	// suites are accepted. Nil: Go's defaults. TLS 1.3 suites are not configurable.
	CipherSuites []uint16
	// NextProtos are the ALPN protocols offered, in order of preference. Default: ["http/1.1"].
	NextProtos []string
	// SessionTickets turns session resumption by tickets on (TLS 1.2 tickets and TLS 1.3 PSK).
	// Ticket keys are crypto/tls's automatic ones: see the package documentation. Default off.
	SessionTickets bool
	// ClientAuth asks clients for certificates. Default ClientAuthNone.
	ClientAuth ClientAuthMode
	// ClientCAFile is the PEM bundle of the CAs that client certificates must chain to. Required
	// when ClientAuth is not ClientAuthNone, ignored (neither read nor watched) when it is.
	ClientCAFile string
	// ReloadInterval is how often the files are checked for changes (by their contents); a change
	// reloads them all. 0: never (Reload still works).
	ReloadInterval time.Duration
	// Logf receives warnings (an expired certificate, a name served twice) and the poller's
	// reports. Default: discard.
	Logf func(format string, args ...any)
	// Now is the clock for validity warnings. Default time.Now. Handshakes use crypto/tls's clock.
	Now func() time.Time
	// GetCertificate, when set, is asked first on every handshake (for ACME-managed names). A nil
	// certificate falls back to the files; its error is returned only when the files have no
	// certificate to offer at all.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// Terminator serves TLS certificates from PEM files. Its methods are safe for concurrent use.
type Terminator struct {
	opts     Options
	external func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	logf     func(string, ...any)
	now      func() time.Time
	base     *tls.Config
	// challenge serves ACME TLS-ALPN-01 handshakes (they offer only "acme-tls/1") without asking
	// for a client certificate, which the CA's validator never has; nil without an external
	// certificate source or without client authentication.
	challenge *tls.Config

	set atomic.Pointer[certSet] // what handshakes read

	mu         sync.Mutex // serialises loading
	failDigest [32]byte   // the contents of the files the last failed load read
	failErr    error      // that load's error; nil after a success

	stop      chan struct{} // closed by Close; nil without a poller
	done      chan struct{} // closed when the poller returns
	stopTick  func()        // stops the poller's ticker
	closeOnce sync.Once
}

var errNoCertificate = errors.New("tls: no certificate for this connection")

// New loads every file now and returns a Terminator serving them. Its errors name the file and say
// what is wrong with it; a certificate that has expired or is not valid yet is loaded anyway, with
// a warning through Logf. With ReloadInterval set, New starts the poller that Close stops.
func New(o Options) (*Terminator, error) {
	if len(o.Certificates) == 0 && o.GetCertificate == nil {
		return nil, errors.New("tls: no certificates; give at least one certificate file and its key")
	}
	switch o.MinVersion {
	case 0:
		o.MinVersion = tls.VersionTLS12
	case tls.VersionTLS12, tls.VersionTLS13:
	default:
		return nil, fmt.Errorf("tls: minimum version %#04x is not supported; use TLS 1.2 or 1.3", o.MinVersion)
	}
	if err := checkSuites(o.CipherSuites); err != nil {
		return nil, err
	}
	if o.ClientAuth < ClientAuthNone || o.ClientAuth > ClientAuthRequire {
		return nil, fmt.Errorf("tls: unknown client auth mode %d", int(o.ClientAuth))
	}
	if o.ClientAuth != ClientAuthNone && o.ClientCAFile == "" {
		return nil, fmt.Errorf("tls: client auth %s needs a client CA file", o.ClientAuth)
	}
	if o.ClientAuth == ClientAuthNone {
		o.ClientCAFile = ""
	}
	if len(o.NextProtos) == 0 {
		o.NextProtos = []string{"http/1.1"}
	}
	o.NextProtos = slices.Clone(o.NextProtos)
	o.CipherSuites = slices.Clone(o.CipherSuites)
	o.Certificates = slices.Clone(o.Certificates)
	if o.ReloadInterval < 0 {
		return nil, fmt.Errorf("tls: reload interval %v is negative", o.ReloadInterval)
	}
	t := &Terminator{opts: o, external: o.GetCertificate, logf: o.Logf, now: o.Now}
	if t.logf == nil {
		t.logf = func(string, ...any) {}
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.base = &tls.Config{
		MinVersion:             o.MinVersion,
		CipherSuites:           o.CipherSuites,
		NextProtos:             o.NextProtos,
		SessionTicketsDisabled: !o.SessionTickets,
		GetCertificate:         t.getCertificate,
		ClientAuth:             o.ClientAuth.tls(),
	}
	files, digest, err := t.read()
	if err != nil {
		return nil, err
	}
	s, err := t.build(files, digest)
	if err != nil {
		return nil, err
	}
	if o.ClientAuth != ClientAuthNone {
		if o.GetCertificate != nil {
			t.challenge = t.base.Clone()
			t.challenge.ClientAuth = tls.NoClientCert
		}
		t.base.ClientCAs = s.conf.ClientCAs
		t.base.GetConfigForClient = t.configForClient
	}
	t.set.Store(s)
	if o.ReloadInterval > 0 {
		tick := time.NewTicker(o.ReloadInterval)
		t.startPoller(tick.C, tick.Stop)
	}
	return t, nil
}

// Config is the TLS configuration to serve with (tls.NewListener, tls.Server). It is the same
// value on every call and shared by every connection, which is what lets session tickets resume
// across connections: treat it as read-only. With client authentication on, it hands each
// handshake the current set's own Config (through GetConfigForClient, carrying the reloaded client
// CA bundle), so fields changed on a Clone would not reach those handshakes: change Options
// instead.
func (t *Terminator) Config() *tls.Config { return t.base }

// Names are the names the current certificates serve, DNS names (wildcards included, lower case)
// then IP addresses, each once, sorted; for logs and explain.
func (t *Terminator) Names() []string { return slices.Clone(t.set.Load().names) }

// startPoller runs poll on tick until Close, which then calls stop.
func (t *Terminator) startPoller(tick <-chan time.Time, stop func()) {
	t.stop = make(chan struct{})
	t.done = make(chan struct{})
	t.stopTick = stop
	go t.poll(tick)
}

// Close stops the reload poller, if any, and waits for it. It is safe to call more than once;
// handshakes still work afterwards.
func (t *Terminator) Close() {
	t.closeOnce.Do(func() {
		if t.stop != nil {
			close(t.stop)
			<-t.done
			t.stopTick()
		}
	})
}
