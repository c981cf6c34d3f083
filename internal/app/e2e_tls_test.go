package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

// tlsEnv is a gatehouse with a TLS listener (certificates for a.test and *.b.test, a.test's the
// default), a plain listener that redirects to https, and an echo backend that reports what it
// received.
type tlsEnv struct {
	app         *App
	tlsAddr     string
	plainAddr   string
	ca          *tlstest.CA
	clientCA    *tlstest.CA
	backendSeen chan http.Header
}

func startTLSEnv(t *testing.T, clientAuth, extraRoutes, upstreams string) *tlsEnv {
	t.Helper()
	dir := t.TempDir()
	env := &tlsEnv{ca: tlstest.NewCA(t, "gatehouse test CA"), clientCA: tlstest.NewCA(t, "client CA"),
		backendSeen: make(chan http.Header, 16)}
	aCert, aKey := env.ca.Server(t, "a.test").WriteFiles(t, dir, "a")
	bCert, bKey := env.ca.Server(t, "*.b.test").WriteFiles(t, dir, "b")
	clientCAFile := env.clientCA.WriteRootFile(t, dir, "client-ca.pem")
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("X-Seen-Host", r.Host)
		env.backendSeen <- h
		w.Header().Set("Strict-Transport-Security", "max-age=1")
		io.WriteString(w, "backend "+r.URL.RequestURI())
	}))
	t.Cleanup(be.Close)
	auth := ""
	if clientAuth != "" {
		auth = fmt.Sprintf("\n      client_auth: {mode: %s, ca_file: %q}", clientAuth, clientCAFile)
	}
	if upstreams == "" {
		upstreams = "upstreams: [{name: u, backends: [" + be.URL + "]}]\n"
	}
	src := fmt.Sprintf(`listeners:
  - address: 127.0.0.1:1
    tls:
      certificates:
        - {cert_file: %q, key_file: %q}
        - {cert_file: %q, key_file: %q}
      hsts: {max_age: 1h, include_subdomains: true}%s
  - address: 127.0.0.1:2
    redirect_to_https: true
    https_port: 8443
admin: {address: "off"}
access_log: {output: "off"}
routes:
%s  - {name: all, upstream: u}
%s`, aCert, aKey, bCert, bKey, auth, extraRoutes, upstreams)
	cfg, err := config.Parse([]byte(src), "tls.yaml")
	if err != nil {
		t.Fatalf("config:\n%s\n%v", src, err)
	}
	cfg.Listeners[0].Address, cfg.Listeners[1].Address = "127.0.0.1:0", "127.0.0.1:0"
	env.app, err = Start(cfg, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.app.Shutdown(context.Background()) })
	env.tlsAddr, env.plainAddr = env.app.Addrs()[0].String(), env.app.Addrs()[1].String()
	return env
}

