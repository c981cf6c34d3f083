package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

// h2Client is env.client speaking HTTP/2 when the server offers it by ALPN.
func (env *tlsEnv) h2Client(cert *tls.Certificate) *http.Client {
	c := env.client(cert)
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	return c
}

func TestE2EHTTP2OverTLS(t *testing.T) {
	t.Parallel()
	env := startTLSEnv(t, "request", "  - {name: admin, match: {path_prefix: /admin}, upstream: u, require_client_cert: true}\n", "")
	alice := env.clientCA.Client(t, "alice").TLSCertificate()
	for _, tc := range []struct {
		name, host, path string
		cert             *tls.Certificate
		want             int
		wantSubject      string
	}{
		{name: "default certificate name", host: "a.test", path: "/x?y=1", want: 200},
		{name: "wildcard name", host: "q.b.test", path: "/", want: 200},
		{name: "route requires a certificate", host: "a.test", path: "/admin", want: 403},
		{name: "verified client certificate", host: "a.test", path: "/admin", cert: &alice, want: 200, wantSubject: "CN=alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := env.h2Client(tc.cert).Get("https://" + tc.host + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 || resp.TLS.NegotiatedProtocol != "h2" {
				t.Fatalf("answered over %s (ALPN %q), want HTTP/2", resp.Proto, resp.TLS.NegotiatedProtocol)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, tc.want)
			}
			if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 {
				t.Errorf("Strict-Transport-Security %q, want the listener's, once", got)
			}
			if tc.want != 200 {
				return
			}
			if string(body) != "backend "+tc.path {
				t.Errorf("body %q", body)
			}
			seen := <-env.backendSeen
			if seen.Get("X-Forwarded-Proto") != "https" || seen.Get("X-Seen-Host") != tc.host {
				t.Errorf("backend saw proto %q host %q, want https and %s", seen.Get("X-Forwarded-Proto"), seen.Get("X-Seen-Host"), tc.host)
			}
			if got := seen.Get("X-Client-Cert-Subject"); got != tc.wantSubject {
				t.Errorf("backend saw client subject %q, want %q", got, tc.wantSubject)
			}
		})
	}
}

// TestE2EHTTP2Curl checks the front end with a client that is not Go's: curl with nghttp2.
func TestE2EHTTP2Curl(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is needed for this test (.ci/run installs it)")
	}
	env := startTLSEnv(t, "", "", "")
	_, port, _ := net.SplitHostPort(env.tlsAddr)
	out, err := exec.Command(curl, "-sS", "--http2", "--cacert", env.caFile(t), "--resolve", "a.test:"+port+":127.0.0.1",
		"-w", "\n%{http_version} %{http_code}", "https://a.test:"+port+"/via-curl").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if got := string(out); got != "backend /via-curl\n2 200" {
		t.Errorf("curl printed %q, want the backend's body over HTTP/2", got)
	}
	<-env.backendSeen
}

// caFile writes the test CA's certificate for clients that read it from a file.
func (env *tlsEnv) caFile(t *testing.T) string {
	return env.ca.WriteRootFile(t, t.TempDir(), "ca.pem")
}

// TestE2EProtocolsH1Only checks that a TLS listener with protocols [h1] offers no HTTP/2.
func TestE2EProtocolsH1Only(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "test CA")
	cert, key := ca.Server(t, "a.test").WriteFiles(t, dir, "a")
	be := startEcho(t)
	src := fmt.Sprintf(`listeners:
  - {address: 127.0.0.1:1, protocols: [h1], tls: {certificates: [{cert_file: %q, key_file: %q}]}}
admin: {address: "off"}
access_log: {output: "off"}
routes: [{upstream: u}]
upstreams: [{name: u, backends: [%s]}]
`, cert, key, be)
	cfg, err := config.Parse([]byte(src), "h1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listeners[0].Address = "127.0.0.1:0"
	a, err := Start(cfg, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	addr := a.Addrs()[0].String()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool(), ServerName: "a.test"},
	}}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.StatusCode != 200 {
		t.Errorf("protocols [h1]: answered %s %d, want HTTP/1.1 200", resp.Proto, resp.StatusCode)
	}
	// A client that only speaks h2 is refused during the handshake.
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "a.test", NextProtos: []string{"h2"}})
	if err == nil {
		conn.Close()
		t.Error("an h2-only client completed a handshake with an h1-only listener")
	} else if !strings.Contains(err.Error(), "no application protocol") {
		t.Errorf("h2-only client: %v, want a no_application_protocol alert", err)
	}
}

// startEcho starts a backend answering 200 "ok" and returns its URL.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
