package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEmbedded(t *testing.T) {
	t.Parallel()
	c, err := Embedded()
	if err != nil {
		t.Fatalf("the embedded default does not parse:\n%v", err)
	}
	if c.Source != "" {
		t.Errorf("Source = %q, want empty", c.Source)
	}
	if len(c.Listeners) != 1 || c.Listeners[0].Address != "127.0.0.1:8080" {
		t.Errorf("listeners = %+v", c.Listeners)
	}
	if c.AccessLog.Output != "stdout" {
		t.Errorf("access_log.output = %q", c.AccessLog.Output)
	}
	routes := map[string]Route{}
	for _, r := range c.Routes {
		routes[r.Name] = r
	}
	if r, ok := routes["demo"]; !ok || r.Upstream != "demo" || r.Respond != nil {
		t.Errorf("route demo = %+v", r)
	}
	h, ok := routes["health"]
	if !ok || h.Match.PathPrefix != "/healthz" || h.Respond == nil || h.Respond.Status != 200 || h.Respond.Body != "ok\n" ||
		h.Respond.Headers["Content-Type"] != "text/plain" {
		t.Errorf("route health = %+v, respond %+v", h, h.Respond)
	}
	u := c.Upstream("demo")
	if u == nil {
		t.Fatal("no upstream demo")
	}
	if got, want := u.BackendAddrs(), []string{"127.0.0.1:8081", "127.0.0.1:8082"}; !reflect.DeepEqual(got, want) {
		t.Errorf("BackendAddrs = %v, want %v", got, want)
	}
	if errs := Validate(c); errs != nil {
		t.Errorf("Validate(Embedded()) = %v", errs)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(routeCfg()), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil || c.Source != good || c.Routes[0].Upstream != "u" {
		t.Fatalf("Load(good) = %+v, %v", c, err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(routeCfg("    max_body_size: 0")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.HasPrefix(err.Error(), bad+":9: routes[0].max_body_size: ") {
		t.Fatalf("Load(bad) error = %v", err)
	}

	missing := filepath.Join(dir, "missing.yaml")
	_, err = Load(missing)
	if !errors.As(err, &errs) || err.Error() != missing+": cannot read the config file: no such file or directory" {
		t.Fatalf("Load(missing) error = %v", err)
	}
}

func TestBackendAddrs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		backends []string
		want     []string
	}{
		{name: "default port", backends: []string{"http://a"}, want: []string{"a:80"}},
		{name: "explicit port and slash", backends: []string{"http://a:8080/"}, want: []string{"a:8080"}},
		{name: "IPv6", backends: []string{"http://[::1]:81"}, want: []string{"[::1]:81"}},
		{name: "IPv6 default port", backends: []string{"http://[2001:db8::1]"}, want: []string{"[2001:db8::1]:80"}},
		{name: "upper-case scheme", backends: []string{"HTTP://a:1"}, want: []string{"a:1"}},
		{name: "leading zeros in port", backends: []string{"http://a:0080"}, want: []string{"a:80"}},
		{name: "https default port", backends: []string{"https://a"}, want: []string{"a:443"}},
		{name: "https explicit port", backends: []string{"https://a:8443/"}, want: []string{"a:8443"}},
		{name: "https IPv6 default port", backends: []string{"https://[::1]"}, want: []string{"[::1]:443"}},
		{name: "upper-case https", backends: []string{"HTTPS://a"}, want: []string{"a:443"}},
		{name: "invalid left out", backends: []string{"ftp://a", "http://b", "https://", "https://c/x"}, want: []string{"b:80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := &Upstream{}
			for _, b := range tt.backends {
				u.Backends = append(u.Backends, Backend{URL: b})
			}
			if got := u.BackendAddrs(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("BackendAddrs() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUpstreamLookup(t *testing.T) {
	t.Parallel()
	c := &Config{Upstreams: []Upstream{{Name: "a"}, {Name: "b"}}}
	if u := c.Upstream("b"); u != &c.Upstreams[1] {
		t.Fatalf("Upstream(b) = %p, want %p", u, &c.Upstreams[1])
	}
	if u := c.Upstream("c"); u != nil {
		t.Fatalf("Upstream(c) = %+v, want nil", u)
	}
}

func TestTrustedPrefixes(t *testing.T) {
	t.Parallel()
	f := &Forwarded{TrustedProxies: []string{"10.1.2.3/8", "192.168.1.1", "::1", "fd00::/8", "bogus"}}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.168.1.1/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fd00::/8"),
	}
	if got := f.TrustedPrefixes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("TrustedPrefixes() = %v, want %v", got, want)
	}
}

func TestTooManyErrors(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(serverCfg("server:"))
	for i := range 150 {
		b.WriteString("  bogus")
		b.WriteString(strings.Repeat("x", i))
		b.WriteString(": 1\n")
	}
	errs := parseErrs(t, b.String())
	if len(errs) != maxDecodeErrors+1 {
		t.Fatalf("got %d errors, want %d", len(errs), maxDecodeErrors+1)
	}
	if !strings.HasPrefix(errs.Error(), "test.yaml: too many problems (over 100); fix these and try again\n") {
		t.Fatalf("errors start with %.200q", errs.Error())
	}
}

// fuzzSeeds are configs to start FuzzParse from.
var fuzzSeeds = []string{
	routeCfg(),
	respondCfg("      body: hi", "      headers: {X-A: b}"),
	upstreamCfg("    backends: [http://a, 'http://[::1]:8080']", "    max_idle_per_backend: 0"),
	serverCfg("server: {max_request_line: 1KiB, timeouts: {client_header: 1s}}", "forwarded: {policy: replace, trusted_proxies: [10.0.0.0/8]}"),
	"listeners: &l [{address: ':80'}]\nroutes: [{respond: {status: 204}, match: {hosts: [A.example]}}]\n",
	tlsCfg("      min_version: 1.3", "      client_auth: {mode: request, ca_file: ca.pem}", "      hsts: {max_age: 1h, preload: true}"),
	listenerCfg("    redirect_to_https: true", "    https_port: 8443"),
	httpsCfg("    tls: {ca_file: ca.pem, server_name: api.internal, cert_file: c.pem, key_file: k.pem}"),
	"",
	"- a\n",
	"a: [1\n",
}

func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Parse(src, "fuzz.yaml")
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 || c != nil {
				t.Fatalf("Parse returned %v, %#v", c, err)
			}
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 {
					t.Fatalf("malformed error %#v", e)
				}
			}
			return
		}
		Default(c)
		if errs := Validate(c); errs != nil {
			t.Fatalf("a parsed config, defaulted again, does not validate: %v", errs)
		}
		for i := range c.Upstreams {
			if got := c.Upstreams[i].BackendAddrs(); len(got) != len(c.Upstreams[i].Backends) {
				t.Fatalf("BackendAddrs() = %v for %v", got, c.Upstreams[i].Backends)
			}
		}
	})
}

