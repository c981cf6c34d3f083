package config

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// schemaFile is the JSON Schema of the config file, which editors use to check and complete configs.
const schemaFile = "../../docs/gatehouse.schema.json"

// schema is a parsed JSON Schema document. Keywords are read as encoding/json decodes them into any:
// objects are map[string]any, arrays []any, numbers float64.
type schema struct {
	root map[string]any
}

var (
	schemaOnce sync.Once
	schemaDoc  *schema
	schemaErr  error
)

// loadSchema parses schemaFile once for all tests.
func loadSchema(t testing.TB) *schema {
	t.Helper()
	schemaOnce.Do(func() {
		src, err := os.ReadFile(schemaFile)
		if err != nil {
			schemaErr = err
			return
		}
		var root map[string]any
		if err := json.Unmarshal(src, &root); err != nil {
			schemaErr = fmt.Errorf("%s is not valid JSON: %w", schemaFile, err)
			return
		}
		schemaDoc = &schema{root: root}
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	return schemaDoc
}

// deref follows $ref (local "#/$defs/name" references only) until node has none.
func (s *schema) deref(t testing.TB, node map[string]any) map[string]any {
	t.Helper()
	for i := 0; i < 10; i++ {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		defs, _ := s.root["$defs"].(map[string]any)
		next, found := defs[name].(map[string]any)
		if !ok || !found {
			t.Fatalf("schema: unresolvable $ref %q", ref)
		}
		node = next
	}
	t.Fatal("schema: $ref chain too long")
	return nil
}

// hasType reports whether node's "type" is name or a list containing it.
func hasType(node map[string]any, name string) bool {
	switch ty := node["type"].(type) {
	case string:
		return ty == name
	case []any:
		return slices.Contains(ty, any(name))
	}
	return false
}

var (
	durationType = reflect.TypeFor[Duration]()
	sizeType     = reflect.TypeFor[Size]()
	percentType  = reflect.TypeFor[Percent]()
	backendType  = reflect.TypeFor[Backend]()
)

// TestSchemaMatchesTypes walks the config structs by their yaml tags alongside the schema: every
// field must be a property at the same place, with a matching type, and no property may name a
// field that does not exist.
func TestSchemaMatchesTypes(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	s.walkType(t, s.root, reflect.TypeFor[Config](), "")
}

func (s *schema) walkType(t *testing.T, node map[string]any, typ reflect.Type, path string) {
	t.Helper()
	where := path
	if where == "" {
		where = "(root)"
	}
	switch typ {
	case durationType, sizeType, percentType:
		want := map[reflect.Type]string{durationType: "duration", sizeType: "size", percentType: "percent"}[typ]
		if node["$ref"] != "#/$defs/"+want {
			t.Errorf("%s: is a %s, want \"$ref\": \"#/$defs/%s\" in the schema, got %v", where, typ.Name(), want, node["$ref"])
		}
		return
	case backendType:
		node = s.deref(t, node)
		branches, _ := node["oneOf"].([]any)
		var str, obj bool
		for _, b := range branches {
			b := s.deref(t, b.(map[string]any))
			switch {
			case hasType(b, "string"):
				str = true
			case hasType(b, "object"):
				obj = true
				s.walkStruct(t, b, typ, path)
			}
		}
		if !str || !obj || len(branches) != 2 {
			t.Errorf("%s: a backend must be oneOf a string and an object in the schema", where)
		}
		return
	}
	node = s.deref(t, node)
	switch typ.Kind() {
	case reflect.Pointer:
		s.walkType(t, node, typ.Elem(), path)
	case reflect.Struct:
		s.walkStruct(t, node, typ, path)
	case reflect.Slice:
		items, ok := node["items"].(map[string]any)
		if !hasType(node, "array") || !ok {
			t.Errorf("%s: want \"type\": \"array\" with items", where)
			return
		}
		s.walkType(t, items, typ.Elem(), path+"[]")
	case reflect.Map:
		elem, ok := node["additionalProperties"].(map[string]any)
		if !hasType(node, "object") || !ok || node["properties"] != nil {
			t.Errorf("%s: a map wants \"type\": \"object\" with an additionalProperties schema and no properties", where)
			return
		}
		s.walkType(t, elem, typ.Elem(), path+".*")
	case reflect.String:
		if !hasType(node, "string") && !allEnum(node, func(v any) bool { _, ok := v.(string); return ok }) {
			t.Errorf("%s: is a string; the schema says type %v", where, node["type"])
		}
	case reflect.Int:
		isInt := func(v any) bool { f, ok := v.(float64); return ok && f == math.Trunc(f) }
		if !hasType(node, "integer") && !allEnum(node, isInt) {
			t.Errorf("%s: is an integer; the schema says type %v", where, node["type"])
		}
	case reflect.Float64:
		if !hasType(node, "number") {
			t.Errorf("%s: is a number; the schema says type %v", where, node["type"])
		}
	case reflect.Bool:
		if !hasType(node, "boolean") {
			t.Errorf("%s: is a boolean; the schema says type %v", where, node["type"])
		}
	default:
		t.Errorf("%s: the test does not know the kind %s", where, typ.Kind())
	}
}

// walkStruct checks the object schema node against the struct type typ.
func (s *schema) walkStruct(t *testing.T, node map[string]any, typ reflect.Type, path string) {
	t.Helper()
	where := path
	if where == "" {
		where = "(root)"
	}
	if !hasType(node, "object") || node["additionalProperties"] != false {
		t.Errorf("%s: want \"type\": \"object\" and \"additionalProperties\": false", where)
	}
	props, _ := node["properties"].(map[string]any)
	names, index := yamlFields(typ)
	for _, name := range names {
		fieldPath := joinPath(path, name)
		p, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("%s: field %s (%s) is missing from the schema", fieldPath, typ.Field(index[name]).Name, typ.Name())
			continue
		}
		if _, ok := p["description"]; !ok {
			if d := s.deref(t, p); d["description"] == nil {
				t.Errorf("%s: has no description in the schema", fieldPath)
			}
		}
		s.walkType(t, p, typ.Field(index[name]).Type, fieldPath)
	}
	for name := range props {
		if _, ok := index[name]; !ok {
			t.Errorf("%s: the schema has property %q, which %s does not have", where, name, typ.Name())
		}
	}
}

// checkConstraint checks that the "not" branch node, of the object schema parent, names only
// fields of parent in its properties, required and anyOf branches.
func (s *schema) checkConstraint(t *testing.T, node map[string]any, at string, parent map[string]any) {
	t.Helper()
	props, _ := parent["properties"].(map[string]any)
	if props == nil {
		return // a "not" on a value rather than an object
	}
	var names []string
	required := func(n map[string]any) {
		req, _ := n["required"].([]any)
		for _, r := range req {
			names = append(names, r.(string))
		}
	}
	nprops, _ := node["properties"].(map[string]any)
	for name := range nprops {
		names = append(names, name)
	}
	required(node)
	branches, _ := node["anyOf"].([]any)
	for _, b := range branches {
		required(b.(map[string]any))
	}
	for _, name := range names {
		if _, ok := props[name]; !ok {
			t.Errorf("%s: names %q, which is not a property of its object", at, name)
		}
	}
	if len(names) == 0 {
		t.Errorf("%s: names no field; the check is broken", at)
	}
}

// allEnum reports whether node has an enum whose values all satisfy ok.
func allEnum(node map[string]any, ok func(any) bool) bool {
	enum, _ := node["enum"].([]any)
	for _, v := range enum {
		if !ok(v) {
			return false
		}
	}
	return len(enum) > 0
}

// anyOfBranch matches the path of an anyOf branch.
var anyOfBranch = regexp.MustCompile(`/anyOf/[0-9]+$`)

// TestSchemaObjectsClosed checks that every object schema with properties refuses unknown fields,
// as the decoder does. A "not" or anyOf branch is a constraint on fields its object already
// describes (closing it would make it match nothing that has other fields): it stays open, and
// every field it names must be a property of its object.
func TestSchemaObjectsClosed(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	var walk func(v any, at string, parent map[string]any)
	walk = func(v any, at string, parent map[string]any) {
		switch v := v.(type) {
		case map[string]any:
			if strings.HasSuffix(at, "/not") || anyOfBranch.MatchString(at) {
				s.checkConstraint(t, v, at, parent)
			} else if _, ok := v["properties"]; ok && v["additionalProperties"] != false {
				t.Errorf("%s: has properties but not \"additionalProperties\": false", at)
			}
			for k, c := range v {
				walk(c, at+"/"+k, v)
			}
		case []any:
			for i, c := range v {
				walk(c, fmt.Sprintf("%s/%d", at, i), parent)
			}
		}
	}
	walk(s.root, "#", nil)
	if s.root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v, want draft 2020-12", s.root["$schema"])
	}
}

