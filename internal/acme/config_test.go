package acme

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string // in the error
	}{
		{name: "http directory", cfg: Config{Directory: "http://ca.example/dir"}, want: "https"},
		{name: "relative directory", cfg: Config{Directory: "ca.example/dir"}, want: "https"},
		{name: "missing ca root", cfg: Config{CARoot: filepath.Join(dir, "missing.pem")}, want: "ca root"},
		{name: "ca root without certificates", cfg: Config{CARoot: notPEM}, want: "no PEM certificate"},
		{name: "wildcard name", cfg: Config{Names: []string{"*.example.com"}}, want: "DNS-01"},
		{name: "ip name", cfg: Config{Names: []string{"192.0.2.1"}}, want: "IP address"},
		{name: "single label", cfg: Config{Names: []string{"localhost"}}, want: "single label"},
		{name: "bad character", cfg: Config{Names: []string{"ex_ample.com"}}, want: "names[0]"},
		{name: "empty label", cfg: Config{Names: []string{"example..com"}}, want: "label"},
		{name: "hyphen at end", cfg: Config{Names: []string{"example-.com"}}, want: "hyphen"},
		{name: "long label", cfg: Config{Names: []string{strings.Repeat("a", 64) + ".com"}}, want: "63"},
		{name: "empty name", cfg: Config{Names: []string{" "}}, want: "empty"},
		{name: "empty allow list", cfg: Config{OnDemand: &OnDemand{}}, want: "allow is empty"},
		{name: "wildcard inside", cfg: Config{OnDemand: &OnDemand{Allow: []string{"a.*.example.com"}}}, want: "allow[0]"},
		{name: "bare wildcard", cfg: Config{OnDemand: &OnDemand{Allow: []string{"*"}}}, want: "allow[0]"},
		{name: "wildcard of a tld", cfg: Config{OnDemand: &OnDemand{Allow: []string{"*.com"}}}, want: "single label"},
		{name: "dns-01", cfg: Config{Challenges: []string{"dns-01"}}, want: "challenge"},
		{name: "negative renew before", cfg: Config{RenewBefore: -time.Hour}, want: "negative"},
		{name: "negative check interval", cfg: Config{RenewCheckInterval: -time.Second}, want: "negative"},
		{name: "port out of range", cfg: Config{HTTPPort: 70000}, want: "http port"},
		{name: "negative port", cfg: Config{TLSALPNPort: -1}, want: "tls-alpn port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.StorageDir = dir
			m, err := New(tt.cfg, nil, nil)
			if err == nil {
				m.Stop()
				t.Fatalf("New accepted %+v", tt.cfg)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "acme: ") {
				t.Fatalf("error %q; want it to start with \"acme: \" and mention %q", err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, err := Config{StorageDir: "/x"}.settings(true)
	if err != nil {
		t.Fatal(err)
	}
	if s.directory != LetsEncryptProduction || !s.http01 || !s.tlsALPN01 || s.httpPort != 80 || s.tlsPort != 443 ||
		s.renewCheck != 10*time.Minute || s.renewBefore != 0 || s.roots != nil || s.onDemand != nil {
		t.Fatalf("defaults: %+v", s)
	}
	s, err = Config{Names: []string{"B.example.com.", "b.example.com", "a.example.com"}, Challenges: []string{HTTP01}}.settings(false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.names, ",") != "b.example.com,a.example.com" || !s.http01 || s.tlsALPN01 || s.storageDir != "" {
		t.Fatalf("names %q, http-01 %v, tls-alpn-01 %v, dir %q", s.names, s.http01, s.tlsALPN01, s.storageDir)
	}
}

func TestStorageDirDefault(t *testing.T) {
	tests := []struct {
		name string
		xdg  string
		home string
		want string
	}{
		{name: "xdg", xdg: "/data", home: "/home/u", want: "/data/gatehouse/acme"},
		{name: "home", home: "/home/u", want: "/home/u/.local/share/gatehouse/acme"},
		{name: "relative xdg ignored", xdg: "data", home: "/home/u", want: "/home/u/.local/share/gatehouse/acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_DATA_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			got, err := storageDir("")
			if err != nil || got != tt.want {
				t.Fatalf("storageDir = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if got, err := storageDir("/given"); got != "/given" || err != nil {
		t.Fatalf("storageDir(/given) = %q, %v", got, err)
	}
}

func TestAllowList(t *testing.T) {
	a, err := parseAllowList([]string{"*.Example.com", "shop.test.", "*.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.suffixes) != 1 {
		t.Fatalf("suffixes %q; want duplicates removed", a.suffixes)
	}
	tests := []struct {
		name string
		host string
		want bool
	}{
		{name: "exact", host: "shop.test", want: true},
		{name: "subdomain", host: "a.example.com", want: true},
		{name: "any depth", host: "a.b.example.com", want: true},
		{name: "apex not matched", host: "example.com"},
		{name: "suffix without a dot", host: "badexample.com"},
		{name: "under an exact name", host: "a.shop.test"},
		{name: "empty label", host: ".example.com"},
		{name: "bad characters", host: "a b.example.com"},
		{name: "unlisted", host: "other.test"},
		{name: "empty", host: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.allows(tt.host); got != tt.want {
				t.Fatalf("allows(%q) = %v", tt.host, got)
			}
		})
	}
}

// A Manager answers nothing, and asks no CA, for names it does not serve; its Directory here
// would refuse any connection.
func TestNotServed(t *testing.T) {
	m, err := New(Config{
		Directory:  "https://127.0.0.1:1/dir",
		StorageDir: t.TempDir(),
		Names:      []string{"www.example.com"},
		OnDemand:   &OnDemand{Allow: []string{"*.shop.example"}},
		Challenges: []string{HTTP01},
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if got := m.TLSALPNProtos(); got != nil {
		t.Fatalf("TLSALPNProtos() = %q without tls-alpn-01", got)
	}
	for _, name := range []string{"", "example.com", "shop.example", "a.www.example.com", "evil.test"} {
		for _, protos := range [][]string{nil, {ALPNProto}} {
			cert, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: name, SupportedProtos: protos})
			if cert != nil || err != nil {
				t.Fatalf("GetCertificate(%q, %q) = %v, %v; want nil, nil", name, protos, cert, err)
			}
		}
	}
	// A served name without a certificate yet: an error, not a silent pass.
	if cert, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "WWW.example.com"}); cert != nil || err == nil {
		t.Fatalf("GetCertificate(www.example.com) = %v, %v; want an error", cert, err)
	}

	tests := []struct {
		name string
		host string
		path string
	}{
		{name: "not a challenge path", host: "www.example.com", path: "/index.html"},
		{name: "prefix only", host: "www.example.com", path: ChallengePathPrefix},
		{name: "token with a slash", host: "www.example.com", path: ChallengePathPrefix + "a/b"},
		{name: "token with a dot", host: "www.example.com", path: ChallengePathPrefix + "a.b"},
		{name: "foreign host", host: "evil.test", path: ChallengePathPrefix + "dG9rZW4"},
		{name: "no challenge in progress", host: "www.example.com:80", path: ChallengePathPrefix + "dG9rZW4"},
		{name: "on-demand name, no challenge", host: "a.shop.example", path: ChallengePathPrefix + "dG9rZW4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if body, ok := m.HTTPChallenge(tt.host, tt.path); ok || body != "" {
				t.Fatalf("HTTPChallenge = %q, %v; want no answer", body, ok)
			}
		})
	}
}

func TestChallengeTarget(t *testing.T) {
	tests := []struct {
		name, host, path string
		want             string
		ok               bool
	}{
		{name: "plain", host: "a.example", path: ChallengePathPrefix + "tok_EN-1", want: "a.example", ok: true},
		{name: "port and case", host: "A.Example:80", path: ChallengePathPrefix + "t", want: "a.example", ok: true},
		{name: "trailing dot", host: "a.example.", path: ChallengePathPrefix + "t", want: "a.example", ok: true},
		{name: "ipv6 literal kept whole", host: "[::1]:80", path: ChallengePathPrefix + "t", want: "[::1]:80", ok: true},
		{name: "empty host", host: "", path: ChallengePathPrefix + "t"},
		{name: "no token", host: "a.example", path: ChallengePathPrefix},
		{name: "query in path", host: "a.example", path: ChallengePathPrefix + "t?x=1"},
		{name: "other path", host: "a.example", path: "/.well-known/other/t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := challengeTarget(tt.host, tt.path)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("challengeTarget(%q, %q) = %q, %v; want %q, %v", tt.host, tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// GetCertificate is called for every TLS handshake: for names the Manager does not serve it
// must cost next to nothing.
func BenchmarkGetCertificateNotServed(b *testing.B) {
	m, err := New(Config{StorageDir: b.TempDir(), Names: []string{"www.example.com"}, OnDemand: &OnDemand{Allow: []string{"*.shop.example", "a.example"}}}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Stop()
	hello := &tls.ClientHelloInfo{ServerName: "api.other.example"}
	b.ReportAllocs()
	for b.Loop() {
		if c, err := m.GetCertificate(hello); c != nil || err != nil {
			b.Fatal("served")
		}
	}
}

func FuzzChallengeTarget(f *testing.F) {
	f.Add("a.example:80", ChallengePathPrefix+"dG9rZW4")
	f.Add("[::1]:443", ChallengePathPrefix+"x")
	f.Add("A.EXAMPLE.", "/.well-known/acme-challenge/")
	f.Add("", "/")
	f.Fuzz(func(t *testing.T, host, path string) {
		name, ok := challengeTarget(host, path)
		if !ok {
			if name != "" {
				t.Fatalf("name %q without ok", name)
			}
			return
		}
		if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r >= 'A' && r <= 'Z' }) || strings.HasSuffix(name, ".") {
			t.Fatalf("name %q not normalized", name)
		}
		if !strings.HasPrefix(path, ChallengePathPrefix) || len(path) == len(ChallengePathPrefix) {
			t.Fatalf("accepted path %q", path)
		}
	})
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"www.example.com", "WWW.Example.COM.", "*.example.com", "a..b", "192.0.2.1", "[::1]", "xn--bcher-kva.example", "-a.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := parseName(s)
		if err != nil {
			return
		}
		if checkDNSName(name) != nil || name != normalize(name) || strings.Contains(name, "*") {
			t.Fatalf("parseName(%q) = %q, not a normalized DNS name", s, name)
		}
		if again, err := parseName(name); err != nil || again != name {
			t.Fatalf("parseName(%q) = %q, %v; not idempotent", name, again, err)
		}
		a, err := parseAllowList([]string{s})
		if err != nil || !a.allows(name) {
			t.Fatalf("an allow list of %q does not allow %q: %v", s, name, err)
		}
	})
}

// TestRenewalRatio: RenewBefore becomes the fraction of a certificate's lifetime left at renewal,
// at most half of it.
func TestRenewalRatio(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		before, lifetime time.Duration
		want             float64
	}{
		{30 * day, 90 * day, 1.0 / 3},
		{day, 6 * day, 1.0 / 6},
		{3 * day, 6 * day, 0.5},
		{30 * day, 6 * day, 0.5},  // past the lifetime: not at every check
		{90 * day, 90 * day, 0.5}, // equal to it
	}
	for _, tt := range tests {
		if got := renewalRatio(tt.before, tt.lifetime); got != tt.want {
			t.Errorf("renewalRatio(%v, %v) = %v, want %v", tt.before, tt.lifetime, got, tt.want)
		}
	}
}
