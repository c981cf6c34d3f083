package app

// End-to-end tests of the admin listener, the metrics it serves, sticky sessions across a reload,
// and static settings in a reload, through app.Start with the harness of e2e_reload_test.go.

import (
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"

	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// metricValue finds the sample name{labels} in Prometheus text output; labels are name, value
// pairs and must be the sample's whole label set.
func metricValue(text, name string, labels ...string) (float64, bool) {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		series, value := line[:sp], line[sp+1:]
		got := map[string]string{}
		if i := strings.IndexByte(series, '{'); i >= 0 {
			for _, kv := range strings.Split(strings.TrimSuffix(series[i+1:], "}"), ",") {
				k, v, _ := strings.Cut(kv, "=")
				got[k] = strings.Trim(v, `"`)
			}
			series = series[:i]
		}
		if series != name || len(got) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			if got[k] != v {
				match = false
			}
		}
		if match {
			f, err := strconv.ParseFloat(value, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// scrape returns the admin listener's /metrics.
func (h *harness) scrape() string {
	h.t.Helper()
	code, body, _ := h.mustDo(http.DefaultClient, "GET", h.admin+"/metrics")
	if code != 200 {
		h.t.Fatalf("GET /metrics: %d %s", code, body)
	}
	return body
}

// waitMetric waits until the sample reaches at least want (a request is counted when it ends,
// which may be just after its client read the answer), then returns its value.
func (h *harness) waitMetric(want float64, name string, labels ...string) float64 {
	h.t.Helper()
	var v float64
	waitFor(h.t, fmt.Sprintf("%s%v to reach %v", name, labels, want), func() bool {
		v, _ = metricValue(h.scrape(), name, labels...)
		return v >= want
	})
	return v
}

// TestE2EAdminAPI drives every admin endpoint of a running gatehouse: probes, metrics counted
// from real requests, the running config with its secret redacted, the backends' state, reloads
// accepted and refused; and checks that the public listener routes admin paths like any other.
func TestE2EAdminAPI(t *testing.T) {
	t.Parallel()
	a, b := startBackend(t, "a"), startBackend(t, "b")
	const secret = "s3cret-s3cret-s3cret-s3cret"
	dynamic := fmt.Sprintf(`routes:
  - {name: v1, match: {path_prefix: /v1/}, upstream: api}
  - {name: public-metrics, match: {path: /metrics}, upstream: api}
  - {name: sess, match: {path_prefix: /sess/}, upstream: sess}
upstreams:
  - {name: api, backends: [%s]}
  - {name: sess, backends: [%s], sticky: {secret: %q}, idle_timeout: 30s}
`, a.url, b.url, secret)
	h := startHarness(t, staticYAML(t, "", false), dynamic, 0)
	client := newClient(t, true)

	for _, p := range []struct{ path, body string }{{"/healthz", "ok\n"}, {"/readyz", "ready\n"}} {
		if code, body, _ := h.mustDo(client, "GET", h.admin+p.path); code != 200 || body != p.body {
			t.Errorf("GET %s: %d %q", p.path, code, body)
		}
	}

	// Requests through the public listener: 7 to route v1, and the admin's paths, which are
	// routed like any other path: /metrics by its route to a backend, the others to no route.
	const v1Requests = 7
	for i := range v1Requests {
		if code, body, _ := h.mustDo(client, "GET", fmt.Sprintf("%s/v1/%d", h.base, i)); code != 200 || body != fmt.Sprintf("a /v1/%d", i) {
			t.Fatalf("GET /v1/%d: %d %q", i, code, body)
		}
	}
	if code, body, _ := h.mustDo(client, "GET", h.base+"/metrics"); code != 200 || body != "a /metrics" {
		t.Errorf("public GET /metrics: %d %q, want the backend's answer through route public-metrics", code, body)
	}
	adminPaths := []string{"/healthz", "/readyz", "/api/config", "/api/upstreams", "/api/reload", "/debug/pprof/"}
	for _, p := range adminPaths {
		if code, body, _ := h.mustDo(client, "GET", h.base+p); code != 404 || strings.Contains(body, "gatehouse_") || strings.Contains(body, "{") {
			t.Errorf("public GET %s: %d %q, want the 404 of no route", p, code, body)
		}
	}

	t.Run("metrics", func(t *testing.T) {
		h := *h
		h.t = t
		route := []string{"backend", a.addr, "code", "2xx", "route", "v1"}
		if got := h.waitMetric(v1Requests, "gatehouse_requests_total", route...); got != v1Requests {
			t.Errorf("gatehouse_requests_total%v = %v, want %d", route, got, v1Requests)
		}
		noRoute := []string{"backend", "", "code", "4xx", "route", ""}
		if got := h.waitMetric(float64(len(adminPaths)), "gatehouse_requests_total", noRoute...); got != float64(len(adminPaths)) {
			t.Errorf("gatehouse_requests_total%v = %v, want %d", noRoute, got, len(adminPaths))
		}
		text := h.scrape()
		for _, tc := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"gatehouse_requests_total", []string{"backend", a.addr, "code", "2xx", "route", "public-metrics"}, 1},
			{"gatehouse_request_duration_seconds_count", []string{"route", "v1"}, v1Requests},
			{"gatehouse_request_duration_seconds_bucket", []string{"le", "+Inf", "route", "v1"}, v1Requests},
			{"gatehouse_backend_healthy", []string{"backend", a.addr, "pool", "api"}, 1},
			{"gatehouse_backend_healthy", []string{"backend", b.addr, "pool", "sess"}, 1},
			{"gatehouse_backend_ejected", []string{"backend", a.addr, "pool", "api"}, 0},
			{"gatehouse_backend_open_connections", []string{"backend", b.addr, "pool", "sess"}, 0},
			{"gatehouse_config_reloads_total", []string{"outcome", "success"}, 0},
			{"gatehouse_config_reloads_total", []string{"outcome", "failure"}, 0},
			{"gatehouse_config_last_reload_successful", nil, 1},
		} {
			if got, ok := metricValue(text, tc.name, tc.labels...); !ok || got != tc.want {
				t.Errorf("%s%v = %v (found %t), want %v", tc.name, tc.labels, got, ok, tc.want)
			}
		}
		// The histogram's buckets are cumulative and end at the count.
		var prev float64
		for _, le := range []string{"0.0005", "0.001", "0.01", "0.1", "1", "10", "+Inf"} {
			v, ok := metricValue(text, "gatehouse_request_duration_seconds_bucket", "le", le, "route", "v1")
			if !ok || v < prev {
				t.Errorf("bucket le=%s: %v (found %t), below the previous %v", le, v, ok, prev)
			}
			prev = v
		}
		for _, name := range []string{"gatehouse_backend_inflight_requests", "gatehouse_backend_latency_ewma_seconds"} {
			if _, ok := metricValue(text, name, "backend", a.addr, "pool", "api"); !ok {
				t.Errorf("%s of backend %s missing", name, a.addr)
			}
		}
		if v, ok := metricValue(text, "gatehouse_backend_open_connections", "backend", a.addr, "pool", "api"); !ok || v < 1 {
			t.Errorf("gatehouse_backend_open_connections of %s = %v (found %t), want the pooled connection", a.addr, v, ok)
		}
		if v, ok := metricValue(text, "gatehouse_client_connections"); !ok || v < 1 {
			t.Errorf("gatehouse_client_connections = %v (found %t), want this test's kept-alive connection", v, ok)
		}
		if v, ok := metricValue(text, "gatehouse_request_bytes_total", "route", "v1"); !ok || v <= 0 {
			t.Errorf("gatehouse_request_bytes_total of v1 = %v (found %t)", v, ok)
		}
	})

	t.Run("config", func(t *testing.T) {
		code, body, hdr := h.mustDo(client, "GET", h.admin+"/api/config")
		if code != 200 || hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /api/config: %d %s", code, hdr.Get("Content-Type"))
		}
		if strings.Contains(body, secret) {
			t.Errorf("/api/config shows the sticky secret:\n%s", body)
		}
		var cfg struct {
			Source    string `json:"source"`
			Listeners []struct {
				Address string `json:"address"`
			} `json:"listeners"`
			Routes []struct {
				Name string `json:"name"`
			} `json:"routes"`
			Upstreams []struct {
				Name        string `json:"name"`
				IdleTimeout string `json:"idle_timeout"`
				Sticky      *struct {
					Cookie string `json:"cookie"`
					Secret string `json:"secret"`
				} `json:"sticky"`
			} `json:"upstreams"`
		}
		if err := json.Unmarshal([]byte(body), &cfg); err != nil {
			t.Fatalf("%v in %s", err, body)
		}
		if cfg.Source != h.path || len(cfg.Listeners) != 1 || "http://"+cfg.Listeners[0].Address != h.base {
			t.Errorf("source %q listeners %+v, want %s and %s", cfg.Source, cfg.Listeners, h.path, h.base)
		}
		if len(cfg.Routes) != 3 || cfg.Routes[0].Name != "v1" || cfg.Routes[2].Name != "sess" {
			t.Errorf("routes %+v", cfg.Routes)
		}
		if len(cfg.Upstreams) != 2 || cfg.Upstreams[1].Sticky == nil {
			t.Fatalf("upstreams %+v", cfg.Upstreams)
		}
		if s := cfg.Upstreams[1].Sticky; s.Secret != "(redacted)" || s.Cookie != "gatehouse_sticky" {
			t.Errorf("sticky %+v, want the default cookie and the secret redacted", *s)
		}
		if got := cfg.Upstreams[1].IdleTimeout; got != "30s" {
			t.Errorf("idle_timeout %q, want the duration as written", got)
		}
	})

	t.Run("upstreams", func(t *testing.T) {
		var ups []struct {
			Name     string `json:"name"`
			Backends []struct {
				Address   string `json:"address"`
				Weight    int    `json:"weight"`
				Available bool   `json:"available"`
				ActiveUp  bool   `json:"active_check_up"`
				Open      int64  `json:"open_connections"`
			} `json:"backends"`
		}
		h.getJSON("/api/upstreams", &ups)
		want := map[string]string{"api": a.addr, "sess": b.addr}
		if len(ups) != len(want) {
			t.Fatalf("upstreams %+v, want %v", ups, want)
		}
		for _, u := range ups {
			if len(u.Backends) != 1 || u.Backends[0].Address != want[u.Name] {
				t.Errorf("upstream %s: %+v, want backend %s", u.Name, u.Backends, want[u.Name])
				continue
			}
			if be := u.Backends[0]; !be.Available || !be.ActiveUp || be.Weight != 1 {
				t.Errorf("upstream %s: backend %+v, want available with weight 1", u.Name, be)
			}
		}
	})

	t.Run("reload", func(t *testing.T) {
		h := *h
		h.t = t
		h.write(strings.Replace(dynamic, "routes:\n", "routes:\n  - {name: v2, match: {path_prefix: /v2/}, upstream: api}\n", 1))
		code, body, _ := h.mustDo(client, "POST", h.admin+"/api/reload")
		if code != 200 || !strings.Contains(body, `"status": "reloaded"`) {
			t.Fatalf("POST /api/reload: %d %s", code, body)
		}
		if code, body, _ := h.mustDo(client, "GET", h.base+"/v2/x"); code != 200 || body != "a /v2/x" {
			t.Errorf("the reloaded route: %d %q", code, body)
		}

		// A config with a misspelt field is refused with its file and line; the old one serves on.
		h.write(strings.Replace(dynamic, "idle_timeout: 30s", "idle_timeout: 30s, wieght: 2", 1))
		code, body, _ = h.mustDo(client, "POST", h.admin+"/api/reload")
		var refused struct{ Status, Error string }
		json.Unmarshal([]byte(body), &refused)
		wantPos := fmt.Sprintf("%s:%d:", h.path, lineOf(t, h.path, "wieght"))
		if code != 422 || refused.Status != "refused" || !strings.Contains(refused.Error, wantPos) || !strings.Contains(refused.Error, "wieght") {
			t.Errorf("POST /api/reload of an invalid config: %d %s, want 422 naming %s", code, body, wantPos)
		}
		var last struct {
			LastReload ReloadStatus `json:"last_reload"`
		}
		h.getJSON("/api/reload", &last)
		if st := last.LastReload; st.OK || st.Source != "admin API" || !strings.Contains(st.Error, wantPos) || st.Time.IsZero() {
			t.Errorf("GET /api/reload: %+v", st)
		}
		if code, body, _ := h.mustDo(client, "GET", h.base+"/v2/x"); code != 200 || body != "a /v2/x" {
			t.Errorf("after the refused reload: %d %q, want the previous config serving", code, body)
		}
		text := h.scrape()
		for _, tc := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"gatehouse_config_reloads_total", []string{"outcome", "success"}, 1},
			{"gatehouse_config_reloads_total", []string{"outcome", "failure"}, 1},
			{"gatehouse_config_last_reload_successful", nil, 0},
			// Counters go on across reloads.
			{"gatehouse_requests_total", []string{"backend", a.addr, "code", "2xx", "route", "v1"}, v1Requests},
		} {
			if got, ok := metricValue(text, tc.name, tc.labels...); !ok || got != tc.want {
				t.Errorf("%s%v = %v (found %t), want %v", tc.name, tc.labels, got, ok, tc.want)
			}
		}
	})
}

