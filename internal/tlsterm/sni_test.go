package tlsterm

import (
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

// threeSites writes a default, an exact and a wildcard certificate and returns them in that order.
func threeSites(t testing.TB, ca *tlstest.CA, dir string) (def, exact, wild site) {
	t.Helper()
	def = writeSite(t, dir, "default", ca.Server(t, "default.example.net"))
	exact = writeSite(t, dir, "exact", ca.Server(t, "www.example.com", "api.example.org"))
	wild = writeSite(t, dir, "wild", ca.Server(t, "*.example.com"))
	return def, exact, wild
}

func TestSNISelection(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	def, exact, wild := threeSites(t, ca, t.TempDir())
	term := newTerm(t, Options{Certificates: []CertFiles{def.CertFiles, exact.CertFiles, wild.CertFiles}})
	addr := serve(t, term)
	tests := []struct {
		name       string
		serverName string // the client's ServerName; "" sends no SNI (dialled by IP)
		want       site
		verify     bool // the served certificate must also verify for serverName
	}{
		{name: "exact", serverName: "www.example.com", want: exact, verify: true},
		{name: "exact second name", serverName: "api.example.org", want: exact, verify: true},
		{name: "exact beats wildcard", serverName: "www.example.com", want: exact},
		{name: "exact upper case", serverName: "WWW.Example.COM", want: exact, verify: true},
		{name: "exact trailing dot", serverName: "www.example.com.", want: exact, verify: true},
		{name: "wildcard", serverName: "a.example.com", want: wild, verify: true},
		{name: "wildcard upper case", serverName: "SHOP.EXAMPLE.COM", want: wild, verify: true},
		{name: "wildcard trailing dot", serverName: "shop.example.com.", want: wild, verify: true},
		{name: "wildcard does not cover two labels", serverName: "a.b.example.com", want: def},
		{name: "wildcard does not cover the apex", serverName: "example.com", want: def},
		{name: "unknown name gets default", serverName: "other.test", want: def},
		{name: "default by its own name", serverName: "default.example.net", want: def, verify: true},
		{name: "no SNI gets default", serverName: "", want: def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.Config{ServerName: tt.serverName, RootCAs: ca.Pool(), InsecureSkipVerify: !tt.verify,
				NextProtos: []string{"h2", "http/1.1"}}
			if tt.serverName == "" {
				cfg.InsecureSkipVerify = true // no name to verify against
			}
			r, err := dial(t, addr, cfg)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if got, want := r.served(), tt.want.leaf.Cert.SerialNumber.Int64(); got != want {
				t.Errorf("served %v (serial %d), want %v (serial %d)",
					r.state.PeerCertificates[0].DNSNames, got, tt.want.leaf.Cert.DNSNames, want)
			}
			if r.state.NegotiatedProtocol != "http/1.1" {
				t.Errorf("ALPN %q, want http/1.1", r.state.NegotiatedProtocol)
			}
		})
	}
}

func TestIPSANWithoutSNI(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	def := writeSite(t, dir, "default", ca.Server(t, "default.example.net"))
	here := writeSite(t, dir, "here", ca.Server(t, "127.0.0.1"))
	elsewhere := writeSite(t, dir, "elsewhere", ca.Server(t, "192.0.2.7"))
	tests := []struct {
		name  string
		certs []CertFiles
		want  site
	}{
		{name: "IP SAN matches the local address", certs: []CertFiles{def.CertFiles, elsewhere.CertFiles, here.CertFiles}, want: here},
		{name: "no IP SAN matches", certs: []CertFiles{def.CertFiles, elsewhere.CertFiles}, want: def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serve(t, newTerm(t, Options{Certificates: tt.certs}))
			// Dialling an IP address sends no SNI; verification is by IP SAN.
			r, err := dial(t, addr, &tls.Config{RootCAs: ca.Pool(), InsecureSkipVerify: tt.want.leaf != here.leaf})
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if got := r.served(); got != tt.want.leaf.Cert.SerialNumber.Int64() {
				t.Errorf("served serial %d, want %d", got, tt.want.leaf.Cert.SerialNumber.Int64())
			}
		})
	}
}

// fakeConn is a net.Conn with only a local address, for lookup without sockets.
type fakeConn struct {
	net.Conn
	local net.Addr
}

func (c fakeConn) LocalAddr() net.Addr { return c.local }

