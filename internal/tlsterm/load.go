package tlsterm

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// read reads every file the options name: each certificate then its key, then the client CA
// bundle. The digest covers the paths and contents, so that a reload can tell whether anything
// changed.
func (t *Terminator) read() (files [][]byte, digest [32]byte, err error) {
	h := sha256.New()
	add := func(path, what string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("tls: %s %s does not exist: %w", what, path, err)
			}
			return fmt.Errorf("tls: read %s %s: %w", what, path, err)
		}
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(path)))
		h.Write(n[:])
		h.Write([]byte(path))
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
		files = append(files, b)
		return nil
	}
	for _, c := range t.opts.Certificates {
		if err := add(c.CertFile, "certificate file"); err != nil {
			return nil, digest, err
		}
		if err := add(c.KeyFile, "key file"); err != nil {
			return nil, digest, err
		}
	}
	if t.opts.ClientCAFile != "" {
		if err := add(t.opts.ClientCAFile, "client CA file"); err != nil {
			return nil, digest, err
		}
	}
	h.Sum(digest[:0])
	return files, digest, nil
}

// build parses what read returned into a certificate set, logging its warnings.
func (t *Terminator) build(files [][]byte, digest [32]byte) (*certSet, error) {
	s := &certSet{
		exact:  map[string]*tls.Certificate{},
		wild:   map[string]*tls.Certificate{},
		ip:     map[netip.Addr]*tls.Certificate{},
		digest: digest,
	}
	owner := map[string]string{} // name → the certificate file that serves it
	now := t.now()
	var warnings, ipNames []string
	for i, cf := range t.opts.Certificates {
		cert, err := loadPair(cf.CertFile, files[2*i], cf.KeyFile, files[2*i+1])
		if err != nil {
			return nil, err
		}
		leaf := cert.Leaf
		s.certs = append(s.certs, cert)
		if i == 0 {
			s.def = cert
		}
		warnings = append(warnings, validityWarnings(cf.CertFile, leaf, now)...)
		claim := func(name string) bool {
			if prev, ok := owner[name]; ok {
				warnings = append(warnings, fmt.Sprintf("tls: %s and %s both serve %s; the first listed serves it", prev, cf.CertFile, name))
				return false
			}
			owner[name] = cf.CertFile
			return true
		}
		for _, n := range leaf.DNSNames {
			n = normalizeName(n)
			if n == "" || !claim(n) {
				continue
			}
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				s.wild[rest] = cert
			} else {
				s.exact[n] = cert
			}
		}
		for _, raw := range leaf.IPAddresses {
			a, ok := netip.AddrFromSlice(raw)
			if !ok {
				continue
			}
			a = a.Unmap()
			if claim(a.String()) {
				s.ip[a] = cert
				ipNames = append(ipNames, a.String())
			}
		}
		if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 {
			if i == 0 {
				warnings = append(warnings, fmt.Sprintf("tls: certificate %s names no DNS name or IP address; it serves only as the default", cf.CertFile))
			} else {
				warnings = append(warnings, fmt.Sprintf("tls: certificate %s names no DNS name or IP address, and is not the default; it is never served", cf.CertFile))
			}
		}
	}
	for n := range s.exact {
		s.names = append(s.names, n)
	}
	for n := range s.wild {
		s.names = append(s.names, "*."+n)
	}
	slices.Sort(s.names)
	s.names = append(s.names, ipNames...)
	if t.opts.ClientCAFile != "" {
		pool, err := loadCAs(t.opts.ClientCAFile, files[len(files)-1])
		if err != nil {
			return nil, err
		}
		s.conf = t.base.Clone()
		s.conf.GetConfigForClient = nil
		s.conf.ClientCAs = pool
	}
	for _, w := range warnings {
		t.logf("%s", w)
	}
	return s, nil
}

// normalizeName lower-cases an ASCII host name and drops trailing dots.
func normalizeName(n string) string {
	return strings.TrimRight(strings.ToLower(n), ".")
}

