package tlsterm

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

// servedSerial dials addr for name and returns the serial number of the certificate served.
func servedSerial(t *testing.T, addr, name string, roots *tlstest.CA) int64 {
	t.Helper()
	r, err := dial(t, addr, &tls.Config{ServerName: name, RootCAs: roots.Pool()})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return r.served()
}

func TestReload(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	old := writeSite(t, dir, "site", ca.Server(t, "www.example.com"))
	term := newTerm(t, Options{Certificates: []CertFiles{old.CertFiles}})
	addr := serve(t, term)
	if got := servedSerial(t, addr, "www.example.com", ca); got != old.leaf.Cert.SerialNumber.Int64() {
		t.Fatalf("served serial %d before reload, want %d", got, old.leaf.Cert.SerialNumber.Int64())
	}
	if reloaded, err := term.ReloadIfChanged(); reloaded || err != nil {
		t.Errorf("ReloadIfChanged with nothing changed = %v, %v; want false, nil", reloaded, err)
	}

	renewed := writeSite(t, dir, "site", ca.Server(t, "www.example.com", "new.example.com"))
	if err := term.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := servedSerial(t, addr, "www.example.com", ca); got != renewed.leaf.Cert.SerialNumber.Int64() {
		t.Errorf("served serial %d after reload, want %d", got, renewed.leaf.Cert.SerialNumber.Int64())
	}
	if got := servedSerial(t, addr, "new.example.com", ca); got != renewed.leaf.Cert.SerialNumber.Int64() {
		t.Errorf("new name: served serial %d, want %d", got, renewed.leaf.Cert.SerialNumber.Int64())
	}
}

