package config

import (
	"reflect"
	"testing"
	"time"
)

// poolCfg is upstreamCfg with one backend on line 7; extra lines (indented four spaces to add
// upstream fields) start on line 8.
func poolCfg(extra ...string) string {
	return upstreamCfg(append([]string{"    backends: [http://127.0.0.1:9001]"}, extra...)...)
}

func TestValidUpstreams(t *testing.T) {
	t.Parallel()
	runValidCases(t, []struct{ name, src string }{
		{name: "backends as strings", src: upstreamCfg("    backends: [http://127.0.0.1:9001, 'http://127.0.0.1:9002']")},
		{name: "backends as mappings", src: upstreamCfg("    backends:", "      - {url: 'http://127.0.0.1:9001', weight: 1000}",
			"      - url: http://127.0.0.1:9002", "        weight: 1", "        backup: true")},
		{name: "strings and mappings mixed", src: upstreamCfg("    backends:", "      - http://127.0.0.1:9001", "      - {url: 'http://127.0.0.1:9002', backup: true}")},
		{name: "every balance", src: lines("listeners: [{address: ':80'}]", "routes: [{respond: {}}]", "upstreams:",
			"  - {name: a, backends: [http://a], balance: p2c_ewma}", "  - {name: b, backends: [http://a], balance: round_robin}",
			"  - {name: c, backends: [http://a], balance: weighted_round_robin}", "  - {name: d, backends: [http://a], balance: least_conn}",
			"  - {name: e, backends: [http://a], balance: random}", "  - {name: f, backends: [http://a], balance: consistent_hash}")},
		{name: "hash by header on a ring", src: poolCfg("    balance: consistent_hash", "    hash: {key: header, name: X-User-Id, algorithm: ring, load_factor: 2}")},
		{name: "hash by cookie, no bound", src: poolCfg("    balance: consistent_hash", "    hash: {key: cookie, name: session, load_factor: 0}")},
		{name: "hash by path", src: poolCfg("    balance: consistent_hash", "    hash: {key: path}")},
		{name: "sticky with defaults", src: poolCfg("    sticky: {}")},
		{name: "sticky with everything", src: poolCfg("    sticky: {cookie: srv, secret: 0123456789abcdef, max_age: 24h}", "    slow_start: 30s")},
		{name: "limits with a queue", src: poolCfg("    limits: {max_connections: 100, queue_size: 10, queue_timeout: 250ms}")},
		{name: "active http check", src: poolCfg("    health: {active: {path: /healthz, status: 200, body: ok, interval: 2s, timeout: 2s, rise: 1, fall: 1}}")},
		{name: "status as a number", src: poolCfg("    health: {active: {status: 204}}")},
		{name: "status range with spaces", src: poolCfg("    health: {active: {status: 200 - 299}}")},
		{name: "active tcp check", src: poolCfg("    health: {active: {type: tcp, interval: 1s, timeout: 500ms}}")},
		{name: "active host with port", src: poolCfg("    health: {active: {host: 'api.internal:8080'}}")},
		{name: "passive off", src: poolCfg("    health: {passive: {consecutive_5xx: 0, consecutive_failures: 0}}")},
		{name: "passive one percent", src: poolCfg("    health: {passive: {max_ejected_percent: 1}}")},
		{name: "passive everything ejectable", src: poolCfg("    health: {passive: {max_ejected_percent: 100, base_ejection: 1s, max_ejection: 1s}}")},
		{name: "retries off", src: poolCfg("    retry: {attempts: 0}")},
		{name: "retry everything", src: poolCfg("    retry: {attempts: 10, on_status: [500, 599], per_try_timeout: 1s, budget: 100%, min_per_second: 0}")},
		{name: "retry no statuses", src: poolCfg("    retry: {on_status: []}")},
		{name: "resolver address", src: poolCfg("    resolve: {resolver: '10.0.0.2:53', family: ip6, interval: 5s}")},
		{name: "resolver without port", src: poolCfg("    resolve: {resolver: 10.0.0.2, family: ip4}")},
		{name: "IPv6 resolver", src: poolCfg("    resolve: {resolver: '[::1]:5353'}")},
		{name: "backend host name", src: upstreamCfg("    backends: [http://api.internal:8080]")},
	})
}

