package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// grpcBackend is a grpc-go server on loopback, with the standard health service unless noHealth.
type grpcBackend struct {
	addr   string
	health *grpchealth.Server
}

func startGRPC(t *testing.T, creds credentials.TransportCredentials, noHealth bool) *grpcBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(opts...)
	b := &grpcBackend{addr: ln.Addr().String()}
	if !noHealth {
		b.health = grpchealth.NewServer()
		b.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		b.health.SetServingStatus("up.Svc", healthpb.HealthCheckResponse_SERVING)
		b.health.SetServingStatus("down.Svc", healthpb.HealthCheckResponse_NOT_SERVING)
		healthpb.RegisterHealthServer(srv, b.health)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return b
}

// h2Backend is an upstream.Backend made as gateway makes those of a protocol: h2 upstream.
func h2Backend(addr string, tc *tls.Config) *upstream.Backend {
	return upstream.NewBackend(addr, upstream.Settings{TLS: tc, HTTP2: true, IdleTimeout: time.Minute}, nil, time.Now)
}

// probeOnce runs one probe of be with cfg and returns its verdict.
func probeOnce(t *testing.T, cfg Config, be *upstream.Backend) error {
	t.Helper()
	c := New(fast(cfg), nil, nil)
	defer c.Close()
	return c.probe(context.Background(), c.newTarget(be))
}

// A grpc check passes on SERVING and says why it fails otherwise, over h2c and over TLS.
func TestGRPCProbe(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "grpc test ca")
	srvCert := ca.Server(t, "127.0.0.1").TLSCertificate()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	clientTLS := func() *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{"h2"}}
	}
	plain := startGRPC(t, nil, false)
	secure := startGRPC(t, credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{srvCert}}), false)
	bare := startGRPC(t, nil, true)
	// An HTTP/2 server that is not gRPC, and an HTTP/1.1-only server.
	h2web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such page", http.StatusNotFound)
	}))
	h2web.EnableHTTP2 = true
	h2web.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert}}
	h2web.StartTLS()
	t.Cleanup(h2web.Close)
	h1web := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(h1web.Close)
	h1addr := strings.TrimPrefix(h1web.URL, "http://")

	tests := []struct {
		name    string
		addr    string
		tls     bool
		service string
		want    string // "" passes; else a part of the failure
	}{
		{"whole server serving", plain.addr, false, "", ""},
		{"service serving", plain.addr, false, "up.Svc", ""},
		{"service not serving", plain.addr, false, "down.Svc", "NOT_SERVING"},
		{"unknown service", plain.addr, false, "nope.Svc", "grpc-status 5 (NOT_FOUND): unknown service"},
		{"no health service", bare.addr, false, "", "grpc-status 12 (UNIMPLEMENTED)"},
		{"tls serving", secure.addr, true, "up.Svc", ""},
		{"tls not serving", secure.addr, true, "down.Svc", "NOT_SERVING"},
		{"not gRPC", strings.TrimPrefix(h2web.URL, "https://"), true, "", "not a gRPC answer: status 404"},
		{"not HTTP/2", h1addr, false, "", "no HTTP/2 answer: "},
		{"tls to a plain server", plain.addr, true, "", "tls handshake"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tc *tls.Config
			if tt.tls {
				tc = clientTLS()
			}
			err := probeOnce(t, Config{Type: "grpc", GRPCService: tt.service}, h2Backend(tt.addr, tc))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("probe failed: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("probe error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// The checker takes a gRPC backend down when its health service says NOT_SERVING and up again
// when it says SERVING.
func TestGRPCCheckVerdicts(t *testing.T) {
	t.Parallel()
	srv := startGRPC(t, nil, false)
	srv.health.SetServingStatus("flip.Svc", healthpb.HealthCheckResponse_SERVING)
	be := h2Backend(srv.addr, nil)
	var l logs
	c := New(fast(Config{Type: "grpc", GRPCService: "flip.Svc", Rise: 1, Fall: 1}), l.logf, nil)
	defer c.Close()
	c.Watch([]*upstream.Backend{be})
	checked(t, c, srv.addr, 1)
	if !be.State.ActiveUp() {
		t.Fatal("a SERVING backend is down")
	}
	srv.health.SetServingStatus("flip.Svc", healthpb.HealthCheckResponse_NOT_SERVING)
	l.logged(t, "is down: NOT_SERVING")
	if be.State.ActiveUp() {
		t.Error("a NOT_SERVING backend is still up")
	}
	srv.health.SetServingStatus("flip.Svc", healthpb.HealthCheckResponse_SERVING)
	l.logged(t, "is up")
}

// An http check of an HTTP/2 backend speaks HTTP/2 to it, as the engine does (an h2c-only server
// answers nothing else).
func TestHTTPCheckOfH2Backend(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	h2srv := &http2.Server{}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				h2srv.ServeConn(nc, &http2.ServeConnOpts{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.ProtoMajor != 2 || r.URL.Path != "/healthz" {
						w.WriteHeader(http.StatusTeapot)
						return
					}
					w.Write([]byte("fine"))
				})})
			}()
		}
	}()
	if err := probeOnce(t, Config{Path: "/healthz", Body: "fine"}, h2Backend(ln.Addr().String(), nil)); err != nil {
		t.Errorf("probe: %v", err)
	}
}

