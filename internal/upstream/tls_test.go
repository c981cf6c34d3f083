package upstream

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
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

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// Certificates are generated at test time: ECDSA P-256, valid from an hour ago for a day.

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// leaf is an issued certificate, parsed and in PEM.
type leaf struct {
	tls             tls.Certificate
	certPEM, keyPEM []byte
}

// sign completes tmpl (serial, validity) and signs it with ca's key, or its own when ca is nil.
func sign(t testing.TB, tmpl *x509.Certificate, ca *testCA) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62)); err != nil {
		t.Fatal(err)
	}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func newCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key, der := sign(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate named cn for names (host names or IP addresses), signed by ca or
// self-signed when ca is nil; client makes it a client certificate.
func issue(t testing.TB, ca *testCA, cn string, names []string, client bool) leaf {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	key, der := sign(t, tmpl, ca)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	l := leaf{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	if l.tls, err = tls.X509KeyPair(l.certPEM, l.keyPEM); err != nil {
		t.Fatal(err)
	}
	return l
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsBackend is an HTTPS backend on loopback. Its handler answers "cn=<client certificate's CN>".
type tlsBackend struct {
	srv  *httptest.Server
	addr string // 127.0.0.1:port
	port string
	mu   sync.Mutex
	sni  []string // the SNI of each handshake, "" for none
	news atomic.Int32
}

// startTLSBackend serves HTTPS with cfg (Certificates required). handler may be nil.
func startTLSBackend(t testing.TB, cfg *tls.Config, handler http.HandlerFunc) *tlsBackend {
	t.Helper()
	b := &tlsBackend{}
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) {
			cn := ""
			if len(r.TLS.PeerCertificates) > 0 {
				cn = r.TLS.PeerCertificates[0].Subject.CommonName
			}
			_, _ = io.WriteString(w, "cn="+cn)
		}
	}
	b.srv = httptest.NewUnstartedServer(handler)
	cfg = cfg.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		b.mu.Lock()
		b.sni = append(b.sni, hello.ServerName)
		b.mu.Unlock()
		return nil, nil
	}
	b.srv.TLS = cfg
	b.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.news.Add(1)
		}
	}
	b.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes failed on purpose
	b.srv.StartTLS()
	t.Cleanup(b.srv.Close)
	b.addr = b.srv.Listener.Addr().String()
	_, b.port, _ = net.SplitHostPort(b.addr)
	return b
}

func (b *tlsBackend) lastSNI() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sni) == 0 {
		return "<no handshake>"
	}
	return b.sni[len(b.sni)-1]
}

// newTLSPool is a backend at addr dialling with cfg, on a fake clock.
func newTLSPool(t testing.TB, addr string, cfg *tls.Config) (*Backend, *fakeClock) {
	t.Helper()
	wd := watchdog.New(time.Millisecond, time.Now)
	t.Cleanup(wd.Close)
	clk := newClock()
	set := Settings{MaxIdle: 8, IdleTimeout: time.Minute, ConnectTimeout: 10 * time.Second, TLS: cfg}
	return NewBackend(addr, set, wd, clk.now), clk
}