func TestValidateUpstreams(t *testing.T) {
	t.Parallel()
	runErrorCases(t, []errorCase{
		// backends
		{name: "weight zero", src: upstreamCfg("    backends:", "      - url: http://127.0.0.1:9001", "        weight: 0"), wantLine: 9,
			wantPath: "upstreams[0].backends[0].weight", wantMsg: "weight is 0; it must be from 1 to 1000"},
		{name: "weight too large", src: upstreamCfg("    backends: [{url: 'http://a', weight: 1001}]"), wantLine: 7,
			wantPath: "upstreams[0].backends[0].weight", wantMsg: "weight is 1001; it must be from 1 to 1000"},
		{name: "negative weight", src: upstreamCfg("    backends: [http://b, {url: 'http://a', weight: -5}]"), wantLine: 7,
			wantPath: "upstreams[0].backends[1].weight", wantMsg: "weight is -5"},
		{name: "weight not a number", src: upstreamCfg("    backends: [{url: 'http://a', weight: heavy}]"), wantLine: 7,
			wantPath: "upstreams[0].backends[0].weight", wantMsg: `invalid number "heavy"`},
		{name: "duplicate address", src: upstreamCfg("    backends:", "      - http://127.0.0.1:80", "      - http://127.0.0.1"), wantLine: 9,
			wantPath: "upstreams[0].backends[1]", wantMsg: "backend 127.0.0.1:80 is already listed as backends[0]; to send it more requests, give it a weight"},
		{name: "duplicate string and mapping", src: upstreamCfg("    backends:", "      - http://a:8080", "      - {url: 'http://a:8080/', weight: 2}"),
			wantLine: 9, wantPath: "upstreams[0].backends[1]", wantMsg: "is already listed as backends[0]"},
		{name: "all backups", src: upstreamCfg("    backends:", "      - {url: 'http://a', backup: true}", "      - {url: 'http://b', backup: true}"),
			wantLine: 7, wantPath: "upstreams[0].backends", wantMsg: "every backend is a backup; at least one must not be"},
		{name: "mapping without url", src: upstreamCfg("    backends:", "      - weight: 2"), wantLine: 8,
			wantPath: "upstreams[0].backends[0]", wantMsg: "url is required; write a URL such as http://127.0.0.1:8081"},
		{name: "empty url", src: upstreamCfg("    backends: [{url: ''}]"), wantLine: 7,
			wantPath: "upstreams[0].backends[0]", wantMsg: "url is required"},
		{name: "mapping with bad url", src: upstreamCfg("    backends:", "      - url: 127.0.0.1:9001"), wantLine: 8,
			wantPath: "upstreams[0].backends[0]", wantMsg: `backend "127.0.0.1:9001" is not a URL`},
		{name: "misspelt backend field", src: upstreamCfg("    backends:", "      - url: http://a", "        wieght: 2"), wantLine: 9,
			wantPath: "upstreams[0].backends[0].wieght", wantMsg: `unknown field "wieght"; did you mean "weight"? valid fields here: url, weight, backup`},
		{name: "backend as a list", src: upstreamCfg("    backends:", "      - [http://a]"), wantLine: 8,
			wantPath: "upstreams[0].backends[0]", wantMsg: "expected a mapping with the fields url, weight, backup, found a list"},

		// balance
		{name: "balance typo", src: poolCfg("    balance: round-robin"), wantLine: 8, wantPath: "upstreams[0].balance",
			wantMsg: `unknown balance "round-robin"; did you mean "round_robin"? write one of p2c_ewma, round_robin, weighted_round_robin, least_conn, random, consistent_hash`},
		{name: "balance close to p2c_ewma", src: poolCfg("    balance: p2c_ewm"), wantLine: 8, wantPath: "upstreams[0].balance",
			wantMsg: `did you mean "p2c_ewma"?`},
		{name: "balance far off", src: poolCfg("    balance: fastest"), wantLine: 8, wantPath: "upstreams[0].balance",
			wantMsg: `unknown balance "fastest"; write one of p2c_ewma`},
		{name: "empty balance", src: poolCfg("    balance: ''"), wantLine: 8, wantPath: "upstreams[0].balance",
			wantMsg: `unknown balance ""`},

		// hash
		{name: "hash key", src: poolCfg("    balance: consistent_hash", "    hash:", "      key: ip"), wantLine: 10, wantPath: "upstreams[0].hash.key",
			wantMsg: `unknown hash key "ip"; write client_ip, header, cookie or path`},
		{name: "hash header without name", src: poolCfg("    balance: consistent_hash", "    hash:", "      key: header"), wantLine: 9,
			wantPath: "upstreams[0].hash.name", wantMsg: "key header needs the header's name; add name:"},
		{name: "hash cookie without name", src: poolCfg("    balance: consistent_hash", "    hash: {key: cookie}"), wantLine: 9,
			wantPath: "upstreams[0].hash.name", wantMsg: "key cookie needs the cookie's name"},
		{name: "hash bad header name", src: poolCfg("    balance: consistent_hash", "    hash: {key: header, name: 'X User'}"), wantLine: 9,
			wantPath: "upstreams[0].hash.name", wantMsg: `invalid header name "X User"`},
		{name: "hash name with client_ip", src: poolCfg("    balance: consistent_hash", "    hash:", "      name: X-User"), wantLine: 10,
			wantPath: "upstreams[0].hash.name", wantMsg: "name is only used with key header or cookie; remove it"},
		{name: "hash algorithm", src: poolCfg("    balance: consistent_hash", "    hash: {algorithm: jump}"), wantLine: 9,
			wantPath: "upstreams[0].hash.algorithm", wantMsg: `unknown hash algorithm "jump"; write maglev or ring`},
		{name: "load factor below 1", src: poolCfg("    balance: consistent_hash", "    hash: {load_factor: 0.9}"), wantLine: 9,
			wantPath: "upstreams[0].hash.load_factor", wantMsg: "load_factor is 0.9; it must be from 1 to 100"},
		{name: "load factor too large", src: poolCfg("    balance: consistent_hash", "    hash: {load_factor: 101}"), wantLine: 9,
			wantPath: "upstreams[0].hash.load_factor", wantMsg: "load_factor is 101"},
		{name: "load factor not a number", src: poolCfg("    balance: consistent_hash", "    hash: {load_factor: high}"), wantLine: 9,
			wantPath: "upstreams[0].hash.load_factor", wantMsg: `invalid number "high": write a number such as 1.25`},
		{name: "hash without consistent_hash", src: poolCfg("    balance: least_conn", "    hash: {key: path}"), wantLine: 9,
			wantPath: "upstreams[0].hash", wantMsg: "hash settings only apply with balance: consistent_hash"},
		{name: "hash with default balance", src: poolCfg("    hash:", "      key: client_ip"), wantLine: 8,
			wantPath: "upstreams[0].hash", wantMsg: "hash settings only apply with balance: consistent_hash"},

		// sticky
		{name: "sticky cookie with space", src: poolCfg("    sticky:", "      cookie: my cookie"), wantLine: 9, wantPath: "upstreams[0].sticky.cookie",
			wantMsg: `invalid cookie name "my cookie"; use letters, digits, '-' and '_'`},
		{name: "sticky cookie with =", src: poolCfg("    sticky: {cookie: 'a=b'}"), wantLine: 8, wantPath: "upstreams[0].sticky.cookie",
			wantMsg: `invalid cookie name "a=b"`},
		{name: "sticky cookie empty", src: poolCfg("    sticky: {cookie: ''}"), wantLine: 8, wantPath: "upstreams[0].sticky.cookie",
			wantMsg: `invalid cookie name ""`},
		{name: "sticky secret short", src: poolCfg("    sticky:", "      secret: 0123456789abcde"), wantLine: 9, wantPath: "upstreams[0].sticky.secret",
			wantMsg: "the secret is 15 characters; use at least 16 random characters"},
		{name: "sticky negative max_age", src: poolCfg("    sticky: {max_age: -1h}"), wantLine: 8, wantPath: "upstreams[0].sticky.max_age",
			wantMsg: `invalid duration "-1h": it must not be negative`},
		{name: "negative slow_start", src: poolCfg("    slow_start: -5s"), wantLine: 8, wantPath: "upstreams[0].slow_start",
			wantMsg: "it must not be negative"},

		// limits
		{name: "negative max_connections", src: poolCfg("    limits: {max_connections: -1}"), wantLine: 8, wantPath: "upstreams[0].limits.max_connections",
			wantMsg: "max_connections is -1; it must be 0 (unlimited) or more"},
		{name: "negative queue_size", src: poolCfg("    limits:", "      max_connections: 10", "      queue_size: -1"), wantLine: 10,
			wantPath: "upstreams[0].limits.queue_size", wantMsg: "queue_size is -1; it must be 0 or more"},
		{name: "queue without max_connections", src: poolCfg("    limits:", "      queue_size: 10"), wantLine: 9,
			wantPath: "upstreams[0].limits.queue_size", wantMsg: "a queue needs max_connections; set it, or remove queue_size"},
		{name: "zero queue_timeout", src: poolCfg("    limits: {queue_timeout: 0s}"), wantLine: 8, wantPath: "upstreams[0].limits.queue_timeout",
			wantMsg: "queue_timeout must be greater than 0"},

		// active health
		{name: "check type", src: poolCfg("    health:", "      active:", "        type: udp"), wantLine: 10, wantPath: "upstreams[0].health.active.type",
			wantMsg: `unknown check type "udp"; write http, tcp or grpc`},
		{name: "grpc check on h1", src: poolCfg("    health:", "      active:", "        type: grpc"), wantLine: 10, wantPath: "upstreams[0].health.active.type",
			wantMsg: `a grpc check speaks HTTP/2 and this upstream's protocol is "h1"; set protocol: h2`},
		{name: "grpc check with a path", src: poolCfg("    protocol: h2", "    health:", "      active:", "        type: grpc", "        path: /x"), wantLine: 11, wantPath: "upstreams[0].health.active.type",
			wantMsg: "a grpc check asks grpc.health.v1.Health/Check; method, path, status and body apply to http checks"},
		{name: "grpc_service on http check", src: poolCfg("    health:", "      active:", "        grpc_service: x"), wantLine: 10, wantPath: "upstreams[0].health.active.grpc_service",
			wantMsg: "grpc_service applies to type: grpc checks only"},
		{name: "unknown upstream protocol", src: poolCfg("    protocol: h3"), wantLine: 8, wantPath: "upstreams[0].protocol",
			wantMsg: `unknown protocol "h3"; write h1 (HTTP/1.1) or h2`},
		{name: "status above 599", src: poolCfg("    health: {active: {status: 200-600}}"), wantLine: 8, wantPath: "upstreams[0].health.active.status",
			wantMsg: `invalid status range "200-600": write a range such as 200-399, or one status such as 200`},
		{name: "status below 100", src: poolCfg("    health: {active: {status: 99}}"), wantLine: 8, wantPath: "upstreams[0].health.active.status",
			wantMsg: `invalid status range "99"`},
		{name: "status range backwards", src: poolCfg("    health: {active: {status: 399-200}}"), wantLine: 8, wantPath: "upstreams[0].health.active.status",
			wantMsg: `invalid status range "399-200"`},
		{name: "status class", src: poolCfg("    health: {active: {status: 2xx}}"), wantLine: 8, wantPath: "upstreams[0].health.active.status",
			wantMsg: `invalid status range "2xx"`},
		{name: "timeout longer than interval", src: poolCfg("    health:", "      active:", "        interval: 2s", "        timeout: 3s"), wantLine: 11,
			wantPath: "upstreams[0].health.active.timeout", wantMsg: "timeout (3s) must not be longer than interval (2s)"},
		{name: "zero interval", src: poolCfg("    health: {active: {interval: 0s}}"), wantLine: 8, wantPath: "upstreams[0].health.active.interval",
			wantMsg: "interval must be greater than 0"},
		{name: "zero timeout", src: poolCfg("    health: {active: {timeout: 0s}}"), wantLine: 8, wantPath: "upstreams[0].health.active.timeout",
			wantMsg: "timeout must be greater than 0"},
		{name: "zero rise", src: poolCfg("    health: {active: {rise: 0}}"), wantLine: 8, wantPath: "upstreams[0].health.active.rise",
			wantMsg: "rise is 0; it must be at least 1"},
		{name: "zero fall", src: poolCfg("    health: {active: {fall: 0}}"), wantLine: 8, wantPath: "upstreams[0].health.active.fall",
			wantMsg: "fall is 0; it must be at least 1"},
		{name: "tcp with path", src: poolCfg("    health:", "      active:", "        type: tcp", "        path: /healthz"), wantLine: 10,
			wantPath: "upstreams[0].health.active.type", wantMsg: "a tcp check only connects; method, path, host, status and body apply to http checks"},
		{name: "tcp with status", src: poolCfg("    health: {active: {type: tcp, status: 200}}"), wantLine: 8,
			wantPath: "upstreams[0].health.active.type", wantMsg: "a tcp check only connects"},
		{name: "tcp with body", src: poolCfg("    health: {active: {type: tcp, body: ok}}"), wantLine: 8,
			wantPath: "upstreams[0].health.active.type", wantMsg: "a tcp check only connects"},
		{name: "tcp with method", src: poolCfg("    health: {active: {type: tcp, method: HEAD}}"), wantLine: 8,
			wantPath: "upstreams[0].health.active.type", wantMsg: "a tcp check only connects"},
		{name: "check method", src: poolCfg("    health: {active: {method: 'GE T'}}"), wantLine: 8, wantPath: "upstreams[0].health.active.method",
			wantMsg: `invalid method "GE T"`},
		{name: "check relative path", src: poolCfg("    health: {active: {path: healthz}}"), wantLine: 8, wantPath: "upstreams[0].health.active.path",
			wantMsg: `path "healthz" must start with "/"`},
		{name: "check host", src: poolCfg("    health: {active: {host: 'bad host'}}"), wantLine: 8, wantPath: "upstreams[0].health.active.host",
			wantMsg: `host "bad host" is not a valid host name`},
		{name: "check host port", src: poolCfg("    health: {active: {host: 'api:0'}}"), wantLine: 8, wantPath: "upstreams[0].health.active.host",
			wantMsg: `invalid host "api:0": port 0 is out of range`},

		// passive health
		{name: "negative consecutive_5xx", src: poolCfg("    health:", "      passive:", "        consecutive_5xx: -1"), wantLine: 10,
			wantPath: "upstreams[0].health.passive.consecutive_5xx", wantMsg: "consecutive_5xx is -1; it must be 0 (off) or more"},
		{name: "negative consecutive_failures", src: poolCfg("    health: {passive: {consecutive_failures: -2}}"), wantLine: 8,
			wantPath: "upstreams[0].health.passive.consecutive_failures", wantMsg: "consecutive_failures is -2; it must be 0 (off) or more"},
		{name: "zero base_ejection", src: poolCfg("    health: {passive: {base_ejection: 0s}}"), wantLine: 8,
			wantPath: "upstreams[0].health.passive.base_ejection", wantMsg: "base_ejection must be greater than 0"},
		{name: "max_ejection below base", src: poolCfg("    health: {passive: {base_ejection: 30s, max_ejection: 10s}}"), wantLine: 8,
			wantPath: "upstreams[0].health.passive.max_ejection", wantMsg: "max_ejection (10s) must not be shorter than base_ejection (30s)"},
		{name: "max_ejected_percent above 100", src: poolCfg("    health: {passive: {max_ejected_percent: 101}}"), wantLine: 8,
			wantPath: "upstreams[0].health.passive.max_ejected_percent", wantMsg: "max_ejected_percent is 101; it must be from 1 to 100"},
		{name: "zero max_ejected_percent", src: poolCfg("    health: {passive: {max_ejected_percent: 0}}"), wantLine: 8,
			wantPath: "upstreams[0].health.passive.max_ejected_percent",
			wantMsg:  "max_ejected_percent is 0; it must be from 1 to 100 (to never eject, set consecutive_5xx and consecutive_failures to 0)"},

		// retry
		{name: "attempts too many", src: poolCfg("    retry:", "      attempts: 11"), wantLine: 9, wantPath: "upstreams[0].retry.attempts",
			wantMsg: "attempts is 11; it must be from 0 (no retries) to 10"},
		{name: "negative attempts", src: poolCfg("    retry: {attempts: -1}"), wantLine: 8, wantPath: "upstreams[0].retry.attempts",
			wantMsg: "attempts is -1"},
		{name: "retry 404", src: poolCfg("    retry:", "      on_status: [502, 404]"), wantLine: 9, wantPath: "upstreams[0].retry.on_status[1]",
			wantMsg: "status 404 cannot be retried; list 5xx statuses such as 502, 503, 504"},
		{name: "retry 600", src: poolCfg("    retry: {on_status: [600]}"), wantLine: 8, wantPath: "upstreams[0].retry.on_status[0]",
			wantMsg: "status 600 cannot be retried"},
		{name: "negative per_try_timeout", src: poolCfg("    retry: {per_try_timeout: -1s}"), wantLine: 8, wantPath: "upstreams[0].retry.per_try_timeout",
			wantMsg: "it must not be negative"},
		{name: "negative min_per_second", src: poolCfg("    retry: {min_per_second: -1}"), wantLine: 8, wantPath: "upstreams[0].retry.min_per_second",
			wantMsg: "min_per_second is -1; it must be 0 or more"},
		{name: "budget 150%", src: poolCfg("    retry:", "      budget: 150%"), wantLine: 9, wantPath: "upstreams[0].retry.budget",
			wantMsg: `percentage "150%" is out of range: write a share from 0% to 100%`},
		{name: "negative budget", src: poolCfg("    retry: {budget: -5%}"), wantLine: 8, wantPath: "upstreams[0].retry.budget",
			wantMsg: "is out of range"},
		{name: "budget without a percent sign", src: poolCfg("    retry: {budget: 20}"), wantLine: 8, wantPath: "upstreams[0].retry.budget",
			wantMsg: `write the share with a % sign, such as 20%`},
		{name: "budget in words", src: poolCfg("    retry: {budget: some}"), wantLine: 8, wantPath: "upstreams[0].retry.budget",
			wantMsg: `invalid percentage "some": write a share such as 20%`},

		// resolve
		{name: "resolve family", src: poolCfg("    resolve:", "      family: ipv4"), wantLine: 9, wantPath: "upstreams[0].resolve.family",
			wantMsg: `unknown family "ipv4"; write ip (A and AAAA), ip4 or ip6`},
		{name: "resolver port", src: poolCfg("    resolve: {resolver: '10.0.0.2:99999'}"), wantLine: 8, wantPath: "upstreams[0].resolve.resolver",
			wantMsg: `invalid resolver "10.0.0.2:99999": port 99999 is out of range`},
		{name: "resolver bad address", src: poolCfg("    resolve: {resolver: '300.0.0.1'}"), wantLine: 8, wantPath: "upstreams[0].resolve.resolver",
			wantMsg: `invalid resolver "300.0.0.1": write the DNS server's IP address`},
		{name: "resolver URL", src: poolCfg("    resolve: {resolver: 'udp://10.0.0.2'}"), wantLine: 8, wantPath: "upstreams[0].resolve.resolver",
			wantMsg: `invalid resolver "udp://10.0.0.2"`},
		{name: "zero resolve interval", src: poolCfg("    resolve: {interval: 0s}"), wantLine: 8, wantPath: "upstreams[0].resolve.interval",
			wantMsg: "interval must be greater than 0"},
	})
}

