package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/app"
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"
)

// fakeAdmin serves body as /api/upstreams, in the shape internal/app/controller.go writes (the
// real app is checked against the same parser in TestLiveFromRunningGatehouse). It returns the
// admin address.
func fakeAdmin(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/upstreams" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// liveJSON writes an /api/upstreams answer: upstream name → backends, each written as
// "addr" (up), "addr down=ERROR", "addr ejected=SECONDS" or "addr inflight=N".
func liveJSON(ups map[string][]string) string {
	type backend struct {
		Address      string     `json:"address"`
		Weight       int        `json:"weight"`
		Backup       bool       `json:"backup"`
		Available    bool       `json:"available"`
		ActiveUp     bool       `json:"active_check_up"`
		EjectedUntil *time.Time `json:"ejected_until,omitempty"`
		InFlight     int64      `json:"in_flight"`
		LastError    string     `json:"last_check_error,omitempty"`
	}
	type up struct {
		Name     string    `json:"name"`
		Backends []backend `json:"backends"`
	}
	var out []up
	for name, bs := range ups {
		u := up{Name: name}
		for _, spec := range bs {
			addr, state, _ := strings.Cut(spec, " ")
			b := backend{Address: addr, Weight: 1, Available: true, ActiveUp: true}
			key, val, _ := strings.Cut(state, "=")
			switch key {
			case "down":
				b.ActiveUp, b.Available, b.LastError = false, false, val
			case "ejected":
				var s int
				fmt.Sscan(val, &s)
				until := testNow.Add(time.Duration(s) * time.Second)
				b.EjectedUntil, b.Available = &until, false
			case "inflight":
				fmt.Sscan(val, &b.InFlight)
			}
			u.Backends = append(u.Backends, b)
		}
		out = append(out, u)
	}
	js, err := json.Marshal(out)
	if err != nil {
		panic(err)
	}
	return string(js)
}

func TestGoldenLive(t *testing.T) {
	t.Parallel()
	cfg := parse(t, poolsYAML)
	cartCookie := stickyCookie(t, cfg, "cart", "10.4.0.2:80")
	refused := "dial tcp %s: connect: connection refused"
	tests := []struct {
		explainCase
		live map[string][]string
	}{
		{explainCase{name: "live-backups", cfg: poolsYAML, q: Query{URL: "http://shop.test/"},
			must: []string{`→ route "main" → upstream "main" → 10.5.0.3:80 (the only backend that can take it)`,
				"no: down: the active health check fails: dial tcp 10.5.0.1:80: connect: connection refused",
				"yes (backup, in use: no primary can take requests)", "as the gatehouse at ADMIN sees it now"}},
			map[string][]string{"main": {"10.5.0.1:80 down=" + fmt.Sprintf(refused, "10.5.0.1:80"), "10.5.0.2:80 down=timeout after 1s: context deadline exceeded", "10.5.0.3:80"}}},
		{explainCase{name: "live-ejected", cfg: poolsYAML, q: Query{URL: "http://shop.test/"},
			must: []string{"no: ejected by passive checks for another 42s", "→ 10.5.0.2:80, the only backend that can take it",
				"no: backup: used only when no primary can take requests"}},
			map[string][]string{"main": {"10.5.0.1:80 ejected=42", "10.5.0.2:80", "10.5.0.3:80"}}},
		{explainCase{name: "live-all-down", cfg: poolsYAML, q: Query{URL: "http://shop.test/"},
			must: []string{`→ route "main" → upstream "main": no backend can take it → 503 Service Unavailable`,
				"no backend can take it now: gatehouse answers 503 Service Unavailable at once"}},
			map[string][]string{"main": {"10.5.0.1:80 down=" + fmt.Sprintf(refused, "10.5.0.1:80"), "10.5.0.2:80 ejected=3600", "10.5.0.3:80 down=" + fmt.Sprintf(refused, "10.5.0.3:80")}}},
		{explainCase{name: "live-hash-home-down", cfg: poolsYAML, q: Query{URL: "http://shop.test/ip", From: "192.0.2.10"},
			must: []string{"the consistent hash of the client IP 192.0.2.10 points at 10.3.0.3:80, which cannot take it now (down: the active health check fails: status 503",
				"the next backend in the table that can"}},
			map[string][]string{"by-ip": {"10.3.0.1:80", "10.3.0.2:80", "10.3.0.3:80 down=status 503 (want 200-399)"}}},
		{explainCase{name: "live-hash-bounded-load", cfg: poolsYAML, q: Query{URL: "http://shop.test/ip", From: "192.0.2.10"},
			must: []string{"points at 10.3.0.3:80, which has its full share of the requests in flight (bounded load)",
				"the next backend in the table under its bound", "  100  yes"}},
			map[string][]string{"by-ip": {"10.3.0.1:80", "10.3.0.2:80", "10.3.0.3:80 inflight=100"}}},
		{explainCase{name: "live-sticky-backend-ejected", cfg: poolsYAML, q: Query{URL: "http://shop.test/cart", Headers: []string{"Cookie: " + cartCookie}},
			must: []string{"cookie cart_backend names 10.4.0.2:80, which cannot take it now (ejected by passive checks for another 5s): the balancer chooses another",
				"→ 10.4.0.1:80, the only backend that can take it", "the response sets cookie cart_backend"}},
			map[string][]string{"cart": {"10.4.0.1:80", "10.4.0.2:80 ejected=5"}}},
		{explainCase{name: "live-other-config", cfg: poolsYAML, q: Query{URL: "http://shop.test/"},
			must: []string{`the gatehouse at ADMIN has no upstream "main" (it runs another config): every backend is taken as up`}},
			map[string][]string{"legacy": {"10.9.9.9:80"}}},
		{explainCase{name: "live-backend-unknown", cfg: poolsYAML, q: Query{URL: "http://shop.test/"},
			must: []string{"yes (not in the running gatehouse's state: taken as up)"}},
			map[string][]string{"main": {"10.5.0.1:80", "10.5.0.3:80"}}},
		{explainCase{name: "live-limit-full", cfg: siteYAML, q: Query{URL: "http://a.example.com/", Headers: []string{"X-Beta: on"}},
			must: []string{"yes (full: 100 in flight, limits.max_connections is 100; a request sent there waits in its queue (10 places) up to 500ms, then gets 503)"}},
			map[string][]string{"users-v2": {"10.2.0.1:8080 inflight=100", "10.2.0.2:8080 inflight=3"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			admin := fakeAdmin(t, http.StatusOK, liveJSON(tc.live))
			tc.q.Live = admin
			// The admin address is random: the output names it ADMIN.
			for i, m := range tc.must {
				tc.must[i] = strings.ReplaceAll(m, "ADMIN", admin)
			}
			got := runCase(t, tc.explainCase)
			golden(t, tc.name, strings.ReplaceAll(got, admin, "ADMIN"))
		})
	}
}

// TestLiveUnusable: when the live state cannot be had, explain says why and takes every backend as up.
func TestLiveUnusable(t *testing.T) {
	t.Parallel()
	cfg := parse(t, poolsYAML)
	closed := freeport.Addr(t)
	tests := []struct {
		name string
		live string
		want string
	}{
		{"nothing listening", closed, "state:      unknown: no gatehouse answered at " + closed + " (dial tcp " + closed + ": connect: connection refused): every backend is taken as up"},
		{"error status", fakeAdmin(t, http.StatusServiceUnavailable, "draining"), "(/api/upstreams answered 503 Service Unavailable): every backend is taken as up"},
		{"not json", fakeAdmin(t, http.StatusOK, "<html>"), "(/api/upstreams: invalid character '<'"},
		{"wrong shape", fakeAdmin(t, http.StatusOK, `{"name": "main"}`), "(/api/upstreams: json: cannot unmarshal object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := Run(&out, cfg, Query{URL: "/", Live: tt.live, Now: fixedNow}); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if !strings.Contains(got, tt.want) || !strings.Contains(got, "(2 of 3 backends can take it)") {
				t.Errorf("output lacks %q or the backends taken as up:\n%s", tt.want, got)
			}
		})
	}
}