func clientTLS(t testing.TB, o TLSOptions) *tls.Config {
	t.Helper()
	cfg, err := ClientTLS(o)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func dialCtx(b *Backend) (*Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return b.Dial(ctx)
}

var getRequest = []byte("GET / HTTP/1.1\r\nHost: backend\r\n\r\n")

// exchange sends a GET over c and reads the response (Content-Length framed) with the engine's
// reader and parser, as the proxy does. It returns the body.
func exchange(c *Conn) (string, error) {
	if _, err := c.Write(getRequest); err != nil {
		return "", err
	}
	c.Resp.Reset()
	for {
		if err := h1.ParseResponse(c.In.Buffered(), &c.Resp, nil); err != nil {
			return "", err
		}
		if c.Resp.HeadLen > 0 {
			break
		}
		if _, err := c.In.Fill(); err != nil {
			return "", err
		}
	}
	c.In.Consume(c.Resp.HeadLen)
	n := int(c.Resp.ContentLength)
	if n < 0 {
		return "", errors.New("response without content-length")
	}
	for c.In.Len() < n {
		if _, err := c.In.Fill(); err != nil {
			return "", err
		}
	}
	body := string(c.In.Buffered()[:n])
	c.In.Consume(n)
	return body, nil
}

func state(c *Conn) tls.ConnectionState { return c.Conn.(*tls.Conn).ConnectionState() }

// A request and response over a TLS connection, then the same connection again from the pool.
func TestTLSExchangeAndReuse(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test ca")
	srv := startTLSBackend(t, &tls.Config{Certificates: []tls.Certificate{issue(t, ca, "backend", []string{"127.0.0.1"}, false).tls}}, nil)
	b, _ := newTLSPool(t, srv.addr, clientTLS(t, TLSOptions{CAFile: writeFile(t, "ca.pem", ca.pem)}))
	c, err := dialCtx(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Conn.(*tls.Conn); !ok {
		t.Fatalf("Conn is a %T, want *tls.Conn", c.Conn)
	}
	if st := state(c); st.NegotiatedProtocol != "http/1.1" || st.Version < tls.VersionTLS12 {
		t.Errorf("ALPN %q version %x, want http/1.1 and TLS 1.2+", st.NegotiatedProtocol, st.Version)
	}
	for i := range 3 {
		if body, err := exchange(c); err != nil || body != "cn=" {
			t.Fatalf("exchange %d: %q, %v", i, body, err)
		}
		b.Put(c)
		got := b.Get(true) // probed: the live TLS connection passes
		if got != c || !got.Reused {
			t.Fatalf("exchange %d: the pooled TLS connection was not reused", i)
		}
	}
	c.Close()
	if n := srv.news.Load(); n != 1 {
		t.Errorf("backend saw %d connections, want 1", n)
	}
	if b.Open() != 0 {
		t.Errorf("open %d after Close, want 0", b.Open())
	}
}

func TestTLSVerification(t *testing.T) {
	t.Parallel()
	ca, other := newCA(t, "test ca"), newCA(t, "other ca")
	caFile, otherFile := writeFile(t, "ca.pem", ca.pem), writeFile(t, "other.pem", other.pem)
	tests := []struct {
		name    string
		cert    leaf
		host    string // the backend address's host
		opts    TLSOptions
		wantErr bool
		wantSNI string
	}{
		{name: "ca file, ip san", cert: issue(t, ca, "b", []string{"127.0.0.1"}, false),
			host: "127.0.0.1", opts: TLSOptions{CAFile: caFile}, wantSNI: ""},
		{name: "ca file, host name of the address", cert: issue(t, ca, "b", []string{"localhost"}, false),
			host: "localhost", opts: TLSOptions{CAFile: caFile}, wantSNI: "localhost"},
		{name: "server name override", cert: issue(t, ca, "b", []string{"backend.internal"}, false),
			host: "127.0.0.1", opts: TLSOptions{CAFile: caFile, ServerName: "backend.internal"}, wantSNI: "backend.internal"},
		{name: "wrong name", cert: issue(t, ca, "b", []string{"other.example"}, false),
			host: "127.0.0.1", opts: TLSOptions{CAFile: caFile}, wantErr: true},
		{name: "wrong name despite override", cert: issue(t, ca, "b", []string{"127.0.0.1"}, false),
			host: "127.0.0.1", opts: TLSOptions{CAFile: caFile, ServerName: "backend.internal"}, wantErr: true},
		{name: "self-signed, system roots", cert: issue(t, nil, "b", []string{"127.0.0.1"}, false),
			host: "127.0.0.1", wantErr: true},
		{name: "private ca, system roots", cert: issue(t, ca, "b", []string{"127.0.0.1"}, false),
			host: "127.0.0.1", wantErr: true},
		{name: "unknown ca", cert: issue(t, ca, "b", []string{"127.0.0.1"}, false),
			host: "127.0.0.1", opts: TLSOptions{CAFile: otherFile}, wantErr: true},
		{name: "self-signed, insecure skip verify", cert: issue(t, nil, "b", []string{"127.0.0.1"}, false),
			host: "127.0.0.1", opts: TLSOptions{InsecureSkipVerify: true}, wantSNI: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startTLSBackend(t, &tls.Config{Certificates: []tls.Certificate{tt.cert.tls}}, nil)
			addr := net.JoinHostPort(tt.host, srv.port)
			b, _ := newTLSPool(t, addr, clientTLS(t, tt.opts))
			c, err := dialCtx(b)
			if tt.wantErr {
				var verr *tls.CertificateVerificationError
				if !errors.As(err, &verr) {
					t.Fatalf("Dial error %v, want a certificate verification error", err)
				}
				if !strings.Contains(err.Error(), addr) {
					t.Errorf("error %q does not name the backend %s", err, addr)
				}
				if c != nil || b.Open() != 0 {
					t.Errorf("failed dial left conn %v, open %d", c, b.Open())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if body, err := exchange(c); err != nil || body != "cn=" {
				t.Fatalf("exchange: %q, %v", body, err)
			}
			if got := srv.lastSNI(); got != tt.wantSNI {
				t.Errorf("SNI %q, want %q", got, tt.wantSNI)
			}
		})
	}
}

func TestTLSClientCertificate(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test ca")
	clientCA := newCA(t, "client ca")
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	caFile := writeFile(t, "ca.pem", ca.pem)
	good := issue(t, clientCA, "gatehouse", nil, true)
	stranger := issue(t, nil, "stranger", nil, true)
	tests := []struct {
		name    string
		version uint16
		client  *leaf
		wantCN  string // "" for a refused connection
	}{
		{name: "tls1.3 presented", version: tls.VersionTLS13, client: &good, wantCN: "gatehouse"},
		{name: "tls1.2 presented", version: tls.VersionTLS12, client: &good, wantCN: "gatehouse"},
		{name: "tls1.3 none", version: tls.VersionTLS13},
		{name: "tls1.2 none", version: tls.VersionTLS12},
		{name: "tls1.3 untrusted", version: tls.VersionTLS13, client: &stranger},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startTLSBackend(t, &tls.Config{
				Certificates: []tls.Certificate{issue(t, ca, "b", []string{"127.0.0.1"}, false).tls},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    pool,
				MaxVersion:   tt.version,
			}, nil)
			o := TLSOptions{CAFile: caFile}
			if tt.client != nil {
				o.CertFile = writeFile(t, "client.pem", tt.client.certPEM)
				o.KeyFile = writeFile(t, "client.key", tt.client.keyPEM)
			}
			b, _ := newTLSPool(t, srv.addr, clientTLS(t, o))
			c, err := dialCtx(b)
			body := ""
			if err == nil {
				// TLS 1.3 clients learn of a refused certificate on their first read.
				body, err = exchange(c)
				c.Close()
			}
			if tt.wantCN == "" {
				if err == nil {
					t.Fatalf("a backend requiring a client certificate answered %q", body)
				}
				return
			}
			if err != nil || body != "cn="+tt.wantCN {
				t.Fatalf("got %q, %v; want cn=%s", body, err, tt.wantCN)
			}
		})
	}
}

// alive must see a pooled TLS connection the backend closed (close_notify and FIN), and keep a live
// one, whose TLS 1.3 session tickets were read with the first response.
func TestTLSPooledConnectionClosedByBackend(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test ca")
	caFile := writeFile(t, "ca.pem", ca.pem)
	cert := issue(t, ca, "b", []string{"127.0.0.1"}, false)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			t.Parallel()
			srv := startTLSBackend(t, &tls.Config{Certificates: []tls.Certificate{cert.tls}, MaxVersion: version}, nil)
			b, clk := newTLSPool(t, srv.addr, clientTLS(t, TLSOptions{CAFile: caFile}))
			c, err := dialCtx(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := exchange(c); err != nil {
				t.Fatal(err)
			}
			if !c.alive() {
				t.Fatal("a live TLS connection failed the probe")
			}
			b.Put(c)
			srv.srv.CloseClientConnections()
			waitUntil(t, "the backend's close to arrive", func() bool { return !c.alive() })
			clk.add(2 * staleCheckAfter)
			if got := b.Get(false); got != nil {
				t.Error("Get returned a TLS connection the backend had closed")
			}
			if b.Open() != 0 {
				t.Errorf("open %d, want 0", b.Open())
			}
		})
	}
}

