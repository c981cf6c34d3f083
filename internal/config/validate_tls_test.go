package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// listenerCfg is a valid config whose only listener, on line 3, has just an address; extra lines
// (indented four spaces to add listener fields) start on line 4.
func listenerCfg(extra ...string) string {
	return lines(append([]string{
		"routes: [{respond: {}}]", // 1
		"listeners:",
		"  - address: 127.0.0.1:8443", // 3
	}, extra...)...)
}

// tlsCfg is listenerCfg with a TLS listener of one certificate, tls on line 4 and certificates
// on line 5; extra lines (indented six spaces to add tls fields) start on line 6.
func tlsCfg(extra ...string) string {
	return listenerCfg(append([]string{
		"    tls:", // 4
		"      certificates: [{cert_file: cert.pem, key_file: key.pem}]",
	}, extra...)...)
}

// httpsCfg is upstreamCfg with one https backend on line 7; extra lines (indented four spaces
// to add upstream fields) start on line 8.
func httpsCfg(extra ...string) string {
	return upstreamCfg(append([]string{"    backends: [https://api.internal]"}, extra...)...)
}

func TestValidTLS(t *testing.T) {
	t.Parallel()
	runValidCases(t, []struct{ name, src string }{
		{name: "one certificate", src: tlsCfg()},
		{name: "several certificates", src: listenerCfg("    tls:", "      certificates:",
			"        - {cert_file: example.com.pem, key_file: example.com.key}",
			"        - cert_file: wildcard.example.org.pem", "          key_file: wildcard.example.org.key")},
		{name: "min_version 1.2 unquoted", src: tlsCfg("      min_version: 1.2")},
		{name: "min_version 1.3 quoted", src: tlsCfg("      min_version: '1.3'")},
		{name: "every TLS 1.2 suite", src: tlsCfg("      cipher_suites:",
			"        - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "        - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
			"        - TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "        - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
			"        - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "        - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
			"        - TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "        - TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
			"        - TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "        - TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")},
		{name: "no cipher suites with TLS 1.3", src: tlsCfg("      min_version: 1.3", "      cipher_suites: []")},
		{name: "session tickets off", src: tlsCfg("      session_tickets: false")},
		{name: "client certificates required", src: tlsCfg("      client_auth: {ca_file: clients-ca.pem}")},
		{name: "client certificates requested", src: tlsCfg("      client_auth: {mode: request, ca_file: clients-ca.pem}")},
		{name: "hsts with defaults", src: tlsCfg("      hsts: {}")},
		{name: "hsts written empty", src: tlsCfg("      hsts:")},
		{name: "hsts everything", src: tlsCfg("      hsts: {max_age: 2m, include_subdomains: true, preload: true}")},
		{name: "redirect to https", src: listenerCfg("    redirect_to_https: true")},
		{name: "redirect to another port", src: listenerCfg("    redirect_to_https: true", "    https_port: 8443")},
		{name: "redirect off on a TLS listener", src: tlsCfg("    redirect_to_https: false")},
		{name: "plain and TLS listeners", src: lines("routes: [{respond: {}}]", "listeners:",
			"  - {address: ':80', redirect_to_https: true}",
			"  - {address: ':443', tls: {certificates: [{cert_file: c.pem, key_file: k.pem}], hsts: {}}}")},
		{name: "route requiring a client certificate", src: lines(
			"listeners: [{address: ':443', tls: {certificates: [{cert_file: c.pem, key_file: k.pem}], client_auth: {mode: request, ca_file: ca.pem}}}]",
			"routes: [{respond: {}, require_client_cert: true}, {respond: {}, match: {path: /open}, require_client_cert: false}]")},
		{name: "https backends with defaults", src: httpsCfg()},
		{name: "upstream tls with everything", src: httpsCfg("    tls:", "      ca_file: backends-ca.pem", "      server_name: api.internal",
			"      cert_file: client.pem", "      key_file: client.key")},
		{name: "upstream tls insecure", src: httpsCfg("    tls: {insecure_skip_verify: true, server_name: api.internal}")},
		{name: "server_name an IP address", src: httpsCfg("    tls: {server_name: 10.0.0.1}")},
		{name: "server_name an IPv6 address", src: httpsCfg("    tls: {server_name: '::1'}")},
		{name: "upstream tls with one https backend among http ones", src: upstreamCfg("    backends: [http://a, https://b]", "    tls: {ca_file: ca.pem}")},
		{name: "upstream tls written empty", src: httpsCfg("    tls: {}")},
		{name: "h2 with tls", src: tlsCfg("    protocols: [h2, h1]")},
		{name: "h2 only", src: tlsCfg("    protocols: [h2]")},
		{name: "h2c on a plain listener", src: listenerCfg("    protocols: [h1, h2c]")},
		{name: "h2c only", src: listenerCfg("    protocols: [h2c]")},
		{name: "h2 backends", src: httpsCfg("    protocol: h2")},
		{name: "h2c backends with a grpc check", src: poolCfg("    protocol: h2", "    health: {active: {type: grpc, grpc_service: pkg.Svc}}")},
		{name: "http2 streams", src: lines("listeners: [{address: ':80'}]", "routes: [{respond: {}}]", "server: {http2: {max_concurrent_streams: 1000}}")},
	})
}

func TestValidateTLS(t *testing.T) {
	t.Parallel()
	suites := "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
	runErrorCases(t, []errorCase{
		// listeners[].protocols
		{name: "h2 without tls", src: listenerCfg("    protocols: [h1, h2]"), wantLine: 4, wantPath: "listeners[0].protocols[1]",
			wantMsg: "h2 is HTTP/2 over TLS and this listener has no tls; for cleartext HTTP/2 with prior knowledge write h2c"},
		{name: "h2c with tls", src: listenerCfg("    protocols: [h2c]", "    tls: {certificates: [{cert_file: c.pem, key_file: k.pem}]}"), wantLine: 4, wantPath: "listeners[0].protocols[0]",
			wantMsg: "h2c is cleartext HTTP/2 and this listener terminates TLS; write h2"},
		{name: "unknown protocol", src: listenerCfg("    protocols: [http/1.1]"), wantLine: 4, wantPath: "listeners[0].protocols[0]",
			wantMsg: `unknown protocol "http/1.1"; write h1 (HTTP/1.1), h2 (HTTP/2 over TLS) or h2c`},
		{name: "protocol twice", src: listenerCfg("    protocols: [h1, h1]"), wantLine: 4, wantPath: "listeners[0].protocols[1]",
			wantMsg: `protocol "h1" is listed twice`},
		{name: "no protocols", src: listenerCfg("    protocols: []"), wantLine: 4, wantPath: "listeners[0].protocols",
			wantMsg: "a listener needs at least one protocol"},
		{name: "streams zero", src: lines("listeners: [{address: ':80'}]", "routes: [{respond: {}}]", "server: {http2: {max_concurrent_streams: 0}}"),
			wantLine: 3, wantPath: "server.http2.max_concurrent_streams", wantMsg: "max_concurrent_streams is 0; it must be from 1 to 10000"},
		// listeners[].https_port and redirect_to_https
		{name: "https_port zero", src: listenerCfg("    redirect_to_https: true", "    https_port: 0"), wantLine: 5,
			wantPath: "listeners[0].https_port", wantMsg: "https_port 0 is out of range; write a port number from 1 to 65535"},
		{name: "https_port too large", src: listenerCfg("    redirect_to_https: true", "    https_port: 65536"), wantLine: 5,
			wantPath: "listeners[0].https_port", wantMsg: "https_port 65536 is out of range"},
		{name: "https_port not a number", src: listenerCfg("    https_port: https"), wantLine: 4,
			wantPath: "listeners[0].https_port", wantMsg: `invalid number "https"`},
		{name: "https_port without redirect", src: listenerCfg("    https_port: 8443"), wantLine: 4,
			wantPath: "listeners[0].https_port", wantMsg: "https_port only applies with redirect_to_https: true; set that, or remove https_port"},
		{name: "https_port with redirect off", src: listenerCfg("    redirect_to_https: false", "    https_port: 443"), wantLine: 5,
			wantPath: "listeners[0].https_port", wantMsg: "https_port only applies with redirect_to_https: true"},
		{name: "https_port on a TLS listener", src: tlsCfg("    https_port: 8443"), wantLine: 6,
			wantPath: "listeners[0].https_port", wantMsg: "https_port only applies with redirect_to_https: true"},
		{name: "redirect on a TLS listener", src: tlsCfg("    redirect_to_https: true"), wantLine: 6, wantPath: "listeners[0].redirect_to_https",
			wantMsg: "a TLS listener already serves https; redirect_to_https belongs on a plain listener"},
		{name: "redirect not a boolean", src: listenerCfg("    redirect_to_https: yes"), wantLine: 4, wantPath: "listeners[0].redirect_to_https",
			wantMsg: `invalid boolean "yes": write true or false`},

		// listeners[].tls.certificates
		{name: "tls written empty", src: listenerCfg("    tls:"), wantLine: 4, wantPath: "listeners[0].tls.certificates",
			wantMsg: "a TLS listener needs at least one certificate; add certificates: [{cert_file: ..., key_file: ...}], or acme: true with a top-level acme section"},
		{name: "tls without certificates", src: listenerCfg("    tls: {min_version: 1.3}"), wantLine: 4, wantPath: "listeners[0].tls.certificates",
			wantMsg: "a TLS listener needs at least one certificate"},
		{name: "no certificate", src: listenerCfg("    tls:", "      certificates: []"), wantLine: 5, wantPath: "listeners[0].tls.certificates",
			wantMsg: "a TLS listener needs at least one certificate"},
		{name: "certificate without cert_file", src: listenerCfg("    tls:", "      certificates:", "        - {cert_file: a.pem, key_file: a.key}",
			"        - key_file: b.key"), wantLine: 7, wantPath: "listeners[0].tls.certificates[1].cert_file",
			wantMsg: "cert_file is required: the PEM certificate chain, leaf first"},
		{name: "certificate without key_file", src: listenerCfg("    tls:", "      certificates:", "        - cert_file: a.pem"), wantLine: 6,
			wantPath: "listeners[0].tls.certificates[0].key_file", wantMsg: "key_file is required: the PEM private key of the certificate"},
		{name: "certificate with empty cert_file", src: listenerCfg("    tls:", "      certificates:", "        - cert_file: ''", "          key_file: a.key"),
			wantLine: 6, wantPath: "listeners[0].tls.certificates[0].cert_file", wantMsg: "cert_file is required"},
		{name: "certificate as a string", src: listenerCfg("    tls:", "      certificates: [a.pem]"), wantLine: 5,
			wantPath: "listeners[0].tls.certificates[0]", wantMsg: `expected a mapping with the fields cert_file, key_file, found the value "a.pem"`},
		{name: "certificate file misspelt", src: listenerCfg("    tls:", "      certificates: [{cert_fiel: a.pem, key_file: a.key}]"), wantLine: 5,
			wantPath: "listeners[0].tls.certificates[0].cert_fiel", wantMsg: `unknown field "cert_fiel"; did you mean "cert_file"? valid fields here: cert_file, key_file`},
		{name: "tls field misspelt", src: tlsCfg("      min_versoin: 1.3"), wantLine: 6, wantPath: "listeners[0].tls.min_versoin",
			wantMsg: `unknown field "min_versoin"; did you mean "min_version"? valid fields here: certificates, min_version, cipher_suites, session_tickets, client_auth, hsts, acme`},

		// listeners[].tls.min_version
		{name: "min_version 1.1", src: tlsCfg("      min_version: 1.1"), wantLine: 6, wantPath: "listeners[0].tls.min_version",
			wantMsg: `min_version "1.1" is not supported; write 1.2 or 1.3`},
		{name: "min_version TLS1.3", src: tlsCfg("      min_version: TLS1.3"), wantLine: 6, wantPath: "listeners[0].tls.min_version",
			wantMsg: `min_version "TLS1.3" is not supported`},
		{name: "min_version 1.20", src: tlsCfg("      min_version: 1.20"), wantLine: 6, wantPath: "listeners[0].tls.min_version",
			wantMsg: `min_version "1.20" is not supported`},
		{name: "min_version written empty", src: tlsCfg("      min_version: ''"), wantLine: 6, wantPath: "listeners[0].tls.min_version",
			wantMsg: `min_version "" is not supported`},

		// listeners[].tls.cipher_suites
		{name: "cipher suite misspelt", src: tlsCfg("      cipher_suites:", "        - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
			"        - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA265"), wantLine: 8, wantPath: "listeners[0].tls.cipher_suites[1]",
			wantMsg: `unknown TLS 1.2 cipher suite "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA265"; did you mean "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"? write one of ` + suites},
		{name: "cipher suite in OpenSSL's name", src: tlsCfg("      cipher_suites: [ECDHE-ECDSA-AES128-GCM-SHA256]"), wantLine: 6,
			wantPath: "listeners[0].tls.cipher_suites[0]", wantMsg: `unknown TLS 1.2 cipher suite "ECDHE-ECDSA-AES128-GCM-SHA256";`},
		{name: "TLS 1.3 cipher suite", src: tlsCfg("      cipher_suites: [TLS_AES_128_GCM_SHA256]"), wantLine: 6,
			wantPath: "listeners[0].tls.cipher_suites[0]",
			wantMsg:  "TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite; TLS 1.3 suites are always on and cannot be configured, so list only TLS 1.2 suites: " + suites},
		{name: "insecure cipher suite", src: tlsCfg("      cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256]"), wantLine: 6,
			wantPath: "listeners[0].tls.cipher_suites[0]", wantMsg: "TLS_RSA_WITH_AES_128_GCM_SHA256 is insecure and cannot be configured; write one of " + suites},
		{name: "RC4 cipher suite", src: tlsCfg("      cipher_suites: [TLS_ECDHE_RSA_WITH_RC4_128_SHA]"), wantLine: 6,
			wantPath: "listeners[0].tls.cipher_suites[0]", wantMsg: "TLS_ECDHE_RSA_WITH_RC4_128_SHA is insecure"},
		{name: "cipher suites with TLS 1.3 only", src: tlsCfg("      min_version: 1.3", "      cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]"),
			wantLine: 7, wantPath: "listeners[0].tls.cipher_suites", wantMsg: "cipher_suites only apply to TLS 1.2, and min_version is 1.3; remove them"},
		{name: "cipher suites as a string", src: tlsCfg("      cipher_suites: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), wantLine: 6,
			wantPath: "listeners[0].tls.cipher_suites", wantMsg: "expected a list"},

		// listeners[].tls.session_tickets
		{name: "session_tickets not a boolean", src: tlsCfg("      session_tickets: off"), wantLine: 6, wantPath: "listeners[0].tls.session_tickets",
			wantMsg: `invalid boolean "off": write true or false`},
		{name: "session_tickets written empty", src: tlsCfg("      session_tickets:"), wantLine: 6, wantPath: "listeners[0].tls.session_tickets",
			wantMsg: "the value is missing; write true or false"},

		// listeners[].tls.client_auth
		{name: "client_auth mode", src: tlsCfg("      client_auth: {mode: optional, ca_file: ca.pem}"), wantLine: 6,
			wantPath: "listeners[0].tls.client_auth.mode", wantMsg: `unknown mode "optional"; write request (verify a certificate when sent) or require`},
		{name: "client_auth mode written empty", src: tlsCfg("      client_auth:", "        mode: ''", "        ca_file: ca.pem"), wantLine: 7,
			wantPath: "listeners[0].tls.client_auth.mode", wantMsg: `unknown mode ""`},
		{name: "client_auth without ca_file", src: tlsCfg("      client_auth:", "        mode: request"), wantLine: 6,
			wantPath: "listeners[0].tls.client_auth.ca_file", wantMsg: "ca_file is required: the PEM bundle of the CAs client certificates must chain to"},
		{name: "client_auth written empty", src: tlsCfg("      client_auth:"), wantLine: 6,
			wantPath: "listeners[0].tls.client_auth.ca_file", wantMsg: "ca_file is required"},

		// listeners[].tls.hsts
		{name: "hsts max_age zero", src: tlsCfg("      hsts:", "        max_age: 0s"), wantLine: 7, wantPath: "listeners[0].tls.hsts.max_age",
			wantMsg: "max_age must be greater than 0; write a Go duration such as 5s, 250ms or 1m30s, or leave it out for 8760h (a year)"},
		{name: "hsts max_age fraction of a second", src: tlsCfg("      hsts: {max_age: 1500ms}"), wantLine: 6, wantPath: "listeners[0].tls.hsts.max_age",
			wantMsg: "max_age 1.5s is not a whole number of seconds, which is what browsers are sent; write one such as 8760h"},
		{name: "hsts max_age below a second", src: tlsCfg("      hsts: {max_age: 500ms}"), wantLine: 6, wantPath: "listeners[0].tls.hsts.max_age",
			wantMsg: "max_age 500ms is not a whole number of seconds"},
		{name: "hsts max_age in days", src: tlsCfg("      hsts: {max_age: 365d}"), wantLine: 6, wantPath: "listeners[0].tls.hsts.max_age",
			wantMsg: `invalid duration "365d"`},
		{name: "hsts as a boolean", src: tlsCfg("      hsts: true"), wantLine: 6, wantPath: "listeners[0].tls.hsts",
			wantMsg: `expected a mapping with the fields max_age, include_subdomains, preload, found the value "true"`},

		// routes[].require_client_cert
		{name: "require_client_cert not a boolean", src: routeCfg("    require_client_cert: yes"), wantLine: 9,
			wantPath: "routes[0].require_client_cert", wantMsg: `invalid boolean "yes"`},

		// upstreams[].tls
		{name: "client cert without key", src: httpsCfg("    tls:", "      cert_file: client.pem"), wantLine: 8, wantPath: "upstreams[0].tls.key_file",
			wantMsg: "key_file is required with cert_file: the PEM private key of the client certificate"},
		{name: "client key without cert", src: httpsCfg("    tls:", "      key_file: client.key"), wantLine: 8, wantPath: "upstreams[0].tls.cert_file",
			wantMsg: "cert_file is required with key_file: the PEM client certificate chain, leaf first"},
		{name: "server_name with port", src: httpsCfg("    tls: {server_name: 'api.internal:443'}"), wantLine: 8, wantPath: "upstreams[0].tls.server_name",
			wantMsg: `server_name "api.internal:443" must not include a port; write the name the backends' certificates hold, such as api.internal`},
		{name: "server_name IPv6 with port", src: httpsCfg("    tls: {server_name: '[::1]:443'}"), wantLine: 8, wantPath: "upstreams[0].tls.server_name",
			wantMsg: "must not include a port"},
		{name: "server_name not a host", src: httpsCfg("    tls: {server_name: 'api internal'}"), wantLine: 8, wantPath: "upstreams[0].tls.server_name",
			wantMsg: `invalid server_name: host "api internal" is not a valid host name`},
		{name: "server_name URL", src: httpsCfg("    tls: {server_name: 'https://api.internal'}"), wantLine: 8, wantPath: "upstreams[0].tls.server_name",
			wantMsg: `server_name "https://api.internal" must be a host name, not a URL; write the name the backends' certificates hold`},
		{name: "server_name with a bad port", src: httpsCfg("    tls: {server_name: 'api:x'}"), wantLine: 8, wantPath: "upstreams[0].tls.server_name",
			wantMsg: `server_name "api:x" must not include a port`},
		{name: "server_name bad IPv6", src: httpsCfg("    tls: {server_name: 'fe80::1::2'}"), wantLine: 8, wantPath: "upstreams[0].tls.server_name",
			wantMsg: `invalid server_name: "fe80::1::2" is not a valid IPv6 address`},
		{name: "server_name wildcard", src: httpsCfg("    tls: {server_name: '*.internal'}"), wantLine: 8, wantPath: "upstreams[0].tls.server_name",
			wantMsg: `invalid server_name: host "*.internal": wildcards are not supported`},
		{name: "ca_file with insecure_skip_verify", src: httpsCfg("    tls:", "      ca_file: ca.pem", "      insecure_skip_verify: true"), wantLine: 9,
			wantPath: "upstreams[0].tls.ca_file", wantMsg: "ca_file is not used with insecure_skip_verify: true, which accepts any certificate; remove one of them"},
		{name: "tls without https backends", src: upstreamCfg("    backends: [http://a, http://b]", "    tls:", "      server_name: api.internal"),
			wantLine: 8, wantPath: "upstreams[0].tls",
			wantMsg: "tls settings only apply to https:// backends, and this upstream has none; write the backends as https://host:port, or remove tls"},
		{name: "tls written empty without https backends", src: upstreamCfg("    backends: [http://a]", "    tls: {}"), wantLine: 8,
			wantPath: "upstreams[0].tls", wantMsg: "tls settings only apply to https:// backends"},
		{name: "upstream tls field misspelt", src: httpsCfg("    tls:", "      verify: false"), wantLine: 9, wantPath: "upstreams[0].tls.verify",
			wantMsg: `unknown field "verify"; valid fields here: ca_file, server_name, cert_file, key_file, insecure_skip_verify`},
		{name: "insecure_skip_verify not a boolean", src: httpsCfg("    tls: {insecure_skip_verify: 1}"), wantLine: 8,
			wantPath: "upstreams[0].tls.insecure_skip_verify", wantMsg: `invalid boolean "1"`},
	})
}

// TestTLSErrorsTogether checks that TLS problems of several listeners and upstreams are reported
// at once, each at its own line.
func TestTLSErrorsTogether(t *testing.T) {
	t.Parallel()
	src := lines(
		"listeners:", // 1
		"  - address: ':80'",
		"    https_port: 8443",
		"  - address: ':443'",
		"    tls:", // 5
		"      certificates: [{cert_file: c.pem}]",
		"      min_version: 1.3",
		"      cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]",
		"      hsts: {max_age: 0s}",
		"routes: [{upstream: u}]", // 10
		"upstreams:",
		"  - name: u",
		"    backends: [http://a]",
		"    tls: {cert_file: c.pem}",
	)
	want := []string{
		"test.yaml:3: listeners[0].https_port: https_port only applies with redirect_to_https: true",
		"test.yaml:6: listeners[1].tls.certificates[0].key_file: key_file is required",
		"test.yaml:8: listeners[1].tls.cipher_suites: cipher_suites only apply to TLS 1.2",
		"test.yaml:9: listeners[1].tls.hsts.max_age: max_age must be greater than 0",
		"test.yaml:14: upstreams[0].tls: tls settings only apply to https:// backends",
		"test.yaml:14: upstreams[0].tls.key_file: key_file is required with cert_file",
	}
	errs := parseErrs(t, src)
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d = %s\nwant prefix %s", i, errs[i], w)
		}
	}
}

// TestTLSDefaults checks the documented defaults of the TLS fields. The wanted values are written
// out rather than taken from the Default constants, so that a changed constant fails here and
// the docs get updated with it.
func TestTLSDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(lines(
		"listeners:",
		"  - address: ':80'",
		"  - address: ':81'",
		"    redirect_to_https: true",
		"  - address: ':443'",
		"    tls:",
		"      certificates: [{cert_file: c.pem, key_file: k.pem}]",
		"      client_auth: {ca_file: ca.pem}",
		"      hsts: {}",
		"  - address: ':8443'",
		"    tls: {certificates: [{cert_file: c.pem, key_file: k.pem}]}",
		"routes: [{upstream: u}]",
		"upstreams:",
		"  - name: u",
		"    backends: [https://a, 'https://[::1]', http://b]",
	)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plain, redirect, full, bare := c.Listeners[0], c.Listeners[1], c.Listeners[2], c.Listeners[3]
	u := c.Upstreams[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{name: "plain listener has no tls", got: plain.TLS == nil, want: true},
		{name: "redirect_to_https", got: plain.RedirectToHTTPS, want: false},
		{name: "https_port", got: plain.HTTPSPort, want: 443},
		{name: "https_port with redirect", got: redirect.HTTPSPort, want: 443},
		{name: "https_port on a TLS listener", got: full.HTTPSPort, want: 443},
		{name: "tls.min_version", got: full.TLS.MinVersion, want: "1.2"},
		{name: "tls.cipher_suites", got: full.TLS.CipherSuites, want: []string(nil)},
		{name: "tls.session_tickets", got: *full.TLS.SessionTickets, want: true},
		{name: "tls.client_auth.mode", got: full.TLS.ClientAuth.Mode, want: "require"},
		{name: "tls.hsts.max_age", got: full.TLS.HSTS.MaxAge, want: Duration(8760 * time.Hour)},
		{name: "tls.hsts.include_subdomains", got: full.TLS.HSTS.IncludeSubdomains, want: false},
		{name: "tls.hsts.preload", got: full.TLS.HSTS.Preload, want: false},
		{name: "client_auth off unless written", got: bare.TLS.ClientAuth == nil, want: true},
		{name: "hsts off unless written", got: bare.TLS.HSTS == nil, want: true},
		{name: "session tickets on without client_auth", got: *bare.TLS.SessionTickets, want: true},
		{name: "require_client_cert", got: c.Routes[0].RequireClientCert, want: false},
		{name: "upstream tls", got: u.TLS, want: UpstreamTLS{}},
		{name: "https backend port", got: u.BackendAddrs(), want: []string{"a:443", "[::1]:443", "b:80"}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
	if full.TLS.SessionTickets == bare.TLS.SessionTickets {
		t.Errorf("listeners share their default session_tickets value: changing one would change the other")
	}
}

// TestTLSWrittenValuesKept checks that written TLS values, false and zero-like ones included,
// are not replaced by defaults.
func TestTLSWrittenValuesKept(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(lines(
		"listeners:",
		"  - {address: ':80', redirect_to_https: true, https_port: 8443}",
		"  - address: ':443'",
		"    tls:",
		"      certificates: [{cert_file: a.pem, key_file: a.key}, {cert_file: b.pem, key_file: b.key}]",
		"      min_version: 1.3",
		"      session_tickets: false",
		"      client_auth: {mode: request, ca_file: ca.pem}",
		"      hsts: {max_age: 1h, include_subdomains: true, preload: true}",
		"routes: [{upstream: u, require_client_cert: true}]",
		"upstreams:",
		"  - name: u",
		"    backends: [https://a]",
		"    tls: {ca_file: ca.pem, server_name: api.internal, cert_file: c.pem, key_file: c.key}",
	)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	off := false
	wantTLS := &ListenerTLS{
		Certificates:   []CertFiles{{CertFile: "a.pem", KeyFile: "a.key"}, {CertFile: "b.pem", KeyFile: "b.key"}},
		MinVersion:     "1.3",
		SessionTickets: &off,
		ClientAuth:     &ClientAuth{Mode: "request", CAFile: "ca.pem"},
		HSTS:           &HSTS{MaxAge: Duration(time.Hour), IncludeSubdomains: true, Preload: true},
	}
	if got := c.Listeners[1].TLS; !reflect.DeepEqual(got, wantTLS) {
		t.Errorf("tls = %+v, want %+v", got, wantTLS)
	}
	if l := c.Listeners[0]; !l.RedirectToHTTPS || l.HTTPSPort != 8443 {
		t.Errorf("plain listener = %+v, want redirect_to_https on port 8443", l)
	}
	if !c.Routes[0].RequireClientCert {
		t.Errorf("require_client_cert was not kept")
	}
	wantUp := UpstreamTLS{CAFile: "ca.pem", ServerName: "api.internal", CertFile: "c.pem", KeyFile: "c.key"}
	if got := c.Upstreams[0].TLS; got != wantUp {
		t.Errorf("upstream tls = %+v, want %+v", got, wantUp)
	}
}

// TestTLSDefaultWithoutLines checks Default and Validate on a TLS config built in code (no
// Lines), and that Default stays idempotent with TLS sections.
func TestTLSDefaultWithoutLines(t *testing.T) {
	t.Parallel()
	off := false
	c := &Config{
		Listeners: []Listener{
			{Address: ":80", RedirectToHTTPS: true},
			{Address: ":443", TLS: &ListenerTLS{
				Certificates: []CertFiles{{CertFile: "c.pem", KeyFile: "k.pem"}},
				ClientAuth:   &ClientAuth{CAFile: "ca.pem"},
				HSTS:         &HSTS{},
			}},
			{Address: ":8443", TLS: &ListenerTLS{Certificates: []CertFiles{{CertFile: "c.pem", KeyFile: "k.pem"}}, SessionTickets: &off}},
		},
		Routes:    []Route{{Upstream: "u"}},
		Upstreams: []Upstream{{Name: "u", Backends: []Backend{{URL: "https://a"}}, TLS: UpstreamTLS{ServerName: "a"}}},
	}
	Default(c)
	if errs := Validate(c); errs != nil {
		t.Fatalf("a TLS config built in code and defaulted does not validate:\n%v", errs)
	}
	tl := c.Listeners[1].TLS
	if c.Listeners[0].HTTPSPort != 443 || tl.MinVersion != "1.2" || !*tl.SessionTickets || tl.ClientAuth.Mode != "require" ||
		tl.HSTS.MaxAge != Duration(8760*time.Hour) || *c.Listeners[2].TLS.SessionTickets {
		t.Fatalf("TLS defaults not applied as documented: %+v %+v %+v", c.Listeners[0], tl, c.Listeners[2].TLS)
	}
	before := *tl
	beforeCA, beforeHSTS := *tl.ClientAuth, *tl.HSTS
	Default(c)
	if !reflect.DeepEqual(before, *tl) || *tl.ClientAuth != beforeCA || *tl.HSTS != beforeHSTS {
		t.Fatal("Default is not idempotent on TLS sections")
	}
}

// TestTLSLines checks that the decoder records the lines of TLS fields, which errors found after
// validation (a certificate that does not load) point at.
func TestTLSLines(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(lines(
		"listeners:", // 1
		"  - address: ':443'",
		"    tls:",
		"      certificates:",
		"        - cert_file: a.pem", // 5
		"          key_file: a.key",
		"        - {cert_file: b.pem, key_file: b.key}",
		"      client_auth:",
		"        ca_file: ca.pem",
		"      hsts: {max_age: 1h}", // 10
		"routes: [{upstream: u}]",
		"upstreams:",
		"  - name: u",
		"    backends: [https://a]",
		"    tls:", // 15
		"      ca_file: backends.pem",
	)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"listeners[0].tls":                           3,
		"listeners[0].tls.certificates":              4,
		"listeners[0].tls.certificates[0]":           5,
		"listeners[0].tls.certificates[0].cert_file": 5,
		"listeners[0].tls.certificates[0].key_file":  6,
		"listeners[0].tls.certificates[1].key_file":  7,
		"listeners[0].tls.client_auth.ca_file":       9,
		"listeners[0].tls.hsts.max_age":              10,
		"upstreams[0].tls":                           15,
		"upstreams[0].tls.ca_file":                   16,
	}
	for path, line := range want {
		if got, ok := c.Lines[path]; !ok || got != line {
			t.Errorf("Lines[%q] = %d, %v; want %d", path, got, ok, line)
		}
	}
	for _, path := range []string{"listeners[0].tls.min_version", "listeners[0].https_port", "listeners[0].tls.client_auth.mode"} {
		if _, ok := c.Lines[path]; ok {
			t.Errorf("Lines has %s, which is not in the file", path)
		}
	}
	if e := c.ErrorAt("listeners[0].tls.certificates[1].cert_file", "cannot read"); e.Line != 7 {
		t.Errorf("ErrorAt a certificate's cert_file: line %d, want 7", e.Line)
	}
}

func TestBackendTLS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		want bool
	}{
		{name: "https", url: "https://a", want: true},
		{name: "https with port", url: "https://a:8443/", want: true},
		{name: "upper case", url: "HTTPS://a", want: true},
		{name: "mixed case", url: "Https://[::1]:443", want: true},
		{name: "http", url: "http://a:443", want: false},
		{name: "no scheme", url: "a:443", want: false},
		{name: "scheme without slashes", url: "https:a", want: false},
		{name: "empty", url: "", want: false},
		{name: "https in the host", url: "http://https", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := BackendTLS(tt.url); got != tt.want {
				t.Fatalf("BackendTLS(%q) = %v, want %v", tt.url, got, tt.want)
			}
		})
	}
}
