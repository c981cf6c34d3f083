package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// examplesDir holds the example configs that docs/configuration.md points to.
const examplesDir = "../../examples"

// exampleChecks says, for each example that must exist, what it has to show; the check returns
// "" when the config shows it, else what is missing.
var exampleChecks = map[string]func(c *Config) string{
	"one-site.yaml": func(c *Config) string {
		if len(c.Upstreams) != 1 || len(c.Upstreams[0].Backends) != 2 {
			return "one upstream of two backends"
		}
		if a := c.Upstreams[0].Health.Active; a == nil || a.Type != "http" {
			return "an active HTTP health check"
		}
		return ""
	},
	"microservices.yaml": func(c *Config) string {
		var strip, regex, httpsRedirect, headerCanary bool
		for _, r := range c.Routes {
			strip = strip || r.Rewrite != nil && r.Rewrite.StripPrefix != "" && r.Match.PathPrefix != "/"
			regex = regex || r.Match.PathRegex != "" && r.Upstream != ""
			httpsRedirect = httpsRedirect || r.Redirect != nil && r.Redirect.Scheme == "https" && len(r.Match.Hosts) > 0
			headerCanary = headerCanary || len(r.Match.Headers) > 0 && r.Upstream != ""
		}
		switch {
		case len(c.Upstreams) < 3:
			return "several services"
		case !strip:
			return "a path_prefix route with strip_prefix"
		case !regex:
			return "a path_regex route"
		case !httpsRedirect:
			return "a redirect to https for a host"
		case !headerCanary:
			return "a header-based canary route"
		}
		return ""
	},
	"blue-green.yaml": func(c *Config) string {
		if c.Upstream("blue") == nil || c.Upstream("green") == nil {
			return "upstreams blue and green"
		}
		for _, r := range c.Routes {
			if r.Name == "app" && r.Upstream == "blue" && len(r.Match.Headers) == 0 {
				return ""
			}
		}
		return `a route "app" to upstream blue`
	},
	"canary.yaml": func(c *Config) string {
		app := c.Upstream("app")
		if app == nil || app.Balance != "weighted_round_robin" || len(app.Backends) != 2 ||
			app.Backends[0].Weight != 95 || app.Backends[1].Weight != 5 {
			return "upstream app with weights 95 and 5 under weighted_round_robin"
		}
		for _, r := range c.Routes {
			if len(r.Match.Headers) != 1 || r.Match.Headers[0].Name != "X-Canary" || r.Match.Headers[0].Value != "always" {
				continue
			}
			if u := c.Upstream(r.Upstream); u != nil && len(u.Backends) == 1 && u.Backends[0].URL == app.Backends[1].URL {
				return ""
			}
		}
		return "a route sending X-Canary: always to a pool of the canary backend"
	},
	"sticky.yaml": func(c *Config) string {
		for _, u := range c.Upstreams {
			if u.Sticky != nil && u.Sticky.Cookie != "" && u.SlowStart > 0 {
				return ""
			}
		}
		return "an upstream with sticky sessions and slow_start"
	},
}

// TestExamples loads every example with Load: each must be valid, start with a comment that
// says how to run it, use the documented addresses, be accepted by the JSON schema, and show
// what its name promises.
func TestExamples(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range files {
		found[filepath.Base(f)] = true
	}
	for name := range exampleChecks {
		if !found[name] {
			t.Errorf("examples/%s is missing", name)
		}
	}
	if len(files) < len(exampleChecks) {
		t.Fatalf("found %d examples, want at least %d", len(files), len(exampleChecks))
	}
	s := loadSchema(t)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(f)
			if err != nil {
				t.Fatalf("examples/%s does not load:\n%v", name, err)
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(src, []byte("# "+name+": ")) {
				t.Errorf("the first line should be a comment \"# %s: what it shows\"", name)
			}
			if !bytes.Contains(src, []byte("gatehouse run -config examples/"+name)) {
				t.Errorf("the comments should say how to run it: gatehouse run -config examples/%s", name)
			}
			if !bytes.Contains(src, []byte("yaml-language-server: $schema=../docs/gatehouse.schema.json")) {
				t.Errorf("the file should name the schema for editors")
			}
			if errs := s.validate(t, s.root, yamlToJSON(t, src), "$"); errs != nil {
				t.Errorf("the schema refuses it:\n%s", strings.Join(errs, "\n"))
			}
			for _, l := range c.Listeners {
				if l.Address != "127.0.0.1:8080" {
					t.Errorf("listener on %s, want 127.0.0.1:8080", l.Address)
				}
			}
			if c.Admin.Address != "127.0.0.1:9090" {
				t.Errorf("admin on %s, want 127.0.0.1:9090", c.Admin.Address)
			}
			for _, u := range c.Upstreams {
				for _, a := range u.BackendAddrs() {
					if !strings.HasPrefix(a, "127.0.0.1:900") || len(a) != len("127.0.0.1:9001") {
						t.Errorf("upstream %s: backend %s, want 127.0.0.1:900x", u.Name, a)
					}
				}
			}
			if check := exampleChecks[name]; check != nil {
				if missing := check(c); missing != "" {
					t.Errorf("it should show %s", missing)
				}
			}
		})
	}
}

// TestBlueGreenSwitch follows the switch that blue-green.yaml describes: the config stays valid
// with green live.
func TestBlueGreenSwitch(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join(examplesDir, "blue-green.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	live := regexp.MustCompile(`(?m)^( +upstream:) blue\b`)
	if n := len(live.FindAll(src, -1)); n != 1 {
		t.Fatalf("blue-green.yaml has %d lines \"upstream: blue\" to edit, want 1", n)
	}
	switched := live.ReplaceAll(src, []byte("$1 green"))
	c, err := Parse(switched, "blue-green.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Routes[0].Name != "app" || c.Routes[0].Upstream != "green" {
		t.Fatalf("after the edit, routes[0] = %s -> %s; want app -> green", c.Routes[0].Name, c.Routes[0].Upstream)
	}
}

// TestSchemaAcceptsDefault checks the embedded default config against the schema.
func TestSchemaAcceptsDefault(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	if errs := s.validate(t, s.root, yamlToJSON(t, defaultYAML), "$"); errs != nil {
		t.Errorf("the schema refuses default.yaml:\n%s", strings.Join(errs, "\n"))
	}
}

// TestDefaultYAMLCommentsNameFields checks that the settings default.yaml shows in comments
// ("# max_body_size: 100MiB") are fields that exist, so that the commented examples cannot
// drift from the schema.
func TestDefaultYAMLCommentsNameFields(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	all := map[string]bool{}
	schemaPaths(reflect.TypeFor[Config](), "", all)
	for p := range all {
		known[p[strings.LastIndexAny(p, ".]")+1:]] = true
	}
	commented := regexp.MustCompile(`^\s*#\s+(?:- )?([a-z0-9_]+):(?:\s|$)`)
	n := 0
	for i, line := range strings.Split(string(defaultYAML), "\n") {
		m := commented.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		if !known[m[1]] {
			t.Errorf("default.yaml:%d: %q is not a config field", i+1, m[1])
		}
	}
	if n < 20 {
		t.Fatalf("found only %d commented settings in default.yaml; the pattern is broken", n)
	}
}