// TestE2EAdminPprof: /debug/pprof is served only with admin.pprof, and never on the public
// listener.
func TestE2EAdminPprof(t *testing.T) {
	t.Parallel()
	be := startBackend(t, "a")
	for _, tc := range []struct {
		name  string
		pprof bool
		code  int
	}{
		{"off by default", false, 404},
		{"on", true, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startHarness(t, staticYAML(t, "", tc.pprof), "routes: [{name: r, match: {path: /x}, upstream: u}]\nupstreams: [{name: u, backends: ["+be.url+"]}]\n", 0)
			code, body, _ := h.mustDo(http.DefaultClient, "GET", h.admin+"/debug/pprof/")
			if code != tc.code || tc.code == 200 && !strings.Contains(body, "goroutine") {
				t.Errorf("admin /debug/pprof/: %d, want %d; %.200q", code, tc.code, body)
			}
			if code, _, _ := h.mustDo(http.DefaultClient, "GET", h.base+"/debug/pprof/"); code != 404 {
				t.Errorf("public /debug/pprof/: %d, want 404", code)
			}
		})
	}
}

// TestE2EReadyzWhileShuttingDown: once Shutdown starts, /readyz answers 503 for the outer load
// balancer while a request in flight finishes; /healthz still answers 200. A second Shutdown is
// harmless.
func TestE2EReadyzWhileShuttingDown(t *testing.T) {
	t.Parallel()
	be := startBackend(t, "a")
	h := startHarness(t, staticYAML(t, "", false), "routes: [{name: r, upstream: u}]\nupstreams: [{name: u, backends: ["+be.url+"]}]\n", 0)
	type answer struct {
		code int
		body string
		err  error
	}
	inFlight := make(chan answer, 1)
	client := newClient(t, false)
	go func() {
		code, body, _, err := do(client, "GET", h.base+"/hold")
		inFlight <- answer{code, body, err}
	}()
	<-be.held
	if code, body, _ := h.mustDo(http.DefaultClient, "GET", h.admin+"/readyz"); code != 200 {
		t.Fatalf("/readyz before shutdown: %d %q", code, body)
	}
	shut := make(chan error, 1)
	go func() { shut <- h.app.Shutdown(t.Context()) }()
	waitFor(t, "/readyz to answer 503", func() bool {
		code, _, _, err := do(http.DefaultClient, "GET", h.admin+"/readyz")
		return err == nil && code == 503
	})
	if code, body, _ := h.mustDo(http.DefaultClient, "GET", h.admin+"/healthz"); code != 200 {
		t.Errorf("/healthz while draining: %d %q, want 200: the process is alive", code, body)
	}
	close(be.release)
	if got := <-inFlight; got.err != nil || got.code != 200 || got.body != "a /hold" {
		t.Errorf("the request in flight: %d %q %v, want it to finish", got.code, got.body, got.err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := h.app.Shutdown(t.Context()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// stickyID is the public half of the sticky cookie that names addr (see balance/sticky.go): what
// a client can compute for itself, without the secret.
func stickyID(addr string) string {
	sum := sha256.Sum256([]byte("gatehouse sticky backend id v1\x00" + addr))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// TestE2EStickySessions: a client gets a cookie on its first answer and then keeps going to the
// same backend, also after a reload that keeps the backends' addresses (with the random secret
// made at start); a forged cookie pins nothing.
func TestE2EStickySessions(t *testing.T) {
	t.Parallel()
	bes := []*backend{startBackend(t, "x"), startBackend(t, "y"), startBackend(t, "z")}
	byName := map[string]*backend{}
	urls := make([]string, len(bes))
	for i, be := range bes {
		urls[i], byName[be.name] = be.url, be
	}
	dynamic := func(extraRoute, sticky string) string {
		return fmt.Sprintf("routes:\n  - {name: app, upstream: app}\n%supstreams:\n  - {name: app, balance: round_robin, backends: [%s], sticky: {%s}}\n",
			extraRoute, strings.Join(urls, ", "), sticky)
	}
	h := startHarness(t, staticYAML(t, "", false), dynamic("", ""), 0)
	client := newClient(t, true)

	// get sends a request with the cookie header cookie ("" for none) and returns the backend that
	// answered and the sticky cookie set, if any.
	get := func(cookie string) (string, string) {
		t.Helper()
		var hdr []string
		if cookie != "" {
			hdr = []string{"Cookie", "gatehouse_sticky=" + cookie}
		}
		code, body, header := h.mustDo(client, "GET", h.base+"/page", hdr...)
		if code != 200 {
			t.Fatalf("GET /page: %d %q", code, body)
		}
		set := ""
		for _, c := range (&http.Response{Header: header}).Cookies() {
			if c.Name == "gatehouse_sticky" {
				set = c.Value
			}
		}
		name, _, _ := strings.Cut(body, " ")
		return name, set
	}

	first, cookie := get("")
	if cookie == "" || byName[first] == nil {
		t.Fatalf("first answer from %q set cookie %q", first, cookie)
	}
	if id, _, _ := strings.Cut(cookie, "."); id != stickyID(byName[first].addr) {
		t.Errorf("cookie %q does not name %s, which answered", cookie, first)
	}
	pinned := func(when string) {
		t.Helper()
		for i := range 6 {
			if got, set := get(cookie); got != first || set != "" {
				t.Errorf("%s, request %d: answered by %s (set cookie %q), want %s with no new cookie", when, i, got, set, first)
			}
		}
	}
	pinned("before the reload")

	// A reload that adds a route and changes the sticky settings (a new pool) but keeps the
	// backends: the cookie signed with the secret made at start still pins.
	h.write(dynamic("  - {name: extra, match: {path: /extra}, respond: {status: 204}}\n", "max_age: 1h"))
	if err := h.app.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := h.mustDo(client, "GET", h.base+"/extra"); code != 204 {
		t.Fatalf("the reloaded config is not serving: /extra answered %d", code)
	}
	pinned("after the reload")

	// A forged cookie: the public id of another backend with a made-up signature, and the id of
	// another backend under the signature of the real cookie. Neither is honoured: the balancer
	// places the request and the answer carries a genuine cookie for the backend that took it.
	var other *backend
	for _, be := range bes {
		if be.name != first {
			other = be
			break
		}
	}
	_, realMAC, _ := strings.Cut(cookie, ".")
	for _, forged := range []string{stickyID(other.addr) + "." + strings.Repeat("A", len(realMAC)), stickyID(other.addr) + "." + realMAC} {
		hits := 0
		for i := range 6 {
			got, set := get(forged)
			if got == other.name {
				hits++
			}
			if id, _, _ := strings.Cut(set, "."); byName[got] == nil || id != stickyID(byName[got].addr) {
				t.Errorf("forged cookie %q, request %d: answered by %q with cookie %q, want a genuine cookie for it", forged, i, got, set)
			}
		}
		if hits == 6 {
			t.Errorf("forged cookie %q pinned every request to %s", forged, other.name)
		}
	}
}

// TestE2EReloadStaticSettingsNeedRestart: a reload that changes static settings (listeners, the
// admin listener, server limits and timeouts, the access log) applies its routes and upstreams,
// logs that the rest needs a restart, and leaves the running static settings as they were —
// including the pooled connections that a changed connect timeout must not drop.
func TestE2EReloadStaticSettingsNeedRestart(t *testing.T) {
	t.Parallel()
	be := startBackend(t, "s")
	listen, admin := freeport.Addr(t), freeport.Addr(t)
	static := func(extraListener, pprof string, maxHeaders int, connect, accessLog string) string {
		return fmt.Sprintf("listeners: [{address: %q}%s]\nadmin: {address: %q, pprof: %s}\naccess_log: {output: %q}\n"+
			"server: {max_header_count: %d, timeouts: {shutdown_drain: 5s, upstream_connect: %s}}\n",
			listen, extraListener, admin, pprof, accessLog, maxHeaders, connect)
	}
	dynamic := "routes:\n  - {name: s, upstream: s}\nupstreams: [{name: s, backends: [" + be.url + "]}]\n"
	h := startHarness(t, static("", "false", 20, "5s", "off"), dynamic, 0)
	client := newClient(t, true)
	probe := func(when string, headers int) {
		t.Helper()
		hdr := make([]string, 0, 2*headers)
		for i := range headers {
			hdr = append(hdr, fmt.Sprintf("X-H%d", i), "v")
		}
		if code, body, _ := h.mustDo(client, "GET", h.base+"/s", hdr...); code != 200 || body != "s /s" {
			t.Fatalf("%s: GET /s with %d extra fields: %d %q", when, headers, code, body)
		}
		waitFor(t, "the backend connection back in its pool", func() bool { return h.idleConns("s", be.addr) > 0 })
	}
	probe("before the reload", 0)

	accessLog := filepath.Join(t.TempDir(), "access.log")
	h.writeFull(static(fmt.Sprintf(", {address: %q}", freeport.Addr(t)), "true", 5, "1s", accessLog) +
		strings.Replace(dynamic, "routes:\n", "routes:\n  - {name: new, match: {path: /new}, respond: {status: 200, body: new}}\n", 1))
	if err := h.app.Reload("test"); err != nil {
		t.Fatalf("a reload that changes static settings was refused: %v", err)
	}
	const want = "reload: listeners, admin, server, access_log changed; these are read at start only: restart gatehouse to apply them"
	if h.log.count(want) != 1 {
		t.Errorf("the log lacks %q:\n%s", want, h.log)
	}
	// The dynamic part is applied.
	if code, body, _ := h.mustDo(client, "GET", h.base+"/new"); code != 200 || body != "new" {
		t.Errorf("the new route: %d %q", code, body)
	}
	// The static part is not: 10 header fields still pass the limit of 20, no second listener,
	// no pprof, no access log file, and the backend keeps its pooled connection.
	probe("after the reload", 10)
	if n := len(h.app.Addrs()); n != 1 {
		t.Errorf("%d listeners after the reload, want the 1 it started with", n)
	}
	if code, _, _ := h.mustDo(client, "GET", h.admin+"/debug/pprof/"); code != 404 {
		t.Errorf("/debug/pprof/ after a reload turning it on: %d, want 404 until a restart", code)
	}
	if _, err := os.Stat(accessLog); !os.IsNotExist(err) {
		t.Errorf("the access log file of the reloaded config exists (%v); the log must stay off until a restart", err)
	}
	if n := be.conns.Load(); n != 1 {
		t.Errorf("the backend accepted %d connections, want 1: a static change dropped its pool", n)
	}
	// /api/config shows the settings that run, not the ones waiting for a restart.
	var cfg struct {
		Admin struct {
			Pprof bool `json:"pprof"`
		} `json:"admin"`
		Server struct {
			MaxHeaderCount int `json:"max_header_count"`
			Timeouts       struct {
				UpstreamConnect string `json:"upstream_connect"`
			} `json:"timeouts"`
		} `json:"server"`
		Routes []struct {
			Name string `json:"name"`
		} `json:"routes"`
	}
	h.getJSON("/api/config", &cfg)
	if cfg.Admin.Pprof || cfg.Server.MaxHeaderCount != 20 || cfg.Server.Timeouts.UpstreamConnect != "5s" || len(cfg.Routes) != 2 {
		t.Errorf("/api/config after the reload: %+v, want the running static settings and the new routes", cfg)
	}
	// A later reload still reports the pending static changes.
	if err := h.app.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if n := h.log.count(want); n != 2 {
		t.Errorf("the restart notice was logged %d times after two reloads, want 2", n)
	}
}
