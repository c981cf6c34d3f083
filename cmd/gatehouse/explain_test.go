package main

import (
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"

	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// explainYAML routes on two headers and on the client's address; its admin address is filled in
// by the test (%s).
const explainYAML = `listeners: [{address: 127.0.0.1:18080}]
admin: {address: "%s"}
routes:
  - name: both-headers
    match:
      headers: [{name: X-A, value: "1"}, {name: X-B, value: "2"}]
    upstream: u
  - name: office
    match: {client_cidrs: [10.0.0.0/8]}
    respond: {status: 204}
  - name: rest
    respond: {status: 404, body: "nothing here\n"}
upstreams:
  - name: u
    backends: [http://10.7.0.1:8080]
`

// fakeUpstreams serves an /api/upstreams answer that reports the one backend down.
func fakeUpstreams(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"name":"u","backends":[{"address":"10.7.0.1:8080","active_check_up":false,"last_check_error":"status 500 (want 200-399)"}]}]`)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExplainCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	admin := fakeUpstreams(t)
	cfg := writeFile(t, dir, "gh.yaml", strings.Replace(explainYAML, "%s", "off", 1))
	withAdmin := writeFile(t, dir, "admin.yaml", strings.Replace(explainYAML, "%s", admin, 1))
	// An admin address where nothing answers: live state is asked of it by default.
	deadAdmin := writeFile(t, dir, "dead.yaml", strings.Replace(explainYAML, "%s", freeport.Addr(t), 1))
	bad := writeFile(t, dir, "bad.yaml", "listeners: [{address: 127.0.0.1:18080}]\nroutes:\n  - {name: r, upstream: v}\n"+
		"upstreams: [{name: u, backends: [http://127.0.0.1:9]}]\n")
	// A backend given by a name that cannot be resolved: the resolver's port is closed, so the
	// lookup fails at once.
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadDNS := udp.LocalAddr().String()
	udp.Close()
	unresolvable := writeFile(t, dir, "dns.yaml", "listeners: [{address: 127.0.0.1:18080}]\nroutes: [{name: r, upstream: u}]\n"+
		"upstreams:\n  - name: u\n    backends: [http://backend.test:8080]\n    resolve: {resolver: \""+deadDNS+"\"}\n")

	tests := []struct {
		name    string
		args    []string
		code    int
		out     []string // each must appear on stdout
		errOut  []string // each must appear on stderr
		notOut  []string // none may appear on stdout
		noUsage bool     // stderr must not carry the usage
	}{
		{name: "flags before the request", args: []string{"-config", cfg, "GET", "http://x.test/"}, code: 0,
			out: []string{"GET http://x.test/ from 127.0.0.1", `→ route "rest": gatehouse answers 404 Not Found itself`}},
		{name: "flags after the request, -H repeated", args: []string{"GET", "http://x.test/", "-config", cfg, "-H", "X-A: 1", "-H", "X-B: 2", "--live", "off"}, code: 0,
			out: []string{`→ route "both-headers" → upstream "u" → 10.7.0.1:8080`, "not asked of a running gatehouse"}},
		{name: "flags between method and URL, = forms", args: []string{"GET", "--config=" + cfg, "--header=X-A: 1", "http://x.test/", "-H=X-B: 2"}, code: 0,
			out: []string{`→ route "both-headers"`}},
		{name: "one header is not enough", args: []string{"-config", cfg, "GET", "http://x.test/", "-H", "X-A: 1"}, code: 0,
			out: []string{`header X-B: missing (the route wants "2")`, `→ route "rest"`}},
		{name: "--from", args: []string{"-config", cfg, "--from", "10.1.2.3", "GET", "http://x.test/"}, code: 0,
			out: []string{"from 10.1.2.3", `→ route "office": gatehouse answers 204 No Content itself`}},
		{name: "-from with one dash", args: []string{"-config", cfg, "-from=192.0.2.1", "GET", "http://x.test/"}, code: 0,
			out: []string{"client 192.0.2.1 is not in 10.0.0.0/8", `→ route "rest"`}},
		{name: "live from the config's admin address", args: []string{"-config", withAdmin, "GET", "/", "-H", "X-A: 1", "-H", "X-B: 2"}, code: 0,
			out: []string{"as the gatehouse at " + admin + " sees it now", "no backend can take it → 503 Service Unavailable",
				"down: the active health check fails: status 500"}},
		{name: "--live off", args: []string{"-config", withAdmin, "--live", "off", "GET", "/", "-H", "X-A: 1", "-H", "X-B: 2"}, code: 0,
			out: []string{"not asked of a running gatehouse", "→ 10.7.0.1:8080"}, notOut: []string{admin}},
		{name: "--live ADDR overrides the config", args: []string{"-config", cfg, "--live", admin, "GET", "/", "-H", "X-A: 1", "-H", "X-B: 2"}, code: 0,
			out: []string{"as the gatehouse at " + admin + " sees it now"}},
		{name: "no gatehouse at the admin address", args: []string{"-config", deadAdmin, "GET", "/", "-H", "X-A: 1", "-H", "X-B: 2"}, code: 0,
			out: []string{"unknown: no gatehouse answered at", "every backend is taken as up"}},
		{name: "-- ends the flags", args: []string{"-config", cfg, "--", "GET", "/"}, code: 0, out: []string{`→ route "rest"`}},
		{name: "help", args: []string{"-h"}, code: 0, out: []string{"Usage: gatehouse explain -config FILE METHOD URL", "--live ADDR|off"}},

		{name: "no arguments", args: nil, code: 2, errOut: []string{"give the config file: -config FILE", "Usage: gatehouse explain"}},
		{name: "no config", args: []string{"GET", "http://x.test/"}, code: 2, errOut: []string{"give the config file", "Usage: gatehouse explain"}},
		{name: "no URL", args: []string{"-config", cfg, "GET"}, code: 2, errOut: []string{"give the request's method and URL", "Usage:"}},
		{name: "unquoted header", args: []string{"-config", cfg, "GET", "/", "-H", "X-A:", "1"}, code: 2,
			errOut: []string{"too many arguments: 1 (quote a header: -H 'Name: value')", "Usage:"}},
		{name: "flag without value", args: []string{"-config", cfg, "GET", "/", "-H"}, code: 2, errOut: []string{"-H needs a value", "Usage:"}},
		{name: "unknown flag", args: []string{"-config", cfg, "--verbose", "GET", "/"}, code: 2, errOut: []string{"unknown flag --verbose", "Usage:"}},

		{name: "config error names file and line", args: []string{"-config", bad, "GET", "/"}, code: 1,
			errOut: []string{bad + `:3: routes[0].upstream: upstream "v" is not defined`}, noUsage: true},
		{name: "missing config file", args: []string{"-config", filepath.Join(dir, "nope.yaml"), "GET", "/"}, code: 1,
			errOut: []string{"nope.yaml"}, noUsage: true},
		{name: "backend name does not resolve", args: []string{"-config", unresolvable, "GET", "/"}, code: 1,
			errOut: []string{"gatehouse explain: " + unresolvable + ":5: upstreams[0].backends[0]: http://backend.test:8080: discovery: resolve backend.test"}, noUsage: true},
		{name: "bad URL", args: []string{"-config", cfg, "GET", "ftp://x/"}, code: 1,
			errOut: []string{"gatehouse explain: invalid URL", "use http:// or https://"}, noUsage: true},
		{name: "bad --from", args: []string{"-config", cfg, "--from", "nobody", "GET", "/"}, code: 1,
			errOut: []string{`--from "nobody" is not an IP address`}, noUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut syncBuffer
			code := run(context.Background(), append([]string{"explain"}, tt.args...), &out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errOut.String())
			}
			for _, want := range tt.out {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.String())
				}
			}
			for _, not := range tt.notOut {
				if strings.Contains(out.String(), not) {
					t.Errorf("stdout holds %q:\n%s", not, out.String())
				}
			}
			for _, want := range tt.errOut {
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
				}
			}
			if tt.noUsage && strings.Contains(errOut.String(), "Usage:") {
				t.Errorf("stderr has the usage for a mistake that is not on the command line:\n%s", errOut.String())
			}
			if tt.code == 0 && errOut.String() != "" {
				t.Errorf("stderr on success: %s", errOut.String())
			}
		})
	}
}
