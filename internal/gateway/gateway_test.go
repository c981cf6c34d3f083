package gateway

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

const src = `
listeners: [{address: 127.0.0.1:8080}]
server:
  timeouts: {client_header: 3s, upstream_header: 500ms}
forwarded: {policy: replace, trusted_proxies: [10.0.0.0/8, 192.168.1.7, "::1"]}
routes:
  - name: api
    match: {hosts: [API.Example.com], path_prefix: /api}
    upstream: api
    upstream_host: backend
    max_body_size: 1MiB
    request_headers: {set: {X-B: "2", X-A: "1"}, remove: [X-Debug]}
    response_headers: {remove: [Server]}
  - name: literal
    match: {path_prefix: /lit}
    upstream: api
    upstream_host: internal.example:8443
  - name: fixed
    respond: {status: 418, body: "teapot", headers: {Content-Type: text/plain}}
upstreams:
  - name: api
    backends: [http://10.0.0.1:81, http://10.0.0.2]
    max_idle_per_backend: 7
`

func TestCompile(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse([]byte(src), "g.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wd := watchdog.New(time.Hour, time.Now)
	defer wd.Close()
	g, err := Compile(cfg, wd, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	svc := g.Services["api"]
	if len(g.Services) != 1 || svc == nil || len(svc.Backends()) != 2 {
		t.Fatalf("services: %+v", g.Services)
	}
	if a := svc.Backends()[1].Addr; a != "10.0.0.2:80" {
		t.Errorf("default port: backend address %q, want 10.0.0.2:80", a)
	}
	byName := map[string]*router.Route{}
	for _, r := range g.Table.Routes() {
		byName[r.Name] = r
	}
	api := byName["api"]
	if api.Hosts[0] != "api.example.com" || api.Prefix != "/api" || api.Host != router.HostBackend ||
		api.MaxBody != 1<<20 || api.Service != svc {
		t.Errorf("api route: %+v", api)
	}
	// Set fields in name order; every set name is also dropped from the client's fields.
	if len(api.Request.Set) != 2 || api.Request.Set[0].Name != "X-A" || api.Request.Set[1].Name != "X-B" {
		t.Errorf("request set: %+v", api.Request.Set)
	}
	for _, n := range []string{"X-Debug", "x-a", "X-B"} {
		if !api.Request.Dropped([]byte(n)) {
			t.Errorf("request field %s not dropped", n)
		}
	}
	if !api.Response.Dropped([]byte("server")) {
		t.Error("response Server not dropped")
	}
	if lit := byName["literal"]; lit.Host != router.HostLiteral || lit.HostValue != "internal.example:8443" {
		t.Errorf("literal route: %+v", lit)
	}
	fixed := byName["fixed"]
	if fixed.Fixed == nil || fixed.Fixed.Status != 418 || string(fixed.Fixed.Body) != "teapot" || fixed.Service != nil {
		t.Errorf("fixed route: %+v", fixed)
	}
	if g.Table.Routes()[0].Name != "api" {
		t.Error("the host route does not come first")
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse([]byte(src), "g.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o, err := EngineOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.Forwarded != proxy.ForwardedReplace {
		t.Errorf("forwarded mode %v, want replace", o.Forwarded)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"),
		netip.MustParsePrefix("::1/128")}
	if len(o.Trusted) != len(want) {
		t.Fatalf("trusted %v, want %v", o.Trusted, want)
	}
	for i := range want {
		if o.Trusted[i] != want[i] {
			t.Errorf("trusted[%d] = %v, want %v", i, o.Trusted[i], want[i])
		}
	}
	if o.Timeouts.ClientHeader != 3*time.Second || o.Timeouts.KeepAliveIdle != 60*time.Second {
		t.Errorf("timeouts %+v", o.Timeouts)
	}
	if o.Limits.MaxRequestLine != 8<<10 || o.Limits.MaxHeaderBytes != 32<<10 || o.Limits.MaxHeaderCount != 100 {
		t.Errorf("limits %+v", o.Limits)
	}
	if s := Shortest(o); s != 500*time.Millisecond {
		t.Errorf("Shortest = %v, want 500ms", s)
	}
}
