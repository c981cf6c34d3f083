// Command mkcert writes the certificates that bench/run's TLS workloads use: a throwaway ECDSA P-256
// certificate authority and a server certificate it signed for 127.0.0.1, ::1 and localhost.
//
//	mkcert [-dir /tmp/bench-tls] [-force]
//
// Files, in DIR (created if missing):
//
//	ca.crt      the CA certificate (PEM), for clients that verify
//	server.crt  the server certificate (PEM), the leaf alone: the CA is a root and is not sent
//	server.key  its private key (PEM, PKCS #8)
//	server.pem  server.crt followed by server.key, the one-file form HAProxy's `crt` takes
//
// Existing files that still hold a certificate valid for at least a day are kept, so that every
// proxy of a run, and the runs that follow, use the same key; -force writes new ones. The keys are
// made fresh on this machine and are good for nothing but the benchmark.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// validity is how long the certificates are valid, from an hour before they are made.
const validity = 365 * 24 * time.Hour

func main() {
	dir := flag.String("dir", "/tmp/bench-tls", "the `DIR` to write ca.crt, server.crt, server.key and server.pem to")
	force := flag.Bool("force", false, "write new certificates even when valid ones are there")
	flag.Parse()
	if !*force && current(*dir, time.Now()) {
		return
	}
	if err := write(*dir, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "mkcert:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "mkcert: wrote %s/{ca.crt,server.crt,server.key,server.pem}\n", *dir)
}

// current reports whether dir already holds all four files and server.crt is valid for at least
// another day.
func current(dir string, now time.Time) bool {
	for _, f := range []string{"ca.crt", "server.key", "server.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "server.crt"))
	if err != nil {
		return false
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return false
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	return err == nil && now.Add(24*time.Hour).Before(c.NotAfter)
}

// write makes the CA and the server certificate and writes the four files.
func write(dir string, now time.Time) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("ca key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "gatehouse bench CA", Organization: []string{"gatehouse bench"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("ca certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("ca certificate: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"gatehouse bench"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("server key: %w", err)
	}

	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	crtPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// The key files are readable by all: nginx and HAProxy read them before they drop privileges,
	// but a proxy run as another user must read them too, and the keys protect nothing.
	files := []struct {
		name string
		data []byte
	}{
		{"ca.crt", caPEM},
		{"server.key", keyPEM},
		{"server.crt", crtPEM},
		{"server.pem", append(append([]byte{}, crtPEM...), keyPEM...)},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// writeFile replaces path with data atomically (a proxy that reads it meanwhile sees the old or
// the new file, never half of one).
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("rename %s: %w", tmp, err), os.Remove(tmp))
	}
	return nil
}

// serial is a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		// crypto/rand does not fail on Linux; a fixed serial would still make a usable certificate.
		return big.NewInt(1)
	}
	return n
}
