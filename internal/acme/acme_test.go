package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/gatehouse-proxy/gatehouse/internal/acmetest"
)

// End-to-end tests against Pebble (acmetest), with a site (site_test.go) answering the
// challenges. They cannot run in parallel: Pebble is configured through environment variables
// (t.Setenv).

// A certificate is obtained at Start through each challenge type alone, answered by the
// listeners the way gatehouse's will answer, and then served for its name, valid for it.
func TestIssue(t *testing.T) {
	tests := []struct {
		name      string
		challenge string
		host      string
		email     string // the account's contact
	}{
		{name: "http-01", challenge: HTTP01, host: "http01.issue.test", email: "ops@issue.test"},
		{name: "tls-alpn-01", challenge: TLSALPN01, host: "alpn.issue.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0, tt.host)
			cfg := e.config()
			cfg.Names = []string{strings.ToUpper(tt.host) + "."} // case and a trailing dot do not matter
			cfg.Challenges = []string{tt.challenge}
			cfg.Email = tt.email
			m := e.start(cfg, nil)
			if tt.email != "" {
				if accounts, _ := filepath.Glob(filepath.Join(cfg.StorageDir, "acme", "*", "users", tt.email, "*.json")); len(accounts) == 0 {
					t.Fatalf("no account stored for %s", tt.email)
				}
			}

			leaf, err := e.site.handshake(tt.host, e.ca.Roots())
			if err != nil {
				t.Fatalf("handshake for %s: %v", tt.host, err)
			}
			if err := leaf.VerifyHostname(tt.host); err != nil {
				t.Fatal(err)
			}
			if got := served(t, m, tt.host); got.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Fatalf("GetCertificate serves serial %v, the listener %v", got.SerialNumber, leaf.SerialNumber)
			}
			if n := e.ca.Orders(); n != 1 {
				t.Fatalf("%d orders; want 1", n)
			}
			httpAnswers, alpnHellos := e.site.httpAnswers.Load(), e.site.alpnHellos.Load()
			switch tt.challenge {
			case HTTP01:
				if httpAnswers == 0 || alpnHellos != 0 {
					t.Fatalf("%d HTTP answers, %d acme-tls/1 handshakes; want some HTTP answers only", httpAnswers, alpnHellos)
				}
			case TLSALPN01:
				if alpnHellos == 0 || httpAnswers != 0 {
					t.Fatalf("%d HTTP answers, %d acme-tls/1 handshakes; want acme-tls/1 handshakes only", httpAnswers, alpnHellos)
				}
			}
			if got := m.TLSALPNProtos(); (tt.challenge == TLSALPN01) != (len(got) == 1 && got[0] == ALPNProto) {
				t.Fatalf("TLSALPNProtos() = %q with challenges %q", got, cfg.Challenges)
			}
			// Once the order is over, the challenge is no longer answered.
			if body, ok := m.HTTPChallenge(tt.host, ChallengePathPrefix+"c29tZXRva2Vu"); ok {
				t.Fatalf("HTTPChallenge answered %q after the order", body)
			}
		})
	}
}

