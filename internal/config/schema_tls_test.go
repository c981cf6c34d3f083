package config

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestSchemaCipherSuites checks that the schema lists exactly the TLS 1.2 cipher suites that
// validation accepts: Go's secure ones. A Go release that adds or retires a suite fails here.
func TestSchemaCipherSuites(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	tlsNode := s.root["$defs"].(map[string]any)["listenerTLS"].(map[string]any)
	items := tlsNode["properties"].(map[string]any)["cipher_suites"].(map[string]any)["items"].(map[string]any)
	var inSchema []string
	for _, e := range items["enum"].([]any) {
		inSchema = append(inSchema, e.(string))
	}
	var inGo []string
	for name := range tls12Suites() {
		inGo = append(inGo, name)
	}
	sort.Strings(inSchema)
	sort.Strings(inGo)
	if !slices.Equal(inSchema, inGo) {
		t.Fatalf("the schema's cipher suites:\n%s\nGo's secure TLS 1.2 suites:\n%s", strings.Join(inSchema, "\n"), strings.Join(inGo, "\n"))
	}
	if len(inGo) < 6 {
		t.Fatalf("only %d TLS 1.2 suites; tls12Suites is broken", len(inGo))
	}
}

// TestSchemaAcceptsTLSForms checks that the schema accepts the ways of writing TLS settings that
// Parse accepts, the ones an editor sees differently (an unquoted 1.2 is a number to it).
func TestSchemaAcceptsTLSForms(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	tests := []struct{ name, src string }{
		{name: "min_version unquoted", src: tlsCfg("      min_version: 1.3")},
		{name: "min_version quoted", src: tlsCfg("      min_version: '1.3'")},
		{name: "hsts written empty", src: tlsCfg("      hsts:")},
		{name: "hsts {}", src: tlsCfg("      hsts: {}")},
		{name: "empty cipher suites with TLS 1.3", src: tlsCfg("      min_version: 1.3", "      cipher_suites: []")},
		{name: "redirect off on a TLS listener", src: tlsCfg("    redirect_to_https: false")},
		{name: "redirect on another port", src: listenerCfg("    redirect_to_https: true", "    https_port: 8443")},
		{name: "upper-case https backend", src: httpsCfg("  - name: v", "    backends: ['HTTPS://[::1]:8443/', {url: 'https://b'}]")},
		{name: "upstream client certificate", src: httpsCfg("    tls: {cert_file: c.pem, key_file: k.pem}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse([]byte(tt.src), "test.yaml"); err != nil {
				t.Fatalf("Parse refuses the config:\n%v\n%s", err, tt.src)
			}
			if errs := s.validate(t, s.root, yamlToJSON(t, []byte(tt.src)), "$"); errs != nil {
				t.Fatalf("the schema refuses a config Parse accepts:\n%s\n%s", strings.Join(errs, "\n"), tt.src)
			}
		})
	}
}
