package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeController is the test double of the running gatehouse.
type fakeController struct {
	mu        sync.Mutex
	ready     bool
	reloadErr error
	reloads   int
	last      map[string]any
	config    any
}

var _ Controller = (*fakeController)(nil)

func (f *fakeController) Config() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.config != nil {
		return f.config
	}
	return map[string]any{"listeners": []string{"127.0.0.1:8080"}}
}

func (f *fakeController) Upstreams() any {
	return []map[string]any{{"name": "api", "backends": []map[string]any{{"addr": "127.0.0.1:9001", "healthy": true}}}}
}

func (f *fakeController) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads++
	outcome, errText := "success", ""
	if f.reloadErr != nil {
		outcome, errText = "failure", f.reloadErr.Error()
	}
	f.last = map[string]any{"attempt": f.reloads, "outcome": outcome, "error": errText}
	return f.reloadErr
}

func (f *fakeController) LastReload() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeController) Ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

func (f *fakeController) set(fn func(*fakeController)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// logRecorder collects Logf lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logRecorder) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// start runs a server on a loopback port until the test ends.
func start(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, "http://" + s.Addr().String()
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, hdr map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(body)}
}

func TestEndpoints(t *testing.T) {
	ctl := &fakeController{ready: true}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "gatehouse_up 1\n")
	})
	_, base := start(t, Options{Controller: ctl, Metrics: metrics})

	tests := []struct {
		name   string
		method string
		path   string
		status int
		ctype  string // prefix of Content-Type
		body   string // substring of the body
		allow  string // the Allow field of a 405
	}{
		{"index", "GET", "/", 200, "text/plain", "GET /api/upstreams", ""},
		{"index lists metrics", "GET", "/", 200, "text/plain", "GET /metrics", ""},
		{"healthz", "GET", "/healthz", 200, "text/plain", "ok\n", ""},
		{"healthz head", "HEAD", "/healthz", 200, "text/plain", "", ""},
		{"readyz", "GET", "/readyz", 200, "text/plain", "ready\n", ""},
		{"metrics", "GET", "/metrics", 200, "", "gatehouse_up 1\n", ""},
		{"config", "GET", "/api/config", 200, "application/json", "\"listeners\": [\n    \"127.0.0.1:8080\"", ""},
		{"upstreams", "GET", "/api/upstreams", 200, "application/json", `"addr": "127.0.0.1:9001"`, ""},
		{"last reload before any", "GET", "/api/reload", 200, "application/json", `"last_reload": null`, ""},
		{"unknown path", "GET", "/nope", 404, "", "", ""},
		{"index only at root", "GET", "/healthz/x", 404, "", "", ""},
		{"pprof off", "GET", "/debug/pprof/", 404, "", "", ""},
		{"post healthz", "POST", "/healthz", 405, "", "", "GET, HEAD"},
		{"delete config", "DELETE", "/api/config", 405, "", "", "GET, HEAD"},
		{"put reload", "PUT", "/api/reload", 405, "", "", "GET, HEAD, POST"},
		{"post index", "POST", "/", 405, "", "", "GET, HEAD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.method, base+tc.path, nil)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d; body %q", a.status, tc.status, a.body)
			}
			if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want %q", ct, tc.ctype)
			}
			if tc.ctype == "application/json" && a.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q, want exactly application/json", a.header.Get("Content-Type"))
			}
			if !strings.Contains(a.body, tc.body) {
				t.Errorf("body %q does not contain %q", a.body, tc.body)
			}
			if got := a.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestNoMetricsHandler(t *testing.T) {
	_, base := start(t, Options{Controller: &fakeController{}})
	if a := do(t, "GET", base+"/metrics", nil); a.status != 404 {
		t.Errorf("/metrics without a handler: %d, want 404", a.status)
	}
	if a := do(t, "GET", base+"/", nil); strings.Contains(a.body, "/metrics") {
		t.Errorf("the index lists /metrics without a handler:\n%s", a.body)
	}
}

func TestPprof(t *testing.T) {
	tests := []struct {
		name   string
		pprof  bool
		path   string
		status int
		body   string
	}{
		{"off index", false, "/debug/pprof/", 404, ""},
		{"off cmdline", false, "/debug/pprof/cmdline", 404, ""},
		{"on index", true, "/debug/pprof/", 200, "goroutine"},
		{"on named profile", true, "/debug/pprof/goroutine?debug=1", 200, "goroutine profile"},
		{"on cmdline", true, "/debug/pprof/cmdline", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, base := start(t, Options{Controller: &fakeController{}, Pprof: tc.pprof})
			a := do(t, "GET", base+tc.path, nil)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d", a.status, tc.status)
			}
			if !strings.Contains(a.body, tc.body) {
				t.Errorf("body does not contain %q", tc.body)
			}
			idx := do(t, "GET", base+"/", nil)
			if got := strings.Contains(idx.body, "/debug/pprof/"); got != tc.pprof {
				t.Errorf("index lists pprof: %v, want %v", got, tc.pprof)
			}
		})
	}
}

