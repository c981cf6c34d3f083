package config

import (
	"strings"
	"testing"
)

// minimal is a small valid config; tests append to it or build on its lines.
var minimalLines = []string{
	"listeners:", // 1
	"  - address: 127.0.0.1:8080",
	"routes:",
	"  - respond: {}",
}

func TestDecodeLines(t *testing.T) {
	t.Parallel()
	src := lines(
		"listeners:", // 1
		"  - name: public",
		"    address: 127.0.0.1:8080",
		"routes:",
		"  - upstream: a", // 5
		"    request_headers:",
		"      set:",
		"        X-Foo: bar",
		"  - upstream: b",
		"  - respond:", // 10
		"      body: hi",
		"      status: 201",
		"upstreams:",
		"  - name: a",
		"    backends: [http://127.0.0.1:9000]", // 15
		"  - name: b",
		"    backends:",
		"      - http://127.0.0.1:9001",
		"      - http://127.0.0.1:9002",
	)
	c, err := Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"listeners":                           1,
		"listeners[0]":                        2,
		"listeners[0].name":                   2,
		"listeners[0].address":                3,
		"routes[0].upstream":                  5,
		"routes[0].request_headers":           6,
		"routes[0].request_headers.set":       7,
		"routes[0].request_headers.set.X-Foo": 8,
		"routes[1]":                           9,
		"routes[2].respond":                   10,
		"routes[2].respond.status":            12,
		"upstreams[0].backends[0]":            15,
		"upstreams[1].backends":               17,
		"upstreams[1].backends[0]":            18,
		"upstreams[1].backends[1]":            19,
	}
	for path, line := range want {
		if got, ok := c.Lines[path]; !ok || got != line {
			t.Errorf("Lines[%q] = %d, %v; want %d", path, got, ok, line)
		}
	}
	if _, ok := c.Lines["server"]; ok {
		t.Errorf("Lines has server, which is not in the file")
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		src      string
		wantLine int
		wantPath string
		wantMsg  string
	}{
		{name: "empty file", src: "", wantMsg: "the config is empty: it needs at least listeners and routes"},
		{name: "only comments", src: "# nothing\n\n  # here\n", wantMsg: "the config is empty: it needs at least listeners and routes"},
		{name: "only separator", src: "---\n", wantMsg: "the config is empty"},
		{name: "null document", src: "~\n", wantMsg: "the config is empty"},
		{name: "top level list", src: "- a\n- b\n", wantLine: 1, wantMsg: "the config must be a mapping of sections"},
		{name: "top level scalar", src: "hello\n", wantLine: 1, wantMsg: "the config must be a mapping of sections"},
		{name: "unknown top-level field", src: lines("listners:", "  - address: :80"), wantLine: 1, wantPath: "listners",
			wantMsg: `unknown field "listners"; did you mean "listeners"? valid fields here: listeners, server, admin, access_log, acme, forwarded, routes, upstreams`},
		{name: "unknown field with suggestion", src: lines(append(minimalLines, "    upstrem: x")...), wantLine: 5, wantPath: "routes[0].upstrem",
			wantMsg: `unknown field "upstrem"; did you mean "upstream"? valid fields here: name, match, upstream, respond,`},
		{name: "unknown field without suggestion", src: lines(append(minimalLines, "    weight: 3")...), wantLine: 5, wantPath: "routes[0].weight",
			wantMsg: `unknown field "weight"; valid fields here: name, match, upstream, respond, redirect, rewrite, upstream_host, max_body_size, require_client_cert, request_headers, response_headers`},
		{name: "unknown nested field", src: lines(append(minimalLines, "server:", "  timeouts:", "    client_headers: 5s")...), wantLine: 7,
			wantPath: "server.timeouts.client_headers", wantMsg: `did you mean "client_header"?`},
		{name: "list for mapping", src: lines(append(minimalLines, "server: [1, 2]")...), wantLine: 5, wantPath: "server",
			wantMsg: "expected a mapping with the fields max_request_line, max_header_bytes, max_header_count, max_connections, timeouts, http2, found a list"},
		{name: "mapping for list", src: lines("listeners:", "  address: :80", "routes:", "  - respond: {}"), wantLine: 2, wantPath: "listeners",
			wantMsg: "expected a list, found a mapping"},
		{name: "scalar for string list", src: lines(append(minimalLines, "    match: {hosts: example.com}")...), wantLine: 5, wantPath: "routes[0].match.hosts",
			wantMsg: `expected a list, found the value "example.com"; write [example.com] or put each item on its own "- item" line`},
		{name: "scalar for struct", src: lines(minimalLines[0], minimalLines[1], "routes:", "  - respond: hello"), wantLine: 4, wantPath: "routes[0].respond",
			wantMsg: `expected a mapping with the fields status, body, headers, found the value "hello"`},
		{name: "list for string", src: lines(append(minimalLines, "    name: [a, b]")...), wantLine: 5, wantPath: "routes[0].name",
			wantMsg: "expected a string, found a list"},
		{name: "list for header map", src: lines(append(minimalLines, "    response_headers: {set: [X-A]}")...), wantLine: 5, wantPath: "routes[0].response_headers.set",
			wantMsg: "expected a mapping (Name: value lines), found a list"},
		{name: "mapping for header value", src: lines(append(minimalLines, "    response_headers: {set: {X-A: {b: c}}}")...), wantLine: 5,
			wantPath: "routes[0].response_headers.set.X-A", wantMsg: "expected a string, found a mapping"},
		{name: "bad duration", src: lines(append(minimalLines, "server:", "  timeouts:", "    client_header: fast")...), wantLine: 7,
			wantPath: "server.timeouts.client_header", wantMsg: `invalid duration "fast": write a Go duration such as 5s, 250ms or 1m30s`},
		{name: "negative duration", src: lines(append(minimalLines, "upstreams: [{name: u, backends: [http://a], idle_timeout: -5s}]")...), wantLine: 5,
			wantPath: "upstreams[0].idle_timeout", wantMsg: `invalid duration "-5s": it must not be negative`},
		{name: "bad size", src: lines(append(minimalLines, "    max_body_size: 10 XB")...), wantLine: 5,
			wantPath: "routes[0].max_body_size", wantMsg: `invalid size "10 XB": write a whole number of bytes or a whole number with a unit`},
		{name: "bad number", src: lines(append(minimalLines, "server: {max_connections: many}")...), wantLine: 5,
			wantPath: "server.max_connections", wantMsg: `invalid number "many": write a whole number such as 100`},
		{name: "float number", src: lines(minimalLines[0], minimalLines[1], "routes:", "  - respond: {status: 200.5}"), wantLine: 4,
			wantPath: "routes[0].respond.status", wantMsg: `invalid number "200.5"`},
		{name: "number overflow", src: lines(append(minimalLines, "server: {max_connections: 99999999999999999999}")...), wantLine: 5,
			wantPath: "server.max_connections", wantMsg: `invalid number "99999999999999999999"`},
		{name: "duplicate field", src: lines("listeners:", "  - address: :80", "    address: :81", "routes:", "  - respond: {}"), wantLine: 3,
			wantPath: "listeners[0].address", wantMsg: `duplicate key "address" (first written on line 2); remove one of them`},
		{name: "duplicate section", src: lines(append(minimalLines, "routes: []")...), wantLine: 5,
			wantPath: "routes", wantMsg: `duplicate key "routes" (first written on line 3)`},
		{name: "duplicate header", src: lines(append(minimalLines, "    response_headers:", "      set:", "        X-A: 1", "        X-A: 2")...), wantLine: 8,
			wantPath: "routes[0].response_headers.set.X-A", wantMsg: `duplicate key "X-A" (first written on line 7)`},
		{name: "merge key", src: lines(append(minimalLines, "    <<: {name: x}")...), wantLine: 5, wantPath: "routes[0]",
			wantMsg: "merge keys (<<: *name) are not supported; write the fields out"},
		{name: "syntax error", src: lines("listeners:", "  - address: :80", "routes: [", "  - respond: {}"), wantLine: 3,
			wantMsg: "invalid YAML: did not find expected node content; check the indentation and quoting"},
		{name: "syntax error on line 1", src: "listeners: a: b\n", wantLine: 1, wantMsg: "invalid YAML: mapping values are not allowed in this context"},
		{name: "tab indentation", src: "listeners:\n\t- address: :80\n", wantLine: 2, wantMsg: "YAML does not allow tabs for indentation, use spaces"},
		{name: "control character", src: "listeners:\n  - address: \x01\n", wantLine: 2, wantMsg: "control characters are not allowed; the file must be UTF-8 text"},
		{name: "invalid utf-8", src: "routes: []\nlisteners: \xff\n", wantLine: 2, wantMsg: "the file must be UTF-8 text"},
		{name: "unknown anchor", src: lines(minimalLines[0], minimalLines[1], "routes: *r"), wantLine: 3, wantMsg: "define it with &name before using *name"},
		{name: "two documents", src: lines(append(minimalLines, "---", "listeners: []")...), wantLine: 6,
			wantMsg: "the config has more than one YAML document (separated by ---); put everything in one document"},
		{name: "self-referencing alias", src: lines(minimalLines[0], minimalLines[1], "routes: &r [*r]"), wantLine: 3, wantPath: "routes[0]",
			wantMsg: "expected a mapping with the fields name, match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := parseErrs(t, tt.src)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), errs)
			}
			e := errs[0]
			if e.File != "test.yaml" || e.Line != tt.wantLine || e.Path != tt.wantPath || !strings.Contains(e.Msg, tt.wantMsg) {
				t.Fatalf("got  %s (line %d, path %q)\nwant line %d, path %q, message containing %q", e, e.Line, e.Path, tt.wantLine, tt.wantPath, tt.wantMsg)
			}
		})
	}
}

