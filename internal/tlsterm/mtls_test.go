package tlsterm

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

func TestClientAuth(t *testing.T) {
	serverCA := tlstest.NewCA(t, "server CA")
	clientCA := tlstest.NewCA(t, "client CA")
	strangerCA := tlstest.NewCA(t, "stranger CA")
	dir := t.TempDir()
	site := writeSite(t, dir, "site", serverCA.Server(t, "www.example.com"))
	caFile := clientCA.WriteRootFile(t, dir, "clients.pem")

	alice := clientCA.Issue(t, tlstest.Options{CommonName: "alice", Organization: "Ops", Client: true})
	viaInter := clientCA.Intermediate(t, "client intermediate").Client(t, "bob")
	stranger := strangerCA.Client(t, "mallory")
	serverOnly := clientCA.Server(t, "not-a-client.example.com")
	now := time.Now()
	expired := clientCA.Issue(t, tlstest.Options{CommonName: "old", Client: true, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})

	identity := func(l *tlstest.Leaf, subject string) string {
		return subject + "|" + l.Fingerprint() + "|true"
	}
	type attempt struct {
		name   string
		client *tlstest.Leaf // nil: no certificate
		ok     bool
		line   string // the server's Identity, when ok
	}
	good := []attempt{
		{name: "verified client", client: alice, ok: true, line: identity(alice, "CN=alice,O=Ops")},
		{name: "via an intermediate", client: viaInter, ok: true, line: identity(viaInter, "CN=bob")},
		{name: "another CA", client: stranger},
		{name: "server-only certificate", client: serverOnly},
		{name: "expired", client: expired},
	}
	tests := []struct {
		mode     ClientAuthMode
		attempts []attempt
	}{
		{mode: ClientAuthRequire, attempts: append([]attempt{{name: "no certificate"}}, good...)},
		{mode: ClientAuthRequest, attempts: append([]attempt{{name: "no certificate", ok: true, line: "||false"}}, good...)},
		{mode: ClientAuthNone, attempts: []attempt{
			{name: "no certificate", ok: true, line: "||false"},
			{name: "certificate not asked for", client: alice, ok: true, line: "||false"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			term := newTerm(t, Options{Certificates: []CertFiles{site.CertFiles}, ClientAuth: tt.mode, ClientCAFile: caFile})
			addr := serve(t, term)
			for _, a := range tt.attempts {
				t.Run(a.name, func(t *testing.T) {
					for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
						cfg := &tls.Config{ServerName: "www.example.com", RootCAs: serverCA.Pool(), MaxVersion: v}
						if a.client != nil {
							// Sent whatever the server asks for: crypto/tls's own choice would
							// withhold a certificate of a CA the server did not list.
							cert := a.client.TLSCertificate()
							cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
						}
						r, err := dial(t, addr, cfg)
						if !a.ok {
							if err == nil {
								t.Errorf("%s: accepted, want refused (server saw %q)", tls.VersionName(v), r.line)
							}
							continue
						}
						if err != nil {
							t.Fatalf("%s: refused: %v", tls.VersionName(v), err)
						}
						if r.line != a.line {
							t.Errorf("%s: server's Identity %q, want %q", tls.VersionName(v), r.line, a.line)
						}
					}
				})
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	c := ca.Issue(t, tlstest.Options{CommonName: "alice, jr", Organization: "Ops+Dev", Client: true})
	sum := sha256.Sum256(c.Cert.Raw)
	fp := hex.EncodeToString(sum[:])
	tests := []struct {
		name    string
		cs      *tls.ConnectionState
		subject string
		fp      string
		ok      bool
	}{
		{name: "nil", cs: nil},
		{name: "no certificate", cs: &tls.ConnectionState{}},
		{name: "sent but not verified", cs: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c.Cert}}},
		{name: "empty chain", cs: &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{}}}},
		{name: "verified, RFC 2253 escaping", cs: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c.Cert},
			VerifiedChains: [][]*x509.Certificate{{c.Cert, ca.Cert}}},
			subject: `CN=alice\, jr,O=Ops\+Dev`, fp: fp, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject, gotFP, ok := Identity(tt.cs)
			if subject != tt.subject || gotFP != tt.fp || ok != tt.ok {
				t.Errorf("Identity = %q, %q, %v; want %q, %q, %v", subject, gotFP, ok, tt.subject, tt.fp, tt.ok)
			}
		})
	}
	if len(fp) != 64 || fp != c.Fingerprint() {
		t.Errorf("fingerprint %q is not 64 lower-case hex digits matching tlstest's %q", fp, c.Fingerprint())
	}
}

// An ACME TLS-ALPN-01 handshake (it offers only acme-tls/1) on a listener that requires client
// certificates: the CA's validator has none, so the challenge is served without asking for one,
// while every other handshake still must present a certificate.
func TestRequireClientCertLetsACMEChallengeThrough(t *testing.T) {
	serverCA := tlstest.NewCA(t, "server CA")
	clientCA := tlstest.NewCA(t, "client CA")
	dir := t.TempDir()
	st := writeSite(t, dir, "site", serverCA.Server(t, "www.example.com"))
	challengeCert := serverCA.Server(t, "www.example.com").TLSCertificate()
	term := newTerm(t, Options{
		Certificates: []CertFiles{st.CertFiles},
		NextProtos:   []string{"http/1.1", acmeTLSALPN},
		ClientAuth:   ClientAuthRequire,
		ClientCAFile: clientCA.WriteRootFile(t, dir, "clients.pem"),
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLSALPN {
				return &challengeCert, nil
			}
			return nil, nil
		},
	})
	addr := serve(t, term)
	if _, err := dial(t, addr, &tls.Config{RootCAs: serverCA.Pool(), ServerName: "www.example.com", NextProtos: []string{acmeTLSALPN}}); err != nil {
		t.Errorf("the acme-tls/1 handshake without a client certificate was refused: %v", err)
	}
	if _, err := dial(t, addr, &tls.Config{RootCAs: serverCA.Pool(), ServerName: "www.example.com", NextProtos: []string{"http/1.1"}}); err == nil {
		t.Error("an http/1.1 handshake without a client certificate was accepted")
	}
}