// TestNewFieldDefaults checks that a config with only the required fields (and the optional
// sections that turn a feature on, written empty) gets every documented default. The wanted
// values are written out rather than taken from the Default constants, so that a changed constant
// fails here and the docs get updated with it.
func TestNewFieldDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(lines(
		"listeners: [{address: ':80'}]",
		"routes:",
		"  - {upstream: u}",
		"  - {redirect: {scheme: https}}",
		"upstreams:",
		"  - name: u",
		"    backends: [http://127.0.0.1:9001, {url: 'http://127.0.0.1:9002'}]",
		"    sticky: {}",
		"    health: {active: {}}",
		"  - name: plain",
		"    backends: [http://127.0.0.1:9003]",
	)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u, plain := c.Upstreams[0], c.Upstreams[1]
	a, p, r := u.Health.Active, u.Health.Passive, u.Retry
	tests := []struct {
		name      string
		got, want any
	}{
		{name: "admin.address", got: c.Admin.Address, want: "127.0.0.1:9090"},
		{name: "admin.pprof", got: c.Admin.Pprof, want: false},
		{name: "redirect.status", got: c.Routes[1].Redirect.Status, want: 302},
		{name: "redirect.port", got: c.Routes[1].Redirect.Port, want: 0},
		{name: "route rewrite", got: c.Routes[0].Rewrite == nil, want: true},
		{name: "backend weight (string)", got: u.Backends[0].Weight, want: 1},
		{name: "backend weight (mapping)", got: u.Backends[1].Weight, want: 1},
		{name: "backend backup", got: u.Backends[1].Backup, want: false},
		{name: "balance", got: u.Balance, want: "p2c_ewma"},
		{name: "hash.key", got: u.Hash.Key, want: "client_ip"},
		{name: "hash.name", got: u.Hash.Name, want: ""},
		{name: "hash.algorithm", got: u.Hash.Algorithm, want: "maglev"},
		{name: "hash.load_factor", got: u.Hash.LoadFactor, want: 1.25},
		{name: "sticky.cookie", got: u.Sticky.Cookie, want: "gatehouse_sticky"},
		{name: "sticky.secret", got: u.Sticky.Secret, want: ""},
		{name: "sticky.max_age", got: u.Sticky.MaxAge, want: Duration(0)},
		{name: "sticky off unless written", got: plain.Sticky == nil, want: true},
		{name: "slow_start", got: u.SlowStart, want: Duration(0)},
		{name: "limits.max_connections", got: u.Limits.MaxConnections, want: 0},
		{name: "limits.queue_size", got: u.Limits.QueueSize, want: 0},
		{name: "limits.queue_timeout", got: u.Limits.QueueTimeout, want: Duration(time.Second)},
		{name: "active off unless written", got: plain.Health.Active == nil, want: true},
		{name: "active.type", got: a.Type, want: "http"},
		{name: "active.method", got: a.Method, want: "GET"},
		{name: "active.path", got: a.Path, want: "/"},
		{name: "active.host", got: a.Host, want: ""},
		{name: "active.status", got: a.Status, want: "200-399"},
		{name: "active.body", got: a.Body, want: ""},
		{name: "active.interval", got: a.Interval, want: Duration(5 * time.Second)},
		{name: "active.timeout", got: a.Timeout, want: Duration(2 * time.Second)},
		{name: "active.rise", got: a.Rise, want: 2},
		{name: "active.fall", got: a.Fall, want: 3},
		{name: "passive.consecutive_5xx", got: p.Consecutive5xx, want: 5},
		{name: "passive.consecutive_failures", got: p.ConsecutiveFailures, want: 3},
		{name: "passive.base_ejection", got: p.BaseEjection, want: Duration(10 * time.Second)},
		{name: "passive.max_ejection", got: p.MaxEjection, want: Duration(5 * time.Minute)},
		{name: "passive.max_ejected_percent", got: p.MaxEjectedPercent, want: 50},
		{name: "passive on without active", got: plain.Health.Passive, want: p},
		{name: "retry.attempts", got: r.Attempts, want: 2},
		{name: "retry.on_status", got: r.OnStatus, want: []int{502, 503, 504}},
		{name: "retry.per_try_timeout", got: r.PerTryTimeout, want: Duration(0)},
		{name: "retry.budget", got: r.Budget, want: Percent(0.2)},
		{name: "retry.min_per_second", got: r.MinPerSecond, want: 3},
		{name: "resolve.interval", got: u.Resolve.Interval, want: Duration(30 * time.Second)},
		{name: "resolve.resolver", got: u.Resolve.Resolver, want: ""},
		{name: "resolve.family", got: u.Resolve.Family, want: "ip"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
	// Each upstream gets its own default on_status slice: changing one must not change another.
	u.Retry.OnStatus[0] = 500
	if plain.Retry.OnStatus[0] != 502 {
		t.Errorf("upstreams share their default on_status slice")
	}
}

// TestUpstreamValues checks how written values are read: backends in both forms, and percentages.
func TestUpstreamValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra []string
		check func(u *Upstream) (got, want any)
	}{
		{name: "budget 20%", extra: []string{"    retry: {budget: 20%}"},
			check: func(u *Upstream) (any, any) { return u.Retry.Budget, Percent(0.2) }},
		{name: "budget 0.5%", extra: []string{"    retry: {budget: 0.5%}"},
			check: func(u *Upstream) (any, any) { return u.Retry.Budget, Percent(0.005) }},
		{name: "budget 0% stays 0", extra: []string{"    retry: {budget: 0%}"},
			check: func(u *Upstream) (any, any) { return u.Retry.Budget, Percent(0) }},
		{name: "on_status [] stays empty", extra: []string{"    retry: {on_status: []}"},
			check: func(u *Upstream) (any, any) { return len(u.Retry.OnStatus), 0 }},
		{name: "load_factor 0 stays 0", extra: []string{"    balance: consistent_hash", "    hash: {load_factor: 0}"},
			check: func(u *Upstream) (any, any) { return u.Hash.LoadFactor, 0.0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(poolCfg(tt.extra...)), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			u := &c.Upstreams[len(c.Upstreams)-1]
			if got, want := tt.check(u); !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v, want %#v", got, want)
			}
		})
	}
	c, err := Parse([]byte(poolCfg("  - name: v", "    backends: [http://127.0.0.1:9002, {url: 'http://127.0.0.1:9003', weight: 5, backup: true}]")), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Backend{{URL: "http://127.0.0.1:9002", Weight: 1}, {URL: "http://127.0.0.1:9003", Weight: 5, Backup: true}}
	if got := c.Upstreams[1].Backends; !reflect.DeepEqual(got, want) {
		t.Errorf("backends = %#v, want %#v", got, want)
	}
	if got, want := c.Upstreams[1].BackendAddrs(), []string{"127.0.0.1:9002", "127.0.0.1:9003"}; !reflect.DeepEqual(got, want) {
		t.Errorf("BackendAddrs = %v, want %v", got, want)
	}
	for path, line := range map[string]int{"upstreams[1].backends[0].url": 9, "upstreams[1].backends[1].url": 9, "upstreams[1].backends[1].weight": 9} {
		if c.Lines[path] != line {
			t.Errorf("Lines[%s] = %d, want %d", path, c.Lines[path], line)
		}
	}
}
