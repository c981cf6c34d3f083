package tlsterm

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/suggest"
)

// ParseCipherSuites turns Go cipher suite names (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ...)
// into IDs for Options.CipherSuites. Only Go's secure TLS 1.2 suites are accepted; an insecure
// suite, a TLS 1.3 suite (not configurable) or an unknown name is an error that says which and
// suggests the nearest valid name. Surrounding spaces are ignored and duplicates dropped; no names
// give nil (Go's defaults).
func ParseCipherSuites(names []string) ([]uint16, error) {
	var ids []uint16
	for _, raw := range names {
		name := strings.TrimSpace(raw)
		id, err := parseSuite(name)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func parseSuite(name string) (uint16, error) {
	id, class := ClassifySuite(name)
	switch class {
	case SuiteTLS12:
		return id, nil
	case SuiteTLS13:
		return 0, fmt.Errorf("tls: %s is a TLS 1.3 cipher suite; TLS 1.3 suites are not configurable, list only TLS 1.2 ones", name)
	}
	secure := TLS12Suites()
	if class == SuiteInsecure {
		return 0, fmt.Errorf("tls: cipher suite %s is insecure and not offered; secure TLS 1.2 suites: %s", name, strings.Join(secure, ", "))
	}
	hint := ""
	if near := nearest(name, secure); near != "" {
		hint = fmt.Sprintf(" did you mean %s?", near)
	}
	return 0, fmt.Errorf("tls: unknown cipher suite %q;%s secure TLS 1.2 suites: %s", name, hint, strings.Join(secure, ", "))
}

// SuiteClass is what a cipher suite name is to a TLS 1.2 configuration.
type SuiteClass int

// Suite classes.
const (
	SuiteUnknown  SuiteClass = iota // a name Go does not know
	SuiteTLS12                      // a secure suite that TLS 1.2 can use: configurable
	SuiteTLS13                      // a TLS 1.3 suite: always on, not configurable
	SuiteInsecure                   // a suite Go knows but does not offer by default
)

// ClassifySuite says what the Go cipher suite name is, with its ID when it is SuiteTLS12.
func ClassifySuite(name string) (uint16, SuiteClass) {
	for _, cs := range tls.CipherSuites() {
		if cs.Name != name {
			continue
		}
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
			return cs.ID, SuiteTLS12
		}
		return 0, SuiteTLS13
	}
	for _, cs := range tls.InsecureCipherSuites() {
		if cs.Name == name {
			return 0, SuiteInsecure
		}
	}
	return 0, SuiteUnknown
}

// TLS12Suites are the names of Go's secure cipher suites that TLS 1.2 can use, in Go's order.
func TLS12Suites() []string {
	var names []string
	for _, cs := range tls.CipherSuites() {
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
			names = append(names, cs.Name)
		}
	}
	return names
}

// nearest is the candidate closest to name by edit distance (ignoring case), or "" when none is
// close enough to be a likely typo.
func nearest(name string, candidates []string) string {
	up := strings.ToUpper(name)
	best, bestD := "", len(up)/3+1
	for _, c := range candidates {
		if d := suggest.EditDistance(up, c); d < bestD {
			best, bestD = c, d
		}
		if strings.TrimPrefix(c, "TLS_") == up {
			return c
		}
	}
	return best
}

// checkSuites refuses IDs that are not secure TLS 1.2 suites.
func checkSuites(ids []uint16) error {
	for _, id := range ids {
		ok := false
		for _, cs := range tls.CipherSuites() {
			if cs.ID == id && slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("tls: cipher suite %s is not a secure TLS 1.2 suite; see ParseCipherSuites", tls.CipherSuiteName(id))
		}
	}
	return nil
}

// ParseMinVersion turns a configured minimum version, "1.2" or "1.3", into a tls.VersionTLS1x
// constant for Options.MinVersion; "" gives 0 (the default, TLS 1.2).
func ParseMinVersion(s string) (uint16, error) {
	switch strings.TrimSpace(s) {
	case "":
		return 0, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("tls: minimum version %q is not supported; write 1.2 or 1.3", s)
}

// ParseClientAuthMode turns a configured mode, "request" or "require" ("" or "none" for
// ClientAuthNone), into a ClientAuthMode.
func ParseClientAuthMode(s string) (ClientAuthMode, error) {
	switch strings.TrimSpace(s) {
	case "", "none":
		return ClientAuthNone, nil
	case "request":
		return ClientAuthRequest, nil
	case "require":
		return ClientAuthRequire, nil
	}
	return ClientAuthNone, fmt.Errorf("tls: unknown client auth mode %q; write request (verify a certificate when sent) or require", s)
}