// client returns an https client that trusts the test CA, connects to gatehouse whatever the
// URL's host, and presents cert when given.
func (env *tlsEnv) client(cert *tls.Certificate) *http.Client {
	tc := &tls.Config{RootCAs: env.ca.Pool()}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: tc,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, env.tlsAddr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func TestE2ETLSTermination(t *testing.T) {
	t.Parallel()
	env := startTLSEnv(t, "", "", "")
	tests := []struct {
		host, wantCN string
	}{
		{"a.test", "a.test"},
		{"x.b.test", "*.b.test"},
		{"y.B.TEST", "*.b.test"},
	}
	for _, tt := range tests {
		resp, err := env.client(nil).Get("https://" + tt.host + "/p?q=1")
		if err != nil {
			t.Fatalf("GET https://%s: %v", tt.host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.TLS.PeerCertificates[0].DNSNames[0]; got != tt.wantCN {
			t.Errorf("%s: served the certificate for %s, want %s", tt.host, got, tt.wantCN)
		}
		if resp.StatusCode != 200 || string(body) != "backend /p?q=1" {
			t.Errorf("%s: %d %q", tt.host, resp.StatusCode, body)
		}
		if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != "max-age=3600; includeSubDomains" {
			t.Errorf("%s: Strict-Transport-Security %q, want the listener's only", tt.host, got)
		}
		seen := <-env.backendSeen
		if seen.Get("X-Forwarded-Proto") != "https" || !strings.Contains(seen.Get("Forwarded"), "proto=https") {
			t.Errorf("%s: backend saw X-Forwarded-Proto %q, Forwarded %q; want https", tt.host, seen.Get("X-Forwarded-Proto"), seen.Get("Forwarded"))
		}
	}
	// No SNI (a client connecting by IP) gets the default certificate.
	conn, err := tls.Dial("tcp", env.tlsAddr, &tls.Config{RootCAs: env.ca.Pool(), ServerName: "a.test"})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	raw, err := tls.Dial("tcp", env.tlsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := raw.ConnectionState().PeerCertificates[0].DNSNames[0]; got != "a.test" {
		t.Errorf("no SNI: certificate for %s, want the default a.test", got)
	}
	raw.Close()
	// TLS 1.1 is refused.
	if c, err := tls.Dial("tcp", env.tlsAddr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
}

func TestE2ERedirectToHTTPS(t *testing.T) {
	t.Parallel()
	env := startTLSEnv(t, "", "", "")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", "http://"+env.plainAddr+"/pay?x=1", strings.NewReader("b"))
	req.Host = "shop.example"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 308 || resp.Header.Get("Location") != "https://shop.example:8443/pay?x=1" {
		t.Errorf("plain listener: %d Location %q, want 308 to https://shop.example:8443/pay?x=1", resp.StatusCode, resp.Header.Get("Location"))
	}
	select {
	case h := <-env.backendSeen:
		t.Errorf("the redirecting listener forwarded a request: %v", h)
	default:
	}
}

func TestE2EMutualTLS(t *testing.T) {
	t.Parallel()
	env := startTLSEnv(t, "request", "  - {name: admin, match: {path_prefix: /admin}, upstream: u, require_client_cert: true}\n", "")
	alice := env.clientCA.Client(t, "alice").TLSCertificate()
	tests := []struct {
		name   string
		cert   *tls.Certificate
		path   string
		forged bool
		want   int
	}{
		{"no certificate, open route", nil, "/open", true, 200},
		{"no certificate, route requires one", nil, "/admin", false, 403},
		{"verified certificate", &alice, "/admin", true, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "https://a.test"+tt.path, nil)
			if tt.forged {
				req.Header.Set("X-Client-Cert-Subject", "CN=mallory")
				req.Header.Set("X-Client-Cert-Fingerprint", "00")
			}
			resp, err := env.client(tt.cert).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want != 200 {
				return
			}
			seen := <-env.backendSeen
			subj, fp := seen.Values("X-Client-Cert-Subject"), seen.Values("X-Client-Cert-Fingerprint")
			if tt.cert == nil {
				if len(subj)+len(fp) != 0 {
					t.Errorf("the backend got forged client-certificate fields: %q %q", subj, fp)
				}
				return
			}
			leaf := tt.cert.Leaf
			if len(subj) != 1 || subj[0] != "CN=alice" || len(fp) != 1 || len(fp[0]) != 64 {
				t.Errorf("backend saw subject %q fingerprint %q (leaf %v), want CN=alice and one SHA-256", subj, fp, leaf)
			}
		})
	}
	// A certificate from another CA, sent anyway (a Go client would hold it back, as the server
	// names its CA), is refused: under TLS 1.3 the refusal arrives with the first read.
	mallory := tlstest.NewCA(t, "other CA").Client(t, "mallory").TLSCertificate()
	conn, err := tls.Dial("tcp", env.tlsAddr, &tls.Config{RootCAs: env.ca.Pool(), ServerName: "a.test",
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &mallory, nil }})
	if err == nil {
		_, err = conn.Write([]byte("GET /open HTTP/1.1\r\nHost: a.test\r\n\r\n"))
		if err == nil {
			_, err = conn.Read(make([]byte, 64))
		}
		conn.Close()
	}
	if err == nil {
		t.Error("a client certificate from an unknown CA was accepted")
	}
}

func TestE2EHTTPSBackend(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bca := tlstest.NewCA(t, "backend CA")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls backend "+r.Host)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{bca.Server(t, "127.0.0.1", "backend.internal").TLSCertificate()}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := bca.WriteRootFile(t, dir, "backend-ca.pem")
	tests := []struct {
		name, tlsCfg string
		want         int
	}{
		{"verified with the configured CA", fmt.Sprintf("tls: {ca_file: %q}", caFile), 200},
		{"server name override", fmt.Sprintf("tls: {ca_file: %q, server_name: backend.internal}", caFile), 200},
		{"unknown CA is a 502", "", 502},
		{"wrong server name is a 502", fmt.Sprintf("tls: {ca_file: %q, server_name: other.internal}", caFile), 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ups := "upstreams:\n  - name: u\n    backends: [" + srv.URL + "]\n"
			if tt.tlsCfg != "" {
				ups += "    " + tt.tlsCfg + "\n"
			}
			env := startTLSEnv(t, "", "", ups)
			resp, err := env.client(nil).Get("https://a.test/x")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want == 200 && string(body) != "tls backend a.test" {
				t.Errorf("body %q", body)
			}
		})
	}
}

// An acme storage directory that cannot be written stops the start with the reason, rather than
// leaving gatehouse up without ever getting certificates.
func TestStartRefusesUnusableACMEStorage(t *testing.T) {
	t.Parallel()
	file := t.TempDir() + "/not-a-directory"
	tlstest.WriteFile(t, file, []byte("x"))
	src := fmt.Sprintf(`listeners:
  - address: 127.0.0.1:1
    tls: {acme: true}
admin: {address: "off"}
access_log: {output: "off"}
acme: {names: [shop.test], storage_dir: %q, directory: "https://127.0.0.1:9/dir"}
routes: [{respond: {}}]
`, file+"/acme")
	cfg, err := config.Parse([]byte(src), "acme.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listeners[0].Address = "127.0.0.1:0"
	a, err := Start(cfg, Options{Logf: t.Logf})
	if err == nil {
		a.Shutdown(context.Background())
		t.Fatal("Start succeeded with a storage directory under a file")
	}
	if !strings.Contains(err.Error(), "not-a-directory") {
		t.Errorf("error %q does not name the storage path", err)
	}
}

// A client that speaks plain HTTP to the TLS listener gets a readable 400, as from nginx, rather
// than a closed connection.
func TestE2EPlainHTTPOnTLSPort(t *testing.T) {
	t.Parallel()
	env := startTLSEnv(t, "", "", "")
	resp, err := http.Get("http://" + env.tlsAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 400 || string(body) != "400 Bad Request: plain HTTP sent to an HTTPS port\n" {
		t.Errorf("plain HTTP to the TLS port: %d %q (%v)", resp.StatusCode, body, err)
	}
	// TLS still works on it afterwards.
	if r, err := env.client(nil).Get("https://a.test/ok"); err != nil || r.StatusCode != 200 {
		t.Errorf("https after a plain request: %v %v", r, err)
	} else {
		r.Body.Close()
	}
}
