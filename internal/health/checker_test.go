package health

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// fast is a config with test-sized timers.
func fast(cfg Config) Config {
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	return cfg
}

func backend(addr string) *upstream.Backend {
	return upstream.NewBackend(addr, upstream.Settings{}, nil, time.Now)
}

// logs collects log lines; onLog, when set, runs inside the logf call.
type logs struct {
	mu    sync.Mutex
	lines []string
	onLog func(line string)
}

func (l *logs) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, line)
	f := l.onLog
	l.mu.Unlock()
	if f != nil {
		f(line)
	}
}

// all is a copy of the lines so far.
func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// logged waits until a line holding sub is logged. A verdict is applied before it is logged.
func (l *logs) logged(t *testing.T, sub string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%q is logged (log %q)", sub, l.all()), func() bool { return l.has(sub) })
}

func (l *logs) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// eventually polls cond until it holds, and fails the test after several seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// statusOf is the checker's status for addr, and whether it watches addr.
func statusOf(c *Checker, addr string) (Status, bool) {
	for _, s := range c.Status() {
		if s.Addr == addr {
			return s, true
		}
	}
	return Status{}, false
}

// checked waits until addr has had at least n probes and returns its status.
func checked(t *testing.T, c *Checker, addr string, n uint64) Status {
	t.Helper()
	var st Status
	eventually(t, fmt.Sprintf("%s has %d probes", addr, n), func() bool {
		st, _ = statusOf(c, addr)
		return st.Checks >= n
	})
	return st
}

// flipServer answers 200 or 500 and counts the answers of each kind since the last switch.
type flipServer struct {
	*httptest.Server
	failing    atomic.Bool
	ok, failed atomic.Int64
}

func newFlipServer(t *testing.T) *flipServer {
	s := &flipServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.failing.Load() {
			s.failed.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		s.ok.Add(1)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *flipServer) set(failing bool) {
	s.ok.Store(0)
	s.failed.Store(0)
	s.failing.Store(failing)
}

// A backend that starts failing goes down after exactly Fall failed answers, and comes back after
// exactly Rise good ones; the backend's State and the log follow.
func TestHTTPDownAfterFallUpAfterRise(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
	}{
		{"defaults", 0, 0},
		{"one and one", 1, 1},
		{"rise 4 fall 2", 4, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFlipServer(t)
			addr := srv.Listener.Addr().String()
			b := backend(addr)
			var l logs
			var mu sync.Mutex
			served := map[bool]int64{} // at each verdict change: answers of the new kind served
			l.onLog = func(line string) {
				mu.Lock()
				defer mu.Unlock()
				if strings.Contains(line, " is up") {
					served[true] = srv.ok.Load()
				} else {
					served[false] = srv.failed.Load()
				}
			}
			c := New(fast(Config{Rise: tt.rise, Fall: tt.fall}), l.logf, nil)
			defer c.Close()
			c.Watch([]*upstream.Backend{b})
			if !b.State.ActiveUp() {
				t.Fatal("a new backend starts down")
			}
			checked(t, c, addr, 2)
			if !b.State.ActiveUp() || l.has("backend") {
				t.Fatalf("healthy backend: up %v, log %q", b.State.ActiveUp(), l.all())
			}

			srv.set(true)
			eventually(t, "the backend is down", func() bool { return !b.State.ActiveUp() })
			want := Config{Rise: tt.rise, Fall: tt.fall}.WithDefaults()
			l.logged(t, fmt.Sprintf("backend %s is down: status 500 (want 200-399)", addr))
			st, _ := statusOf(c, addr)
			if st.Up || st.Failures < want.Fall || st.LastError != "status 500 (want 200-399)" {
				t.Fatalf("status %+v", st)
			}

			srv.set(false)
			eventually(t, "the backend is up", func() bool { return b.State.ActiveUp() })
			l.logged(t, fmt.Sprintf("backend %s is up", addr))
			mu.Lock()
			defer mu.Unlock()
			if served[false] != int64(want.Fall) || served[true] != int64(want.Rise) {
				t.Fatalf("down after %d failed answers (want %d), up after %d good ones (want %d)",
					served[false], want.Fall, served[true], want.Rise)
			}
		})
	}
}