// waitUntil polls cond; only a broken test waits the whole 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func TestTLSResumption(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test ca")
	caFile := writeFile(t, "ca.pem", ca.pem)
	cert := issue(t, ca, "b", []string{"127.0.0.1"}, false)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			t.Parallel()
			srv := startTLSBackend(t, &tls.Config{Certificates: []tls.Certificate{cert.tls}, MaxVersion: version}, nil)
			b, _ := newTLSPool(t, srv.addr, clientTLS(t, TLSOptions{CAFile: caFile}))
			for i, wantResume := range []bool{false, true, true} {
				c, err := dialCtx(b)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := exchange(c); err != nil { // a TLS 1.3 ticket arrives with the response
					t.Fatal(err)
				}
				if got := state(c).DidResume; got != wantResume {
					t.Errorf("dial %d: DidResume %v, want %v", i, got, wantResume)
				}
				c.Close()
			}
		})
	}
}

// Regression: crypto/tls keys client sessions by ServerName alone, so backends sharing a name (a
// ServerName override, or one host name's addresses) overwrote each other's session and none resumed.
func TestTLSResumptionPerBackendAddress(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test ca")
	cert := issue(t, ca, "b", []string{"backend.internal"}, false)
	var addrs [2]string
	for i := range addrs {
		// Each server has its own session ticket keys: a session from one does not resume on the other.
		addrs[i] = startTLSBackend(t, &tls.Config{Certificates: []tls.Certificate{cert.tls}}, nil).addr
	}
	cfg := clientTLS(t, TLSOptions{CAFile: writeFile(t, "ca.pem", ca.pem), ServerName: "backend.internal"})
	pa, _ := newTLSPool(t, addrs[0], cfg)
	pb, _ := newTLSPool(t, addrs[1], cfg)
	for i, step := range []struct {
		b          *Backend
		wantResume bool
	}{{pa, false}, {pb, false}, {pa, true}, {pb, true}} {
		c, err := dialCtx(step.b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exchange(c); err != nil {
			t.Fatal(err)
		}
		if got := state(c).DidResume; got != step.wantResume {
			t.Errorf("dial %d to %s: DidResume %v, want %v", i, step.b.Addr, got, step.wantResume)
		}
		c.Close()
	}
}

// The watchdog interrupts a blocked read on a TLS connection: deadlines reach the TCP socket.
func TestTLSWatchdogDeadline(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test ca")
	release := make(chan struct{})
	srv := startTLSBackend(t, &tls.Config{Certificates: []tls.Certificate{issue(t, ca, "b", []string{"127.0.0.1"}, false).tls}},
		func(w http.ResponseWriter, r *http.Request) {
			select { // never answers
			case <-r.Context().Done():
			case <-release:
			}
		})
	t.Cleanup(func() { close(release) }) // runs before the server's Close, which waits for handlers
	b, _ := newTLSPool(t, srv.addr, clientTLS(t, TLSOptions{CAFile: writeFile(t, "ca.pem", ca.pem)}))
	c, err := dialCtx(b)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	failsafe := time.AfterFunc(10*time.Second, func() { c.Conn.Close() }) // only if the watchdog fails
	defer failsafe.Stop()
	c.DL.Set(5 * time.Millisecond)
	_, err = exchange(c)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !c.DL.Fired() {
		t.Fatalf("read error %v (fired %v), want the watchdog's timeout", err, c.DL.Fired())
	}
}

// A backend that accepts TCP but never answers the handshake fails the dial: the handshake is bounded
// by Dial's context, and by ConnectTimeout when the context has no deadline.
func TestTLSHandshakeTimeout(t *testing.T) {
	t.Parallel()
	s := listen(t) // accepts and stays silent
	tests := []struct {
		name    string
		ctx     time.Duration // 0: context.Background
		connect time.Duration
	}{
		{name: "context deadline", ctx: 20 * time.Millisecond, connect: time.Hour},
		{name: "connect timeout", connect: 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wd := watchdog.New(time.Hour, time.Now)
			defer wd.Close()
			set := Settings{ConnectTimeout: tt.connect, TLS: clientTLS(t, TLSOptions{})}
			b := NewBackend(s.ln.Addr().String(), set, wd, time.Now)
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			failsafe := time.AfterFunc(10*time.Second, s.closeAll) // only if the handshake is unbounded
			defer failsafe.Stop()
			c, err := b.Dial(ctx)
			if err == nil {
				c.Close()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Dial error %v, want a deadline exceeded", err)
			}
			if b.Open() != 0 {
				t.Errorf("open %d, want 0", b.Open())
			}
		})
	}
}

