// Package acme obtains and renews TLS certificates automatically from an ACME certificate
// authority (Let's Encrypt by default) with certmagic, for gatehouse's TLS listeners.
//
// A Manager holds the certificates of two kinds of names: the names listed in Config.Names,
// obtained (or loaded from storage) when it starts and renewed ahead of expiry in the background,
// and, when Config.OnDemand is set, names allowed by its list, obtained during the first TLS
// handshake that asks for them. It proves control of a name with the HTTP-01 challenge (the CA
// asks http://NAME/.well-known/acme-challenge/TOKEN on port 80: the HTTP engine answers with
// Manager.HTTPChallenge) or the TLS-ALPN-01 challenge (the CA opens a TLS connection to port 443
// offering only the "acme-tls/1" protocol: the TLS listener answers with Manager.GetCertificate,
// its NextProtos including Manager.TLSALPNProtos). If nothing listens on the challenge port when
// a challenge starts, certmagic listens there itself for the length of the challenge.
//
// Certificates, keys and the ACME account live in a Storage: a directory by default, or any
// implementation of certmagic's Storage interface (Redis, etcd, ...) shared by a fleet, whose
// instances then take turns through its locks and answer each other's challenges.
//
// Failures are retried in the background with certmagic's backoff (1, 2, 2, 5, 10 minutes, ...
// up to 6 hours between tries, for 30 days); against Let's Encrypt's production directory the
// retries go to its staging directory first, so that a broken setup does not use up the
// production rate limits. Using a Manager agrees to the CA's subscriber agreement.
package acme

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// Challenge types, the values of Config.Challenges.
const (
	// HTTP01 proves control of a name by answering an HTTP request on port 80.
	HTTP01 = "http-01"
	// TLSALPN01 proves control of a name by answering a TLS handshake for the "acme-tls/1"
	// protocol on port 443.
	TLSALPN01 = "tls-alpn-01"
)

// ACME directories of Let's Encrypt.
const (
	// LetsEncryptProduction issues publicly trusted certificates; the default Directory.
	LetsEncryptProduction = certmagic.LetsEncryptProductionCA
	// LetsEncryptStaging issues untrusted test certificates under much higher rate limits:
	// use it to try a setup.
	LetsEncryptStaging = certmagic.LetsEncryptStagingCA
)

// ALPNProto is the TLS application protocol of the TLS-ALPN-01 challenge (RFC 8737).
const ALPNProto = "acme-tls/1"

// Config is what a Manager obtains certificates for and how. The zero value of each field is
// its default.
type Config struct {
	// Email is the contact address of the ACME account; optional (Let's Encrypt no longer sends
	// expiry mail, but other CAs may require one).
	Email string
	// Directory is the URL of the CA's ACME directory, https only. Default: LetsEncryptProduction;
	// LetsEncryptStaging for tests of a setup.
	Directory string
	// CARoot is a PEM file of the root certificates to trust for the Directory's TLS
	// connection, for a private CA or Pebble. Default: the system roots.
	CARoot string
	// StorageDir is the directory of the default file storage, used when New is given no
	// Storage. Default: $XDG_DATA_HOME/gatehouse/acme, or ~/.local/share/gatehouse/acme.
	StorageDir string
	// Names are the DNS names to obtain certificates for at Start and renew from then on, one
	// certificate each. Wildcards are refused: they need the DNS-01 challenge, which this
	// package does not offer. Case and a trailing dot do not matter.
	Names []string
	// OnDemand, when set, lets a TLS handshake for a name it allows obtain a certificate on
	// the spot. Nil: only Names have certificates.
	OnDemand *OnDemand
	// Challenges are the challenge types the CA may use: HTTP01, TLSALPN01. Default: both.
	Challenges []string
	// RenewBefore is how long before a certificate expires it is renewed; it should be well
	// under the certificates' lifetime (90 days at Let's Encrypt). At most half the lifetime is
	// taken: a longer RenewBefore renews when half is left. A renewal window the CA suggests
	// (ACME Renewal Information) can make it earlier. Default: when a third of the lifetime is
	// left (certmagic's default).
	RenewBefore time.Duration
	// RenewCheckInterval is how often certificates are checked for renewal. Default: 10
	// minutes. Tests shorten it.
	RenewCheckInterval time.Duration
	// HTTPPort is the port the CA connects to for HTTP-01, where certmagic listens itself if
	// nothing else does. Default: 80; other values are for tests against a test CA.
	HTTPPort int
	// TLSALPNPort is the port the CA connects to for TLS-ALPN-01, where certmagic listens itself
	// if nothing else does. Default: 443; other values are for tests against a test CA.
	TLSALPNPort int
}