func TestDecodeAliases(t *testing.T) {
	t.Parallel()
	src := lines(
		"listeners:",
		"  - address: 127.0.0.1:8080",
		"backends: &pool",
		"  - http://127.0.0.1:9000",
	)
	// An unknown top-level key is reported, so anchors must live inside known fields.
	if errs := parseErrs(t, src); len(errs) != 1 || !strings.Contains(errs[0].Msg, `unknown field "backends"`) {
		t.Fatalf("errors: %v", errs)
	}
	src = lines(
		"listeners:",
		"  - address: 127.0.0.1:8080",
		"upstreams:",
		"  - name: a",
		"    backends: &pool",
		"      - http://127.0.0.1:9000",
		"  - name: b",
		"    backends: *pool",
		"routes:",
		"  - upstream: a",
		"  - upstream: b",
		"    match: {path_prefix: /b/}",
	)
	c, err := Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Upstream("b").Backends; len(got) != 1 || got[0].URL != "http://127.0.0.1:9000" {
		t.Fatalf("upstream b backends = %v", got)
	}
}

func TestDecodeAliasBomb(t *testing.T) {
	t.Parallel()
	// 1000 routes, each an alias to a route whose headers are an alias to 1100 headers: over a
	// million values once expanded, from a file of about 20KB.
	var b strings.Builder
	b.WriteString("listeners: [{address: ':80'}]\nupstreams:\n  - name: u\n    backends: [http://a]\n    max_idle_per_backend: &h {")
	for i := range 1100 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("H")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(string(rune('a' + i/26%26)))
		b.WriteString(string(rune('a' + i/676)))
		b.WriteString(": v")
	}
	b.WriteString("}\nroutes:\n  - &r {respond: {headers: *h}}\n")
	for range 1000 {
		b.WriteString("  - *r\n")
	}
	errs := parseErrs(t, b.String())
	if !strings.Contains(errs.Error(), "the config expands to too many values through aliases (*name)") {
		t.Fatalf("errors do not mention the alias expansion:\n%.2000s", errs.Error())
	}
}

