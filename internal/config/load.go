package config

import (
	_ "embed"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"strings"
)

// defaultYAML is the config used when none is given: see default.yaml.
//
//go:embed default.yaml
var defaultYAML []byte

// Load reads the config file at path and returns it decoded, defaulted and validated. On failure
// the error is Errors, listing every problem found.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, Errors{{File: path, Msg: "cannot read the config file: " + err.Error()}}
	}
	return Parse(src, path)
}

// Embedded returns the default config built into the binary (see default.yaml). Its Source is "",
// so its errors name the file "<embedded default>".
func Embedded() (*Config, error) {
	return Parse(defaultYAML, "")
}

// Parse decodes src, fills in defaults and validates the result; name is the file name that errors
// carry ("" for the embedded default). On failure it returns a nil config and Errors listing every
// problem: those the decoder found and those validation found, leaving out validation problems
// that probably follow from a decoding problem (at the same field, or in the same mapping as a
// misspelt field).
func Parse(src []byte, name string) (*Config, error) {
	c, decodeErrs, scopes := decode(src, name)
	Default(c)
	errs := decodeErrs
	for _, ve := range Validate(c) {
		if !followsFrom(ve, scopes) {
			errs = append(errs, ve)
		}
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return c, nil
}

// followsFrom reports whether the validation problem ve is probably caused by a decoding problem:
// whether its path is under one of the decoding problems' scopes.
func followsFrom(ve *Error, scopes []string) bool {
	for _, scope := range scopes {
		if isUnder(ve.Path, scope) {
			return true
		}
	}
	return false
}

// Upstream returns the upstream called name, or nil when there is none.
func (c *Config) Upstream(name string) *Upstream {
	for i := range c.Upstreams {
		if c.Upstreams[i].Name == name {
			return &c.Upstreams[i]
		}
	}
	return nil
}

// BackendAddrs returns "host:port" for each backend, in order, with port 80 when the URL has none
// ("http://[::1]:8081" gives "[::1]:8081"). It is meant for a validated config; a backend that
// does not parse is left out.
func (u *Upstream) BackendAddrs() []string {
	addrs := make([]string, 0, len(u.Backends))
	for _, b := range u.Backends {
		if a := BackendAddr(b.URL); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// BackendAddr returns the "host:port" of a backend URL, port 80 when none is written, or "" when
// the URL does not parse. It is meant for a validated config.
func BackendAddr(url string) string {
	a, _ := backendAddr(url)
	return a
}

// BackendTLS reports whether a backend URL is https://.
func BackendTLS(url string) bool {
	scheme, _, _ := strings.Cut(url, "://")
	return strings.EqualFold(scheme, "https")
}

// TrustedPrefixes returns TrustedProxies as address ranges, a bare address becoming a /32 or /128.
// It is meant for a validated config; an entry that does not parse is left out.
func (f *Forwarded) TrustedPrefixes() []netip.Prefix {
	prefixes := make([]netip.Prefix, 0, len(f.TrustedProxies))
	for _, s := range f.TrustedProxies {
		if p, msg := parseTrusted(s); msg == "" {
			prefixes = append(prefixes, p)
		}
	}
	return prefixes
}
