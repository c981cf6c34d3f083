// Package tlstest makes certificates for tests: a certificate authority, server certificates with
// DNS and IP names, client certificates, intermediate CAs, and PEM files written into a directory.
//
// Every key is ECDSA P-256. The keys are random (crypto/rand), but everything else is predictable:
// serial numbers count up from 1 within each CA, subjects are the names the test gives, and the
// validity windows are either the test's own or fixed offsets from the time of issue (a CA: thirty
// days ago to ten years ahead; a leaf: one hour ago to thirty days ahead). The package keeps no
// state of its own: a CA carries its serial counter, so tests may run in parallel.
//
// The functions take a testing.TB and stop the test with Fatal on any error, so that a test reads
// as the certificates it needs: ca := tlstest.NewCA(t, "test CA"); srv := ca.Server(t, "a.example.com").
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Default validity windows, as offsets from the time a certificate is issued.
const (
	// CAValidity is how long a CA made by NewCA or Intermediate is valid, from CABackdate before
	// it is made.
	CAValidity = 10 * 365 * 24 * time.Hour
	// CABackdate is how far in the past a CA's validity starts, so that a test can issue leaves
	// that expired recently and still verify them at a time within their window.
	CABackdate = 30 * 24 * time.Hour
	// LeafValidity is how long a leaf is valid when Options leave NotAfter zero.
	LeafValidity = 30 * 24 * time.Hour
	// Backdate is how far before the time of issue a default validity window starts, so that a
	// certificate is valid at once even on a machine whose clock is a little behind.
	Backdate = time.Hour
)

// CA is a certificate authority that issues test certificates. Its methods are safe for concurrent
// use.
type CA struct {
	// Cert is the CA's own certificate.
	Cert *x509.Certificate
	// Key is the CA's private key.
	Key *ecdsa.PrivateKey

	root   *x509.Certificate   // the self-signed root at the top of the chain (Cert for a root)
	chain  []*x509.Certificate // intermediates from this CA up to, not including, the root
	serial atomic.Int64        // the last serial number issued by this CA
}

// Leaf is an issued certificate with its key.
type Leaf struct {
	// Cert is the parsed certificate.
	Cert *x509.Certificate
	// Key is its private key.
	Key *ecdsa.PrivateKey
	// CertPEM is the chain to serve: the leaf, then the intermediates of its CA (not the root).
	CertPEM []byte
	// KeyPEM is the private key as a PKCS#8 "PRIVATE KEY" PEM block.
	KeyPEM []byte

	chain [][]byte // DER of CertPEM's blocks
}

// Options describe a leaf certificate for Issue.
type Options struct {
	// CommonName is the subject's CN. Default: the first of Names, else "tlstest leaf".
	CommonName string
	// Organization is the subject's O. Default: none.
	Organization string
	// Names are DNS names ("a.example.com", "*.example.com") and IP literals ("127.0.0.1", "::1");
	// each goes into the subject alternative names of its kind.
	Names []string
	// NotBefore is the start of validity. Default: Backdate before now.
	NotBefore time.Time
	// NotAfter is the end of validity. Default: LeafValidity after now.
	NotAfter time.Time
	// Client makes a client certificate (extended key usage clientAuth) instead of a server one
	// (serverAuth).
	Client bool
}

// NewCA makes a self-signed root CA named commonName, valid from CABackdate ago for CAValidity.
func NewCA(tb testing.TB, commonName string) *CA {
	tb.Helper()
	key := newKey(tb)
	now := time.Now()
	tmpl := caTemplate(commonName, now)
	tmpl.SerialNumber = big.NewInt(1)
	cert := sign(tb, tmpl, tmpl, &key.PublicKey, key)
	ca := &CA{Cert: cert, Key: key, root: cert}
	ca.serial.Store(1)
	return ca
}

// Intermediate issues an intermediate CA named commonName under ca. Leaves it issues carry the
// intermediates in their CertPEM, and its Pool is the root's.
func (ca *CA) Intermediate(tb testing.TB, commonName string) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := caTemplate(commonName, time.Now())
	tmpl.SerialNumber = ca.nextSerial()
	cert := sign(tb, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	sub := &CA{Cert: cert, Key: key, root: ca.root}
	sub.chain = append([]*x509.Certificate{cert}, ca.chain...)
	return sub
}