// countingListener counts the bytes the backend reads on each TCP connection, under TLS.
type countingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*countingConn
}

type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, cc)
	l.mu.Unlock()
	return cc, nil
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Close sends no close_notify (it may come mid-exchange, from a backend that stopped reading, where
// the alert could block for 5 s); closing an idle connection sends one.
func TestTLSCloseNotify(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test ca")
	caFile := writeFile(t, "ca.pem", ca.pem)
	cert := issue(t, ca, "b", []string{"127.0.0.1"}, false)
	tests := []struct {
		name      string
		close     func(*Backend, *Conn)
		wantAlert bool
	}{
		{name: "engine close", close: func(_ *Backend, c *Conn) { c.Close() }},
		{name: "idle close", close: func(b *Backend, c *Conn) { b.Put(c); b.CloseIdle() }, wantAlert: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var afterRequest atomic.Int64
			closed := make(chan struct{})
			ln := &countingListener{}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ln.mu.Lock()
				afterRequest.Store(ln.conns[0].n.Load())
				ln.mu.Unlock()
				_, _ = io.WriteString(w, "ok")
			}))
			ln.Listener = srv.Listener
			srv.Listener = ln
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.tls}}
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateClosed {
					close(closed)
				}
			}
			srv.StartTLS()
			defer srv.Close()
			b, _ := newTLSPool(t, srv.Listener.Addr().String(), clientTLS(t, TLSOptions{CAFile: caFile}))
			c, err := dialCtx(b)
			if err != nil {
				t.Fatal(err)
			}
			if body, err := exchange(c); err != nil || body != "ok" {
				t.Fatalf("exchange: %q, %v", body, err)
			}
			tt.close(b, c)
			<-closed // the backend read to EOF
			ln.mu.Lock()
			extra := ln.conns[0].n.Load() - afterRequest.Load()
			ln.mu.Unlock()
			if got := extra > 0; got != tt.wantAlert {
				t.Errorf("backend read %d bytes after the request; want an alert: %v", extra, tt.wantAlert)
			}
		})
	}
}

