package main

import (
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"

	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync/atomic"
	"testing"
	"time"
)

// selfSigned is an ECDSA P-256 certificate for localhost and 127.0.0.1, made for the test.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// server is a TLS server (session tickets on, as every proxy in the benchmark has them) that
// answers status and counts the requests that came on a resumed session or without
// Connection: close.
type server struct {
	addr                   string
	resumed, keptAlive, sn atomic.Int64
}

func startServer(t *testing.T, status int) *server {
	t.Helper()
	s := &server{}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS.DidResume {
			s.resumed.Add(1)
		}
		if !r.Close {
			s.keptAlive.Add(1)
		}
		if r.TLS.ServerName != "localhost" {
			s.sn.Add(1)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("hello"))
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	s.addr = ts.Listener.Addr().String()
	return s
}

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		resume  bool
		wantBad bool
	}{
		{name: "full handshakes", status: 200},
		{name: "resumed with -resume", status: 200, resume: true},
		{name: "errors counted", status: 503, wantBad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.status)
			o := options{addr: s.addr, path: "/", sni: "localhost", conns: 2, dur: 150 * time.Millisecond,
				timeout: 5 * time.Second, resume: tt.resume}
			got := run(o)
			n := got.ok + got.bad
			if n < 2 {
				t.Fatalf("%d requests completed, want several", n)
			}
			if got.connect+got.read+got.write+got.tmout != 0 {
				t.Errorf("socket errors: %+v", got)
			}
			if tt.wantBad && got.ok != 0 || !tt.wantBad && got.bad != 0 {
				t.Errorf("ok %d, bad %d for status %d", got.ok, got.bad, tt.status)
			}
			if len(got.lat) != n {
				t.Errorf("%d latencies for %d requests", len(got.lat), n)
			}
			if int(s.resumed.Load()) != got.resumed {
				t.Errorf("client counted %d resumed sessions, the server %d", got.resumed, s.resumed.Load())
			}
			if tt.resume && got.resumed == 0 {
				t.Error("-resume: no session was resumed")
			}
			if !tt.resume && got.resumed != 0 {
				t.Errorf("%d sessions resumed without -resume", got.resumed)
			}
			if k := s.keptAlive.Load(); k != 0 {
				t.Errorf("%d requests without Connection: close", k)
			}
			if k := s.sn.Load(); k != 0 {
				t.Errorf("%d requests with a server name other than localhost", k)
			}
		})
	}
}

// TestConnectErrors checks that a server that is not there counts as connect errors.
func TestConnectErrors(t *testing.T) {
	addr := freeport.Addr(t)
	got := run(options{addr: addr, path: "/", conns: 1, dur: 20 * time.Millisecond, timeout: time.Second})
	if got.connect == 0 || got.ok+got.bad != 0 {
		t.Errorf("ok %d, bad %d, connect errors %d; want connect errors only", got.ok, got.bad, got.connect)
	}
}

// TestSummary checks that the summary reads the way bench/compare.py reads wrk's.
func TestSummary(t *testing.T) {
	var b bytes.Buffer
	lat := []time.Duration{900 * time.Microsecond, time.Millisecond, 2 * time.Millisecond}
	printSummary(&b, options{addr: "127.0.0.1:8443", path: "/", conns: 50, dur: 5 * time.Second},
		&tally{ok: 2, bad: 1, connect: 3, tmout: 1, lat: lat, elapsed: 2 * time.Second})
	out := b.String()
	for _, want := range []struct{ re, value string }{
		{`(\d+) requests in`, "3"},
		{`Requests/sec:\s+([\d.]+)`, "1.50"},
		{`\s50%\s+([\d.]+us)\b`, "1000.00us"},
		{`\s99%\s+([\d.]+us)\b`, "2000.00us"},
		{`Non-2xx or 3xx responses: (\d+)`, "1"},
		{`Socket errors: (.*)`, "connect 3, read 0, write 0, timeout 1"},
		{`Resumed sessions: (\d+)`, "0"},
	} {
		m := regexp.MustCompile(want.re).FindStringSubmatch(out)
		if m == nil || m[1] != want.value {
			t.Errorf("%s: got %q, want %q in\n%s", want.re, m, want.value, out)
		}
	}
}
