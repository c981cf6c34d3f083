package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultsApplied(t *testing.T) {
	t.Parallel()
	src := lines(
		"listeners:",
		"  - address: 127.0.0.1:8080",
		"routes:",
		"  - upstream: u",
		"    match: {hosts: [Example.COM, '[::1]']}",
		"  - respond: {}",
		"upstreams:",
		"  - name: u",
		"    backends: [http://127.0.0.1:9000]",
	)
	c, err := Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "listener name", got: c.Listeners[0].Name, want: "127.0.0.1:8080"},
		{name: "max_request_line", got: c.Server.MaxRequestLine, want: Size(8 << 10)},
		{name: "max_header_bytes", got: c.Server.MaxHeaderBytes, want: Size(32 << 10)},
		{name: "max_header_count", got: c.Server.MaxHeaderCount, want: 100},
		{name: "max_connections", got: c.Server.MaxConnections, want: 50000},
		{name: "client_header", got: c.Server.Timeouts.ClientHeader.D(), want: 10 * time.Second},
		{name: "client_body_idle", got: c.Server.Timeouts.ClientBodyIdle.D(), want: 30 * time.Second},
		{name: "client_write_idle", got: c.Server.Timeouts.ClientWriteIdle.D(), want: 30 * time.Second},
		{name: "keepalive_idle", got: c.Server.Timeouts.KeepAliveIdle.D(), want: 60 * time.Second},
		{name: "upstream_connect", got: c.Server.Timeouts.UpstreamConnect.D(), want: 5 * time.Second},
		{name: "upstream_header", got: c.Server.Timeouts.UpstreamHeader.D(), want: 60 * time.Second},
		{name: "upstream_body_idle", got: c.Server.Timeouts.UpstreamBodyIdle.D(), want: 60 * time.Second},
		{name: "shutdown_drain", got: c.Server.Timeouts.ShutdownDrain.D(), want: 30 * time.Second},
		{name: "access_log output", got: c.AccessLog.Output, want: "stdout"},
		{name: "forwarded policy", got: c.Forwarded.Policy, want: "append"},
		{name: "trusted proxies", got: len(c.Forwarded.TrustedProxies), want: 0},
		{name: "route name", got: c.Routes[0].Name + " " + c.Routes[1].Name, want: "route-0 route-1"},
		{name: "hosts lower-cased", got: c.Routes[0].Match.Hosts, want: []string{"example.com", "::1"}},
		{name: "path_prefix", got: c.Routes[0].Match.PathPrefix, want: "/"},
		{name: "upstream_host", got: c.Routes[0].UpstreamHost, want: "pass"},
		{name: "max_body_size", got: c.Routes[0].MaxBodySize, want: Size(100 << 20)},
		{name: "respond status", got: c.Routes[1].Respond.Status, want: 200},
		{name: "no respond on forwarding route", got: c.Routes[0].Respond == nil, want: true},
		{name: "max_idle_per_backend", got: c.Upstreams[0].MaxIdlePerBackend, want: 128},
		{name: "idle_timeout", got: c.Upstreams[0].IdleTimeout.D(), want: 60 * time.Second},
		{name: "balance", got: c.Upstreams[0].Balance, want: "p2c_ewma"},
		{name: "backend weight", got: c.Upstreams[0].Backends[0].Weight, want: 1},
		{name: "passive 5xx", got: c.Upstreams[0].Health.Passive.Consecutive5xx, want: 5},
		{name: "retry attempts", got: c.Upstreams[0].Retry.Attempts, want: 2},
		{name: "retry budget", got: c.Upstreams[0].Retry.Budget, want: Percent(0.2)},
		{name: "admin address", got: c.Admin.Address, want: "127.0.0.1:9090"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Fatalf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestWrittenValuesKept(t *testing.T) {
	t.Parallel()
	src := lines(
		"listeners:",
		"  - {name: main, address: ':80'}",
		"server: {max_header_count: 50, timeouts: {client_header: 2s}}",
		"forwarded: {policy: replace}",
		"routes:",
		"  - {name: r, upstream: u, max_body_size: 1KiB, upstream_host: backend}",
		"upstreams:",
		"  - {name: u, backends: [http://a], max_idle_per_backend: 0, retry: {attempts: 0}}",
	)
	c, err := Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listeners[0].Name != "main" || c.Server.MaxHeaderCount != 50 || c.Server.Timeouts.ClientHeader.D() != 2*time.Second ||
		c.Forwarded.Policy != "replace" || c.Routes[0].Name != "r" || c.Routes[0].MaxBodySize != 1024 ||
		c.Routes[0].UpstreamHost != "backend" || c.Upstreams[0].MaxIdlePerBackend != 0 || c.Upstreams[0].Retry.Attempts != 0 {
		t.Fatalf("written values were changed: %+v", c)
	}
}

func TestExplicitZeroNotDefaulted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		extra    []string
		wantLine int
		wantPath string
		wantMsg  string
	}{
		{name: "max_body_size", extra: []string{"    max_body_size: 0"}, wantLine: 5, wantPath: "routes[0].max_body_size",
			wantMsg: "max_body_size must be greater than 0"},
		{name: "empty max_body_size", extra: []string{"    max_body_size:"}, wantLine: 5, wantPath: "routes[0].max_body_size",
			wantMsg: "the value is missing; write a size such as 16KiB, or leave the field out to get its default"},
		{name: "empty max_header_count", extra: []string{"server: {max_header_count: ~}"}, wantLine: 5,
			wantPath: "server.max_header_count", wantMsg: "the value is missing; write a whole number such as 100"},
		{name: "status", extra: []string{"    respond: {status: 0}"}, wantLine: 5, wantPath: "routes[0].respond.status",
			wantMsg: "status 0 is not allowed"},
		{name: "timeout", extra: []string{"server: {timeouts: {shutdown_drain: 0s}}"}, wantLine: 5, wantPath: "server.timeouts.shutdown_drain",
			wantMsg: "shutdown_drain must be greater than 0"},
		{name: "max_connections", extra: []string{"server: {max_connections: 0}"}, wantLine: 5, wantPath: "server.max_connections",
			wantMsg: "max_connections is 0; it must be at least 1"},
		{name: "access log output", extra: []string{"access_log: {output: ''}"}, wantLine: 5, wantPath: "access_log.output",
			wantMsg: "output must not be empty"},
		{name: "path_prefix", extra: []string{"    match: {path_prefix: ''}"}, wantLine: 5, wantPath: "routes[0].match.path_prefix",
			wantMsg: `path_prefix "" must start with "/"`},
		{name: "upstream_host", extra: []string{"    upstream_host: ''"}, wantLine: 5, wantPath: "routes[0].upstream_host",
			wantMsg: `invalid upstream_host "" (it is empty)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := lines(append([]string{"listeners: [{address: ':80'}]", "routes:", "  - name: r", "    upstream: u"},
				append(tt.extra, "upstreams: [{name: u, backends: ['http://a']}]")...)...)
			if tt.wantPath == "routes[0].respond.status" {
				src = strings.Replace(src, "    upstream: u\n", "", 1)
				tt.wantLine--
			}
			errs := parseErrs(t, src)
			if len(errs) != 1 || errs[0].Line != tt.wantLine || errs[0].Path != tt.wantPath || !strings.Contains(errs[0].Msg, tt.wantMsg) {
				t.Fatalf("errors:\n%v\nwant one at line %d, path %s: %q", errs, tt.wantLine, tt.wantPath, tt.wantMsg)
			}
		})
	}
}

func TestDefaultWithoutLines(t *testing.T) {
	t.Parallel()
	c := &Config{
		Listeners: []Listener{{Address: ":80"}},
		Routes:    []Route{{Respond: &Respond{}}},
	}
	Default(c)
	if errs := Validate(c); errs != nil {
		t.Fatalf("a config built in code and defaulted does not validate:\n%v", errs)
	}
	if c.Routes[0].Respond.Status != 200 || c.Routes[0].MaxBodySize != DefaultMaxBodySize || c.Listeners[0].Name != ":80" {
		t.Fatalf("defaults not applied: %+v", c)
	}
	before := *c
	before.Routes = append([]Route(nil), c.Routes...)
	Default(c)
	if !reflect.DeepEqual(before.Routes, c.Routes) || before.Server != c.Server {
		t.Fatal("Default is not idempotent")
	}
}