// defaultsSrc writes every optional section that has defaults, with no field in it, so that each
// default can be read from the parsed config.
var defaultsSrc = lines(
	"listeners:",
	"  - {address: ':80'}",
	"  - address: ':443'",
	"    tls: {certificates: [{cert_file: c.pem, key_file: k.pem}], client_auth: {ca_file: ca.pem}, hsts: {}}",
	"routes:",
	"  - {upstream: u}",
	"  - {respond: {}}",
	"  - {redirect: {scheme: https}}",
	"  - {upstream: u, rewrite: {}}",
	"upstreams:",
	"  - name: u",
	"    backends: [{url: 'http://127.0.0.1:9001'}]",
	"    sticky: {}",
	"    health: {active: {}}",
	"  - name: secure",
	"    backends: [https://127.0.0.1]",
	"    tls: {}",
)

// noSchemaDefault lists the fields whose default is not a constant: the schema describes it in
// words and has no "default".
var noSchemaDefault = map[string]bool{
	"listeners[].name": true, // the address
	"routes[].name":    true, // route-N
	// [h1, h2] with tls, [h1] without
	"listeners[].protocols":   true,
	"listeners[].protocols[]": true,
}

// TestSchemaDefaults checks every "default" in the schema against what Default fills in, and that
// every field that gets a non-zero default has one in the schema.
func TestSchemaDefaults(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	c, err := Parse([]byte(defaultsSrc), "defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	s.walkDefaults(t, s.root, reflect.ValueOf(c).Elem(), "", "", c.Lines, seen)
	if len(seen) < 50 {
		t.Fatalf("only %d fields were compared; the walk is broken", len(seen))
	}
}

// walkDefaults compares the value v, at path (with [] for list items) or concrete (with indices),
// with node's default. Fields written in the file are skipped.
func (s *schema) walkDefaults(t *testing.T, node map[string]any, v reflect.Value, path, concrete string, written map[string]int, seen map[string]bool) {
	t.Helper()
	if _, ok := written[concrete]; ok && v.Kind() != reflect.Struct && v.Kind() != reflect.Slice && v.Kind() != reflect.Pointer {
		return
	}
	if def, ok := node["default"]; ok {
		seen[path] = true
		want := reflect.New(v.Type())
		if err := setFromJSON(want, def); err != nil {
			t.Errorf("%s: schema default %v: %v", path, def, err)
		} else if got := v.Interface(); !reflect.DeepEqual(got, want.Elem().Interface()) {
			t.Errorf("%s: schema default is %v, Default sets %v", path, def, reflect.Indirect(v))
		}
		return
	}
	node = s.deref(t, node)
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			s.walkDefaults(t, node, v.Elem(), path, concrete, written, seen)
		}
	case reflect.Struct:
		if v.Type() == backendType {
			for _, b := range node["oneOf"].([]any) {
				if b := s.deref(t, b.(map[string]any)); hasType(b, "object") {
					node = b
				}
			}
		}
		props, _ := node["properties"].(map[string]any)
		names, index := yamlFields(v.Type())
		for _, name := range names {
			p, _ := props[name].(map[string]any)
			if p == nil {
				continue // TestSchemaMatchesTypes reports it
			}
			s.walkDefaults(t, p, v.Field(index[name]), joinPath(path, name), joinPath(concrete, name), written, seen)
		}
	case reflect.Slice:
		items, _ := node["items"].(map[string]any)
		for i := range v.Len() {
			if items != nil {
				s.walkDefaults(t, items, v.Index(i), path+"[]", fmt.Sprintf("%s[%d]", concrete, i), written, seen)
			}
		}
	case reflect.Map:
		// Maps hold what the user wrote; they have no defaults.
	default:
		if !v.IsZero() && !noSchemaDefault[path] {
			t.Errorf("%s: Default sets %v but the schema has no \"default\"", path, v.Interface())
		}
	}
}

