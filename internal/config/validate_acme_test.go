package config

import (
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/acme"
)

// acmeBase is a valid config's start: a plain listener, a TLS listener with acme: true on line
// 5, and "acme:" on line 6.
var acmeBase = []string{
	"routes: [{respond: {}}]", // 1
	"listeners:",
	"  - {address: ':80', redirect_to_https: true}",
	"  - address: ':443'",
	"    tls: {acme: true}", // 5
	"acme:",
}

// acmeCfg is acmeBase with names on line 7; extra lines (indented two spaces to add acme
// fields) start on line 8.
func acmeCfg(extra ...string) string {
	return lines(append(append(append([]string{}, acmeBase...), "  names: [shop.example.com, api.example.com]"), extra...)...)
}

// acmeBare is acmeBase with extra lines (acme fields) from line 7, and no names unless they
// write some.
func acmeBare(extra ...string) string {
	return lines(append(append([]string{}, acmeBase...), extra...)...)
}

// TestDecodeACME checks that every field of the acme section and tls.acme is decoded, where it
// was written, and that nothing is filled in: the certificate manager has the defaults.
func TestDecodeACME(t *testing.T) {
	t.Parallel()
	src := acmeBare(
		"  email: ops@example.com", // 7
		"  directory: https://acme-staging-v02.api.letsencrypt.org/directory",
		"  ca_root: /etc/gatehouse/private-ca.pem",
		"  storage_dir: /var/lib/gatehouse/acme", // 10
		"  names:",
		"    - shop.example.com",
		"    - API.example.com.",
		"  on_demand:",
		"    allow: ['*.customers.example.com', shop.example.org]", // 15
		"  challenges: [tls-alpn-01, http-01]",
		"  renew_before: 720h",
		"  http_port: 8080",
		"  tls_alpn_port: 8443",
	)
	c, err := Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &ACME{
		Email:       "ops@example.com",
		Directory:   "https://acme-staging-v02.api.letsencrypt.org/directory",
		CARoot:      "/etc/gatehouse/private-ca.pem",
		StorageDir:  "/var/lib/gatehouse/acme",
		Names:       []string{"shop.example.com", "API.example.com."},
		OnDemand:    &ACMEOnDemand{Allow: []string{"*.customers.example.com", "shop.example.org"}},
		Challenges:  []string{"tls-alpn-01", "http-01"},
		RenewBefore: Duration(720 * time.Hour),
		HTTPPort:    8080,
		TLSALPNPort: 8443,
	}
	if !reflect.DeepEqual(c.ACME, want) {
		t.Errorf("ACME = %+v\nwant   %+v", c.ACME, want)
	}
	if tls := c.Listeners[1].TLS; tls == nil || !tls.ACME || len(tls.Certificates) != 0 {
		t.Errorf("listeners[1].tls = %+v; want acme and no certificates", tls)
	}
	if c.Listeners[0].TLS != nil {
		t.Errorf("the plain listener got a tls section: %+v", c.Listeners[0].TLS)
	}
	wantLines := map[string]int{
		"acme": 6, "acme.email": 7, "acme.storage_dir": 10, "acme.names": 11, "acme.names[1]": 13,
		"acme.on_demand": 14, "acme.on_demand.allow[1]": 15, "acme.challenges[0]": 16, "acme.renew_before": 17,
		"acme.tls_alpn_port": 19, "listeners[1].tls.acme": 5,
	}
	for path, line := range wantLines {
		if got, ok := c.Lines[path]; !ok || got != line {
			t.Errorf("Lines[%q] = %d, %v; want %d", path, got, ok, line)
		}
	}

	// Written empty, the section is there (and then needs names or on_demand); left out, it is
	// nil and automatic certificates are off.
	empty, errs, _ := decode([]byte(lines("routes: [{respond: {}}]", "listeners: [{address: ':80'}]", "acme:")), "test.yaml")
	if errs != nil {
		t.Fatal(errs)
	}
	if empty.ACME == nil || !reflect.DeepEqual(*empty.ACME, ACME{}) {
		t.Errorf("acme written empty: %+v; want a zero section", empty.ACME)
	}
	none, err := Parse([]byte(lines("routes: [{respond: {}}]", "listeners: [{address: ':80'}]")), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if none.ACME != nil {
		t.Errorf("acme left out: %+v; want nil", none.ACME)
	}
}

func TestValidACME(t *testing.T) {
	t.Parallel()
	runValidCases(t, []struct{ name, src string }{
		{name: "the README's example", src: lines(
			"listeners:",
			"  - address: :80",
			"    redirect_to_https: true",
			"  - address: :443",
			"    tls: {acme: true, hsts: {max_age: 8760h}}",
			"acme:",
			"  email: ops@example.com",
			"  names: [shop.example.com, api.example.com]",
			"    # protocols: [h1, h2]",
			"routes:",
			"  - {match: {hosts: [shop.example.com]}, upstream: shop}",
			"  - {match: {hosts: [api.example.com], path_prefix: /orders.v1.Orders/}, upstream: orders-grpc}",
			"  - {match: {hosts: [api.example.com]}, upstream: api}",
			"upstreams:",
			"  - {name: shop, backends: [http://10.0.0.21:8000]}",
			"  - {name: api, backends: [http://10.0.0.31:8000]}",
			"  - name: orders-grpc",
			"    protocol: h2",
			"    backends: [http://10.0.0.41:50051, http://10.0.0.42:50051]",
			"    health: {active: {type: grpc}}")},
		{name: "names only", src: acmeCfg()},
		{name: "names in any case, with a trailing dot", src: acmeBare("  names: [Shop.Example.COM., xn--bcher-kva.example, a-b.c-d.example]")},
		{name: "on demand only", src: acmeBare("  on_demand: {allow: ['*.example.com']}")},
		{name: "names and on demand", src: acmeCfg("  on_demand:", "    allow: ['*.Customers.Example.com.', exact.example.org, '*.a.b.example.net']")},
		{name: "staging directory", src: acmeCfg("  directory: https://acme-staging-v02.api.letsencrypt.org/directory")},
		{name: "private CA", src: acmeCfg("  directory: 'https://ca.internal:14000/dir'", "  ca_root: /etc/gatehouse/ca.pem")},
		{name: "email", src: acmeCfg("  email: ops+certs@example.com")},
		{name: "storage directory", src: acmeCfg("  storage_dir: /var/lib/gatehouse/acme")},
		{name: "http-01 only", src: acmeCfg("  challenges: [http-01]")},
		{name: "tls-alpn-01 only", src: acmeCfg("  challenges: [tls-alpn-01]")},
		{name: "both challenges, written", src: acmeCfg("  challenges: [http-01, tls-alpn-01]")},
		{name: "challenges empty: both", src: acmeCfg("  challenges: []")},
		{name: "renew_before", src: acmeCfg("  renew_before: 720h")},
		{name: "challenge ports", src: acmeCfg("  http_port: 8080", "  tls_alpn_port: 8443")},
		{name: "highest port", src: acmeCfg("  http_port: 65535", "  tls_alpn_port: 1")},
		{name: "acme with certificate files too", src: lines(
			"routes: [{respond: {}}]",
			"listeners:",
			"  - address: ':443'",
			"    tls: {acme: true, certificates: [{cert_file: default.pem, key_file: default.key}]}",
			"acme: {names: [shop.example.com]}")},
		{name: "tls acme false with certificates", src: tlsCfg("      acme: false")},
		{name: "acme on one of two TLS listeners", src: lines(
			"routes: [{respond: {}}]",
			"listeners:",
			"  - {address: ':443', tls: {acme: true}}",
			"  - {address: ':8443', tls: {certificates: [{cert_file: c.pem, key_file: k.pem}]}}",
			"acme: {names: [shop.example.com]}")},
	})
}

func TestValidateACME(t *testing.T) {
	t.Parallel()
	runErrorCases(t, []errorCase{
		// listeners[].tls.acme
		{name: "tls acme without the acme section", src: listenerCfg("    tls: {acme: true}"), wantLine: 4,
			wantPath: "listeners[0].tls.acme", wantMsg: "acme: true needs the top-level acme section (names, email, ...)"},
		{name: "tls acme false and no certificates", src: listenerCfg("    tls:", "      acme: false"), wantLine: 4,
			wantPath: "listeners[0].tls.certificates", wantMsg: "a TLS listener needs at least one certificate; add certificates: [{cert_file: ..., key_file: ...}], or acme: true with a top-level acme section"},
		{name: "tls acme not a boolean", src: tlsCfg("      acme: yes"), wantLine: 6,
			wantPath: "listeners[0].tls.acme", wantMsg: `invalid boolean "yes": write true or false`},
		{name: "tls field misspelt", src: tlsCfg("      amce: true"), wantLine: 6, wantPath: "listeners[0].tls.amce",
			wantMsg: `unknown field "amce"; did you mean "acme"? valid fields here: certificates, min_version, cipher_suites, session_tickets, client_auth, hsts, acme`},

		// acme: the section
		{name: "no listener uses acme", src: lines("routes: [{respond: {}}]", "listeners: [{address: ':80'}]", "acme:", "  names: [shop.example.com]"),
			wantLine: 3, wantPath: "acme", wantMsg: "no TLS listener uses acme; add acme: true to a listener's tls section"},
		{name: "only a listener with acme false", src: lines("routes: [{respond: {}}]", "listeners:", "  - address: ':443'",
			"    tls: {acme: false, certificates: [{cert_file: c.pem, key_file: k.pem}]}", "acme: {names: [shop.example.com]}"),
			wantLine: 5, wantPath: "acme", wantMsg: "no TLS listener uses acme"},
		{name: "written empty", src: acmeBare(), wantLine: 6, wantPath: "acme", wantMsg: "acme needs names to obtain certificates for, or on_demand"},
		{name: "names empty", src: acmeBare("  names: []"), wantLine: 7, wantPath: "acme.names", wantMsg: "acme needs names to obtain certificates for, or on_demand"},
		{name: "field misspelt", src: acmeCfg("  emial: ops@example.com"), wantLine: 8, wantPath: "acme.emial",
			wantMsg: `unknown field "emial"; did you mean "email"? valid fields here: email, directory, ca_root, storage_dir, names, on_demand, challenges, renew_before, http_port, tls_alpn_port`},
		{name: "section not a mapping", src: lines("routes: [{respond: {}}]", "listeners: [{address: ':443', tls: {acme: true}}]", "acme: [shop.example.com]"),
			wantLine: 3, wantPath: "acme", wantMsg: "expected a mapping"},

		// acme.email
		{name: "email without @", src: acmeCfg("  email: ops.example.com"), wantLine: 8, wantPath: "acme.email",
			wantMsg: `email "ops.example.com" is not an address; write one such as ops@example.com, or leave it out`},
		{name: "email with nothing before @", src: acmeCfg("  email: '@example.com'"), wantLine: 8, wantPath: "acme.email", wantMsg: "is not an address"},
		{name: "email with nothing after @", src: acmeCfg("  email: ops@"), wantLine: 8, wantPath: "acme.email", wantMsg: "is not an address"},
		{name: "email with two @", src: acmeCfg("  email: ops@a@example.com"), wantLine: 8, wantPath: "acme.email", wantMsg: "is not an address"},
		{name: "email with a name", src: acmeCfg("  email: 'Ops <ops@example.com>'"), wantLine: 8, wantPath: "acme.email", wantMsg: "is not an address"},
		{name: "mailto email", src: acmeCfg("  email: mailto:ops@example.com"), wantLine: 8, wantPath: "acme.email", wantMsg: "is not an address"},

		// acme.directory
		{name: "http directory", src: acmeCfg("  directory: http://ca.internal/dir"), wantLine: 8, wantPath: "acme.directory",
			wantMsg: `directory "http://ca.internal/dir" must be an https:// URL, such as https://acme-staging-v02.api.letsencrypt.org/directory; leave it out for Let's Encrypt`},
		{name: "directory without scheme", src: acmeCfg("  directory: acme-v02.api.letsencrypt.org/directory"), wantLine: 8, wantPath: "acme.directory",
			wantMsg: "must be an https:// URL"},
		{name: "directory without host", src: acmeCfg("  directory: 'https:///directory'"), wantLine: 8, wantPath: "acme.directory",
			wantMsg: "must be an https:// URL"},
		{name: "directory that does not parse", src: acmeCfg("  directory: 'https://ca.internal:port/dir'"), wantLine: 8, wantPath: "acme.directory",
			wantMsg: "must be an https:// URL"},

		// acme.names
		{name: "wildcard name", src: acmeBare("  names: [shop.example.com, '*.example.com']"), wantLine: 7, wantPath: "acme.names[1]",
			wantMsg: `wildcard "*.example.com" needs the DNS-01 challenge, which gatehouse does not offer; list the names, or allow them with on_demand`},
		{name: "IPv4 name", src: acmeBare("  names:", "    - shop.example.com", "    - 192.0.2.10"), wantLine: 9, wantPath: "acme.names[1]",
			wantMsg: `"192.0.2.10" is an IP address; ACME certificates here are for DNS names`},
		{name: "IPv6 name", src: acmeBare("  names: ['[2001:db8::1]']"), wantLine: 7, wantPath: "acme.names[0]", wantMsg: "is an IP address"},
		{name: "single label", src: acmeBare("  names: [localhost]"), wantLine: 7, wantPath: "acme.names[0]",
			wantMsg: `name "localhost": a single part; a CA issues certificates only for fully qualified names such as example.com`},
		{name: "underscore", src: acmeBare("  names: [my_shop.example.com]"), wantLine: 7, wantPath: "acme.names[0]",
			wantMsg: `name "my_shop.example.com": character '_' is not allowed: use letters, digits and '-'`},
		{name: "raw unicode", src: acmeBare("  names: [bücher.example]"), wantLine: 7, wantPath: "acme.names[0]",
			wantMsg: `name "bücher.example": character 'ü' is not allowed: use letters, digits and '-' (internationalized names in punycode, xn--...)`},
		{name: "empty part", src: acmeBare("  names: [shop..example.com]"), wantLine: 7, wantPath: "acme.names[0]",
			wantMsg: "each dot-separated part must be 1 to 63 characters"},
		{name: "part too long", src: acmeBare("  names: [" + strings.Repeat("a", 64) + ".example.com]"), wantLine: 7, wantPath: "acme.names[0]",
			wantMsg: "each dot-separated part must be 1 to 63 characters"},
		{name: "name too long", src: acmeBare("  names: [" + strings.Repeat("a.", 127) + "com]"), wantLine: 7, wantPath: "acme.names[0]",
			wantMsg: "longer than 253 characters"},
		{name: "hyphen at the start", src: acmeBare("  names: [-shop.example.com]"), wantLine: 7, wantPath: "acme.names[0]",
			wantMsg: "a part may not start or end with '-'"},
		{name: "empty name", src: acmeBare("  names: ['']"), wantLine: 7, wantPath: "acme.names[0]", wantMsg: `name "": empty name`},
		{name: "names as a string", src: acmeBare("  names: shop.example.com"), wantLine: 7, wantPath: "acme.names", wantMsg: "expected a list"},

		// acme.on_demand
		{name: "on demand written empty", src: acmeCfg("  on_demand: {}"), wantLine: 8, wantPath: "acme.on_demand.allow",
			wantMsg: "allow must list the names (or *.example.com patterns) that may get a certificate on demand; an empty list would let anyone make gatehouse ask for certificates"},
		{name: "allow empty", src: acmeBare("  on_demand:", "    allow: []"), wantLine: 8, wantPath: "acme.on_demand.allow", wantMsg: "allow must list the names"},
		{name: "allow a bare wildcard", src: acmeBare("  on_demand: {allow: ['*']}"), wantLine: 7, wantPath: "acme.on_demand.allow[0]",
			wantMsg: `pattern "*": a wildcard may only start a pattern, as *. in *.example.com`},
		{name: "allow a wildcard inside", src: acmeBare("  on_demand:", "    allow:", "      - '*.example.com'", "      - 'shop.*.example.com'"),
			wantLine: 10, wantPath: "acme.on_demand.allow[1]", wantMsg: "a wildcard may only start a pattern"},
		{name: "allow a wildcard without a dot", src: acmeBare("  on_demand: {allow: ['*example.com']}"), wantLine: 7, wantPath: "acme.on_demand.allow[0]",
			wantMsg: "a wildcard may only start a pattern"},
		{name: "allow a top-level domain", src: acmeBare("  on_demand: {allow: ['*.com']}"), wantLine: 7, wantPath: "acme.on_demand.allow[0]",
			wantMsg: `pattern "*.com": a single part`},
		{name: "allow a pattern with an underscore", src: acmeBare("  on_demand: {allow: ['*.my_shop.example']}"), wantLine: 7, wantPath: "acme.on_demand.allow[0]",
			wantMsg: `pattern "*.my_shop.example": character '_' is not allowed`},
		{name: "allow an IP address", src: acmeBare("  on_demand: {allow: [10.0.0.1]}"), wantLine: 7, wantPath: "acme.on_demand.allow[0]",
			wantMsg: `"10.0.0.1" is an IP address; ACME certificates here are for DNS names; a pattern is written *.example.com`},
		{name: "allow a single label", src: acmeBare("  on_demand: {allow: [intranet]}"), wantLine: 7, wantPath: "acme.on_demand.allow[0]",
			wantMsg: "a single part"},
		{name: "on demand field misspelt", src: acmeBare("  on_demand: {allowed: ['*.example.com']}"), wantLine: 7, wantPath: "acme.on_demand.allowed",
			wantMsg: `unknown field "allowed"; did you mean "allow"? valid fields here: allow`},

		// acme.challenges
		{name: "dns-01", src: acmeCfg("  challenges: [http-01, dns-01]"), wantLine: 8, wantPath: "acme.challenges[1]",
			wantMsg: `unknown challenge "dns-01"; write http-01 or tls-alpn-01 (dns-01 is not offered)`},
		{name: "challenge in upper case", src: acmeCfg("  challenges: [HTTP-01]"), wantLine: 8, wantPath: "acme.challenges[0]",
			wantMsg: `unknown challenge "HTTP-01"`},
		{name: "challenges as a string", src: acmeCfg("  challenges: http-01"), wantLine: 8, wantPath: "acme.challenges", wantMsg: "expected a list"},

		// acme.renew_before
		{name: "renew_before zero", src: acmeCfg("  renew_before: 0s"), wantLine: 8, wantPath: "acme.renew_before",
			wantMsg: "renew_before must be greater than 0; write a Go duration such as 5s, 250ms or 1m30s, or leave it out to renew when a third of a certificate's lifetime is left"},
		{name: "renew_before negative", src: acmeCfg("  renew_before: -24h"), wantLine: 8, wantPath: "acme.renew_before",
			wantMsg: `invalid duration "-24h": it must not be negative`},
		{name: "renew_before in days", src: acmeCfg("  renew_before: 30d"), wantLine: 8, wantPath: "acme.renew_before", wantMsg: `invalid duration "30d"`},

		// acme.http_port and acme.tls_alpn_port
		{name: "http_port zero", src: acmeCfg("  http_port: 0"), wantLine: 8, wantPath: "acme.http_port",
			wantMsg: "http_port 0 is out of range; write a port number from 1 to 65535"},
		{name: "http_port too large", src: acmeCfg("  http_port: 65536"), wantLine: 8, wantPath: "acme.http_port", wantMsg: "http_port 65536 is out of range"},
		{name: "tls_alpn_port negative", src: acmeCfg("  tls_alpn_port: -1"), wantLine: 8, wantPath: "acme.tls_alpn_port",
			wantMsg: "tls_alpn_port -1 is out of range; write a port number from 1 to 65535"},
		{name: "tls_alpn_port zero", src: acmeCfg("  tls_alpn_port: 0"), wantLine: 8, wantPath: "acme.tls_alpn_port", wantMsg: "tls_alpn_port 0 is out of range"},
		{name: "tls_alpn_port not a number", src: acmeCfg("  tls_alpn_port: https"), wantLine: 8, wantPath: "acme.tls_alpn_port", wantMsg: `invalid number "https"`},
	})
}

// TestValidateACMEAgreesWithManager checks the acme section's names, patterns, challenges,
// directory and ports against the certificate manager itself: a config that validates must not
// then fail to start over them (a regression test: validation used the route host check, which
// let IP addresses, single labels and underscores through to fail at start, and refused a
// trailing dot that the manager accepts).
func TestValidateACMEAgreesWithManager(t *testing.T) {
	t.Parallel()
	names := []string{
		"shop.example.com", "SHOP.Example.com.", "a.b", "xn--bcher-kva.example", "a-b.example",
		"*.example.com", "localhost", "192.0.2.1", "[2001:db8::1]", "2001:db8::1", "my_shop.example.com",
		"shop..example.com", "-shop.example.com", "shop-.example.com", strings.Repeat("a", 64) + ".com",
		strings.Repeat("a.", 127) + "com", strings.Repeat("a.", 126) + "com", "", " ", "bücher.example",
		"example.com..", "1.2.3.4.example",
	}
	patterns := []string{
		"*.example.com", "*.Example.COM.", "exact.example.com", "*", "*.com", "**.example.com", "a.*.example.com",
		"*example.com", "*.my_shop.example", "10.0.0.1", "intranet", "*.*.example.com", "*.", "*.-a.example",
	}
	type check struct {
		name string
		yaml string // the acme fields
		cfg  acme.Config
	}
	var checks []check
	for _, n := range names {
		checks = append(checks, check{name: "names " + n, yaml: "  names: [" + quoteYAML(n) + "]", cfg: acme.Config{Names: []string{n}}})
	}
	for _, p := range patterns {
		checks = append(checks, check{name: "allow " + p, yaml: "  on_demand: {allow: [" + quoteYAML(p) + "]}",
			cfg: acme.Config{OnDemand: &acme.OnDemand{Allow: []string{p}}}})
	}
	for _, c := range []string{"http-01", "tls-alpn-01", "dns-01", "HTTP-01", ""} {
		checks = append(checks, check{name: "challenge " + c, yaml: "  names: [a.example]\n  challenges: [" + quoteYAML(c) + "]",
			cfg: acme.Config{Names: []string{"a.example"}, Challenges: []string{c}}})
	}
	for _, d := range []string{"https://ca.example/dir", "http://ca.example/dir", "https://", "https:///dir", "ca.example/dir", "https://ca.example:port/dir", "HTTPS://ca.example/dir"} {
		checks = append(checks, check{name: "directory " + d, yaml: "  names: [a.example]\n  directory: " + quoteYAML(d),
			cfg: acme.Config{Names: []string{"a.example"}, Directory: d}})
	}
	for _, p := range []int{1, 80, 65535, 65536, -1} {
		checks = append(checks, check{name: "port " + strconv.Itoa(p), yaml: "  names: [a.example]\n  http_port: " + strconv.Itoa(p) + "\n  tls_alpn_port: " + strconv.Itoa(p),
			cfg: acme.Config{Names: []string{"a.example"}, HTTPPort: p, TLSALPNPort: p}})
	}
	dir := t.TempDir()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := acmeBare(c.yaml)
			_, cfgErr := Parse([]byte(src), "test.yaml")
			c.cfg.StorageDir = filepath.Join(dir, "storage")
			m, mgrErr := acme.New(c.cfg, nil, nil)
			if m != nil {
				m.Stop()
			}
			if mgrErr != nil && cfgErr == nil {
				t.Fatalf("the config validates but the manager refuses it: %v\n%s", mgrErr, src)
			}
			if mgrErr == nil && cfgErr != nil {
				t.Fatalf("the manager accepts it but validation refuses it:\n%v\n%s", cfgErr, src)
			}
		})
	}
}

