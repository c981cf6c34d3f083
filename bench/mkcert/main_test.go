package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWrite checks that the files load as a key pair (separately and as server.pem, the way
// HAProxy takes them), that the certificate is ECDSA P-256, and that it verifies against ca.crt
// for every name the benchmark's clients use.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := write(dir, now); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	pem := filepath.Join(dir, "server.pem")
	if _, err := tls.LoadX509KeyPair(pem, pem); err != nil {
		t.Fatalf("server.pem: %v", err)
	}
	if len(pair.Certificate) != 1 {
		t.Fatalf("server.crt holds %d certificates, want the leaf alone", len(pair.Certificate))
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("server key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt holds no certificate")
	}
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		t.Run(name, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			if err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCurrent checks when existing files are kept.
func TestCurrent(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		at      time.Time
		want    bool
	}{
		{"empty dir", func(*testing.T, string) {}, now, false},
		{"fresh files", func(t *testing.T, dir string) { mustWrite(t, dir, now) }, now, true},
		{"expiring within a day", func(t *testing.T, dir string) { mustWrite(t, dir, now) }, now.Add(validity - time.Hour), false},
		{"pem missing", func(t *testing.T, dir string) {
			mustWrite(t, dir, now)
			if err := os.Remove(filepath.Join(dir, "server.pem")); err != nil {
				t.Fatal(err)
			}
		}, now, false},
		{"certificate garbled", func(t *testing.T, dir string) {
			mustWrite(t, dir, now)
			if err := os.WriteFile(filepath.Join(dir, "server.crt"), []byte("not a certificate"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			if got := current(dir, tt.at); got != tt.want {
				t.Errorf("current = %v, want %v", got, tt.want)
			}
		})
	}
}

func mustWrite(t *testing.T, dir string, now time.Time) {
	t.Helper()
	if err := write(dir, now); err != nil {
		t.Fatal(err)
	}
}