// setFromJSON stores the JSON value def in *p, reading strings as the YAML decoder does.
func setFromJSON(p reflect.Value, def any) error {
	if tu, ok := p.Interface().(interface{ UnmarshalText([]byte) error }); ok {
		switch d := def.(type) {
		case string:
			return tu.UnmarshalText([]byte(d))
		case float64:
			return tu.UnmarshalText([]byte(fmt.Sprint(d)))
		}
		return fmt.Errorf("cannot read %T as %s", def, p.Elem().Type())
	}
	b, err := json.Marshal(def)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, p.Interface())
}

// schemaPattern is the regular expression of $defs/name (or of its first anyOf branch).
func schemaPattern(t testing.TB, name string) *regexp.Regexp {
	t.Helper()
	s := loadSchema(t)
	node := s.root["$defs"].(map[string]any)[name].(map[string]any)
	if branches, ok := node["anyOf"].([]any); ok {
		node = branches[0].(map[string]any)
	}
	return regexp.MustCompile(node["pattern"].(string))
}

// TestSchemaPatterns checks the duration, size and percentage patterns against the parsers.
func TestSchemaPatterns(t *testing.T) {
	t.Parallel()
	parsers := map[string]func(string) error{
		"duration": func(s string) error { _, err := ParseDuration(s); return err },
		"size":     func(s string) error { _, err := ParseSize(s); return err },
		"percent":  func(s string) error { _, err := ParsePercent(s); return err },
	}
	tests := []struct {
		def   string
		input string
		valid bool
	}{
		{"duration", "5s", true},
		{"duration", "250ms", true},
		{"duration", "1m30s", true},
		{"duration", "1.5h", true},
		{"duration", ".5s", true},
		{"duration", "10us", true},
		{"duration", "10µs", true},
		{"duration", "3ns", true},
		{"duration", "0", true},
		{"duration", "0s", true},
		{"duration", "+5s", true},
		{"duration", "5", false},
		{"duration", "-5s", false},
		{"duration", "5 s", false},
		{"duration", "5S", false},
		{"duration", "5d", false},
		{"duration", "", false},
		{"duration", ".s", false},
		{"size", "512", true},
		{"size", "16KiB", true},
		{"size", "2 MB", true},
		{"size", "0", true},
		{"size", "1GiB", true},
		{"size", "100B", true},
		{"size", "16kib", false},
		{"size", "16KIB", false},
		{"size", "1.5MiB", false},
		{"size", "-1", false},
		{"size", "512 ", false},
		{"size", "2  MB", false},
		{"size", "MiB", false},
		{"percent", "20%", true},
		{"percent", "20", true},
		{"percent", "0.5%", true},
		{"percent", "100%", true},
		{"percent", "0%", true},
		{"percent", "12.5 %", true},
		{"percent", "150%", false},
		{"percent", "100.1%", false},
		{"percent", "-5%", false},
		{"percent", "%", false},
		{"percent", "twenty", false},
	}
	for _, tt := range tests {
		t.Run(tt.def+"/"+tt.input, func(t *testing.T) {
			t.Parallel()
			re := schemaPattern(t, tt.def)
			if got := re.MatchString(tt.input); got != tt.valid {
				t.Errorf("schema pattern matches %q: %v, want %v", tt.input, got, tt.valid)
			}
			if err := parsers[tt.def](tt.input); (err == nil) != tt.valid {
				t.Errorf("parser on %q: %v, want valid %v", tt.input, err, tt.valid)
			}
		})
	}
}