func TestDialable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		":9090": "127.0.0.1:9090", "0.0.0.0:9090": "127.0.0.1:9090", "[::]:9090": "[::1]:9090",
		"10.0.0.1:9090": "10.0.0.1:9090", "localhost:1": "localhost:1", "no-port": "no-port",
	} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}

// placeholder names a random address in a golden file: name padded with dots to the address's
// length, so that tables keep their alignment.
func placeholder(name, addr string) string {
	return name + strings.Repeat(".", max(0, len(addr)-len(name)))
}

// TestLiveFromRunningGatehouse runs a real gatehouse, lets its active checks take two primaries
// down and its passive checks eject a backend that answers 500, and checks that explain, reading
// the real /api/upstreams, says so: the backup takes the request, and the upstream whose only
// backend is ejected answers 503.
func TestLiveFromRunningGatehouse(t *testing.T) {
	t.Parallel()
	down1, down2 := freeport.Addr(t), freeport.Addr(t)
	backup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "backup") }))
	defer backup.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "broken", 500) }))
	defer failing.Close()
	src := fmt.Sprintf(`
listeners: [{address: %q}]
admin: {address: %q}
access_log: {output: "off"}
routes:
  - {name: solo, match: {path_prefix: /solo}, upstream: solo}
  - {name: main, upstream: main}
upstreams:
  - name: main
    backends: [http://%s, http://%s, {url: %s, backup: true}]
    health:
      active: {type: tcp, interval: 200ms, timeout: 200ms, rise: 1, fall: 2}
  - name: solo
    backends: [%s]
    health:
      passive: {consecutive_5xx: 1, base_ejection: 1h, max_ejection: 2h, max_ejected_percent: 100}
    retry: {attempts: 0}
`, freeport.Addr(t), freeport.Addr(t), down1, down2, backup.URL, failing.URL)
	cfg := parse(t, src)
	a, err := app.Start(cfg, app.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	admin := a.AdminAddr().String()
	proxyAddr := a.Addrs()[0].String()

	resp, err := http.Get("http://" + proxyAddr + "/solo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("through the proxy: status %d, want the backend's 500", resp.StatusCode)
	}
	// Wait (on state, not time) for the verdicts: two primaries down, solo ejected.
	deadline := time.Now().Add(20 * time.Second)
	for {
		live, err := fetchLive(nil, admin)
		if err != nil {
			t.Fatal(err)
		}
		main, solo := live["main"], live["solo"]
		if main[down1] != nil && !main[down1].ActiveUp && main[down2] != nil && !main[down2].ActiveUp &&
			solo[failing.Listener.Addr().String()] != nil && solo[failing.Listener.Addr().String()].EjectedUntil != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running gatehouse never reported the primaries down and solo ejected: %+v", live)
		}
		time.Sleep(20 * time.Millisecond)
	}

	names := strings.NewReplacer(admin, placeholder("ADMIN", admin), down1, placeholder("DOWN1", down1), down2, placeholder("DOWN2", down2),
		backup.Listener.Addr().String(), placeholder("BACKUP", backup.Listener.Addr().String()),
		failing.Listener.Addr().String(), placeholder("FAILING", failing.Listener.Addr().String()))
	ejectedFor := regexp.MustCompile(`for another [0-9hms]+`)
	tests := []explainCase{
		{name: "app-backup-takes-over", q: Query{URL: "http://site.test/", Live: admin},
			must: []string{"→ " + backup.Listener.Addr().String() + " (the only backend that can take it)",
				"no: down: the active health check fails: dial tcp " + down1 + ": connect: connection refused",
				"yes (backup, in use: no primary can take requests)"}},
		{name: "app-ejected-503", q: Query{URL: "http://site.test/solo", Live: admin},
			must: []string{"no backend can take it → 503 Service Unavailable", "no: ejected by passive checks for another ",
				"  0  no: ejected"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg = src
			tc.q.Now = time.Now
			got := runCase(t, tc)
			golden(t, tc.name, ejectedFor.ReplaceAllString(names.Replace(got), "for another ..."))
		})
	}

	// The live state is only read: the running gatehouse still routes as before.
	resp, err = http.Get("http://" + proxyAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "backup" {
		t.Errorf("through the proxy with both primaries down: %q, want the backup's answer", body)
	}
}