// A certificate whose renewal time has come is renewed in the background and the new one
// served, without a restart.
func TestRenewal(t *testing.T) {
	const host = "renew.renewal.test"
	const lifetime = 6 * time.Second
	e := newEnv(t, lifetime, host)
	cfg := e.config()
	cfg.Names = []string{host}
	cfg.RenewBefore = time.Hour // past the lifetime: taken as half of it, due 3s after issuance
	cfg.RenewCheckInterval = 100 * time.Millisecond
	m := e.start(cfg, nil)
	first := served(t, m, host)
	if got := first.NotAfter.Sub(first.NotBefore); got < lifetime-2*time.Second || got > lifetime {
		t.Fatalf("lifetime %v; Pebble was asked for %v", got, lifetime)
	}

	deadline := time.Now().Add(25 * time.Second)
	for {
		cur := served(t, m, host)
		if cur.SerialNumber.Cmp(first.SerialNumber) != 0 {
			if cur.NotBefore.Before(first.NotBefore) {
				t.Fatalf("renewed certificate starts %v, before the first one (%v)", cur.NotBefore, first.NotBefore)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificate not renewed (%d orders)", e.ca.Orders())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := e.ca.Orders(); n < 2 {
		t.Fatalf("%d orders; want the first and a renewal", n)
	}
	leaf, err := e.site.handshake(host, e.ca.Roots())
	if err != nil {
		t.Fatal(err)
	}
	if leaf.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("the listener still serves the first certificate")
	}
}

// On-demand issuance obtains a certificate during the first handshake for an allowed name,
// serves it from then on without a new order, and refuses names outside the allow list
// without asking the CA.
func TestOnDemand(t *testing.T) {
	names := []string{"a.od.test", "deep.b.od.test", "exact.test", "od.test", "other.test", "sub.exact.test"}
	e := newEnv(t, 0, names...)
	cfg := e.config()
	cfg.OnDemand = &OnDemand{Allow: []string{"*.od.test", "Exact.test"}}
	m := e.start(cfg, nil)
	if e.ca.Orders() != 0 {
		t.Fatal("an order before any handshake")
	}

	tests := []struct {
		name    string
		host    string
		allowed bool
	}{
		{name: "wildcard", host: "a.od.test", allowed: true},
		{name: "wildcard deeper", host: "deep.b.od.test", allowed: true},
		{name: "exact", host: "exact.test", allowed: true},
		{name: "again, from the cache", host: "a.od.test", allowed: true},
		{name: "wildcard apex", host: "od.test"},
		{name: "not listed", host: "other.test"},
		{name: "under an exact name", host: "sub.exact.test"},
		{name: "no name", host: ""},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.ca.Orders()
			leaf, err := e.site.handshake(tt.host, e.ca.Roots())
			wantOrders := before
			if tt.allowed && !seen[tt.host] {
				wantOrders++
			}
			if got := e.ca.Orders(); got != wantOrders {
				t.Fatalf("%d orders after the handshake; want %d", got, wantOrders)
			}
			if !tt.allowed {
				if err == nil {
					t.Fatalf("handshake for %q succeeded with %v", tt.host, leaf.DNSNames)
				}
				if cert, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: tt.host}); cert != nil || err != nil {
					t.Fatalf("GetCertificate = %v, %v; want nil, nil for a name not served", cert, err)
				}
				return
			}
			seen[tt.host] = true
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if err := leaf.VerifyHostname(tt.host); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// countingStorage is a Storage that counts loads, standing in for a shared store.
type countingStorage struct {
	*certmagic.FileStorage
	loads atomic.Int64
}

func (s *countingStorage) Load(ctx context.Context, key string) ([]byte, error) {
	s.loads.Add(1)
	return s.FileStorage.Load(ctx, key)
}

var _ Storage = (*countingStorage)(nil)

// A second Manager on the storage of the first (the default directory storage, then a Storage
// implementation over the same files) serves the certificate the first obtained, without a
// new order.
func TestStorageReuse(t *testing.T) {
	const host = "reuse.storage.test"
	e := newEnv(t, 0, host)
	cfg := e.config()
	cfg.Names = []string{host}
	first := e.start(cfg, nil)
	want := served(t, first, host).SerialNumber
	first.Stop()
	if n := e.ca.Orders(); n != 1 {
		t.Fatalf("%d orders; want 1", n)
	}
	certs, err := filepath.Glob(filepath.Join(cfg.StorageDir, "certificates", "*", host, host+".crt"))
	if err != nil || len(certs) != 1 {
		t.Fatalf("certificate files in the storage directory: %v, %v", certs, err)
	}

	t.Run("directory", func(t *testing.T) {
		m := e.start(cfg, nil)
		if got := served(t, m, host).SerialNumber; got.Cmp(want) != 0 {
			t.Fatalf("serial %v; want %v, the stored one", got, want)
		}
		m.Stop()
	})
	t.Run("storage implementation", func(t *testing.T) {
		st := &countingStorage{FileStorage: &certmagic.FileStorage{Path: cfg.StorageDir}}
		c := cfg
		c.StorageDir = "" // not used with a Storage
		m := e.start(c, st)
		if got := served(t, m, host).SerialNumber; got.Cmp(want) != 0 {
			t.Fatalf("serial %v; want %v, the stored one", got, want)
		}
		if st.loads.Load() == 0 {
			t.Fatal("the Storage given to New was not read")
		}
		m.Stop()
	})
	if n := e.ca.Orders(); n != 1 {
		t.Fatalf("%d orders; want still 1", n)
	}
}

// When the first attempt fails, Start says so (ErrPending, with the name and the CA's reason)
// and the name is served with an error rather than passed over.
func TestStartPending(t *testing.T) {
	const good, bad = "good.pending.test", "unresolved.pending.test"
	e := newEnv(t, 0, good) // bad does not resolve: the CA cannot validate it
	cfg := e.config()
	cfg.Names = []string{good, bad}
	m := e.newManager(cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := m.Start(ctx)
	if !errors.Is(err, ErrPending) || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), good+":") {
		t.Fatalf("Start: %v; want ErrPending for %s alone", err, bad)
	}
	served(t, m, good)
	if cert, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: bad}); cert != nil || err == nil {
		t.Fatalf("GetCertificate(%s) = %v, %v; want an error", bad, cert, err)
	}
}

// Start gives up waiting when its context ends, and says which names are still pending. The
// storage is in memory: the attempt in flight may still take locks after Stop returns, which
// would race with the removal of a t.TempDir.
func TestStartContextEnds(t *testing.T) {
	m, err := New(Config{
		Directory: "https://127.0.0.1:1/dir", // refused: the attempt fails, retried in a minute
		Names:     []string{"ctx.pending.test"},
	}, newMemStorage(), acmetest.Logf(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = m.Start(ctx)
	if !errors.Is(err, ErrPending) || !strings.Contains(err.Error(), "ctx.pending.test") {
		t.Fatalf("Start: %v; want ErrPending naming ctx.pending.test", err)
	}
	if err := m.Start(context.Background()); err == nil || errors.Is(err, ErrPending) {
		t.Fatalf("second Start: %v; want an error", err)
	}
}

// A storage that cannot keep what it is given stops Start before any order.
func TestStartStorageUnusable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{StorageDir: dir, Names: []string{"x.storage.test"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	err = m.Start(context.Background())
	if err == nil || errors.Is(err, ErrPending) || !strings.Contains(err.Error(), "storage") {
		t.Fatalf("Start: %v; want a storage error", err)
	}
}