func TestLookup(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	def, exact, wild := threeSites(t, ca, dir)
	ip := writeSite(t, dir, "ip", ca.Server(t, "10.1.2.3", "2001:db8::1"))
	term := newTerm(t, Options{Certificates: []CertFiles{def.CertFiles, exact.CertFiles, wild.CertFiles, ip.CertFiles}})
	s := term.set.Load()
	tcp := func(a string) net.Conn { return fakeConn{local: &net.TCPAddr{IP: net.ParseIP(a), Port: 443}} }
	tests := []struct {
		name string
		sni  string
		conn net.Conn
		want site
	}{
		{name: "exact", sni: "www.example.com", want: exact},
		{name: "mixed case", sni: "Api.Example.Org", want: exact},
		{name: "trailing dot", sni: "www.example.com.", want: exact},
		{name: "two trailing dots", sni: "www.example.com..", want: exact},
		{name: "wildcard", sni: "x.example.com", want: wild},
		{name: "wildcard trailing dot", sni: "x.example.com.", want: wild},
		{name: "wildcard two labels", sni: "x.y.example.com", want: def},
		{name: "wildcard apex", sni: "example.com", want: def},
		{name: "empty first label", sni: ".example.com", want: def},
		{name: "just a dot", sni: ".", want: def},
		{name: "too long", sni: strings.Repeat("a", 300) + ".example.com", want: def},
		{name: "IP sent as SNI", sni: "10.1.2.3", want: ip},
		{name: "no SNI, local IPv4", conn: tcp("10.1.2.3"), want: ip},
		{name: "no SNI, local IPv4-mapped", conn: tcp("::ffff:10.1.2.3"), want: ip},
		{name: "no SNI, local IPv6", conn: tcp("2001:db8::1"), want: ip},
		{name: "no SNI, other IP", conn: tcp("10.9.9.9"), want: def},
		{name: "no SNI, no conn", want: def},
		{name: "no SNI, not TCP", conn: fakeConn{local: &net.UnixAddr{Name: "/x", Net: "unix"}}, want: def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.lookup(&tls.ClientHelloInfo{ServerName: tt.sni, Conn: tt.conn})
			if !got.Leaf.Equal(tt.want.leaf.Cert) {
				t.Errorf("got %v, want %v", got.Leaf.DNSNames, tt.want.leaf.Cert.DNSNames)
			}
		})
	}
	wantNames := []string{"*.example.com", "api.example.org", "default.example.net", "www.example.com", "10.1.2.3", "2001:db8::1"}
	if got := term.Names(); !slices.Equal(got, wantNames) {
		t.Errorf("Names = %q, want %q", got, wantNames)
	}
	leaves := term.Leaves()
	if len(leaves) != 4 || !leaves[0].Equal(def.leaf.Cert) || !leaves[3].Equal(ip.leaf.Cert) {
		t.Errorf("Leaves = %v", leaves)
	}
}

func TestDuplicateNameFirstWins(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	first := writeSite(t, dir, "first", ca.Server(t, "dup.example.com"))
	second := writeSite(t, dir, "second", ca.Server(t, "DUP.example.com.", "only.example.com"))
	var l logs
	term := newTerm(t, Options{Certificates: []CertFiles{first.CertFiles, second.CertFiles}, Logf: l.logf})
	s := term.set.Load()
	if got := s.lookup(&tls.ClientHelloInfo{ServerName: "dup.example.com"}); !got.Leaf.Equal(first.leaf.Cert) {
		t.Errorf("dup.example.com served by %v, want the first certificate", got.Leaf.DNSNames)
	}
	if got := s.lookup(&tls.ClientHelloInfo{ServerName: "only.example.com"}); !got.Leaf.Equal(second.leaf.Cert) {
		t.Errorf("only.example.com served by %v, want the second certificate", got.Leaf.DNSNames)
	}
	if l.count("both serve dup.example.com") != 1 {
		t.Errorf("want one warning about dup.example.com, got:\n%s", &l)
	}
}

func TestExternalGetCertificate(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	def := writeSite(t, dir, "default", ca.Server(t, "default.example.net"))
	acme := ca.Server(t, "acme.example.com")
	acmeCert := acme.TLSCertificate()
	external := func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if hello.ServerName == "acme.example.com" {
			return &acmeCert, nil
		}
		return nil, errNoACME
	}
	tests := []struct {
		name    string
		certs   []CertFiles
		sni     string
		want    *tlstest.Leaf // nil: the handshake fails
		wantErr string
	}{
		{name: "external first", certs: []CertFiles{def.CertFiles}, sni: "acme.example.com", want: acme},
		{name: "nil falls back to files", certs: []CertFiles{def.CertFiles}, sni: "other.example.com", want: def.leaf},
		{name: "external alone", sni: "acme.example.com", want: acme},
		{name: "external alone, no certificate", sni: "other.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term := newTerm(t, Options{Certificates: tt.certs, GetCertificate: external})
			addr := serve(t, term)
			r, err := dial(t, addr, &tls.Config{ServerName: tt.sni, RootCAs: ca.Pool(), InsecureSkipVerify: tt.want != acme})
			if tt.want == nil {
				if err == nil {
					t.Fatal("handshake succeeded with no certificate to serve")
				}
				// The server's own error is what the engine logs.
				if _, gerr := term.getCertificate(&tls.ClientHelloInfo{ServerName: tt.sni}); gerr != errNoACME {
					t.Errorf("getCertificate error %v, want %v", gerr, errNoACME)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if got := r.served(); got != tt.want.Cert.SerialNumber.Int64() {
				t.Errorf("served serial %d, want %d", got, tt.want.Cert.SerialNumber.Int64())
			}
		})
	}
}

var errNoACME = &acmeError{}

type acmeError struct{}

func (*acmeError) Error() string { return "acme: no certificate for this name" }
