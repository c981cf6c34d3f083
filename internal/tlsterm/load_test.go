package tlsterm

import (
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewErrors(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	good := writeSite(t, dir, "good", ca.Server(t, "good.example.com"))
	other := writeSite(t, dir, "other", ca.Server(t, "other.example.com"))
	caFile := ca.WriteRootFile(t, dir, "ca.pem")
	missing := filepath.Join(dir, "missing.pem")
	notPEM := write(t, dir, "notpem.txt", []byte("hello\n"))
	empty := write(t, dir, "empty.pem", nil)
	der := write(t, dir, "cert.der", good.leaf.Cert.Raw)
	encrypted := write(t, dir, "enc.key", pemBlock("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}))
	badKey := write(t, dir, "bad.key", pemBlock("PRIVATE KEY", []byte{1, 2, 3}))
	onlyParams := write(t, dir, "params.key", pemBlock("EC PARAMETERS", []byte{6, 8}))
	pair := func(c, k string) []CertFiles { return []CertFiles{{CertFile: c, KeyFile: k}} }
	tests := []struct {
		name string
		opts Options
		want []string // substrings of the error
	}{
		{name: "no certificates", opts: Options{}, want: []string{"no certificates"}},
		{name: "missing cert", opts: Options{Certificates: pair(missing, good.KeyFile)}, want: []string{"certificate file", missing, "does not exist"}},
		{name: "missing key", opts: Options{Certificates: pair(good.CertFile, missing)}, want: []string{"key file", missing, "does not exist"}},
		{name: "cert is a directory", opts: Options{Certificates: pair(dir, good.KeyFile)}, want: []string{"certificate file", dir}},
		{name: "cert not PEM", opts: Options{Certificates: pair(notPEM, good.KeyFile)}, want: []string{notPEM, "is not PEM"}},
		{name: "cert empty", opts: Options{Certificates: pair(empty, good.KeyFile)}, want: []string{empty, "is empty"}},
		{name: "cert is DER", opts: Options{Certificates: pair(der, good.KeyFile)}, want: []string{der, "looks like DER"}},
		{name: "files swapped", opts: Options{Certificates: pair(good.KeyFile, good.CertFile)}, want: []string{good.KeyFile, "swapped"}},
		{name: "key not PEM", opts: Options{Certificates: pair(good.CertFile, notPEM)}, want: []string{"key file", notPEM, "not PEM"}},
		{name: "key is a certificate", opts: Options{Certificates: pair(good.CertFile, other.CertFile)}, want: []string{other.CertFile, "swapped"}},
		{name: "key encrypted", opts: Options{Certificates: pair(good.CertFile, encrypted)}, want: []string{encrypted, "encrypted"}},
		{name: "key garbage", opts: Options{Certificates: pair(good.CertFile, badKey)}, want: []string{badKey, "PKCS#8"}},
		{name: "key file without a key", opts: Options{Certificates: pair(good.CertFile, onlyParams)}, want: []string{onlyParams, "no PRIVATE KEY", "EC PARAMETERS"}},
		{name: "key does not match", opts: Options{Certificates: pair(good.CertFile, other.KeyFile)},
			want: []string{"the key in " + other.KeyFile + " does not match the certificate in " + good.CertFile}},
		{name: "second pair broken", opts: Options{Certificates: []CertFiles{good.CertFiles, {CertFile: other.CertFile, KeyFile: good.KeyFile}}},
			want: []string{good.KeyFile, other.CertFile, "does not match"}},
		{name: "min version 1.1", opts: Options{Certificates: []CertFiles{good.CertFiles}, MinVersion: tls.VersionTLS11}, want: []string{"0x0302", "1.2 or 1.3"}},
		{name: "insecure suite", opts: Options{Certificates: []CertFiles{good.CertFiles}, CipherSuites: []uint16{tls.TLS_RSA_WITH_RC4_128_SHA}},
			want: []string{"TLS_RSA_WITH_RC4_128_SHA", "not a secure TLS 1.2 suite"}},
		{name: "client auth without CA", opts: Options{Certificates: []CertFiles{good.CertFiles}, ClientAuth: ClientAuthRequire}, want: []string{"require", "client CA file"}},
		{name: "client auth mode unknown", opts: Options{Certificates: []CertFiles{good.CertFiles}, ClientAuth: 7, ClientCAFile: caFile}, want: []string{"unknown client auth mode 7"}},
		{name: "client CA missing", opts: Options{Certificates: []CertFiles{good.CertFiles}, ClientAuth: ClientAuthRequest, ClientCAFile: missing},
			want: []string{"client CA file", missing, "does not exist"}},
		{name: "client CA is a key", opts: Options{Certificates: []CertFiles{good.CertFiles}, ClientAuth: ClientAuthRequest, ClientCAFile: good.KeyFile},
			want: []string{"client CA file", good.KeyFile, "no CERTIFICATE"}},
		{name: "negative interval", opts: Options{Certificates: []CertFiles{good.CertFiles}, ReloadInterval: -time.Second}, want: []string{"negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			term, err := New(tt.opts)
			if err == nil {
				term.Close()
				t.Fatal("New succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "tls: ") {
				t.Errorf("error %q does not start with tls:", err)
			}
		})
	}
}

func TestMissingFileErrorWraps(t *testing.T) {
	_, err := New(Options{Certificates: []CertFiles{{CertFile: filepath.Join(t.TempDir(), "x.crt"), KeyFile: "x.key"}}})
	if !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestValidityWarnings(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	now := time.Now()
	tests := []struct {
		name string
		opts tlstest.Options
		want string // "" for no warning
	}{
		{name: "valid", opts: tlstest.Options{Names: []string{"ok.example.com"}}},
		{name: "expired", opts: tlstest.Options{Names: []string{"old.example.com"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)},
			want: "(old.example.com) expired at"},
		{name: "not yet valid", opts: tlstest.Options{Names: []string{"new.example.com"}, NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)},
			want: "(new.example.com) is not valid until"},
		{name: "client certificate", opts: tlstest.Options{CommonName: "alice", Client: true}, want: "not for server authentication"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := writeSite(t, t.TempDir(), "site", ca.Issue(t, tt.opts))
			var l logs
			term := newTerm(t, Options{Certificates: []CertFiles{s.CertFiles}, Logf: l.logf, Now: func() time.Time { return now }})
			if tt.want == "" {
				if l.count("tls:") != 0 {
					t.Errorf("unexpected warnings:\n%s", &l)
				}
				return
			}
			if l.count(tt.want) != 1 || l.count(s.CertFile) == 0 {
				t.Errorf("want one warning %q naming %s, got:\n%s", tt.want, s.CertFile, &l)
			}
			if len(term.Names()) == 0 && len(s.leaf.Cert.DNSNames) > 0 {
				t.Error("the certificate was not loaded")
			}
		})
	}
}

func TestNoNamesWarning(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA")
	dir := t.TempDir()
	first := writeSite(t, dir, "first", ca.Issue(t, tlstest.Options{CommonName: "nameless"}))
	second := writeSite(t, dir, "second", ca.Issue(t, tlstest.Options{CommonName: "nameless too"}))
	var l logs
	newTerm(t, Options{Certificates: []CertFiles{first.CertFiles, second.CertFiles}, Logf: l.logf})
	if l.count("serves only as the default") != 1 || l.count("it is never served") != 1 {
		t.Errorf("want one warning for each nameless certificate, got:\n%s", &l)
	}
}
