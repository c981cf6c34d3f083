package tlsterm

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

// BenchmarkHandshake is a full handshake (no resumption) over loopback with an ECDSA P-256
// certificate chosen by SNI among three; each op is a new TCP connection, both sides of the
// handshake (client and server allocations are both counted), and the close.
func BenchmarkHandshake(b *testing.B) {
	ca := tlstest.NewCA(b, "bench CA")
	def, exact, wild := threeSites(b, ca, b.TempDir())
	term := newTerm(b, Options{Certificates: []CertFiles{def.CertFiles, exact.CertFiles, wild.CertFiles}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				tc := tls.Server(c, term.Config())
				tc.Handshake()
				tc.Close()
			}()
		}
	}()
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		b.Run(tls.VersionName(v), func(b *testing.B) {
			cfg := &tls.Config{ServerName: "shop.example.com", RootCAs: ca.Pool(), MinVersion: v, MaxVersion: v,
				// Classic ECDHE on P-256, as in the ECDSA P-256 handshake the issue measures.
				CurvePreferences: []tls.CurveID{tls.CurveP256}}
			b.ReportAllocs()
			for b.Loop() {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				tc := tls.Client(c, cfg)
				if err := tc.Handshake(); err != nil {
					b.Fatal(err)
				}
				tc.Close()
			}
		})
	}
}

// BenchmarkGetCertificate is the certificate choice alone, as a handshake makes it; it must not
// allocate.
func BenchmarkGetCertificate(b *testing.B) {
	ca := tlstest.NewCA(b, "bench CA")
	dir := b.TempDir()
	def, exact, wild := threeSites(b, ca, dir)
	ip := writeSite(b, dir, "ip", ca.Server(b, "127.0.0.1"))
	term := newTerm(b, Options{Certificates: []CertFiles{def.CertFiles, exact.CertFiles, wild.CertFiles, ip.CertFiles}})
	conn := fakeConn{local: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443}}
	cases := []struct {
		name  string
		hello *tls.ClientHelloInfo
		want  site
	}{
		{name: "exact", hello: &tls.ClientHelloInfo{ServerName: "www.example.com"}, want: exact},
		{name: "exact mixed case", hello: &tls.ClientHelloInfo{ServerName: "WWW.Example.com"}, want: exact},
		{name: "wildcard", hello: &tls.ClientHelloInfo{ServerName: "shop.example.com"}, want: wild},
		{name: "default", hello: &tls.ClientHelloInfo{ServerName: "unknown.example.org"}, want: def},
		{name: "no SNI by IP", hello: &tls.ClientHelloInfo{Conn: conn}, want: ip},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			got, err := term.getCertificate(c.hello)
			if err != nil || !got.Leaf.Equal(c.want.leaf.Cert) {
				b.Fatalf("got %v, %v", got.Leaf.DNSNames, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				got, _ = term.getCertificate(c.hello)
			}
			if allocs := testing.AllocsPerRun(100, func() { term.getCertificate(c.hello) }); allocs != 0 {
				b.Errorf("%v allocs per choice, want 0", allocs)
			}
		})
	}
}

func TestGetCertificateDoesNotAllocate(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	def, _, _ := threeSites(t, ca, t.TempDir())
	term := newTerm(t, Options{Certificates: []CertFiles{def.CertFiles}})
	for _, name := range []string{"www.example.com", "A.B.Example.COM.", ""} {
		hello := &tls.ClientHelloInfo{ServerName: name}
		if allocs := testing.AllocsPerRun(100, func() { term.getCertificate(hello) }); allocs != 0 {
			t.Errorf("getCertificate(%q): %v allocs, want 0", name, allocs)
		}
	}
}