func TestReloadErrorKeepsOldSet(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	other := ca.Server(t, "www.example.com")
	tests := []struct {
		name    string
		breakIt func(t *testing.T, s site)
		wantErr []string
	}{
		{name: "cert not PEM", breakIt: func(t *testing.T, s site) {
			tlstest.WriteFile(t, s.CertFile, []byte("-----BEGIN CERT"))
		}, wantErr: []string{"certificate file", "site.crt", "not PEM"}},
		{name: "cert truncated", breakIt: func(t *testing.T, s site) {
			der := s.leaf.Cert.Raw
			tlstest.WriteFile(t, s.CertFile, pemBlock("CERTIFICATE", der[:len(der)/2]))
		}, wantErr: []string{"site.crt", "does not parse"}},
		{name: "key does not match", breakIt: func(t *testing.T, s site) {
			tlstest.WriteFile(t, s.CertFile, other.CertPEM)
		}, wantErr: []string{"site.key", "does not match", "site.crt"}},
		{name: "key removed", breakIt: func(t *testing.T, s site) {
			if err := os.Remove(s.KeyFile); err != nil {
				t.Fatal(err)
			}
		}, wantErr: []string{"key file", "site.key", "does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := writeSite(t, dir, "site", ca.Server(t, "www.example.com"))
			term := newTerm(t, Options{Certificates: []CertFiles{s.CertFiles}})
			addr := serve(t, term)
			tt.breakIt(t, s)
			err := term.Reload()
			if err == nil {
				t.Fatal("Reload succeeded on a broken file")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if got := servedSerial(t, addr, "www.example.com", ca); got != s.leaf.Cert.SerialNumber.Int64() {
				t.Errorf("served serial %d after a failed reload, want the old %d", got, s.leaf.Cert.SerialNumber.Int64())
			}
			// The same broken files are not parsed again, and report the same error.
			if reloaded, err2 := term.ReloadIfChanged(); reloaded || err2 == nil || err2.Error() != err.Error() {
				t.Errorf("ReloadIfChanged on the same broken files = %v, %v; want false, %v", reloaded, err2, err)
			}
			// Fixed files load again.
			fixed := writeSite(t, dir, "site", ca.Server(t, "www.example.com"))
			if reloaded, err := term.ReloadIfChanged(); !reloaded || err != nil {
				t.Fatalf("ReloadIfChanged after the fix = %v, %v; want true, nil", reloaded, err)
			}
			if got := servedSerial(t, addr, "www.example.com", ca); got != fixed.leaf.Cert.SerialNumber.Int64() {
				t.Errorf("served serial %d after the fix, want %d", got, fixed.leaf.Cert.SerialNumber.Int64())
			}
		})
	}
}

// TestPollerLogs drives the poller's checks by hand (pollOnce, as each tick does), so every check
// is complete before the files change again, then checks that Close stops the ticker.
func TestPollerLogs(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	s := writeSite(t, dir, "site", ca.Server(t, "www.example.com"))
	var l logs
	term := newTerm(t, Options{Certificates: []CertFiles{s.CertFiles}, Logf: l.logf})
	addr := serve(t, term)
	var lastErr string
	ticks := func(n int) {
		for range n {
			term.pollOnce(&lastErr)
		}
	}

	ticks(3) // nothing changed
	if l.count("tls:") != 0 {
		t.Fatalf("logs with nothing changed:\n%s", &l)
	}

	renewed := writeSite(t, dir, "site", ca.Server(t, "www.example.com"))
	ticks(2)
	if n := l.count("tls: reloaded 1 certificates"); n != 1 {
		t.Fatalf("want one reload log, got:\n%s", &l)
	}
	if got := servedSerial(t, addr, "www.example.com", ca); got != renewed.leaf.Cert.SerialNumber.Int64() {
		t.Errorf("served serial %d after the poller reloaded, want %d", got, renewed.leaf.Cert.SerialNumber.Int64())
	}

	tlstest.WriteFile(t, s.KeyFile, []byte("not a key"))
	ticks(4)
	if n := l.count("reload failed"); n != 1 {
		t.Errorf("a broken key was reported %d times over 3 checks, want once:\n%s", n, &l)
	}
	if err := os.Remove(s.KeyFile); err != nil {
		t.Fatal(err)
	}
	ticks(4)
	if n := l.count("does not exist"); n != 1 {
		t.Errorf("a missing key (a new error) was reported %d times, want once:\n%s", n, &l)
	}
	if got := servedSerial(t, addr, "www.example.com", ca); got != renewed.leaf.Cert.SerialNumber.Int64() {
		t.Errorf("served serial %d while the files are broken, want %d", got, renewed.leaf.Cert.SerialNumber.Int64())
	}

	// Back to the files being served: no reload, and the next break is reported again.
	tlstest.WriteFile(t, s.KeyFile, renewed.leaf.KeyPEM)
	ticks(2)
	tlstest.WriteFile(t, s.KeyFile, []byte("not a key"))
	ticks(2)
	if n := l.count("reload failed"); n != 3 {
		t.Errorf("want 3 failure logs in all, got:\n%s", &l)
	}
	if n := l.count("reloaded"); n != 1 {
		t.Errorf("want still one reload log, got:\n%s", &l)
	}

	tick := make(chan time.Time)
	stopped := false
	term.startPoller(tick, func() { stopped = true })
	tick <- time.Time{}
	term.Close()
	if !stopped {
		t.Error("Close did not stop the ticker")
	}
}

// TestReloadInterval checks the real ticker: a changed file is served without a call to Reload.
func TestReloadInterval(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	s := writeSite(t, dir, "site", ca.Server(t, "www.example.com"))
	l := logs{ch: make(chan string, 16)}
	term := newTerm(t, Options{Certificates: []CertFiles{s.CertFiles}, ReloadInterval: 5 * time.Millisecond, Logf: l.logf})
	addr := serve(t, term)
	renewed := writeSite(t, dir, "site", ca.Server(t, "www.example.com"))
	select {
	case line := <-l.ch:
		if line != "tls: reloaded 1 certificates" {
			t.Fatalf("log %q, want the reload", line)
		}
	case <-time.After(ioTimeout):
		t.Fatal("the poller did not reload a changed file")
	}
	if got := servedSerial(t, addr, "www.example.com", ca); got != renewed.leaf.Cert.SerialNumber.Int64() {
		t.Errorf("served serial %d, want %d", got, renewed.leaf.Cert.SerialNumber.Int64())
	}
	term.Close()
	term.Close() // twice is fine
}

func TestReloadClientCA(t *testing.T) {
	ca := tlstest.NewCA(t, "server CA")
	oldCA, newCA := tlstest.NewCA(t, "old client CA"), tlstest.NewCA(t, "new client CA")
	dir := t.TempDir()
	s := writeSite(t, dir, "site", ca.Server(t, "www.example.com"))
	caFile := oldCA.WriteRootFile(t, dir, "clients.pem")
	term := newTerm(t, Options{Certificates: []CertFiles{s.CertFiles}, ClientAuth: ClientAuthRequire, ClientCAFile: caFile})
	addr := serve(t, term)
	oldClient, newClient := oldCA.Client(t, "old"), newCA.Client(t, "new")
	try := func(c *tlstest.Leaf) error {
		cert := c.TLSCertificate()
		_, err := dial(t, addr, &tls.Config{ServerName: "www.example.com", RootCAs: ca.Pool(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }})
		return err
	}
	if err := try(oldClient); err != nil {
		t.Fatalf("old CA's client refused before the reload: %v", err)
	}
	if err := try(newClient); err == nil {
		t.Fatal("new CA's client accepted before the reload")
	}
	tlstest.WriteFile(t, caFile, newCA.RootPEM())
	if err := term.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := try(newClient); err != nil {
		t.Errorf("new CA's client refused after the reload: %v", err)
	}
	if err := try(oldClient); err == nil {
		t.Error("old CA's client accepted after the reload")
	}
	tlstest.WriteFile(t, caFile, []byte("garbage"))
	if err := term.Reload(); err == nil || !strings.Contains(err.Error(), filepath.Base(caFile)) {
		t.Errorf("Reload of a broken CA file: %v, want an error naming it", err)
	}
	if err := try(newClient); err != nil {
		t.Errorf("new CA's client refused after a failed reload: %v", err)
	}
}