// fuzzPattern checks that the schema's pattern for def accepts exactly what parse accepts, on
// inputs made only of the runes in alphabet (other inputs the schema may refuse while the parser,
// being more lenient, accepts). overflow reports a parse error that the pattern cannot foresee.
func fuzzPattern(f *testing.F, def, alphabet string, seeds []string, parse func(string) error, overflow func(string, error) bool) {
	for _, s := range seeds {
		f.Add(s)
	}
	re := schemaPattern(f, def)
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range s {
			if !strings.ContainsRune(alphabet, r) {
				return
			}
		}
		err := parse(s)
		matched := re.MatchString(s)
		if err == nil && !matched {
			t.Fatalf("the parser accepts %q but the schema's %s pattern refuses it", s, def)
		}
		if err != nil && matched && !overflow(s, err) {
			t.Fatalf("the schema's %s pattern accepts %q but the parser refuses it: %v", def, s, err)
		}
	})
}

func FuzzSchemaDuration(f *testing.F) {
	fuzzPattern(f, "duration", "0123456789.+nsuµμmh", []string{"5s", "1m30s", "0", ".5ms", "1.h", "+0", "2h45m0.5s", "170000000m", "2562047h"},
		func(s string) error { _, err := ParseDuration(s); return err },
		func(s string, _ error) bool { return durationNanos(s) > 9e18 }) // past about 285 years
}