// Issue issues a leaf certificate described by o.
func (ca *CA) Issue(tb testing.TB, o Options) *Leaf {
	tb.Helper()
	key := newKey(tb)
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: ca.nextSerial(),
		Subject:      pkix.Name{CommonName: o.CommonName},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if o.Client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if o.Organization != "" {
		tmpl.Subject.Organization = []string{o.Organization}
	}
	if tmpl.Subject.CommonName == "" {
		tmpl.Subject.CommonName = "tlstest leaf"
		if len(o.Names) > 0 {
			tmpl.Subject.CommonName = o.Names[0]
		}
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-Backdate)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(LeafValidity)
	}
	for _, n := range o.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	cert := sign(tb, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	l := &Leaf{Cert: cert, Key: key, KeyPEM: keyPEM(tb, key)}
	l.chain = append(l.chain, cert.Raw)
	for _, c := range ca.chain {
		l.chain = append(l.chain, c.Raw)
	}
	for _, der := range l.chain {
		l.CertPEM = append(l.CertPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return l
}

// Server issues a server certificate for names (DNS names and IP literals) with the default
// validity.
func (ca *CA) Server(tb testing.TB, names ...string) *Leaf {
	tb.Helper()
	return ca.Issue(tb, Options{Names: names})
}

// Client issues a client certificate whose subject is CN=commonName, with the default validity.
func (ca *CA) Client(tb testing.TB, commonName string) *Leaf {
	tb.Helper()
	return ca.Issue(tb, Options{CommonName: commonName, Client: true})
}

// CertPEM is this CA's own certificate as PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// RootPEM is the root certificate at the top of this CA's chain as PEM: the trust anchor to give a
// verifier (the same as CertPEM for a root).
func (ca *CA) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw})
}

// Pool is a new certificate pool holding the root of this CA's chain, for tls.Config.RootCAs or
// ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}

// WriteRootFile writes RootPEM to dir/name and returns the path.
func (ca *CA) WriteRootFile(tb testing.TB, dir, name string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	WriteFile(tb, path, ca.RootPEM())
	return path
}

// TLSCertificate is the leaf as a tls.Certificate (chain, key and parsed Leaf), for a test server's
// or client's tls.Config.
func (l *Leaf) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: l.chain, PrivateKey: l.Key, Leaf: l.Cert}
}

// Fingerprint is the SHA-256 of the leaf's DER, in lower-case hex without separators.
func (l *Leaf) Fingerprint() string {
	sum := sha256.Sum256(l.Cert.Raw)
	return hex.EncodeToString(sum[:])
}

// WriteFiles writes CertPEM to dir/base.crt and KeyPEM to dir/base.key (mode 0600), each by
// writing a temporary file and renaming it, and returns both paths. Writing the same base again
// replaces the files, as a certificate renewal does.
func (l *Leaf) WriteFiles(tb testing.TB, dir, base string) (certFile, keyFile string) {
	tb.Helper()
	certFile = filepath.Join(dir, base+".crt")
	keyFile = filepath.Join(dir, base+".key")
	WriteFile(tb, certFile, l.CertPEM)
	WriteFile(tb, keyFile, l.KeyPEM)
	return certFile, keyFile
}

// WriteFile replaces path with data (mode 0600) atomically: it writes a temporary file in the same
// directory and renames it over path, so that a reader sees the old contents or the new, never a
// part.
func WriteFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), ".tlstest-*")
	if err != nil {
		tb.Fatalf("tlstest: %v", err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		tb.Fatalf("tlstest: write %s: %v %v", path, werr, cerr)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		tb.Fatalf("tlstest: %v", err)
	}
}

func (ca *CA) nextSerial() *big.Int {
	return big.NewInt(ca.serial.Add(1))
}

func caTemplate(commonName string, now time.Time) *x509.Certificate {
	now = now.Truncate(time.Second)
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-CABackdate),
		NotAfter:              now.Add(-CABackdate + CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("tlstest: generate key: %v", err)
	}
	return key
}

func sign(tb testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, priv *ecdsa.PrivateKey) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		tb.Fatalf("tlstest: create certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("tlstest: parse certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return cert
}

func keyPEM(tb testing.TB, key *ecdsa.PrivateKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("tlstest: marshal key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