func TestClientTLS(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "test ca")
	client := issue(t, ca, "gatehouse", nil, true)
	caFile := writeFile(t, "ca.pem", ca.pem)
	certFile, keyFile := writeFile(t, "c.pem", client.certPEM), writeFile(t, "c.key", client.keyPEM)
	notPEM := writeFile(t, "junk.pem", []byte("not a certificate\n"))
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name    string
		opts    TLSOptions
		wantErr string // a part of the error; "" for none
		check   func(*testing.T, *tls.Config)
	}{
		{name: "defaults", check: func(t *testing.T, c *tls.Config) {
			if c.RootCAs != nil || len(c.Certificates) != 0 || c.InsecureSkipVerify || c.ServerName != "" {
				t.Error("the zero options are not system roots, no client certificate, verification on")
			}
		}},
		{name: "ca file", opts: TLSOptions{CAFile: caFile}, check: func(t *testing.T, c *tls.Config) {
			want := x509.NewCertPool()
			want.AddCert(ca.cert)
			if c.RootCAs == nil || !c.RootCAs.Equal(want) {
				t.Error("RootCAs is not the CA file's")
			}
		}},
		{name: "client certificate", opts: TLSOptions{CertFile: certFile, KeyFile: keyFile, ServerName: "x"},
			check: func(t *testing.T, c *tls.Config) {
				if len(c.Certificates) != 1 || c.ServerName != "x" {
					t.Errorf("%d certificates, server name %q", len(c.Certificates), c.ServerName)
				}
			}},
		{name: "missing ca file", opts: TLSOptions{CAFile: missing}, wantErr: missing},
		{name: "ca file without pem", opts: TLSOptions{CAFile: notPEM}, wantErr: notPEM},
		{name: "missing cert file", opts: TLSOptions{CertFile: missing, KeyFile: keyFile}, wantErr: missing},
		{name: "key that is not pem", opts: TLSOptions{CertFile: certFile, KeyFile: notPEM}, wantErr: notPEM},
		{name: "cert without key", opts: TLSOptions{CertFile: certFile}, wantErr: "key file"},
		{name: "key without cert", opts: TLSOptions{KeyFile: keyFile}, wantErr: "cert file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ClientTLS(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MinVersion != tls.VersionTLS12 || len(c.NextProtos) != 1 || c.NextProtos[0] != "http/1.1" ||
				c.ClientSessionCache == nil {
				t.Errorf("min version %x, ALPN %q, session cache %v", c.MinVersion, c.NextProtos, c.ClientSessionCache)
			}
			tt.check(t, c)
		})
	}
}