func TestMultipleErrorsReportedTogether(t *testing.T) {
	t.Parallel()
	src := lines(
		"listeners:", // 1
		"  - adress: 127.0.0.1:8080",
		"  - address: 127.0.0.1:99999",
		"server:",
		"  timeouts: {client_header: soon}", // 5
		"routes:",
		"  - upstream: nope",
		"  - name: x",
		"    respond: {status: 700}",
		"upstreams:", // 10
		"  - name: u",
		"    backends: [ftp://127.0.0.1]",
	)
	errs := parseErrs(t, src)
	want := []struct {
		line int
		msg  string
	}{
		{2, `unknown field "adress"`},
		{3, "port 99999 is out of range"},
		{5, `invalid duration "soon"`},
		{7, `upstream "nope" is not defined`},
		{9, "status 700 is not allowed"},
		{12, `scheme "ftp" is not supported; use http:// or https://`},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if errs[i].Line != w.line || !strings.Contains(errs[i].Msg, w.msg) {
			t.Errorf("error %d = %s; want line %d and %q", i, errs[i], w.line, w.msg)
		}
	}
}

func TestFollowOnProblemsLeftOut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{name: "misspelt upstream", src: routeCfg("  - upstrem: u"),
			want: []string{`test.yaml:9: routes[1].upstrem: unknown field "upstrem"; did you mean "upstream"?`}},
		{name: "misspelt address", src: lines("listeners:", "  - adress: ':80'", "routes: [{respond: {}}]"),
			want: []string{`test.yaml:2: listeners[0].adress: unknown field "adress"; did you mean "address"?`}},
		{name: "bad size", src: routeCfg("    max_body_size: lots"),
			want: []string{`test.yaml:9: routes[0].max_body_size: invalid size "lots"`}},
		{name: "bad timeout keeps its neighbours", src: serverCfg("server:", "  timeouts: {client_header: soon, shutdown_drain: 0s}"),
			want: []string{`test.yaml:6: server.timeouts.client_header: invalid duration "soon"`,
				`test.yaml:6: server.timeouts.shutdown_drain: shutdown_drain must be greater than 0`}},
		{name: "wrong kind keeps its neighbours", src: routeCfg("    match: {hosts: a.example, path_prefix: api}"),
			want: []string{`test.yaml:9: routes[0].match.hosts: expected a list`,
				`test.yaml:9: routes[0].match.path_prefix: path_prefix "api" must start with "/"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := parseErrs(t, tt.src)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tt.want), errs)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("error %d = %s\nwant prefix %s", i, errs[i], w)
				}
			}
		})
	}
}
