package config

import (
	"slices"
	"strings"
	"testing"
)

// TestSchemaACME checks that the schema accepts the acme configs Parse accepts, and refuses the
// mistakes an editor can catch, as Parse does.
func TestSchemaACME(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	accepts := []struct{ name, src string }{
		{name: "names", src: acmeCfg()},
		{name: "names in upper case with a trailing dot", src: acmeBare("  names: [Shop.Example.COM., xn--bcher-kva.example, 1.2.3.example]")},
		{name: "on demand only", src: acmeBare("  on_demand: {allow: ['*.example.com', Exact.example.org.]}")},
		{name: "names empty with on demand", src: acmeBare("  names: []", "  on_demand: {allow: ['*.example.com']}")},
		{name: "everything", src: acmeCfg("  email: ops+certs@example.com", "  directory: 'https://ca.internal:14000/dir'",
			"  ca_root: ca.pem", "  storage_dir: acme", "  challenges: [tls-alpn-01]", "  renew_before: 720h",
			"  http_port: 8080", "  tls_alpn_port: 8443")},
		{name: "empty strings for the defaults", src: acmeCfg("  email: ''", "  directory: ''", "  ca_root: ''", "  storage_dir: ''")},
		{name: "challenges empty", src: acmeCfg("  challenges: []")},
		{name: "acme with certificate files", src: lines("routes: [{respond: {}}]", "listeners:",
			"  - {address: ':443', tls: {acme: true, certificates: [{cert_file: c.pem, key_file: k.pem}]}}",
			"acme: {names: [shop.example.com]}")},
		{name: "acme false with certificate files", src: tlsCfg("      acme: false")},
		{name: "acme with certificates empty", src: lines("routes: [{respond: {}}]", "listeners:",
			"  - {address: ':443', tls: {acme: true, certificates: []}}",
			"acme: {names: [shop.example.com]}")},
	}
	for _, tt := range accepts {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse([]byte(tt.src), "test.yaml"); err != nil {
				t.Fatalf("Parse refuses the config:\n%v\n%s", err, tt.src)
			}
			if errs := s.validate(t, s.root, yamlToJSON(t, []byte(tt.src)), "$"); errs != nil {
				t.Fatalf("the schema refuses a config Parse accepts:\n%s\n%s", strings.Join(errs, "\n"), tt.src)
			}
		})
	}

	refuses := []struct{ name, src, wantErr string }{
		{name: "tls with neither certificates nor acme", src: listenerCfg("    tls: {hsts: {}}"), wantErr: "$.listeners[0].tls: matches none of the anyOf"},
		{name: "tls with acme false and no certificates", src: listenerCfg("    tls: {acme: false}"), wantErr: "$.listeners[0].tls: matches none of the anyOf"},
		{name: "tls acme as a word", src: tlsCfg("      acme: yes"), wantErr: "$.listeners[0].tls.acme: yes is not of type boolean"},
		{name: "neither names nor on demand", src: acmeBare("  email: ops@example.com"), wantErr: "$.acme: matches none of the anyOf"},
		{name: "unknown field", src: acmeCfg("  emial: ops@example.com"), wantErr: `$.acme: unknown field "emial"`},
		{name: "wildcard name", src: acmeBare("  names: ['*.example.com']"), wantErr: `$.acme.names[0]: "*.example.com" does not match`},
		{name: "IP address name", src: acmeBare("  names: [192.0.2.1]"), wantErr: `$.acme.names[0]: "192.0.2.1" does not match`},
		{name: "single label name", src: acmeBare("  names: [localhost]"), wantErr: `$.acme.names[0]: "localhost" does not match`},
		{name: "underscore in a name", src: acmeBare("  names: [my_shop.example.com]"), wantErr: `$.acme.names[0]: "my_shop.example.com" does not match`},
		{name: "email without @", src: acmeCfg("  email: ops.example.com"), wantErr: `$.acme.email: "ops.example.com" does not match`},
		{name: "http directory", src: acmeCfg("  directory: http://ca.internal/dir"), wantErr: `$.acme.directory: "http://ca.internal/dir" does not match`},
		{name: "dns-01", src: acmeCfg("  challenges: [dns-01]"), wantErr: "$.acme.challenges[0]: dns-01 is not one of"},
		{name: "renew_before in days", src: acmeCfg("  renew_before: 30d"), wantErr: "$.acme.renew_before: matches none of the anyOf"},
		{name: "http_port zero", src: acmeCfg("  http_port: 0"), wantErr: "$.acme.http_port: 0 is less than 1"},
		{name: "tls_alpn_port too large", src: acmeCfg("  tls_alpn_port: 65536"), wantErr: "$.acme.tls_alpn_port: 65536 is more than 65535"},
		{name: "on demand without allow", src: acmeCfg("  on_demand: {}"), wantErr: "$.acme.on_demand: allow is required"},
		{name: "allow empty", src: acmeCfg("  on_demand: {allow: []}"), wantErr: "$.acme.on_demand.allow: has 0 items"},
		{name: "allow a bare wildcard", src: acmeCfg("  on_demand: {allow: ['*']}"), wantErr: `$.acme.on_demand.allow[0]: "*" does not match`},
		{name: "allow a wildcard inside", src: acmeCfg("  on_demand: {allow: ['a.*.example.com']}"), wantErr: `$.acme.on_demand.allow[0]: "a.*.example.com" does not match`},
		{name: "allow a top-level domain", src: acmeCfg("  on_demand: {allow: ['*.com']}"), wantErr: `$.acme.on_demand.allow[0]: "*.com" does not match`},
	}
	for _, tt := range refuses {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse([]byte(tt.src), "test.yaml"); err == nil {
				t.Fatalf("Parse accepts the config; a schema test for it makes no sense:\n%s", tt.src)
			}
			errs := s.validate(t, s.root, yamlToJSON(t, []byte(tt.src)), "$")
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.HasPrefix(e, tt.wantErr) }) {
				t.Fatalf("schema errors:\n%s\nwant one starting with %q", strings.Join(errs, "\n"), tt.wantErr)
			}
		})
	}
}