// durationNanos adds up the components of a duration that the schema's pattern accepts, in
// floating point, to tell a duration too long for time.Duration (about 292 years) from a
// malformed one.
func durationNanos(s string) float64 {
	units := map[string]float64{"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
	total := 0.0
	for _, m := range regexp.MustCompile(`([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)`).FindAllStringSubmatch(s, -1) {
		f, _ := strconv.ParseFloat(m[1], 64)
		total += f * units[m[2]]
	}
	return total
}

func FuzzSchemaSize(f *testing.F) {
	fuzzPattern(f, "size", "0123456789 BKMGi", []string{"512", "16KiB", "2 MB", "1GB", "7B"},
		func(s string) error { _, err := ParseSize(s); return err },
		func(_ string, err error) bool { return strings.Contains(err.Error(), "too large") })
}

func FuzzSchemaPercent(f *testing.F) {
	fuzzPattern(f, "percent", "0123456789. %", []string{"20%", "0.5%", "100", "12.5 %", "007%"},
		func(s string) error { _, err := ParsePercent(s); return err },
		func(string, error) bool { return false })
}

// fullConfig writes every field of the schema at least once; TestSchemaAcceptsEveryField checks
// that it does.
var fullConfig = lines(
	"listeners:",
	"  - {name: public, address: '127.0.0.1:8080', redirect_to_https: true, https_port: 8443}",
	"  - name: secure",
	"    address: '127.0.0.1:8443'",
	"    tls:",
	"      certificates: [{cert_file: /etc/gatehouse/site.pem, key_file: /etc/gatehouse/site.key}]",
	"      min_version: 1.2",
	"      cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256]",
	"      session_tickets: false",
	"      client_auth: {mode: request, ca_file: /etc/gatehouse/clients-ca.pem}",
	"      hsts: {max_age: 720h, include_subdomains: true, preload: true}",
	"      acme: true",
	"    protocols: [h1, h2]",
	"  - {name: cleartext, address: '127.0.0.1:8081', protocols: [h1, h2c]}",
	"acme:",
	"  email: ops@example.com",
	"  directory: https://acme-staging-v02.api.letsencrypt.org/directory",
	"  ca_root: /etc/gatehouse/acme-ca.pem",
	"  storage_dir: /var/lib/gatehouse/acme",
	"  names: [shop.example.com, api.example.com]",
	"  on_demand: {allow: ['*.customers.example.com', shop.example.org]}",
	"  challenges: [http-01, tls-alpn-01]",
	"  renew_before: 720h",
	"  http_port: 8080",
	"  tls_alpn_port: 8443",
	"admin: {address: '127.0.0.1:9090', pprof: true}",
	"server:",
	"  max_request_line: 4KiB",
	"  max_header_bytes: 16 KiB",
	"  max_header_count: 50",
	"  max_connections: 1000",
	"  timeouts: {client_header: 5s, client_body_idle: 10s, client_write_idle: 10s, keepalive_idle: 30s,",
	"    upstream_connect: 1s, upstream_header: 30s, upstream_body_idle: 30s, shutdown_drain: 10s}",
	"  http2: {max_concurrent_streams: 256}",
	"access_log: {output: stderr}",
	"forwarded: {policy: append, trusted_proxies: [10.0.0.0/8]}",
	"routes:",
	"  - name: api",
	"    match:",
	"      hosts: [api.example.com, '*.example.net']",
	"      path_prefix: /api/",
	"      methods: [GET, POST]",
	"      headers: [{name: X-Version, value: '2'}, {name: X-Debug, present: false}, {name: User-Agent, regex: curl}]",
	"      query: [{name: beta, regex: '^(1|true)$'}, {name: lang, value: en}, {name: debug, present: false}]",
	"      client_cidrs: [10.0.0.0/8]",
	"    upstream: api",
	"    rewrite: {normalized_path: true, regex: '^/api/v([0-9]+)/', replacement: '/v$1/', strip_prefix: /api, add_prefix: /svc}",
	"    upstream_host: backend",
	"    max_body_size: 10MiB",
	"    require_client_cert: true",
	"    request_headers: {set: {X-Env: prod}, add: {Via: gatehouse}, remove: [X-Debug]}",
	"    response_headers: {set: {X-Frame-Options: DENY}, add: {Vary: Origin}, remove: [Server]}",
	"  - name: exact",
	"    match: {path: /ping}",
	"    respond: {status: 204, body: '', headers: {Cache-Control: no-store}}",
	"  - name: regex",
	"    match: {path_regex: '^/old/'}",
	"    redirect: {status: 308, scheme: https, host: www.example.com, port: 8443, path: /new, strip_query: true}",
	"upstreams:",
	"  - name: api",
	"    backends:",
	"      - http://127.0.0.1:9001",
	"      - {url: 'http://127.0.0.1:9002', weight: 3, backup: true}",
	"    balance: consistent_hash",
	"    hash: {key: header, name: X-User, algorithm: ring, load_factor: 1.5}",
	"    sticky: {cookie: gh, secret: 0123456789abcdef0123, max_age: 1h}",
	"    slow_start: 30s",
	"    max_idle_per_backend: 64",
	"    idle_timeout: 90s",
	"    limits: {max_connections: 100, queue_size: 50, queue_timeout: 500ms}",
	"    health:",
	"      active: {type: http, method: HEAD, path: /healthz, host: api.internal, status: 200-299, body: '',",
	"        interval: 10s, timeout: 1s, rise: 1, fall: 2}",
	"      passive: {consecutive_5xx: 3, consecutive_failures: 2, base_ejection: 5s, max_ejection: 1m, max_ejected_percent: 30}",
	"    retry: {attempts: 3, on_status: [502, 503], per_try_timeout: 2s, budget: 10%, min_per_second: 5}",
	"    resolve: {interval: 10s, resolver: '10.0.0.2:53', family: ip4}",
	"  - name: secure",
	"    backends: [https://api.internal, 'https://10.0.0.5:8443']",
	"    tls: {ca_file: /etc/gatehouse/backends-ca.pem, server_name: api.internal, cert_file: /etc/gatehouse/client.pem,",
	"      key_file: /etc/gatehouse/client.key, insecure_skip_verify: false}",
	"  - name: grpc",
	"    backends: [http://127.0.0.1:50051]",
	"    protocol: h2",
	"    health:",
	"      active: {type: grpc, grpc_service: helloworld.Greeter}",
)

// schemaPaths lists every field path of t, with [] for list items: "routes[].match.hosts".
func schemaPaths(t reflect.Type, path string, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
			path += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	names, index := yamlFields(t)
	for _, name := range names {
		p := joinPath(path, name)
		out[p] = true
		schemaPaths(t.Field(index[name]).Type, p, out)
	}
}

// TestSchemaAcceptsEveryField checks that fullConfig is valid, writes every field, and that the
// schema accepts it.
func TestSchemaAcceptsEveryField(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	c, err := Parse([]byte(fullConfig), "full.yaml")
	if err != nil {
		t.Fatalf("fullConfig is not valid:\n%v", err)
	}
	all := map[string]bool{}
	schemaPaths(reflect.TypeFor[Config](), "", all)
	index := regexp.MustCompile(`\[[0-9]+\]`)
	for p := range c.Lines {
		p = index.ReplaceAllString(p, "[]")
		delete(all, strings.TrimSuffix(p, "[]"))
		delete(all, p)
	}
	for p := range all {
		t.Errorf("fullConfig does not write %s", p)
	}
	if errs := s.validate(t, s.root, yamlToJSON(t, []byte(fullConfig)), "$"); errs != nil {
		t.Errorf("the schema refuses fullConfig:\n%s", strings.Join(errs, "\n"))
	}
}

// TestSchemaRefuses checks that the schema refuses configs that Parse refuses, for the mistakes
// an editor can catch.
func TestSchemaRefuses(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	tests := []struct {
		name    string
		src     string
		wantErr string
	}{
		{name: "unknown field", src: routeCfg("    upstrem: u"), wantErr: `$.routes[0]: unknown field "upstrem"`},
		{name: "no listeners", src: lines("routes: [{respond: {}}]"), wantErr: "$: listeners is required"},
		{name: "bad duration", src: serverCfg("server: {timeouts: {client_header: 10}}"), wantErr: "$.server.timeouts.client_header: matches none of the anyOf"},
		{name: "negative duration", src: serverCfg("server: {timeouts: {client_header: -1s}}"), wantErr: "$.server.timeouts.client_header"},
		{name: "bad size unit", src: serverCfg("server: {max_header_bytes: 16kb}"), wantErr: `$.server.max_header_bytes: "16kb" does not match`},
		{name: "unknown balance", src: upstreamCfg("    backends: [http://a]", "    balance: fastest"), wantErr: "$.upstreams[0].balance: fastest is not one of"},
		{name: "two actions", src: routeCfg("    respond: {}"), wantErr: "$.routes[0]: matches 2 of the oneOf branches"},
		{name: "no action", src: routeCfg("  - name: x"), wantErr: "$.routes[1]: matches 0 of the oneOf branches"},
		{name: "path and prefix", src: routeCfg("    match: {path: /a, path_prefix: /b}"), wantErr: "$.routes[0].match: matches a combination that is not allowed"},
		{name: "value and regex", src: routeCfg("    match: {headers: [{name: X, value: a, regex: b}]}"), wantErr: "$.routes[0].match.headers[0]: matches a combination"},
		{name: "backend mapping without url", src: upstreamCfg("    backends: [{weight: 2}]"), wantErr: "$.upstreams[0].backends[0]: matches 0 of the oneOf"},
		{name: "backend with path", src: upstreamCfg("    backends: ['http://a/x']"), wantErr: "$.upstreams[0].backends[0]: matches 0 of the oneOf"},
		{name: "weight too large", src: upstreamCfg("    backends: [{url: 'http://a', weight: 1001}]"), wantErr: "$.upstreams[0].backends[0]: matches 0 of the oneOf"},
		{name: "budget over 100", src: upstreamCfg("    backends: [http://a]", "    retry: {budget: 150%}"), wantErr: `$.upstreams[0].retry.budget: "150%" does not match`},
		{name: "retry 4xx", src: upstreamCfg("    backends: [http://a]", "    retry: {on_status: [404]}"), wantErr: "$.upstreams[0].retry.on_status[0]: 404 is less than 500"},
		{name: "percent sign on max_ejected_percent", src: upstreamCfg("    backends: [http://a]", "    health: {passive: {max_ejected_percent: 50%}}"),
			wantErr: "$.upstreams[0].health.passive.max_ejected_percent: 50% is not of type integer"},
		{name: "redirect status", src: serverCfg("  - redirect: {status: 200}"), wantErr: "$.routes[1].redirect.status: 200 is not one of"},
		{name: "short secret", src: upstreamCfg("    backends: [http://a]", "    sticky: {secret: abc}"), wantErr: `$.upstreams[0].sticky.secret: "abc" is shorter than 16`},
		{name: "header name", src: routeCfg("    request_headers: {set: {'X A': b}}"), wantErr: `$.routes[0].request_headers.set.X A(name): "X A" does not match`},
		{name: "load factor", src: upstreamCfg("    backends: [http://a]", "    balance: consistent_hash", "    hash: {load_factor: 0.5}"),
			wantErr: "$.upstreams[0].hash.load_factor: matches none of the anyOf"},
		{name: "backend scheme", src: upstreamCfg("    backends: ['ftp://a']"), wantErr: "$.upstreams[0].backends[0]: matches 0 of the oneOf"},
		{name: "tls without certificates", src: listenerCfg("    tls: {min_version: '1.3'}"), wantErr: "$.listeners[0].tls: matches none of the anyOf"},
		{name: "tls with no certificate", src: listenerCfg("    tls: {certificates: []}"), wantErr: "$.listeners[0].tls: matches none of the anyOf"},
		{name: "certificate without key", src: listenerCfg("    tls: {certificates: [{cert_file: c.pem}]}"),
			wantErr: "$.listeners[0].tls.certificates[0]: key_file is required"},
		{name: "min_version 1.1", src: tlsCfg("      min_version: 1.1"), wantErr: "$.listeners[0].tls.min_version: 1.1 is not one of"},
		{name: "min_version TLS1.2", src: tlsCfg("      min_version: TLS1.2"), wantErr: "$.listeners[0].tls.min_version: TLS1.2 is not one of"},
		{name: "TLS 1.3 cipher suite", src: tlsCfg("      cipher_suites: [TLS_AES_128_GCM_SHA256]"),
			wantErr: "$.listeners[0].tls.cipher_suites[0]: TLS_AES_128_GCM_SHA256 is not one of"},
		{name: "insecure cipher suite", src: tlsCfg("      cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256]"),
			wantErr: "$.listeners[0].tls.cipher_suites[0]: TLS_RSA_WITH_AES_128_GCM_SHA256 is not one of"},
		{name: "cipher suites with TLS 1.3 only", src: tlsCfg("      min_version: 1.3", "      cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]"),
			wantErr: "$.listeners[0].tls: matches a combination that is not allowed"},
		{name: "session_tickets as a word", src: tlsCfg("      session_tickets: off"), wantErr: "$.listeners[0].tls.session_tickets: off is not of type boolean"},
		{name: "client_auth mode", src: tlsCfg("      client_auth: {mode: optional, ca_file: ca.pem}"),
			wantErr: "$.listeners[0].tls.client_auth.mode: optional is not one of"},
		{name: "client_auth without ca_file", src: tlsCfg("      client_auth: {mode: require}"),
			wantErr: "$.listeners[0].tls.client_auth: ca_file is required"},
		{name: "hsts max_age in seconds", src: tlsCfg("      hsts: {max_age: 31536000}"),
			wantErr: "$.listeners[0].tls.hsts.max_age: matches none of the anyOf"},
		{name: "redirect on a TLS listener", src: tlsCfg("    redirect_to_https: true"),
			wantErr: "$.listeners[0]: matches a combination that is not allowed"},
		{name: "https_port without redirect", src: listenerCfg("    https_port: 8443"), wantErr: "$.listeners[0]: redirect_to_https is required with https_port"},
		{name: "https_port out of range", src: listenerCfg("    redirect_to_https: true", "    https_port: 70000"),
			wantErr: "$.listeners[0].https_port: 70000 is more than 65535"},
		{name: "require_client_cert as a word", src: routeCfg("    require_client_cert: yes"), wantErr: "$.routes[0].require_client_cert: yes is not of type boolean"},
		{name: "upstream cert without key", src: upstreamCfg("    backends: [https://a]", "    tls: {cert_file: c.pem}"),
			wantErr: "$.upstreams[0].tls: key_file is required with cert_file"},
		{name: "upstream key without cert", src: upstreamCfg("    backends: [https://a]", "    tls: {key_file: k.pem}"),
			wantErr: "$.upstreams[0].tls: cert_file is required with key_file"},
		{name: "upstream tls field misspelt", src: upstreamCfg("    backends: [https://a]", "    tls: {verify: false}"),
			wantErr: `$.upstreams[0].tls: unknown field "verify"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