// OnDemand limits on-demand issuance to the names it allows; a handshake for any other name
// gets no certificate from the Manager and causes no request to the CA.
type OnDemand struct {
	// Allow lists the names a certificate may be obtained for: exact names ("shop.example.com")
	// or wildcard patterns ("*.example.com": any subdomain at any depth, as route hosts match,
	// but not example.com itself). Required: an empty list is refused rather than read as
	// "any name", which would let anyone make the proxy ask for certificates.
	Allow []string
}

// settings is a validated Config with its defaults filled in.
type settings struct {
	email       string
	directory   string
	roots       *x509.CertPool // nil: the system roots
	storageDir  string         // empty when a Storage was given
	names       []string       // normalized, without duplicates
	onDemand    *allowList     // nil without OnDemand
	http01      bool
	tlsALPN01   bool
	renewBefore time.Duration
	renewCheck  time.Duration
	httpPort    int
	tlsPort     int
}

// settings validates c and fills in its defaults; needDir says whether the default file storage
// will be used (so that its directory must be known).
func (c Config) settings(needDir bool) (settings, error) {
	s := settings{
		email:       strings.TrimSpace(c.Email),
		directory:   c.Directory,
		renewBefore: c.RenewBefore,
		renewCheck:  c.RenewCheckInterval,
		httpPort:    c.HTTPPort,
		tlsPort:     c.TLSALPNPort,
	}
	if s.directory == "" {
		s.directory = LetsEncryptProduction
	}
	if u, err := url.Parse(s.directory); err != nil || u.Scheme != "https" || u.Host == "" {
		return s, fmt.Errorf("acme: directory %q: want an https:// URL such as %s", c.Directory, LetsEncryptStaging)
	}
	if c.CARoot != "" {
		pem, err := os.ReadFile(c.CARoot)
		if err != nil {
			return s, fmt.Errorf("acme: ca root: %w", err)
		}
		s.roots = x509.NewCertPool()
		if !s.roots.AppendCertsFromPEM(pem) {
			return s, fmt.Errorf("acme: ca root %s: no PEM certificate in it", c.CARoot)
		}
	}
	if needDir {
		dir, err := storageDir(c.StorageDir)
		if err != nil {
			return s, err
		}
		s.storageDir = dir
	}
	for i, n := range c.Names {
		name, err := parseName(n)
		if err != nil {
			return s, fmt.Errorf("acme: names[%d]: %w", i, err)
		}
		if !slices.Contains(s.names, name) {
			s.names = append(s.names, name)
		}
	}
	if c.OnDemand != nil {
		a, err := parseAllowList(c.OnDemand.Allow)
		if err != nil {
			return s, err
		}
		s.onDemand = a
	}
	if len(c.Challenges) == 0 {
		s.http01, s.tlsALPN01 = true, true
	}
	for _, ch := range c.Challenges {
		switch ch {
		case HTTP01:
			s.http01 = true
		case TLSALPN01:
			s.tlsALPN01 = true
		default:
			return s, fmt.Errorf("acme: challenge %q: want %q or %q", ch, HTTP01, TLSALPN01)
		}
	}
	if s.renewBefore < 0 {
		return s, fmt.Errorf("acme: renew before %v: must not be negative", s.renewBefore)
	}
	if s.renewCheck < 0 {
		return s, fmt.Errorf("acme: renew check interval %v: must not be negative", s.renewCheck)
	}
	if s.renewCheck == 0 {
		s.renewCheck = certmagic.DefaultRenewCheckInterval
	}
	for _, p := range []struct {
		name string
		port *int
		def  int
	}{{"http port", &s.httpPort, certmagic.HTTPChallengePort}, {"tls-alpn port", &s.tlsPort, certmagic.TLSALPNChallengePort}} {
		if *p.port < 0 || *p.port > 65535 {
			return s, fmt.Errorf("acme: %s %d: want 1-65535", p.name, *p.port)
		}
		if *p.port == 0 {
			*p.port = p.def
		}
	}
	return s, nil
}

