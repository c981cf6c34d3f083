package app

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/acmetest"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// End to end: gatehouse obtains certificates for two names from Pebble (acmetest) at start,
// answering the challenges on its own listeners, and serves them. Not parallel: Pebble is
// configured through environment variables.

// acmeNames are the names the README's example obtains certificates for, here under .test.
var acmeNames = []string{"shop.test", "api.test"}

// acmeDeadline bounds the wait for certificates after a start.
const acmeDeadline = 20 * time.Second

// acmeEnv is Pebble, a backend, and the config of a gatehouse with automatic certificates: the
// README's example on loopback ports.
type acmeEnv struct {
	ca        *acmetest.CA
	httpPort  int // the plain listener, which answers HTTP-01 and redirects the rest
	tlsPort   int // the TLS listener with acme: true, which answers TLS-ALPN-01
	accessLog string
	src       string // the config file
}

// newACMEEnv starts Pebble validating against two free ports and a backend that says which host
// and target it was asked for, and writes the config for them with the given challenges.
func newACMEEnv(t *testing.T, challenge string) *acmeEnv {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "backend "+r.Host+" "+r.URL.RequestURI())
	}))
	t.Cleanup(backend.Close)
	e := &acmeEnv{httpPort: acmetest.FreePort(t), tlsPort: acmetest.FreePort(t)}
	for e.tlsPort == e.httpPort {
		e.tlsPort = acmetest.FreePort(t)
	}
	e.ca = acmetest.Start(t, acmetest.Options{HTTPPort: e.httpPort, TLSALPNPort: e.tlsPort, Names: acmeNames})
	dir := t.TempDir()
	e.accessLog = filepath.Join(dir, "access.log")
	e.src = fmt.Sprintf(`listeners:
  - address: 127.0.0.1:%[1]d
    redirect_to_https: true
    https_port: %[2]d
  - address: 127.0.0.1:%[2]d
    tls: {acme: true, hsts: {max_age: 1h}}
acme:
  email: ops@shop.test
  names: [shop.test, api.test]
  directory: %[3]s
  ca_root: %[4]q
  storage_dir: %[5]q
  challenges: [%[6]s]
  http_port: %[1]d
  tls_alpn_port: %[2]d
admin: {address: "off"}
access_log: {output: %[7]q}
routes:
  - {match: {hosts: [shop.test]}, upstream: shop}
  - {match: {hosts: [api.test], path_prefix: /grpc.health.v1.Health/}, upstream: api-grpc}
  - {match: {hosts: [api.test]}, upstream: api}
upstreams:
  - {name: shop, backends: [%[8]s]}
  - {name: api, backends: [%[8]s]}
  - name: api-grpc
    protocol: h2
    backends: [http://%[9]s]
    health: {active: {type: grpc, interval: 1s, timeout: 1s, rise: 1}}
`, e.httpPort, e.tlsPort, e.ca.Directory, e.ca.RootFile, filepath.Join(dir, "acme"), challenge, e.accessLog, backend.URL,
		startGRPCHealth(t))
	return e
}

