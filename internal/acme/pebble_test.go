package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/dnstest"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// This file runs Pebble, Let's Encrypt's test ACME server, inside the test process from its Go
// module, with its validation authority (VA) asking a dnstest server for names and connecting
// to challenge servers on loopback that stand in for gatehouse's listeners.

// pebbleCA is a running Pebble.
type pebbleCA struct {
	directory string         // ACME directory URL
	caRoot    string         // PEM file of the root of the directory's TLS certificate
	roots     *x509.CertPool // Pebble's issuing root, which verifies what it issues
	orders    atomic.Int64   // new-order requests received
}

// startPebble starts Pebble with real validation (no random sleeps, no reuse of earlier
// authorizations, no rejected nonces) against the challenge ports of s, resolving names with
// the DNS server at dnsAddr. validity is the lifetime of the certificates it issues (0: its
// default, 90 days). It stops when the test ends.
func startPebble(t *testing.T, dnsAddr string, s *site, validity time.Duration) *pebbleCA {
	t.Helper()
	// Pebble reads these when its parts are built.
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "0")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	logger := log.New(newTestWriter(t), "pebble: ", 0)
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: uint64(validity / time.Second)}}
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	validator := va.New(logger, s.httpPort, s.tlsPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	handler := front.Handler()

	p := &pebbleCA{roots: x509.NewCertPool()}
	p.roots.AddCert(authority.GetRootCert(0).Cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
			p.orders.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	rootPEM, leaf := serverCert(t, "127.0.0.1")
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.Config.ErrorLog = logger
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p.directory = srv.URL + wfe.DirectoryPath
	p.caRoot = filepath.Join(t.TempDir(), "pebble-root.pem")
	if err := os.WriteFile(p.caRoot, rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverCert generates a root (returned as PEM) and a certificate it signs for the IP address,
// ECDSA P-256.
func serverCert(t *testing.T, ip string) ([]byte, tls.Certificate) {
	t.Helper()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "acme test root"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: ip},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP(ip)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &key.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})
	return rootPEM, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
}

// site stands in for gatehouse's listeners: a plain HTTP server that answers challenge
// requests with Manager.HTTPChallenge (as the engine will) and a TLS listener whose
// certificates come from Manager.GetCertificate, NextProtos including TLSALPNProtos (as
// tlsterm will). The Manager is set after the ports are known.
type site struct {
	mgr         atomic.Pointer[Manager]
	httpPort    int
	tlsPort     int
	tlsAddr     string
	httpAnswers atomic.Int64 // challenge requests answered with a key authorization
	alpnHellos  atomic.Int64 // handshakes offering only acme-tls/1, as a CA's validation does
}

// startSite listens on loopback ports and serves until the test ends.
func startSite(t *testing.T) *site {
	t.Helper()
	s := &site{}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.httpPort = httpLn.Addr().(*net.TCPAddr).Port
	s.tlsPort = tlsLn.Addr().(*net.TCPAddr).Port
	s.tlsAddr = tlsLn.Addr().String()

	hs := &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(newTestWriter(t), "site: ", 0)}
	go func() { _ = hs.Serve(httpLn) }()
	t.Cleanup(func() { _ = hs.Close() })

	tl := tls.NewListener(tlsLn, &tls.Config{GetConfigForClient: s.tlsConfig})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(60 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Read(make([]byte, 1)) // until the client closes
			}()
		}
	}()
	t.Cleanup(func() { _ = tl.Close(); wg.Wait() })
	return s
}

// serveHTTP answers challenge requests and 404s the rest.
func (s *site) serveHTTP(w http.ResponseWriter, r *http.Request) {
	m := s.mgr.Load()
	if m == nil {
		http.NotFound(w, r)
		return
	}
	body, ok := m.HTTPChallenge(r.Host, r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.httpAnswers.Add(1)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(body))
}

// tlsConfig is the TLS listener's configuration for one handshake.
func (s *site) tlsConfig(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	m := s.mgr.Load()
	if m == nil {
		return nil, errors.New("no manager yet")
	}
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == ALPNProto {
		s.alpnHellos.Add(1)
	}
	return &tls.Config{
		GetCertificate: m.GetCertificate,
		NextProtos:     append(m.TLSALPNProtos(), "http/1.1"),
		MinVersion:     tls.VersionTLS12,
	}, nil
}

// handshake connects to the site's TLS listener for name, verifying its certificate against
// roots, and returns the leaf.
func (s *site) handshake(name string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 60 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", s.tlsAddr, &tls.Config{ServerName: name, RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// env is a CA, a DNS server and a site for one test.
type env struct {
	t    *testing.T
	dns  *dnstest.Server
	site *site
	ca   *pebbleCA
}

// newEnv starts a site, a DNS server that resolves names to 127.0.0.1, and Pebble issuing
// certificates valid for validity (0: 90 days).
func newEnv(t *testing.T, validity time.Duration, names ...string) *env {
	t.Helper()
	e := &env{t: t, dns: dnstest.Start(t), site: startSite(t)}
	for _, n := range names {
		e.dns.Set(n, "127.0.0.1")
	}
	e.ca = startPebble(t, e.dns.Addr(), e.site, validity)
	return e
}

// config returns a Config for the env's CA and site, with file storage in a new directory.
func (e *env) config() Config {
	return Config{
		Directory:   e.ca.directory,
		CARoot:      e.ca.caRoot,
		StorageDir:  e.t.TempDir(),
		HTTPPort:    e.site.httpPort,
		TLSALPNPort: e.site.tlsPort,
	}
}

// newManager builds a Manager, makes it the one the site asks, and stops it when the test
// ends (before the CA and the site stop).
func (e *env) newManager(cfg Config, storage Storage) *Manager {
	e.t.Helper()
	m, err := New(cfg, storage, newTestWriter(e.t).logf)
	if err != nil {
		e.t.Fatal(err)
	}
	e.site.mgr.Store(m)
	e.t.Cleanup(m.Stop)
	return m
}

// start builds a Manager with newManager and starts it, failing the test on an error.
func (e *env) start(cfg Config, storage Storage) *Manager {
	e.t.Helper()
	m := e.newManager(cfg, storage)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.Start(ctx); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	return m
}

// served returns the leaf certificate m serves for name, failing the test if there is none.
func served(t *testing.T, m *Manager, name string) *x509.Certificate {
	t.Helper()
	cert, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
	if err != nil || cert == nil {
		t.Fatalf("GetCertificate(%s) = %v, %v; want a certificate", name, cert, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	return leaf
}

// testWriter passes lines to t.Log until the test ends, and drops those that come later from
// goroutines still finishing.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func newTestWriter(t testing.TB) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (w *testWriter) logf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf(format, args...)
	}
}
