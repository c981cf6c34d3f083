package tlsterm

import (
	"crypto/tls"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

// refLookup is the SNI rule written plainly, to check lookup against.
func refLookup(s *certSet, name string) *tls.Certificate {
	if name == "" || len(name) > maxName {
		return s.def
	}
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	n := strings.TrimRight(string(b), ".")
	if c := s.exact[n]; c != nil {
		return c
	}
	if first, rest, ok := strings.Cut(n, "."); ok && first != "" && rest != "" {
		if c := s.wild[rest]; c != nil {
			return c
		}
	}
	if a, err := netip.ParseAddr(n); err == nil {
		if c := s.ip[a.Unmap()]; c != nil {
			return c
		}
	}
	return s.def
}

func FuzzLookup(f *testing.F) {
	ca := tlstest.NewCA(f, "test CA")
	dir := f.TempDir()
	def, exact, wild := threeSites(f, ca, dir)
	ip := writeSite(f, dir, "ip", ca.Server(f, "10.1.2.3", "::1"))
	term := newTerm(f, Options{Certificates: []CertFiles{def.CertFiles, exact.CertFiles, wild.CertFiles, ip.CertFiles}})
	s := term.set.Load()
	for _, seed := range []string{"", "www.example.com", "WWW.EXAMPLE.COM.", "a.example.com", "a.b.example.com",
		"example.com", ".example.com", "..", "*.example.com", "10.1.2.3", "::1", "::ffff:10.1.2.3", "\xff.example.com",
		strings.Repeat("x.", 130)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := s.lookup(&tls.ClientHelloInfo{ServerName: name})
		if want := refLookup(s, name); got != want {
			t.Errorf("lookup(%q) = %v, want %v", name, got.Leaf.DNSNames, want.Leaf.DNSNames)
		}
	})
}

func FuzzLoadPair(f *testing.F) {
	ca := tlstest.NewCA(f, "test CA")
	leaf := ca.Server(f, "www.example.com")
	other := ca.Server(f, "other.example.com")
	f.Add(leaf.CertPEM, leaf.KeyPEM)
	f.Add(leaf.CertPEM, other.KeyPEM)
	f.Add(leaf.KeyPEM, leaf.CertPEM)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	f.Add(leaf.Cert.Raw, []byte{})
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		cert, err := loadPair("c.pem", certPEM, "k.pem", keyPEM)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tls: ") || (!strings.Contains(err.Error(), "c.pem") && !strings.Contains(err.Error(), "k.pem")) {
				t.Errorf("error %q names no file", err)
			}
			return
		}
		if cert.Leaf == nil || len(cert.Certificate) == 0 || cert.PrivateKey == nil {
			t.Fatalf("incomplete certificate %+v", cert)
		}
		// Whatever loads must be what crypto/tls itself accepts.
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			t.Errorf("loadPair accepted a pair tls.X509KeyPair refuses: %v", err)
		}
	})
}

func FuzzParseCipherSuites(f *testing.F) {
	f.Add("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
	f.Add("TLS_RSA_WITH_RC4_128_SHA")
	f.Add("TLS_AES_128_GCM_SHA256")
	f.Add(" ecdhe_rsa_with_aes_128_gcm_sha256 ,")
	f.Fuzz(func(t *testing.T, list string) {
		names := strings.Split(list, ",")
		ids, err := ParseCipherSuites(names)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "tls: ") {
				t.Errorf("error %q", err)
			}
			return
		}
		for _, id := range ids {
			if !slices.ContainsFunc(names, func(n string) bool { return strings.TrimSpace(n) == tls.CipherSuiteName(id) }) {
				t.Errorf("id %s came from none of %q", tls.CipherSuiteName(id), names)
			}
		}
		if err := checkSuites(ids); err != nil {
			t.Errorf("parsed suites fail New's check: %v", err)
		}
	})
}
