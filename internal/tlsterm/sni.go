package tlsterm

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
)

// certSet is one generation of loaded certificates. It is never modified after build returns.
type certSet struct {
	exact  map[string]*tls.Certificate     // lower-case host name → certificate
	wild   map[string]*tls.Certificate     // "example.com" for a *.example.com certificate
	ip     map[netip.Addr]*tls.Certificate // IP address SANs (unmapped)
	def    *tls.Certificate                // the first certificate; nil with none
	certs  []*tls.Certificate              // in Options order
	names  []string                        // for Names
	conf   *tls.Config                     // with client auth: the Config with this set's CA pool
	digest [32]byte                        // of the files this set was built from
}

// maxName is the longest DNS name (RFC 1035), plus room for a trailing dot.
const maxName = 254

// lookup picks the certificate for a ClientHello by server name or, without one, by the local IP
// address; nil when the set has no certificate at all. It does not allocate.
func (s *certSet) lookup(hello *tls.ClientHelloInfo) *tls.Certificate {
	name := hello.ServerName
	if name == "" {
		if a, ok := localIP(hello.Conn); ok {
			if c := s.ip[a]; c != nil {
				return c
			}
		}
		return s.def
	}
	if len(name) > maxName {
		return s.def
	}
	var buf [maxName]byte
	n := 0
	for i := 0; i < len(name); i++ {
		b := name[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf[n] = b
		n++
	}
	for n > 0 && buf[n-1] == '.' {
		n--
	}
	key := buf[:n]
	if c := s.exact[string(key)]; c != nil {
		return c
	}
	if i := bytes.IndexByte(key, '.'); i > 0 && i < n-1 {
		if c := s.wild[string(key[i+1:])]; c != nil {
			return c
		}
	}
	if len(s.ip) > 0 && maybeIP(key) {
		// Clients must not send an IP address as SNI (RFC 6066), but some do. name[:n] is key
		// before lower-casing, which ParseAddr does not need, and costs no copy.
		if a, err := netip.ParseAddr(name[:n]); err == nil {
			if c := s.ip[a.Unmap()]; c != nil {
				return c
			}
		}
	}
	return s.def
}

// maybeIP is whether a lower-cased name could be an IP address literal: hex digits, dots and
// colons only, with a colon if it has letters.
func maybeIP(b []byte) bool {
	colon, letter := false, false
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9', c == '.':
		case c == ':':
			colon = true
		case 'a' <= c && c <= 'f':
			letter = true
		default:
			return false
		}
	}
	return len(b) > 0 && (colon || !letter)
}

func localIP(c net.Conn) (netip.Addr, bool) {
	if c == nil {
		return netip.Addr{}, false
	}
	a, ok := c.LocalAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	return ip.Unmap(), ok
}

// getCertificate is the Config's GetCertificate.
func (t *Terminator) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	var extErr error
	if t.external != nil {
		c, err := t.external(hello)
		if c != nil {
			return c, nil
		}
		extErr = err
	}
	if c := t.set.Load().lookup(hello); c != nil {
		return c, nil
	}
	if extErr != nil {
		return nil, extErr
	}
	return nil, errNoCertificate
}

// configForClient is the Config's GetConfigForClient when clients are asked for certificates: the
// current set's Config, which carries that set's client CA pool.
func (t *Terminator) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if t.challenge != nil && len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmeTLSALPN {
		return t.challenge, nil
	}
	return t.set.Load().conf, nil
}

// acmeTLSALPN is the protocol of ACME's TLS-ALPN-01 challenge (RFC 8737).
const acmeTLSALPN = "acme-tls/1"

// Leaves are the leaf certificates now served, in the order of Options.Certificates (for expiry
// metrics and explain). The certificates are shared: do not modify them.
func (t *Terminator) Leaves() []*x509.Certificate {
	s := t.set.Load()
	out := make([]*x509.Certificate, len(s.certs))
	for i, c := range s.certs {
		out[i] = c.Leaf
	}
	return out
}
