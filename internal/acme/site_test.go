package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/acmetest"
)

// The tests' stand-in for gatehouse's listeners, answering challenges for a Manager, and the
// Pebble (acmetest) that validates them.

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

	hs := &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(logWriter(acmetest.Logf(t)), "site: ", 0)}
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

// env is a CA (with its DNS server) and a site for one test.
type env struct {
	t    *testing.T
	site *site
	ca   *acmetest.CA
	logf func(string, ...any)
}

// newEnv starts a site, and Pebble validating against its ports with names resolving to
// 127.0.0.1, issuing certificates valid for validity (0: 90 days).
func newEnv(t *testing.T, validity time.Duration, names ...string) *env {
	t.Helper()
	s := startSite(t)
	ca := acmetest.Start(t, acmetest.Options{HTTPPort: s.httpPort, TLSALPNPort: s.tlsPort, Names: names, Validity: validity})
	return &env{t: t, site: s, ca: ca, logf: acmetest.Logf(t)}
}

// config returns a Config for the env's CA and site, with file storage in a new directory.
func (e *env) config() Config {
	return Config{
		Directory:   e.ca.Directory,
		CARoot:      e.ca.RootFile,
		StorageDir:  e.t.TempDir(),
		HTTPPort:    e.site.httpPort,
		TLSALPNPort: e.site.tlsPort,
	}
}

// newManager builds a Manager, makes it the one the site asks, and stops it when the test
// ends (before the CA and the site stop).
func (e *env) newManager(cfg Config, storage Storage) *Manager {
	e.t.Helper()
	m, err := New(cfg, storage, e.logf)
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

// logWriter is an io.Writer for a log.Logger that hands each line to a logf.
type logWriter func(string, ...any)

func (w logWriter) Write(p []byte) (int, error) {
	w("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