// start parses the config and starts gatehouse with it; it is shut down when the test ends.
func (e *acmeEnv) start(t *testing.T) *App {
	t.Helper()
	cfg, err := config.Parse([]byte(e.src), "acme.yaml")
	if err != nil {
		t.Fatalf("config:\n%s\n%v", e.src, err)
	}
	a, err := Start(cfg, Options{Logf: acmetest.Logf(t)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	return a
}

// client returns an https client that trusts Pebble's issuing root only and connects to the TLS
// listener whatever the URL's host.
func (e *acmeEnv) client() *http.Client {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(e.tlsPort))
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: e.ca.Roots()},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// waitServed waits until an https request for each name gets a certificate Pebble issued for it
// and the backend's 200 through gatehouse, and returns the certificates by name.
func (e *acmeEnv) waitServed(t *testing.T) map[string]*x509.Certificate {
	t.Helper()
	c := e.client()
	certs := map[string]*x509.Certificate{}
	deadline := time.Now().Add(acmeDeadline)
	for _, name := range acmeNames {
		for {
			resp, err := c.Get("https://" + name + "/hello?x=1")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				leaf := resp.TLS.PeerCertificates[0]
				if err := leaf.VerifyHostname(name); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if want := "backend " + name + " /hello?x=1"; resp.StatusCode != 200 || string(body) != want {
					t.Fatalf("%s: %d %q; want 200 %q", name, resp.StatusCode, body, want)
				}
				certs[name] = leaf
				break
			}
			// While the certificate is pending, the handshake fails.
			if time.Now().After(deadline) {
				t.Fatalf("no certificate for %s within %v (%d orders): %v", name, acmeDeadline, e.ca.Orders(), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return certs
}

// challengeAnswers counts the access log's lines of HTTP-01 challenges answered, by host.
func (e *acmeEnv) challengeAnswers(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open(e.accessLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Host   string `json:"host"`
			Path   string `json:"path"`
			Status int    `json:"status"`
			Route  string `json:"route"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("access log line %q: %v", sc.Text(), err)
		}
		if line.Route == "acme-challenge" && line.Status == 200 {
			host, _, err := net.SplitHostPort(line.Host)
			if err != nil {
				host = line.Host
			}
			out[host]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestE2EACME runs the README's automatic-certificates example against Pebble, once with each
// challenge type alone: certificates for both names are obtained at start through gatehouse's
// own listeners, served to clients that trust the CA, and found in the storage after a restart
// without a new order.
func TestE2EACME(t *testing.T) {
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			e := newACMEEnv(t, challenge)
			a := e.start(t)
			first := e.waitServed(t)
			e.checkH2AndGRPC(t)
			if n := e.ca.Orders(); n != int64(len(acmeNames)) {
				t.Errorf("%d orders; want one per name, %d", n, len(acmeNames))
			}

			// A name the config does not list gets no certificate: the handshake is refused
			// (there is no certificate file to fall back to), and nothing is ordered.
			tlsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(e.tlsPort))
			for _, name := range []string{"other.test", ""} {
				conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
				if err == nil {
					conn.Close()
					t.Errorf("handshake for %q succeeded with %v; want it refused", name, conn.ConnectionState().PeerCertificates[0].DNSNames)
				}
			}

			// The plain listener redirects everything but live challenges, including a challenge
			// path with a token that is not in progress.
			plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for _, path := range []string{"/page?q=1", "/.well-known/acme-challenge/bm90LWEtdG9rZW4"} {
				req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(e.httpPort)+path, nil)
				req.Host = "shop.test"
				resp, err := plain.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := "https://shop.test:" + strconv.Itoa(e.tlsPort) + path
				if resp.StatusCode != 308 || resp.Header.Get("Location") != want {
					t.Errorf("plain GET %s: %d to %q; want 308 to %q", path, resp.StatusCode, resp.Header.Get("Location"), want)
				}
			}

			if err := a.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			// HTTP-01 was answered by the plain listener (and logged); TLS-ALPN-01 by the TLS
			// listener, the only thing on its port, with no HTTP request at all.
			answers := e.challengeAnswers(t)
			for _, name := range acmeNames {
				if got := answers[name]; (challenge == "http-01") != (got > 0) {
					t.Errorf("%d HTTP-01 answers for %s in the access log with challenges [%s]", got, name, challenge)
				}
			}

			// A restart on the same storage serves the stored certificates: no new order.
			e.start(t)
			again := e.waitServed(t)
			for _, name := range acmeNames {
				if again[name].SerialNumber.Cmp(first[name].SerialNumber) != 0 {
					t.Errorf("%s: serial %v after the restart; want %v, the stored certificate", name, again[name].SerialNumber, first[name].SerialNumber)
				}
			}
			if n := e.ca.Orders(); n != int64(len(acmeNames)) {
				t.Errorf("%d orders after the restart; want still %d", n, len(acmeNames))
			}
		})
	}
}

// startGRPCHealth starts a grpc-go server (h2c) with the standard health service, serving, and
// returns its address.
func startGRPCHealth(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("shop.v1.Orders", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// checkH2AndGRPC checks the rest of the README's example over the certificates just obtained:
// HTTP/2 by ALPN to the site, and a gRPC call to api.test's gRPC backend through gatehouse.
func (e *acmeEnv) checkH2AndGRPC(t *testing.T) {
	t.Helper()
	c := e.client()
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	resp, err := c.Get("https://shop.test/h2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(body) != "backend shop.test /h2" {
		t.Errorf("HTTP/2 to shop.test: %s %q, want HTTP/2 and the backend's answer", resp.Proto, body)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(e.tlsPort))
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithAuthority("api.test"),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: e.ca.Roots(), ServerName: "api.test"})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(cc)
	r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "shop.v1.Orders"})
	if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC call through gatehouse: %v, %v; want SERVING", r, err)
	}
	_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("gRPC call for an unknown service: %v; want the backend's NotFound", err)
	}
}
