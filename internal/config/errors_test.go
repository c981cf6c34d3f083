package config

import (
	"errors"
	"strings"
	"testing"
)

// parseErrs parses src as "test.yaml" and returns its errors, failing when Parse does not return
// Errors.
func parseErrs(t *testing.T, src string) Errors {
	t.Helper()
	c, err := Parse([]byte(src), "test.yaml")
	if err == nil {
		return nil
	}
	if c != nil {
		t.Errorf("Parse returned a config along with an error")
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse returned %T, want Errors: %v", err, err)
	}
	return errs
}

// lines joins lines with newlines, so that a test can see which line is which.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestErrorRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{name: "full", err: Error{File: "file.yaml", Line: 7, Path: "routes[1].upstream", Msg: "upstream \"x\" is not defined"},
			want: `file.yaml:7: routes[1].upstream: upstream "x" is not defined`},
		{name: "no line", err: Error{File: "file.yaml", Path: "listeners", Msg: "at least one"},
			want: "file.yaml: listeners: at least one"},
		{name: "no path", err: Error{File: "file.yaml", Line: 3, Msg: "invalid YAML"},
			want: "file.yaml:3: invalid YAML"},
		{name: "file only", err: Error{File: "<embedded default>", Msg: "the config is empty"},
			want: "<embedded default>: the config is empty"},
		{name: "no file", err: Error{Path: "routes", Msg: "bad"}, want: "routes: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorsRenderFromParse(t *testing.T) {
	t.Parallel()
	src := lines(
		"listeners:", //  1
		"  - address: 127.0.0.1:8080",
		"routes:",
		"  - respond: {}",
		"  - name: api", // 5
		"    match: {path_prefix: /api/}",
		"    upstream: apii", // 7
		"upstreams:",
		"  - name: api",
		"    backends: [http://127.0.0.1:9000]",
	)
	_, err := Parse([]byte(src), "file.yaml")
	want := `file.yaml:7: routes[1].upstream: upstream "apii" is not defined; did you mean "api"? defined upstreams: api`
	if err == nil || err.Error() != want {
		t.Fatalf("Parse error:\n%v\nwant:\n%s", err, want)
	}
}

func TestErrorsSortedOnePerLine(t *testing.T) {
	t.Parallel()
	errs := Errors{
		{File: "f", Line: 9, Path: "b", Msg: "third"},
		{File: "f", Line: 2, Path: "z", Msg: "second"},
		{File: "f", Line: 2, Path: "a", Msg: "first"},
	}
	want := "f:2: a: first\nf:2: z: second\nf:9: b: third"
	if got := errs.Error(); got != want {
		t.Fatalf("Error() =\n%s\nwant\n%s", got, want)
	}
	if errs[0].Msg != "third" {
		t.Fatal("Error() reordered the receiver")
	}
}

func TestEmbeddedFileName(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("listeners: []\n"), "")
	if err == nil || !strings.HasPrefix(err.Error(), "<embedded default>:") {
		t.Fatalf("error = %v, want it to start with <embedded default>:", err)
	}
}

func TestLineOf(t *testing.T) {
	t.Parallel()
	ls := map[string]int{"routes": 3, "routes[2]": 10, "routes[2].respond": 12}
	tests := []struct {
		name string
		path string
		want int
	}{
		{name: "exact", path: "routes[2].respond", want: 12},
		{name: "parent field", path: "routes[2].respond.status", want: 12},
		{name: "parent item", path: "routes[2].upstream", want: 10},
		{name: "parent list", path: "routes[5].name", want: 3},
		{name: "header key with dots", path: "routes[2].respond.headers.X.Y", want: 12},
		{name: "nothing", path: "upstreams[0].name", want: 0},
		{name: "root", path: "", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := lineOf(ls, tt.path); got != tt.want {
				t.Fatalf("lineOf(%q) = %d, want %d", tt.path, got, tt.want)
			}
		})
	}
}

func TestClosest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		s          string
		candidates []string
		want       string
	}{
		{name: "one typo", s: "adress", candidates: []string{"name", "address"}, want: "address"},
		{name: "swap", s: "upsteram", candidates: []string{"upstream", "respond"}, want: "upstream"},
		{name: "case", s: "Demo", candidates: []string{"demo"}, want: "demo"},
		{name: "too far", s: "foo", candidates: []string{"name", "address"}, want: ""},
		{name: "none", s: "foo", candidates: nil, want: ""},
		{name: "first of ties", s: "ab", candidates: []string{"aa", "bb"}, want: "aa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := closest(tt.s, tt.candidates); got != tt.want {
				t.Fatalf("closest(%q) = %q, want %q", tt.s, got, tt.want)
			}
		})
	}
}