func TestHTTPVerdicts(t *testing.T) {
	big := strings.Repeat("x", MaxBody) + "ok"
	tests := []struct {
		name    string
		cfg     Config
		handler http.HandlerFunc
		up      bool
		err     string // in LastError when down
	}{
		{"200", Config{}, func(w http.ResponseWriter, r *http.Request) {}, true, ""},
		{"204 in the default range", Config{}, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, true, ""},
		{"redirect is not followed", Config{}, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				w.WriteHeader(500)
				return
			}
			http.Redirect(w, r, "/broken", http.StatusFound)
		}, true, ""},
		{"redirect out of a 2xx range", Config{StatusMin: 200, StatusMax: 299}, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/", http.StatusFound)
		}, false, "status 302 (want 200-299)"},
		{"404", Config{}, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, false, "status 404 (want 200-399)"},
		{"exact status", Config{StatusMin: 200, StatusMax: 200}, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, false, "status 204 (want 200-200)"},
		{"503 expected", Config{StatusMin: 503, StatusMax: 503}, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, true, ""},
		{"body holds the text", Config{Body: "ok"}, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"status":"ok"}`) }, true, ""},
		{"body lacks the text", Config{Body: "ok"}, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "degraded") }, false, `body does not contain "ok"`},
		{"text past 64 KiB", Config{Body: "ok"}, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, big) }, false, `body does not contain "ok" in its first 65536 bytes`},
		{"request as configured", Config{Method: "POST", Path: "/healthz?deep=1", Host: "svc.internal"}, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != "POST" || r.URL.RequestURI() != "/healthz?deep=1" || r.Host != "svc.internal" ||
				r.UserAgent() != UserAgent || !r.Close {
				w.WriteHeader(400)
			}
		}, true, ""},
		{"default request", Config{}, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != "GET" || r.URL.RequestURI() != "/" || r.Host != r.Context().Value(http.LocalAddrContextKey).(net.Addr).String() ||
				r.UserAgent() != UserAgent || !r.Close {
				w.WriteHeader(400)
			}
		}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			addr := srv.Listener.Addr().String()
			b := backend(addr)
			cfg := fast(tt.cfg)
			cfg.Rise, cfg.Fall = 1, 1
			c := New(cfg, nil, nil)
			defer c.Close()
			c.Watch([]*upstream.Backend{b})
			if tt.up {
				st := checked(t, c, addr, 3)
				if !st.Up || st.Successes < 3 || st.LastError != "" || !b.State.ActiveUp() {
					t.Fatalf("status %+v, want up", st)
				}
				return
			}
			eventually(t, "the backend is down", func() bool { return !b.State.ActiveUp() })
			if st, _ := statusOf(c, addr); st.Up || !strings.Contains(st.LastError, tt.err) {
				t.Fatalf("status %+v, want down with %q", st, tt.err)
			}
		})
	}
}

// silentListener accepts connections and never answers; it counts the connections accepted.
func silentListener(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), &n
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string { return closedPorts(t, 1)[0] }

// closedPorts returns n distinct loopback addresses where nothing listens.
func closedPorts(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close() // held until all are taken, so that no port comes twice
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

func TestProbeFailures(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		addr func(t *testing.T) string
		err  string
	}{
		{"http server that never answers", Config{Timeout: 50 * time.Millisecond}, func(t *testing.T) string { a, _ := silentListener(t); return a }, "timeout after 50ms"},
		{"http to a closed port", Config{}, closedPort, "connection refused"},
		{"tcp to a closed port", Config{Type: "tcp"}, closedPort, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr(t)
			b := backend(addr)
			cfg := fast(tt.cfg)
			cfg.Fall = 2
			var l logs
			c := New(cfg, l.logf, nil)
			defer c.Close()
			c.Watch([]*upstream.Backend{b})
			eventually(t, "the backend is down", func() bool { return !b.State.ActiveUp() })
			st, _ := statusOf(c, addr)
			if st.Up || st.Failures < 2 || !strings.Contains(st.LastError, tt.err) || st.LastCheck.IsZero() {
				t.Fatalf("status %+v, want down with %q", st, tt.err)
			}
			l.logged(t, "backend "+addr+" is down: ")
		})
	}
}

func TestTCPUp(t *testing.T) {
	addr, _ := silentListener(t) // a TCP check only needs the connection to open
	b := backend(addr)
	b.State.SetActive(false, 1) // down before: the check brings it up
	var l logs
	c := New(fast(Config{Type: "tcp", Rise: 2}), l.logf, nil)
	defer c.Close()
	c.Watch([]*upstream.Backend{b})
	eventually(t, "the backend is up", func() bool { return b.State.ActiveUp() })
	if st, _ := statusOf(c, addr); !st.Up || st.Successes < 2 || st.LastError != "" {
		t.Fatalf("status %+v", st)
	}
	l.logged(t, "backend "+addr+" is up")
}

// Watch starts probing new addresses, stops probing removed ones, and keeps the counters and the
// verdict of the others, also when a reload hands over a new *Backend for the same address.
func TestWatchKeepsUnchangedState(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer bad.Close()
	var goneHits atomic.Int64
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { goneHits.Add(1) }))
	defer gone.Close()
	added := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer added.Close()
	badAddr, goneAddr, addedAddr := bad.Listener.Addr().String(), gone.Listener.Addr().String(), added.Listener.Addr().String()

	c := New(fast(Config{Fall: 2}), nil, nil)
	defer c.Close()
	badB, goneB := backend(badAddr), backend(goneAddr)
	c.Watch([]*upstream.Backend{badB, goneB})
	eventually(t, "the failing backend is down", func() bool { return !badB.State.ActiveUp() })
	checked(t, c, goneAddr, 2)

	// The same set again changes nothing.
	before, _ := statusOf(c, badAddr)
	c.Watch([]*upstream.Backend{goneB, badB})
	if st, _ := statusOf(c, badAddr); st.Up || st.Checks < before.Checks || st.Failures < before.Failures {
		t.Fatalf("status after an unchanged Watch %+v, before %+v", st, before)
	}

	// A reload: a new Backend for the failing address, the healthy one removed, one added.
	badB2, addedB := backend(badAddr), backend(addedAddr)
	c.Watch([]*upstream.Backend{badB2, addedB})
	if badB2.State.ActiveUp() {
		t.Fatal("the new Backend for a down address did not take over the verdict")
	}
	st, _ := statusOf(c, badAddr)
	if st.Up || st.Checks < before.Checks || st.Failures < before.Failures {
		t.Fatalf("status after the reload %+v, before %+v", st, before)
	}
	if _, ok := statusOf(c, goneAddr); ok {
		t.Fatal("removed backend still in Status")
	}
	hits := goneHits.Load()
	checked(t, c, addedAddr, 3)
	if n := goneHits.Load(); n > hits+1 { // at most the probe that was in flight
		t.Fatalf("removed backend probed %d more times", n-hits)
	}
	if st, _ := statusOf(c, addedAddr); !st.Up || !addedB.State.ActiveUp() {
		t.Fatalf("added backend %+v", st)
	}
	if got := len(c.Status()); got != 2 {
		t.Fatalf("%d backends in Status, want 2", got)
	}
}

func TestCloseStopsEveryProbe(t *testing.T) {
	// Probes to silent listeners hang until their timeout of a minute: Close must cut them short.
	var bs []*upstream.Backend
	var accepted []*atomic.Int64
	for _, closed := range closedPorts(t, 10) {
		addr, n := silentListener(t)
		accepted = append(accepted, n)
		bs = append(bs, backend(addr), backend(closed))
	}
	before := runtime.NumGoroutine()
	c := New(fast(Config{Timeout: time.Minute}), nil, nil)
	c.Watch(bs)
	if got := len(c.Status()); got != 20 {
		t.Fatalf("%d backends watched, want 20", got)
	}
	eventually(t, "every backend is being probed", func() bool {
		for i, n := range accepted {
			if n.Load() == 0 {
				return false
			}
			if st, _ := statusOf(c, bs[2*i+1].Addr); st.Checks == 0 {
				return false
			}
		}
		return true
	})
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	c.Close() // again: nothing
	c.Watch(bs[:1])
	if got := len(c.Status()); got != 20 {
		t.Fatalf("Watch after Close changed the set: %d backends", got)
	}
	eventually(t, "every probe goroutine has exited", func() bool { return runtime.NumGoroutine() <= before })
}
