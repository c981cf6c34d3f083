package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

// protocolYAML is a config with upstream u of protocol proto: an http:// and an https:// backend.
func protocolYAML(proto, caFile, plainAddr, tlsAddr string) string {
	return fmt.Sprintf(`
listeners: [{address: 127.0.0.1:8080}]
routes: [{name: r, upstream: u}]
upstreams:
  - name: u
    protocol: %s
    tls: {ca_file: %s}
    backends: ["http://%s", "https://%s"]
`, proto, caFile, plainAddr, tlsAddr)
}

// An upstream's protocol reaches its backends: h2 makes them HTTP/2 backends whose TLS offers only
// ALPN h2; h1 keeps HTTP/1.1 (ALPN http/1.1). A reload that changes the protocol rebuilds the
// backends, which keep their health, and releases the old ones' connections.
func TestUpstreamProtocol(t *testing.T) {
	t.Parallel()
	caFile := tlstest.NewCA(t, "backends").WriteRootFile(t, t.TempDir(), "ca.pem")
	plain := startServer(t)
	const tlsAddr = "127.0.0.1:9" // never dialled here
	g := newGateway(t)
	steps := []struct {
		proto string
		http2 bool
		alpn  []string
	}{
		{"h1", false, []string{"http/1.1"}},
		{"h2", true, []string{"h2"}},
		{"h1", false, []string{"http/1.1"}},
	}
	prev := map[string]bool{} // backend pointers seen, as "%p"
	for i, s := range steps {
		gr := apply(t, g, parseConfig(t, protocolYAML(s.proto, caFile, plain.Addr, tlsAddr)))
		bs := byAddrOf(t, gr, "u")
		for addr, be := range bs {
			if be.HTTP2() != s.http2 || be.Settings().HTTP2 != s.http2 {
				t.Errorf("step %d (%s): backend %s HTTP2() %v, Settings().HTTP2 %v", i, s.proto, addr, be.HTTP2(), be.Settings().HTTP2)
			}
			p := fmt.Sprintf("%p", be)
			if prev[p] {
				t.Errorf("step %d (%s): backend %s kept across a protocol change", i, s.proto, addr)
			}
			prev[p] = true
		}
		if tc := bs[tlsAddr].TLSConfig(); tc == nil || !slices.Equal(tc.NextProtos, s.alpn) {
			t.Errorf("step %d (%s): https backend's ALPN %v, want %v", i, s.proto, tc.NextProtos, s.alpn)
		}
		if s.proto == "h1" && i == 0 {
			// A pooled HTTP/1.1 connection, to be released when the backend is replaced.
			pool(t, bs[plain.Addr], plain)
			bs[plain.Addr].State.Eject(1 << 62)
		}
		if i == 1 {
			if got := bs[plain.Addr].State.EjectedUntil(); got != 1<<62 {
				t.Errorf("the rebuilt backend lost the ejection of the one it replaces: %d", got)
			}
			waitFor(t, "the replaced backend's pooled connection closes", func() bool { return plain.open() == 0 })
		}
	}
}

func TestHealthConfigGRPC(t *testing.T) {
	t.Parallel()
	got := healthConfig(&config.ActiveHealth{Type: "grpc", GRPCService: "pkg.Svc", Status: "200-399", Rise: 2, Fall: 3})
	if got.Type != "grpc" || got.GRPCService != "pkg.Svc" {
		t.Errorf("health config %+v, want type grpc and its service", got)
	}
}

// A grpc health check configured on an h2 upstream takes a backend whose health service says
// NOT_SERVING out of rotation.
func TestGRPCHealthCheckWired(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := grpchealth.NewServer()
	hs.SetServingStatus("pkg.Svc", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	g := newGateway(t)
	gr := apply(t, g, parseConfig(t, fmt.Sprintf(`
listeners: [{address: 127.0.0.1:8080}]
routes: [{name: r, upstream: u}]
upstreams:
  - name: u
    protocol: h2
    backends: ["http://%s"]
    health:
      active: {type: grpc, grpc_service: pkg.Svc, interval: 100ms, timeout: 100ms, rise: 1, fall: 1}
`, ln.Addr())))
	be := byAddrOf(t, gr, "u")[ln.Addr().String()]
	waitFor(t, "the NOT_SERVING backend goes down", func() bool { return !be.State.ActiveUp() })
	hs.SetServingStatus("pkg.Svc", healthpb.HealthCheckResponse_SERVING)
	waitFor(t, "the SERVING backend comes back", be.State.ActiveUp)
}

// Active checks follow a protocol change: after a reload from h1 to h2, probes speak HTTP/2.
func TestHealthCheckFollowsProtocol(t *testing.T) {
	t.Parallel()
	var h1Probes, h2Probes atomic.Int32
	srv := httptest.NewServer(h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2Probes.Add(1)
		} else {
			h1Probes.Add(1)
		}
	}), &http2.Server{}))
	t.Cleanup(srv.Close)
	src := func(proto string) string {
		return fmt.Sprintf(`
listeners: [{address: 127.0.0.1:8080}]
routes: [{name: r, upstream: u}]
upstreams:
  - name: u
    protocol: %s
    backends: ["%s"]
    health:
      active: {path: /hz, interval: 20ms, timeout: 20ms, rise: 1, fall: 100}
`, proto, srv.URL)
	}
	g := newGateway(t)
	apply(t, g, parseConfig(t, src("h1")))
	waitFor(t, "an HTTP/1.1 probe", func() bool { return h1Probes.Load() > 0 })
	apply(t, g, parseConfig(t, src("h2")))
	waitFor(t, "an HTTP/2 probe after the reload", func() bool { return h2Probes.Load() > 0 })
}