func TestReadyFlips(t *testing.T) {
	ctl := &fakeController{}
	_, base := start(t, Options{Controller: ctl})
	steps := []struct {
		name   string
		ready  bool
		status int
		body   string
	}{
		{"starting", false, 503, "not ready\n"},
		{"serving", true, 200, "ready\n"},
		{"draining", false, 503, "not ready\n"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ctl.set(func(f *fakeController) { f.ready = st.ready })
			a := do(t, "GET", base+"/readyz", nil)
			if a.status != st.status || a.body != st.body {
				t.Errorf("got %d %q, want %d %q", a.status, a.body, st.status, st.body)
			}
			// Liveness does not follow readiness.
			if h := do(t, "GET", base+"/healthz", nil); h.status != 200 {
				t.Errorf("healthz %d while ready=%v", h.status, st.ready)
			}
		})
	}
}

func TestReload(t *testing.T) {
	ctl := &fakeController{}
	logs := &logRecorder{}
	_, base := start(t, Options{Controller: ctl, Logf: logs.logf})
	steps := []struct {
		name    string
		err     error
		status  int
		result  reloadResult
		outcome string
	}{
		{"success", nil, 200, reloadResult{Status: "reloaded"}, "success"},
		{"refused", errors.New("config.yaml:3: routes[0].upstream: upstream \"apj\" is not defined"), 422,
			reloadResult{Status: "refused", Error: "config.yaml:3: routes[0].upstream: upstream \"apj\" is not defined"}, "failure"},
		{"success again", nil, 200, reloadResult{Status: "reloaded"}, "success"},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ctl.set(func(f *fakeController) { f.reloadErr = st.err })
			a := do(t, "POST", base+"/api/reload", nil)
			if a.status != st.status {
				t.Fatalf("status %d, want %d: %s", a.status, st.status, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got reloadResult
			if err := json.Unmarshal([]byte(a.body), &got); err != nil {
				t.Fatalf("body %q: %v", a.body, err)
			}
			if got != st.result {
				t.Errorf("result %+v, want %+v", got, st.result)
			}
			if !strings.Contains(a.body, "\n  \"status\"") {
				t.Errorf("body is not indented: %q", a.body)
			}

			// GET shows the attempt just made and reloads nothing.
			var last struct {
				LastReload struct {
					Attempt int    `json:"attempt"`
					Outcome string `json:"outcome"`
					Error   string `json:"error"`
				} `json:"last_reload"`
			}
			g := do(t, "GET", base+"/api/reload", nil)
			if err := json.Unmarshal([]byte(g.body), &last); err != nil {
				t.Fatalf("GET /api/reload %q: %v", g.body, err)
			}
			if last.LastReload.Attempt != i+1 || last.LastReload.Outcome != st.outcome {
				t.Errorf("last reload %+v, want attempt %d outcome %s", last.LastReload, i+1, st.outcome)
			}
		})
	}
	if !logs.contains(`admin: reload refused: config.yaml:3`) {
		t.Error("the refused reload was not logged")
	}
}

// TestCrossOriginReloadRefused pins that a web page cannot make the browser reload a loopback
// gatehouse: a cross-site POST is refused before the controller sees it.
func TestCrossOriginReloadRefused(t *testing.T) {
	ctl := &fakeController{}
	_, base := start(t, Options{Controller: ctl})
	tests := []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, 403},
		{"curl", nil, 200},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctl.set(func(f *fakeController) { f.reloads = 0 })
			a := do(t, "POST", base+"/api/reload", tc.hdr)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d", a.status, tc.status)
			}
			ctl.mu.Lock()
			n := ctl.reloads
			ctl.mu.Unlock()
			if want := map[bool]int{true: 1, false: 0}[tc.status == 200]; n != want {
				t.Errorf("%d reloads, want %d", n, want)
			}
		})
	}
}

func TestUnencodableJSON(t *testing.T) {
	ctl := &fakeController{config: map[string]any{"bad": make(chan int)}}
	logs := &logRecorder{}
	_, base := start(t, Options{Controller: ctl, Logf: logs.logf})
	a := do(t, "GET", base+"/api/config", nil)
	if a.status != 500 || a.header.Get("Content-Type") != "application/json" || !strings.Contains(a.body, `"error": "cannot encode`) {
		t.Errorf("got %d %q %q", a.status, a.header.Get("Content-Type"), a.body)
	}
	if !logs.contains("admin: encode json") {
		t.Error("the encoding error was not logged")
	}
}

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"address in use", Options{Addr: busy.Addr().String(), Controller: &fakeController{}}, "admin: listen on " + busy.Addr().String()},
		{"bad address", Options{Addr: "127.0.0.1:notaport", Controller: &fakeController{}}, "127.0.0.1:notaport"},
		{"no controller", Options{Addr: "127.0.0.1:0"}, "admin: no controller"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(tc.o)
			if err == nil {
				s.Shutdown(context.Background())
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	s, err := Start(Options{Addr: "127.0.0.1:0", Controller: &fakeController{}})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	if a := do(t, "GET", "http://"+addr+"/healthz", nil); a.status != 200 {
		t.Fatalf("healthz %d", a.status)
	}
	http.DefaultClient.CloseIdleConnections()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("still listening after Shutdown")
	}
}
