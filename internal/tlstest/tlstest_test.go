package tlstest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestIssueVerifies(t *testing.T) {
	root := NewCA(t, "root")
	inter := root.Intermediate(t, "intermediate")
	// An expired window, still inside the CA's.
	notBefore := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	notAfter := notBefore.Add(24 * time.Hour)
	tests := []struct {
		name      string
		ca        *CA
		opts      Options
		verifyAt  time.Time
		usage     x509.ExtKeyUsage
		host      string
		wantCN    string
		wantChain int // certificates in CertPEM
	}{
		{name: "server dns", ca: root, opts: Options{Names: []string{"a.example.com", "*.example.com"}},
			usage: x509.ExtKeyUsageServerAuth, host: "b.example.com", wantCN: "a.example.com", wantChain: 1},
		{name: "server ip", ca: root, opts: Options{Names: []string{"127.0.0.1", "::1"}},
			usage: x509.ExtKeyUsageServerAuth, host: "::1", wantCN: "127.0.0.1", wantChain: 1},
		{name: "client", ca: root, opts: Options{CommonName: "alice", Organization: "Ops", Client: true},
			usage: x509.ExtKeyUsageClientAuth, wantCN: "alice", wantChain: 1},
		{name: "via intermediate", ca: inter, opts: Options{Names: []string{"c.example.com"}},
			usage: x509.ExtKeyUsageServerAuth, host: "c.example.com", wantCN: "c.example.com", wantChain: 2},
		{name: "chosen validity", ca: root, opts: Options{Names: []string{"old.example.com"}, NotBefore: notBefore, NotAfter: notAfter},
			verifyAt: notBefore.Add(time.Hour), usage: x509.ExtKeyUsageServerAuth, host: "old.example.com", wantCN: "old.example.com", wantChain: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.ca.Issue(t, tt.opts)
			if l.Cert.Subject.CommonName != tt.wantCN {
				t.Errorf("CN = %q, want %q", l.Cert.Subject.CommonName, tt.wantCN)
			}
			tc, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
			if err != nil {
				t.Fatalf("X509KeyPair: %v", err)
			}
			if len(tc.Certificate) != tt.wantChain {
				t.Errorf("chain has %d certificates, want %d", len(tc.Certificate), tt.wantChain)
			}
			inters := x509.NewCertPool()
			for _, der := range tc.Certificate[1:] {
				c, err := x509.ParseCertificate(der)
				if err != nil {
					t.Fatal(err)
				}
				inters.AddCert(c)
			}
			opts := x509.VerifyOptions{Roots: tt.ca.Pool(), Intermediates: inters, DNSName: tt.host,
				KeyUsages: []x509.ExtKeyUsage{tt.usage}, CurrentTime: tt.verifyAt}
			if _, err := l.Cert.Verify(opts); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if !tt.opts.NotAfter.IsZero() && (!l.Cert.NotBefore.Equal(notBefore) || !l.Cert.NotAfter.Equal(notAfter)) {
				t.Errorf("validity %v..%v, want %v..%v", l.Cert.NotBefore, l.Cert.NotAfter, notBefore, notAfter)
			}
		})
	}
}

func TestSerialsCountUp(t *testing.T) {
	ca := NewCA(t, "root")
	a, b := ca.Server(t, "a.test"), ca.Client(t, "b")
	if a.Cert.SerialNumber.Int64() != 2 || b.Cert.SerialNumber.Int64() != 3 {
		t.Errorf("serials %v, %v; want 2, 3", a.Cert.SerialNumber, b.Cert.SerialNumber)
	}
}

func TestWriteFilesAndHandshake(t *testing.T) {
	dir := t.TempDir()
	ca := NewCA(t, "root")
	srv := ca.Server(t, "localhost", "127.0.0.1")
	certFile, keyFile := srv.WriteFiles(t, dir, "site")
	if filepath.Base(certFile) != "site.crt" || filepath.Base(keyFile) != "site.key" {
		t.Errorf("paths %s, %s", certFile, keyFile)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi, err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rootFile := ca.WriteRootFile(t, dir, "ca.pem")
	rootPEM, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("root file holds no certificate")
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.(*tls.Conn).Handshake()
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	if got := c.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(srv.Cert.SerialNumber) != 0 {
		t.Errorf("served serial %v, want %v", got, srv.Cert.SerialNumber)
	}
	if len(srv.Fingerprint()) != 64 {
		t.Errorf("fingerprint %q", srv.Fingerprint())
	}
	if net.ParseIP("127.0.0.1").Equal(srv.Cert.IPAddresses[0]) == false {
		t.Errorf("IP SAN %v", srv.Cert.IPAddresses)
	}
}
