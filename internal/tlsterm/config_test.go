package tlsterm

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

func TestMinVersion(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	s := writeSite(t, t.TempDir(), "site", ca.Server(t, "www.example.com"))
	tests := []struct {
		name      string
		min       uint16
		clientMax uint16
		want      uint16 // 0: refused
	}{
		{name: "default accepts 1.2", clientMax: tls.VersionTLS12, want: tls.VersionTLS12},
		{name: "default prefers 1.3", want: tls.VersionTLS13},
		{name: "default refuses 1.1", clientMax: tls.VersionTLS11},
		{name: "1.3 refuses a 1.2-only client", min: tls.VersionTLS13, clientMax: tls.VersionTLS12},
		{name: "1.3 accepts 1.3", min: tls.VersionTLS13, want: tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serve(t, newTerm(t, Options{Certificates: []CertFiles{s.CertFiles}, MinVersion: tt.min}))
			cfg := &tls.Config{ServerName: "www.example.com", RootCAs: ca.Pool(), MaxVersion: tt.clientMax, MinVersion: tls.VersionTLS10}
			r, err := dial(t, addr, cfg)
			if tt.want == 0 {
				if err == nil {
					t.Fatalf("accepted %s, want refused", tls.VersionName(r.state.Version))
				}
				if !strings.Contains(err.Error(), "protocol version") {
					t.Errorf("error %v, want a protocol version alert", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if r.state.Version != tt.want {
				t.Errorf("negotiated %s, want %s", tls.VersionName(r.state.Version), tls.VersionName(tt.want))
			}
		})
	}
}

func TestCipherSuitesNegotiated(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	s := writeSite(t, t.TempDir(), "site", ca.Server(t, "www.example.com"))
	suites, err := ParseCipherSuites([]string{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, newTerm(t, Options{Certificates: []CertFiles{s.CertFiles}, CipherSuites: suites}))
	tests := []struct {
		name   string
		client []uint16
		want   uint16 // 0: refused
	}{
		{name: "client offers it among others", client: nil, want: tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		{name: "client offers only another", client: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := dial(t, addr, &tls.Config{ServerName: "www.example.com", RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS12, CipherSuites: tt.client})
			if tt.want == 0 {
				if err == nil {
					t.Fatalf("accepted with %s, want refused", tls.CipherSuiteName(r.state.CipherSuite))
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if r.state.CipherSuite != tt.want {
				t.Errorf("negotiated %s, want %s", tls.CipherSuiteName(r.state.CipherSuite), tls.CipherSuiteName(tt.want))
			}
		})
	}
}

func TestParseCipherSuites(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []uint16
		wantErr []string
	}{
		{name: "none", in: nil, want: nil},
		{name: "two", in: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", " TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 "},
			want: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}},
		{name: "duplicate dropped", in: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
			want: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}},
		{name: "typo", in: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA265"},
			wantErr: []string{`unknown cipher suite "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA265"`, "did you mean TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256?", "secure TLS 1.2 suites:"}},
		{name: "lower case", in: []string{"tls_ecdhe_rsa_with_aes_128_gcm_sha256"}, wantErr: []string{"did you mean TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256?"}},
		{name: "no TLS_ prefix", in: []string{"ECDHE_RSA_WITH_AES_256_GCM_SHA384"}, wantErr: []string{"did you mean TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384?"}},
		{name: "OpenSSL name", in: []string{"ECDHE-RSA-AES128-GCM-SHA256"}, wantErr: []string{"unknown cipher suite", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}},
		{name: "insecure", in: []string{"TLS_RSA_WITH_RC4_128_SHA"}, wantErr: []string{"TLS_RSA_WITH_RC4_128_SHA is insecure"}},
		{name: "TLS 1.3 suite", in: []string{"TLS_AES_128_GCM_SHA256"}, wantErr: []string{"TLS 1.3", "not configurable"}},
		{name: "empty name", in: []string{""}, wantErr: []string{`unknown cipher suite ""`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCipherSuites(tt.in)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ParseCipherSuites = %v, want an error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseCipherSuites = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseMinVersionAndMode(t *testing.T) {
	versions := []struct {
		in      string
		want    uint16
		wantErr bool
	}{{"", 0, false}, {"1.2", tls.VersionTLS12, false}, {"1.3", tls.VersionTLS13, false}, {"1.1", 0, true}, {"TLS1.3", 0, true}}
	for _, tt := range versions {
		t.Run("version "+tt.in, func(t *testing.T) {
			got, err := ParseMinVersion(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseMinVersion(%q) = %#x, %v", tt.in, got, err)
			}
		})
	}
	modes := []struct {
		in      string
		want    ClientAuthMode
		wantErr bool
	}{{"", ClientAuthNone, false}, {"none", ClientAuthNone, false}, {"request", ClientAuthRequest, false}, {"require", ClientAuthRequire, false}, {"optional", ClientAuthNone, true}}
	for _, tt := range modes {
		t.Run("mode "+tt.in, func(t *testing.T) {
			got, err := ParseClientAuthMode(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseClientAuthMode(%q) = %v, %v", tt.in, got, err)
			}
			if err == nil && tt.in != "" && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestSessionResumption(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	clientCA := tlstest.NewCA(t, "client CA")
	dir := t.TempDir()
	s := writeSite(t, dir, "site", ca.Server(t, "www.example.com"))
	caFile := clientCA.WriteRootFile(t, dir, "clients.pem")
	alice := clientCA.Client(t, "alice")
	tests := []struct {
		name    string
		opts    Options
		client  *tlstest.Leaf
		resumes bool
	}{
		{name: "tickets on", opts: Options{SessionTickets: true}, resumes: true},
		{name: "tickets off", opts: Options{SessionTickets: false}, resumes: false},
		{name: "tickets on, mTLS keeps the identity", opts: Options{SessionTickets: true, ClientAuth: ClientAuthRequire, ClientCAFile: caFile}, client: alice, resumes: true},
	}
	for _, tt := range tests {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tt.name+" "+tls.VersionName(v), func(t *testing.T) {
				o := tt.opts
				o.Certificates = []CertFiles{s.CertFiles}
				addr := serve(t, newTerm(t, o))
				cfg := &tls.Config{ServerName: "www.example.com", RootCAs: ca.Pool(), MaxVersion: v,
					ClientSessionCache: tls.NewLRUClientSessionCache(4)}
				if tt.client != nil {
					cfg.Certificates = []tls.Certificate{tt.client.TLSCertificate()}
				}
				var lines []string
				for i := range 3 {
					r, err := dial(t, addr, cfg)
					if err != nil {
						t.Fatalf("connection %d: %v", i+1, err)
					}
					if want := i > 0 && tt.resumes; r.state.DidResume != want {
						t.Errorf("connection %d: DidResume = %v, want %v", i+1, r.state.DidResume, want)
					}
					lines = append(lines, r.line)
				}
				if tt.client != nil && (lines[0] != lines[1] || lines[1] != lines[2] || !strings.HasSuffix(lines[0], "|true")) {
					t.Errorf("identities across resumption: %q", lines)
				}
			})
		}
	}
}
