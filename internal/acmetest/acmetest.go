// Package acmetest runs Pebble, Let's Encrypt's test ACME server, inside a test's own process
// (from its Go module, no binary, no network beyond loopback), so that ACME clients can be tested
// end to end: orders, real HTTP-01 and TLS-ALPN-01 validation, issuance.
//
// It is used only by tests: it imports package testing and stops the test with Fatal on any
// error. No production code may import it (it would link Pebble into the binary).
//
// Start returns a CA: Pebble's ACME directory served over https on 127.0.0.1 (its TLS certificate
// signed by a throw-away root, written to a PEM file for the client's CA root setting), and a
// dnstest DNS server that Pebble's validation authority asks for every name, with the names of
// Options.Names pointing at 127.0.0.1. The validation authority connects to the challenge ports
// the test chooses (Options.HTTPPort for HTTP-01, Options.TLSALPNPort for TLS-ALPN-01): the
// ports of the listeners under test, which must answer the challenges.
//
// Pebble is configured through environment variables, read when it starts: Start sets them with
// tb.Setenv, so a test that calls Start (and its parents) must not call t.Parallel, and tests
// of the same package that do are held back until it ends, as the testing package runs
// parallel tests after the sequential ones. Pebble is set up to validate for real on every
// order (no random sleeps before validation, no reuse of earlier authorizations, no nonces
// rejected on purpose), so that a test sees each order's challenges.
package acmetest

import (
	"crypto/tls"
	"crypto/x509"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/dnstest"
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"
	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// LoopbackIP is the address Options.Names resolve to.
const LoopbackIP = "127.0.0.1"

// newOrderPath is the path of Pebble's new-order resource (a POST to it is one order).
const newOrderPath = "/order-plz"

// env are the environment variables Pebble reads when it starts, and the values Start gives them.
var env = [...][2]string{
	{"PEBBLE_VA_NOSLEEP", "1"},      // validate at once, not after a random sleep of up to 15 s
	{"PEBBLE_VA_ALWAYS_VALID", "0"}, // really connect to the challenge ports
	{"PEBBLE_WFE_NONCEREJECT", "0"}, // no nonce refused on purpose (Pebble's default is 5%)
	{"PEBBLE_AUTHZREUSE", "0"},      // every order validates its names again
}

// Options say what Pebble validates against.
type Options struct {
	// HTTPPort is the port on 127.0.0.1 that the validation authority connects to for HTTP-01
	// challenges (http://NAME:HTTPPort/.well-known/acme-challenge/TOKEN). Required.
	HTTPPort int
	// TLSALPNPort is the port on 127.0.0.1 that the validation authority connects to for
	// TLS-ALPN-01 challenges (a TLS handshake for NAME offering only "acme-tls/1"). Required.
	TLSALPNPort int
	// Names are DNS names that resolve to LoopbackIP from the start. More, or other answers, can
	// be set on CA.DNS at any time; a name not set gets NXDOMAIN and cannot be validated.
	Names []string
	// Validity is the lifetime of the certificates issued, a whole number of seconds. Default:
	// Pebble's, about 90 days (the lifetime of Let's Encrypt's certificates).
	Validity time.Duration
	// Logf receives Pebble's log lines. Default: the test's log (see Logf), which is verbose
	// only with go test -v.
	Logf func(format string, args ...any)
}

// CA is a running Pebble and its DNS server. It stops when the test that started it ends.
type CA struct {
	// Directory is the URL of the ACME directory, https://127.0.0.1:PORT/dir: the client's
	// directory setting.
	Directory string
	// RootFile is a PEM file (in a temporary directory of the test) of the root that signed the
	// directory's own TLS certificate: the client's CA root setting, as no system root trusts
	// it. It is not the root of the certificates Pebble issues; see Roots.
	RootFile string
	// DNS is the DNS server the validation authority asks; Set more names on it.
	DNS *dnstest.Server

	roots  *x509.CertPool
	orders atomic.Int64
}

// Start starts Pebble with its validation authority connecting to o's ports, and its DNS
// server, for the rest of the test. It sets Pebble's environment variables with tb.Setenv: the
// test must not be parallel.
func Start(tb testing.TB, o Options) *CA {
	tb.Helper()
	if o.HTTPPort < 1 || o.HTTPPort > 65535 || o.TLSALPNPort < 1 || o.TLSALPNPort > 65535 {
		tb.Fatalf("acmetest: challenge ports %d (http-01) and %d (tls-alpn-01): want 1-65535", o.HTTPPort, o.TLSALPNPort)
	}
	if o.Validity < 0 || o.Validity%time.Second != 0 {
		tb.Fatalf("acmetest: validity %v: want a whole number of seconds, or 0", o.Validity)
	}
	for _, kv := range env {
		tb.Setenv(kv[0], kv[1])
	}
	if o.Logf == nil {
		o.Logf = Logf(tb)
	}
	c := &CA{DNS: dnstest.Start(tb), roots: x509.NewCertPool()}
	for _, n := range o.Names {
		c.DNS.Set(n, LoopbackIP)
	}

	logger := log.New(lineWriter(o.Logf), "pebble: ", 0)
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "acmetest", ValidityPeriod: uint64(o.Validity / time.Second)}}
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	validator := va.New(logger, o.HTTPPort, o.TLSALPNPort, false, c.DNS.Addr(), store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	handler := front.Handler()
	c.roots.AddCert(authority.GetRootCert(0).Cert)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == newOrderPath {
			c.orders.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	root := tlstest.NewCA(tb, "acmetest directory root")
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{root.Server(tb, LoopbackIP).TLSCertificate()}}
	srv.Config.ErrorLog = logger
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	c.Directory = srv.URL + wfe.DirectoryPath
	c.RootFile = root.WriteRootFile(tb, tb.TempDir(), "acme-directory-root.pem")
	return c
}

// Roots returns a new pool holding the root of the certificates Pebble issues, for a client
// that verifies them (tls.Config.RootCAs). Each Pebble makes its own root when it starts.
func (c *CA) Roots() *x509.CertPool { return c.roots.Clone() }

// Orders is the number of new orders Pebble has received: each is one certificate obtained or
// renewed, or an attempt at one.
func (c *CA) Orders() int64 { return c.orders.Load() }

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago, for a listener whose
// port must be known before it listens (a config that names its challenge ports): see
// internal/freeport.
func FreePort(tb testing.TB) int {
	tb.Helper()
	return freeport.Port(tb)
}

// Logf returns a function that passes log lines to tb.Logf until the test ends and drops those
// that come later (from goroutines still finishing, which would make tb.Logf panic). It is safe
// for concurrent use.
func Logf(tb testing.TB) func(format string, args ...any) {
	var mu sync.Mutex
	done := false
	tb.Cleanup(func() {
		mu.Lock()
		done = true
		mu.Unlock()
	})
	return func(format string, args ...any) {
		tb.Helper()
		mu.Lock()
		defer mu.Unlock()
		if !done {
			tb.Logf(format, args...)
		}
	}
}

// lineWriter is an io.Writer for a log.Logger that hands each line to a logf.
type lineWriter func(format string, args ...any)

// Write passes one log line, without its newline.
func (w lineWriter) Write(p []byte) (int, error) {
	w("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