// quoteYAML writes s as a single-quoted YAML scalar.
func quoteYAML(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// FuzzACMENames checks that a name or an on_demand pattern that validation accepts is accepted
// by the certificate manager too, so that a config that validates cannot fail to start over it.
func FuzzACMENames(f *testing.F) {
	for _, s := range []string{
		"shop.example.com", "SHOP.Example.com.", "*.example.com", "*.Example.COM.", "localhost", "192.0.2.1",
		"[2001:db8::1]", "my_shop.example.com", "shop..example.com", "-a.example", " a.example ", "*", "*.com",
		"a.*.example.com", "xn--bcher-kva.example", "bücher.example", "\u212a.example", "A\u212a.example", "a.b.",
		"*..example", "*.a.example.", strings.Repeat("a.", 126) + "com",
	} {
		f.Add(s)
	}
	base, err := Parse([]byte(acmeCfg()), "fuzz.yaml")
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		for _, tc := range []struct {
			what string
			cfg  ACME
			mgr  acme.Config
		}{
			{what: "name", cfg: ACME{Names: []string{s}}, mgr: acme.Config{Names: []string{s}}},
			{what: "allow pattern", cfg: ACME{OnDemand: &ACMEOnDemand{Allow: []string{s}}}, mgr: acme.Config{OnDemand: &acme.OnDemand{Allow: []string{s}}}},
		} {
			c := *base
			c.ACME = &tc.cfg
			if errs := Validate(&c); errs != nil {
				continue
			}
			tc.mgr.StorageDir = dir
			m, err := acme.New(tc.mgr, nil, nil)
			if err != nil {
				t.Fatalf("validation accepts the %s %q, the manager refuses it: %v", tc.what, s, err)
			}
			m.Stop()
		}
	})
}