func TestGRPCHealthRequest(t *testing.T) {
	tests := []struct {
		name    string
		service string
		want    []byte
	}{
		{"whole server", "", []byte{0, 0, 0, 0, 0}},
		{"service", "a.B", []byte{0, 0, 0, 0, 5, 0x0a, 3, 'a', '.', 'B'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grpcHealthRequest(tt.service); string(got) != string(tt.want) {
				t.Errorf("got % x, want % x", got, tt.want)
			}
		})
	}
}

func TestParseHealthResponse(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		status uint64
		err    string
	}{
		{"serving", []byte{0, 0, 0, 0, 2, 0x08, 1}, grpcServing, ""},
		{"not serving", []byte{0, 0, 0, 0, 2, 0x08, 2}, grpcNotServing, ""},
		{"empty message is UNKNOWN", []byte{0, 0, 0, 0, 0}, grpcUnknown, ""},
		{"unknown fields skipped", []byte{0, 0, 0, 0, 6, 0x12, 2, 'h', 'i', 0x08, 1}, grpcServing, ""},
		{"truncated varint", []byte{0, 0, 0, 0, 1, 0x08}, 0, "malformed varint"},
		{"trailing bytes after the message ignored", []byte{0, 0, 0, 0, 2, 0x08, 1, 9, 9}, grpcServing, ""},
		{"every wire type", []byte{0, 0, 0, 0, 20, 0x12, 2, 'h', 'i', 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x1d, 1, 2, 3, 4, 0x08, 1}, grpcServing, ""},
		{"no message", nil, 0, "no message"},
		{"short prefix", []byte{0, 0, 0}, 0, "truncated message prefix"},
		{"compressed", []byte{1, 0, 0, 0, 2, 0x08, 1}, 0, "compressed"},
		{"truncated", []byte{0, 0, 0, 0, 9, 0x08, 1}, 0, "truncated to 2"},
		{"bad length field", []byte{0, 0, 0, 0, 3, 0x12, 9, 'x'}, 0, "length-delimited"},
		{"group", []byte{0, 0, 0, 0, 1, 0x0b}, 0, "wire type 3"},
		{"field 0", []byte{0, 0, 0, 0, 2, 0x00, 1}, 0, "field number 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHealthResponse(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.status {
				t.Fatalf("got %d, %v; want %d", got, err, tt.status)
			}
		})
	}
}

func TestGRPCStatusError(t *testing.T) {
	tests := []struct {
		name, code, msg, want string
	}{
		{"ok", "0", "", ""},
		{"missing", "", "", "no grpc-status in the answer"},
		{"named", "14", "", "grpc-status 14 (UNAVAILABLE)"},
		{"percent-encoded message", "5", "unknown%20service", "grpc-status 5 (NOT_FOUND): unknown service"},
		{"unknown code", "99", "x", "grpc-status 99 (?): x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := grpcStatusError(tt.code, tt.msg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzParseHealthResponse(f *testing.F) {
	for _, s := range [][]byte{
		{0, 0, 0, 0, 2, 0x08, 1},
		{0, 0, 0, 0, 0},
		{0, 0, 0, 0, 20, 0x12, 2, 'h', 'i', 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x1d, 1, 2, 3, 4, 0x08, 1},
		{0, 0, 0, 0, 3, 0x12, 9, 'x'},
		{1, 0xff, 0xff, 0xff, 0xff},
		grpcHealthRequest("svc"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		status, err := parseHealthResponse(b)
		if err != nil && status != 0 {
			t.Fatalf("status %d with error %v", status, err)
		}
		if err == nil && (len(b) < 5 || b[0] != 0) {
			t.Fatalf("accepted % x", b)
		}
	})
}