func validityWarnings(file string, leaf *x509.Certificate, now time.Time) []string {
	name := leaf.Subject.CommonName
	if len(leaf.DNSNames) > 0 {
		name = leaf.DNSNames[0]
	}
	var w []string
	if now.After(leaf.NotAfter) {
		w = append(w, fmt.Sprintf("tls: certificate %s (%s) expired at %s; serving it anyway, clients will refuse it", file, name, leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	if now.Before(leaf.NotBefore) {
		w = append(w, fmt.Sprintf("tls: certificate %s (%s) is not valid until %s; serving it anyway, clients will refuse it", file, name, leaf.NotBefore.UTC().Format(time.RFC3339)))
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		w = append(w, fmt.Sprintf("tls: certificate %s (%s) is not for server authentication (no serverAuth extended key usage); clients will refuse it", file, name))
	}
	return w
}

// loadPair parses a PEM certificate chain and its key into a tls.Certificate with Leaf set.
func loadPair(certFile string, certPEM []byte, keyFile string, keyPEM []byte) (*tls.Certificate, error) {
	var ders [][]byte
	var other []string
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			ders = append(ders, b.Bytes)
		} else {
			other = append(other, b.Type)
		}
	}
	if len(ders) == 0 {
		return nil, fmt.Errorf("tls: certificate file %s: %s", certFile, noBlock(certPEM, "CERTIFICATE", other, true))
	}
	cert := &tls.Certificate{Certificate: ders}
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("tls: certificate file %s: certificate %d of the chain does not parse: %w", certFile, i+1, err)
		}
		if i == 0 {
			cert.Leaf = c
		}
	}
	key, err := loadKey(keyFile, keyPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.Leaf.PublicKey) {
		return nil, fmt.Errorf("tls: the key in %s does not match the certificate in %s (their public keys differ); pair each certificate with its own key", keyFile, certFile)
	}
	cert.PrivateKey = key
	return cert, nil
}

func loadKey(keyFile string, keyPEM []byte) (crypto.Signer, error) {
	var other []string
	for rest := keyPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED"):
			return nil, fmt.Errorf("tls: key file %s: the key is encrypted; give an unencrypted key (openssl pkey -in %s -out plain.key)", keyFile, keyFile)
		case b.Type == "PRIVATE KEY" || strings.HasSuffix(b.Type, " PRIVATE KEY"):
			k, err := parseKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tls: key file %s: %w", keyFile, err)
			}
			return k, nil
		default:
			other = append(other, b.Type)
		}
	}
	return nil, fmt.Errorf("tls: key file %s: %s", keyFile, noBlock(keyPEM, "PRIVATE KEY", other, true))
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("private key of type %T cannot sign", k)
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("the private key is not PKCS#8, SEC 1 (EC) or PKCS#1 (RSA)")
}

// noBlock says why a file holds no block of the wanted type; pair is whether the file is half of a
// certificate and key pair (which may have been swapped).
func noBlock(data []byte, want string, found []string, pair bool) string {
	switch {
	case pair && len(found) > 0 && want == "CERTIFICATE" && strings.HasSuffix(found[0], "PRIVATE KEY"):
		return fmt.Sprintf("holds a %s, not a %s; are the certificate and key files swapped?", found[0], want)
	case pair && len(found) > 0 && want == "PRIVATE KEY" && found[0] == "CERTIFICATE":
		return fmt.Sprintf("holds a %s, not a %s; are the certificate and key files swapped?", found[0], want)
	case len(found) > 0:
		return fmt.Sprintf("holds no %s PEM block (found %s)", want, strings.Join(found, ", "))
	case len(bytes.TrimSpace(data)) == 0:
		return "is empty"
	case data[0] == 0x30:
		return fmt.Sprintf("is not PEM (it looks like DER); convert it to PEM with openssl (it must hold a -----BEGIN %s----- block)", want)
	}
	return fmt.Sprintf("is not PEM: no -----BEGIN %s----- block", want)
}

// loadCAs parses a PEM bundle of CA certificates.
func loadCAs(file string, data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	var other []string
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			other = append(other, b.Type)
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA file %s: certificate %d does not parse: %w", file, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("tls: client CA file %s: %s", file, noBlock(data, "CERTIFICATE", other, false))
	}
	return pool, nil
}