// TestEmbeddedTLSExample uncomments the TLS settings shown in the embedded default's listeners
// section, once (the example as shown) and twice (with its commented-out options too), and checks
// that the result is valid and means what the comments say.
func TestEmbeddedTLSExample(t *testing.T) {
	t.Parallel()
	src := string(defaultYAML)
	start := strings.Index(src, "\nlisteners:\n")
	if start < 0 {
		t.Fatal("the embedded default has no listeners section")
	}
	end := strings.Index(src[start+1:], "\n\n") + start + 1
	if end <= start {
		t.Fatal("the listeners section of the embedded default does not end")
	}
	setting := regexp.MustCompile(`(?m)^( *)# ((?:- |[a-z_]+:| ).*)$`)
	for _, passes := range []int{1, 2} {
		t.Run(strconv.Itoa(passes), func(t *testing.T) {
			t.Parallel()
			section := src[start:end]
			for range passes {
				section = setting.ReplaceAllString(section, "$1$2")
			}
			c, err := Parse([]byte(src[:start]+section+src[end:]), "default.yaml")
			if err != nil {
				t.Fatalf("the uncommented TLS example is not valid:\n%v\n%s", err, section)
			}
			if len(c.Listeners) != 2 {
				t.Fatalf("listeners = %+v, want the plain one and the TLS one", c.Listeners)
			}
			plain, secure := c.Listeners[0], c.Listeners[1]
			if plain.TLS != nil || !plain.RedirectToHTTPS || plain.HTTPSPort != 443 || plain.Name != "public" {
				t.Errorf("plain listener = %+v, want public, redirecting to port 443", plain)
			}
			tl := secure.TLS
			if tl == nil || len(tl.Certificates) != 2 || tl.MinVersion != "1.2" || !*tl.SessionTickets || tl.HSTS == nil ||
				tl.HSTS.MaxAge != Duration(8760*time.Hour) {
				t.Fatalf("TLS listener = %+v, tls %+v", secure, tl)
			}
			if options := passes == 2; (tl.ClientAuth != nil) != options || (len(tl.CipherSuites) == 1) != options {
				t.Errorf("after %d passes: client_auth %+v, cipher_suites %v", passes, tl.ClientAuth, tl.CipherSuites)
			}
		})
	}
}