// storageDir returns dir, or the default storage directory when dir is empty.
func storageDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "gatehouse", "acme"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("acme: no storage directory (set one): %w", err)
	}
	return filepath.Join(home, ".local", "share", "gatehouse", "acme"), nil
}

// normalize returns name in lower case without a trailing dot, without allocating when it is
// already so.
func normalize(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}

// parseName checks that s is a DNS name a certificate can be obtained for and returns it
// normalized.
func parseName(s string) (string, error) {
	name := normalize(strings.TrimSpace(s))
	if strings.Contains(name, "*") {
		return "", fmt.Errorf("%q: a wildcard certificate needs the DNS-01 challenge, which is not offered; use on-demand issuance for subdomains", s)
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return "", fmt.Errorf("%q: an IP address; certificates here are for DNS names", s)
	}
	if err := checkDNSName(name); err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	return name, nil
}

// checkDNSName reports why the lower-case name is not a DNS host name: labels of 1 to 63
// letters, digits and hyphens (not at either end), 253 bytes at most, at least two labels.
func checkDNSName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 253 {
		return errors.New("longer than 253 bytes")
	}
	labels := 0
	for label := range strings.SplitSeq(name, ".") {
		labels++
		if label == "" || len(label) > 63 {
			return errors.New("a label is empty or longer than 63 bytes")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("a label starts or ends with a hyphen")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("character %q is not allowed (internationalized names go in punycode, xn--...)", c)
			}
		}
	}
	if labels < 2 {
		return errors.New("a single label; a CA issues for fully qualified names only")
	}
	return nil
}

// allowList is OnDemand.Allow, parsed.
type allowList struct {
	exact    map[string]struct{}
	suffixes []string // ".example.com" for "*.example.com"
}

// parseAllowList parses OnDemand.Allow.
func parseAllowList(patterns []string) (*allowList, error) {
	if len(patterns) == 0 {
		return nil, errors.New("acme: on demand: allow is empty; list the names or *.domain patterns that may get certificates")
	}
	a := &allowList{exact: make(map[string]struct{})}
	for i, p := range patterns {
		pat := normalize(strings.TrimSpace(p))
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if err := checkDNSName(rest); err != nil {
				return nil, fmt.Errorf("acme: on demand: allow[%d] %q: %w", i, p, err)
			}
			if !slices.Contains(a.suffixes, "."+rest) {
				a.suffixes = append(a.suffixes, "."+rest)
			}
			continue
		}
		name, err := parseName(p)
		if err != nil {
			return nil, fmt.Errorf("acme: on demand: allow[%d]: %w (a pattern is *.example.com)", i, err)
		}
		a.exact[name] = struct{}{}
	}
	return a, nil
}

// allows reports whether the normalized name may get a certificate on demand.
func (a *allowList) allows(name string) bool {
	if _, ok := a.exact[name]; ok {
		return true
	}
	for _, suf := range a.suffixes {
		if len(name) > len(suf) && strings.HasSuffix(name, suf) && checkDNSName(name) == nil {
			return true
		}
	}
	return false
}
