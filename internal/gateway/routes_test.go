package gateway

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// checkSrc is a valid config whose fields the tests below break after parsing, where validation
// no longer looks: only compiling the routes finds what is wrong. Line numbers matter.
const checkSrc = `listeners: [{address: 127.0.0.1:8080}]
routes:
  - name: r0
    match:
      path_regex: "^/ok$"
      headers: [{name: X-A, regex: "^a$"}]
      client_cidrs: [10.0.0.0/8]
    upstream: u
    rewrite: {regex: "^/x", replacement: /y}
  - name: r1
    redirect: {host: example.com, path: /new}
upstreams:
  - name: u
    backends: [http://svc.test]
    resolve: {resolver: "RESOLVER"}
`

// TestCheckReportsRouteErrors: Check compiles the routes and names the file, line and field of
// each problem, without resolving names or starting anything (the resolver here cannot answer).
func TestCheckReportsRouteErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spoil func(c *config.Config)
		want  []string
	}{
		{"path regex", func(c *config.Config) { c.Routes[0].Match.PathRegex = "(" },
			[]string{"g.yaml:5: routes[0].match.path_regex: \"(\": error parsing regexp: missing closing ): `(`"}},
		{"header regex", func(c *config.Config) { c.Routes[0].Match.Headers[0].Regex = "a[" },
			[]string{`g.yaml:6: routes[0].match.headers[0].regex: "a[": error parsing regexp`}},
		{"client range", func(c *config.Config) { c.Routes[0].Match.ClientCIDRs[0] = "10.0.0.0/33" },
			[]string{`g.yaml:7: routes[0].match.client_cidrs[0]: "10.0.0.0/33": not an address or address range`}},
		{"unknown upstream", func(c *config.Config) { c.Routes[0].Upstream = "nope" },
			[]string{`g.yaml:8: routes[0].upstream: "nope": no upstream has this name`}},
		{"rewrite regex", func(c *config.Config) { c.Routes[0].Rewrite.Regex = "(?P<" },
			[]string{`g.yaml:9: routes[0].rewrite.regex: "(?P<": error parsing regexp`}},
		{"redirect to a wildcard", func(c *config.Config) { c.Routes[1].Redirect.Host = "*.example.com" },
			[]string{`g.yaml:11: routes[1].redirect.host: "*.example.com": a redirect goes to one host: write it without *`}},
		{"redirect path read as a host", func(c *config.Config) { c.Routes[1].Redirect.Path = "//evil.test/" },
			[]string{`g.yaml:11: routes[1].redirect.path: "//evil.test/": a path must not start with "//"`}},
		{"every problem, in line order", func(c *config.Config) {
			c.Routes[1].Redirect.Host = "*.example.com"
			c.Routes[0].Match.PathRegex = "("
			c.Routes[0].Rewrite.Regex = "("
		}, []string{"g.yaml:5: routes[0].match.path_regex", "g.yaml:9: routes[0].rewrite.regex", "g.yaml:11: routes[1].redirect.host"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := parseConfig(t, strings.Replace(checkSrc, "RESOLVER", closedUDP(t), 1))
			if err := Check(cfg); err != nil {
				t.Fatalf("Check of the valid config: %v", err)
			}
			tt.spoil(cfg)
			err := Check(cfg)
			if err == nil {
				t.Fatal("Check found nothing wrong")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("Check: %d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("problem %d:\n got %s\nwant %s...", i, lines[i], want)
				}
			}
			var ce config.Errors
			if !errors.As(err, &ce) || len(ce) != len(tt.want) {
				t.Errorf("Check's error is %T, want config.Errors with %d entries", err, len(tt.want))
			}
			// Apply refuses the same config with the same words, and builds nothing.
			g := newGateway(t)
			if _, aerr := g.Apply(cfg); aerr == nil || aerr.Error() != err.Error() {
				t.Errorf("Apply: %v\nwant Check's error", aerr)
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if len(g.services) != 0 || len(g.watchers) != 0 || len(g.live) != 0 {
				t.Errorf("a refused config left %d services, %d watchers, %d backends", len(g.services), len(g.watchers), len(g.live))
			}
		})
	}
}

// TestGraphNames: RouteBackends lists each route's backends (none for a route that answers
// itself), and ServiceNames the upstreams, sorted.
func TestGraphNames(t *testing.T) {
	t.Parallel()
	g := newGateway(t)
	gr := apply(t, g, parseConfig(t, `
listeners: [{address: 127.0.0.1:8080}]
routes:
  - {name: web, upstream: web}
  - {name: api, match: {path_prefix: /api}, upstream: api}
  - {name: ping, match: {path: /ping}, respond: {body: pong}}
upstreams:
  - {name: web, backends: [http://10.0.0.1, http://10.0.0.2]}
  - {name: api, backends: [http://10.0.1.1]}
`))
	if got := gr.ServiceNames(); !slices.Equal(got, []string{"api", "web"}) {
		t.Errorf("ServiceNames = %v", got)
	}
	rb := gr.RouteBackends()
	if len(rb) != 3 || len(rb["web"]) != 2 || len(rb["api"]) != 1 || rb["api"][0].Addr != "10.0.1.1:80" {
		t.Errorf("RouteBackends = %v", rb)
	}
	if bs, ok := rb["ping"]; !ok || bs != nil {
		t.Errorf("RouteBackends[ping] = %v, %v; want nil, true", bs, ok)
	}
}
