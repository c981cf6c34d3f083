package acmetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The directory is served over https with a certificate that RootFile (and nothing else)
// verifies, lists the ACME resources, and the validation authority's DNS server resolves the
// names it was given to 127.0.0.1 and no others. Not parallel: Start sets the environment.
func TestStart(t *testing.T) {
	c := Start(t, Options{HTTPPort: FreePort(t), TLSALPNPort: FreePort(t), Names: []string{"a.acmetest.test", "B.acmetest.test"}})
	if !strings.HasPrefix(c.Directory, "https://127.0.0.1:") || !strings.HasSuffix(c.Directory, "/dir") {
		t.Fatalf("Directory = %q", c.Directory)
	}
	for _, kv := range env {
		if got := os.Getenv(kv[0]); got != kv[1] {
			t.Errorf("%s=%q while Pebble runs; want %q", kv[0], got, kv[1])
		}
	}

	pemBytes, err := os.ReadFile(c.RootFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("RootFile %s holds no PEM certificate", c.RootFile)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get(c.Directory)
	if err != nil {
		t.Fatalf("GET the directory trusting RootFile: %v", err)
	}
	var dir map[string]any
	err = json.NewDecoder(resp.Body).Decode(&dir)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("directory: %d, %v", resp.StatusCode, err)
	}
	for _, k := range []string{"newAccount", "newNonce", "newOrder"} {
		if u, _ := dir[k].(string); !strings.HasPrefix(u, "https://127.0.0.1:") {
			t.Errorf("directory %s = %v", k, dir[k])
		}
	}
	if c.Orders() != 0 {
		t.Errorf("Orders() = %d before any order", c.Orders())
	}
	// Pebble's issuing root is not the directory's.
	untrusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.Roots()}}}
	if resp, err := untrusting.Get(c.Directory); err == nil {
		resp.Body.Close()
		t.Error("the directory's certificate verifies against Roots(), the issuing root")
	}

	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", c.DNS.Addr())
	}}
	tests := []struct {
		name string
		host string
		want string // "" for NXDOMAIN
	}{
		{name: "listed", host: "a.acmetest.test", want: LoopbackIP},
		{name: "listed, case ignored", host: "b.acmetest.test", want: LoopbackIP},
		{name: "not listed", host: "c.acmetest.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			addrs, err := r.LookupHost(ctx, tt.host)
			if tt.want == "" {
				var dnsErr *net.DNSError
				if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
					t.Fatalf("LookupHost(%s) = %v, %v; want not found", tt.host, addrs, err)
				}
				return
			}
			if err != nil || len(addrs) != 1 || addrs[0] != tt.want {
				t.Fatalf("LookupHost(%s) = %v, %v; want [%s]", tt.host, addrs, err, tt.want)
			}
		})
	}
}

// FreePort gives a port that can be listened on at once, and not the same one twice in a row
// while the first is held.
func TestFreePort(t *testing.T) {
	t.Parallel()
	p := FreePort(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(LoopbackIP, strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("listen on FreePort's %d: %v", p, err)
	}
	defer ln.Close()
	if q := FreePort(t); q == p {
		t.Fatalf("FreePort returned %d, which is in use", q)
	}
}

// Lines logged after the test ended (by a goroutine still finishing) are dropped instead of
// making testing panic.
func TestLogfAfterEnd(t *testing.T) {
	t.Parallel()
	var logf func(string, ...any)
	t.Run("inner", func(t *testing.T) {
		logf = Logf(t)
		logf("during the test: %d", 1)
	})
	logf("after the test: %d", 2) // would panic if passed to the ended test's Logf
}

// Neither this package nor Pebble is linked into gatehouse: only tests import it.
func TestNotInTheBinary(t *testing.T) {
	t.Parallel()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go") // the toolchain running this test
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/gatehouse-proxy/gatehouse/cmd/gatehouse").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 || !slices.Contains(deps, "github.com/gatehouse-proxy/gatehouse/internal/acme") {
		t.Fatalf("go list -deps gave %d packages, without internal/acme; the check is broken:\n%s", len(deps), out)
	}
	for _, d := range deps {
		if strings.HasSuffix(d, "/internal/acmetest") || strings.HasPrefix(d, "github.com/letsencrypt/pebble") {
			t.Errorf("cmd/gatehouse depends on %s", d)
		}
	}
}