func TestBackendTLSServerName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		addr     string
		override string
		want     string
	}{
		{name: "host name", addr: "api.example.com:8443", want: "api.example.com"},
		{name: "ipv4", addr: "10.0.0.1:443", want: "10.0.0.1"},
		{name: "ipv6", addr: "[2001:db8::1]:443", want: "2001:db8::1"},
		{name: "ipv6 zone dropped", addr: "[fe80::1%eth0]:443", want: "fe80::1"},
		{name: "override", addr: "10.0.0.1:443", override: "api.internal", want: "api.internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := clientTLS(t, TLSOptions{ServerName: tt.override})
			got := backendTLS(pool, tt.addr)
			if got.ServerName != tt.want {
				t.Errorf("ServerName %q, want %q", got.ServerName, tt.want)
			}
			if pool.ServerName != tt.override {
				t.Error("the pool's config was modified")
			}
			if _, ok := got.ClientSessionCache.(addrSessionCache); !ok {
				t.Errorf("session cache %T, want one keyed by address", got.ClientSessionCache)
			}
		})
	}
}

// BenchmarkTLSGetPut is BenchmarkGetPut on a TLS connection: the pool does not care.
func BenchmarkTLSGetPut(b *testing.B) {
	ca := newCA(b, "test ca")
	srv := startTLSBackend(b, &tls.Config{Certificates: []tls.Certificate{issue(b, ca, "b", []string{"127.0.0.1"}, false).tls}}, nil)
	be, _ := newTLSPool(b, srv.addr, clientTLS(b, TLSOptions{CAFile: writeFile(b, "ca.pem", ca.pem)}))
	c, err := dialCtx(be)
	if err != nil {
		b.Fatal(err)
	}
	be.Put(c)
	b.ReportAllocs()
	for b.Loop() {
		be.Put(be.Get(false))
	}
}

// BenchmarkTLSExchange is a small keep-alive request and response over a pooled TLS connection, the
// way the engine reads it. The backend is a minimal TLS server that allocates nothing per request.
func BenchmarkTLSExchange(b *testing.B) {
	ca := newCA(b, "test ca")
	cert := issue(b, ca, "b", []string{"127.0.0.1"}, false)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert.tls}})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go serveFixed(ln)
	be, _ := newTLSPool(b, ln.Addr().String(), clientTLS(b, TLSOptions{CAFile: writeFile(b, "ca.pem", ca.pem)}))
	c, err := dialCtx(be)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if body, err := exchange(c); err != nil || body != "ok" {
			b.Fatalf("exchange: %q, %v", body, err)
		}
		be.Put(c)
		c = be.Get(false)
	}
}

// serveFixed answers every request head on every connection with a fixed 200 "ok".
func serveFixed(ln net.Listener) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			r := bufio.NewReader(nc)
			var line []byte
			for {
				var err error
				if line, err = r.ReadSlice('\n'); err != nil {
					return
				}
				if bytes.Equal(line, []byte("\r\n")) {
					if _, err := nc.Write(resp); err != nil {
						return
					}
				}
			}
		}()
	}
}
