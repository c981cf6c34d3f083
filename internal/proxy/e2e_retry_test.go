//go:build unix

// The build constraint is for blackholeAddr, which sets a listen backlog through syscall.

package proxy_test

// Retries, sticky sessions, consistent hashing, circuit breaking and metrics through the engine,
// over real backends. Pools use round_robin, which starts at the first backend listed, so that
// which backend a request tries first is known; passive outlier detection is off unless a test is
// about it, so that failures do not eject backends between requests.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/freeport"
	"github.com/gatehouse-proxy/gatehouse/internal/metrics"
)

// retryPool is a config with one route "main" to one round_robin upstream "up" over backends,
// without outlier detection; extra is more of the upstream's settings, each line indented by four
// spaces ("    retry: {attempts: 0}\n").
func retryPool(extra string, backends ...string) string {
	return "routes:\n  - name: main\n    upstream: up\nupstreams:\n  - name: up\n    balance: round_robin\n" +
		"    health: {passive: {consecutive_5xx: 0, consecutive_failures: 0}}\n" + extra +
		"    backends: [" + strings.Join(backends, ", ") + "]\n"
}

// blackholeAddr returns a loopback address on which a TCP connect neither succeeds nor fails: its
// listener's accept queue is full, so the kernel drops the SYNs until the dialer gives up.
func blackholeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), 0) }); err != nil || lerr != nil {
		t.Fatalf("shrinking the backlog: %v %v", err, lerr)
	}
	// Fill the queue (never accepted) until a connect hangs; a connect to a queue with room takes
	// microseconds, so a second is a sure sign of a full one.
	for i := 0; i < 16; i++ {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			if !isTimeoutErr(err) {
				t.Fatalf("filling the accept queue: %v", err)
			}
			return ln.Addr().String()
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("connects to a listener that accepts nothing kept succeeding")
	return ""
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestE2ERetryStatus: which answers move a request to the next backend, by method and policy.
func TestE2ERetryStatus(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 100<<10/16) // streamed: it cannot be sent again
	cases := []struct {
		name      string
		first     int    // the first backend's status; the second answers 200
		extra     string // upstream settings
		method    string
		body      string
		status    int    // what the client gets
		from      string // and from which backend
		secondGot int    // requests the second backend received
	}{
		{"get-503", 503, "", "GET", "", 200, "good", 1},
		{"get-502", 502, "", "GET", "", 200, "good", 1},
		{"get-504", 504, "", "GET", "", 200, "good", 1},
		{"head-503", 503, "", "HEAD", "", 200, "good", 1},
		{"put-503-body-resent", 503, "", "PUT", "payload", 200, "good", 1},
		{"delete-503", 503, "", "DELETE", "", 200, "good", 1},
		{"put-streamed-body-not-retried", 503, "", "PUT", big, 503, "bad", 0},
		{"post-503-not-retried", 503, "", "POST", "payload", 503, "bad", 0},
		{"patch-503-not-retried", 503, "", "PATCH", "payload", 503, "bad", 0},
		{"500-not-retried-by-default", 500, "", "GET", "", 500, "bad", 0},
		{"attempts-0", 503, "    retry: {attempts: 0}\n", "GET", "", 503, "bad", 0},
		{"on-status-500", 500, "    retry: {on_status: [500]}\n", "GET", "", 200, "good", 1},
		{"on-status-500-not-503", 503, "    retry: {on_status: [500]}\n", "GET", "", 503, "bad", 0},
		{"on-status-empty", 503, "    retry: {on_status: []}\n", "GET", "", 503, "bad", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bad := startBackend(t, statusHandler("bad", tc.first))
			good := startBackend(t, echoHandler("good"))
			p := startProxy(t, retryPool(tc.extra, bad.URL, good.URL))
			c := dial(t, p.Addr)
			raw := fmt.Sprintf("%s /r HTTP/1.1\r\nHost: h\r\n", tc.method)
			if tc.body != "" {
				raw += fmt.Sprintf("Content-Length: %d\r\n", len(tc.body))
			}
			r := c.roundTrip(tc.method, raw+"\r\n"+tc.body)
			if r.StatusCode != tc.status || r.Header.Get("X-Backend") != tc.from {
				t.Fatalf("status %d from %q, want %d from %q", r.StatusCode, r.Header.Get("X-Backend"), tc.status, tc.from)
			}
			if tc.from == "bad" && tc.method != "HEAD" && r.Body != "bad" {
				t.Errorf("body %q: the backend's own answer must be relayed", r.Body)
			}
			if n := len(bad.requests()); n != 1 {
				t.Errorf("the first backend got %d requests, want 1", n)
			}
			got := good.requests()
			if len(got) != tc.secondGot {
				t.Fatalf("the second backend got %d requests, want %d", len(got), tc.secondGot)
			}
			if len(got) == 1 && (got[0].Method != tc.method || string(got[0].Body) != tc.body || got[0].Target != "/r") {
				t.Errorf("the retry reached the backend as %s %s %q", got[0].Method, got[0].Target, got[0].Body)
			}
			// One log line, with the final status and the backend that gave it.
			l := p.logLines(1)[0]
			want := bad.Addr
			if tc.from == "good" {
				want = good.Addr
			}
			if l.Status != tc.status || l.Upstream != want {
				t.Errorf("logged status %d upstream %q, want %d %q", l.Status, l.Upstream, tc.status, want)
			}
			// The connection is in step for the next request.
			if r := c.roundTrip("GET", get("/next", "h")); r.StatusCode != 200 && r.StatusCode != tc.first {
				t.Errorf("next request: status %d", r.StatusCode)
			}
		})
	}
}

// TestE2ERetryRebuildsHead: each try's head is written for its backend (upstream_host: backend
// names the backend tried), while the request keeps one id across its tries.
func TestE2ERetryRebuildsHead(t *testing.T) {
	t.Parallel()
	bad := startBackend(t, statusHandler("bad", 503))
	good := startBackend(t, echoHandler("good"))
	p := startProxy(t, strings.Replace(retryPool("", bad.URL, good.URL), "    upstream: up\n",
		"    upstream: up\n    upstream_host: backend\n    request_headers: {add: {X-Try: one}}\n", 1))
	c := dial(t, p.Addr)
	if r := c.roundTrip("GET", get("/", "client.example")); r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	first, second := bad.next(t), good.next(t)
	if first.host() != bad.Addr || second.host() != good.Addr {
		t.Errorf("Host %q then %q, want each backend's own address", first.host(), second.host())
	}
	id := first.Header.Get("X-Request-Id")
	if id == "" || second.Header.Get("X-Request-Id") != id {
		t.Errorf("request ids %q then %q, want one id for both tries", id, second.Header.Get("X-Request-Id"))
	}
	if v := second.Header.Values("X-Try"); len(v) != 1 {
		t.Errorf("the retry carries X-Try %q, want it once", v)
	}
}

// TestE2ERetryLoggedOnce: each retried request is one access log line, with the final status and
// the backend that answered.
func TestE2ERetryLoggedOnce(t *testing.T) {
	t.Parallel()
	bad := startBackend(t, statusHandler("bad", 503))
	good := startBackend(t, echoHandler("good"))
	p := startProxy(t, retryPool("", bad.URL, good.URL))
	c := dial(t, p.Addr)
	const n = 4
	for i := 0; i < n; i++ {
		// round_robin: the first try of each request is the 503 backend's turn.
		if r := c.roundTrip("GET", get(fmt.Sprintf("/%d", i), "h")); r.StatusCode != 200 || r.Header.Get("X-Backend") != "good" {
			t.Fatalf("request %d: status %d from %q", i, r.StatusCode, r.Header.Get("X-Backend"))
		}
	}
	if len(bad.requests()) != n || len(good.requests()) != n {
		t.Errorf("bad got %d, good %d requests; want %d each", len(bad.requests()), len(good.requests()), n)
	}
	lines := p.logLines(n)
	if len(lines) != n {
		t.Fatalf("%d log lines for %d requests", len(lines), n)
	}
	for i, l := range lines {
		if l.Status != 200 || l.Upstream != good.Addr || l.Path != fmt.Sprintf("/%d", i) || l.Route != "main" {
			t.Errorf("line %d: %s", i, l.raw)
		}
	}
}

// TestE2ERetryTriedOnce: a request never goes twice to one backend, retries stop at retry.attempts,
// and when no backend is left the client gets the last backend's own answer. It pins a bug: the
// engine dropped a retryable answer before knowing whether another backend was left, so a pool
// whose every backend answered 503 (or a pool of one) gave gatehouse's own "503 Service
// Unavailable", without the backend's body and fields (Retry-After), and spent a retry of the
// budget on nothing.
func TestE2ERetryTriedOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		backends int
		extra    string
		tries    int // backends that receive the request, in order
	}{
		{"single-backend", 1, "", 1},
		{"two-both-503", 2, "", 2},
		{"three-attempts-2", 3, "", 3},
		{"three-attempts-1", 3, "    retry: {attempts: 1}\n", 2},
		{"four-attempts-2", 4, "", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var bs []*backend
			var urls []string
			for i := 0; i < tc.backends; i++ {
				b := startBackend(t, statusHandler(fmt.Sprintf("b%d", i), 503))
				bs, urls = append(bs, b), append(urls, b.URL)
			}
			p := startProxy(t, retryPool(tc.extra, urls...))
			c := dial(t, p.Addr)
			r := c.roundTrip("GET", get("/", "h"))
			last := fmt.Sprintf("b%d", tc.tries-1)
			if r.StatusCode != 503 || r.Header.Get("X-Backend") != last || r.Body != last {
				t.Errorf("status %d from %q body %q, want the 503 of %s, the last backend tried", r.StatusCode,
					r.Header.Get("X-Backend"), r.Body, last)
			}
			for i, b := range bs {
				want := 0
				if i < tc.tries {
					want = 1
				}
				if n := len(b.requests()); n != want {
					t.Errorf("backend b%d got %d requests, want %d", i, n, want)
				}
			}
			if l := p.logLines(1)[0]; l.Status != 503 || l.Upstream != bs[tc.tries-1].Addr {
				t.Errorf("logged %d from %q", l.Status, l.Upstream)
			}
		})
	}
}

// TestE2ERetryConnectFailure: nothing reached a backend that refused the connection, so every
// request moves on, whatever its method and the retry policy.
func TestE2ERetryConnectFailure(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 100<<10/16) // streamed, not buffered
	cases := []struct{ name, extra, method, body string }{
		{"get", "", "GET", ""},
		{"post", "", "POST", "payload"},
		{"post-streamed-body", "", "POST", big},
		{"post-attempts-0", "    retry: {attempts: 0}\n", "POST", "payload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			good := startBackend(t, echoHandler("good"))
			p := startProxy(t, retryPool(tc.extra, "http://"+freeport.Addr(t), good.URL))
			c := dial(t, p.Addr)
			raw := fmt.Sprintf("%s /c HTTP/1.1\r\nHost: h\r\n", tc.method)
			if tc.body != "" {
				raw += fmt.Sprintf("Content-Length: %d\r\n", len(tc.body))
			}
			r := c.roundTrip(tc.method, raw+"\r\n"+tc.body)
			if r.StatusCode != 200 || r.Header.Get("X-Backend") != "good" {
				t.Fatalf("status %d from %q, want 200 from the live backend", r.StatusCode, r.Header.Get("X-Backend"))
			}
			got := good.next(t)
			if string(got.Body) != tc.body {
				t.Errorf("the live backend got a body of %d bytes, want %d", len(got.Body), len(tc.body))
			}
		})
	}
	t.Run("all-refused", func(t *testing.T) {
		t.Parallel()
		p := startProxy(t, retryPool("", "http://"+freeport.Addr(t), "http://"+freeport.Addr(t)))
		c := dial(t, p.Addr)
		if r := c.roundTrip("GET", get("/", "h")); r.StatusCode != 502 {
			t.Errorf("status %d, want 502", r.StatusCode)
		}
	})
}

// TestE2EBugConnectTimeoutNotRetried pins a bug: a connect that timed out was never retried, not
// even for a GET, although nothing reached the backend (mayRetry let only a refused connect move
// on, and then asked for a replayable request, which a request never sent is not yet).
func TestE2EBugConnectTimeoutNotRetried(t *testing.T) {
	t.Parallel()
	good := startBackend(t, echoHandler("good"))
	hole := blackholeAddr(t)
	for _, tc := range []struct{ method, body string }{{"GET", ""}, {"POST", "payload"}} {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, serverWith("upstream_connect", "500ms")+retryPool("", "http://"+hole, good.URL))
			c := dial(t, p.Addr)
			raw := fmt.Sprintf("%s /t HTTP/1.1\r\nHost: h\r\n", tc.method)
			if tc.body != "" {
				raw += fmt.Sprintf("Content-Length: %d\r\n", len(tc.body))
			}
			r := c.roundTrip(tc.method, raw+"\r\n"+tc.body)
			if r.StatusCode != 200 || r.Header.Get("X-Backend") != "good" {
				t.Errorf("status %d from %q, want 200 from the backend that accepts", r.StatusCode, r.Header.Get("X-Backend"))
			}
		})
	}
	t.Run("single-backend", func(t *testing.T) {
		t.Parallel()
		p := startProxy(t, serverWith("upstream_connect", "500ms")+retryPool("", "http://"+hole))
		c := dial(t, p.Addr)
		if r := c.roundTrip("GET", get("/", "h")); r.StatusCode != 504 {
			t.Errorf("status %d, want 504", r.StatusCode)
		}
	})
}

// TestE2EPerTryTimeout: a backend that does not answer within retry.per_try_timeout loses the
// request to the next backend if the request may be sent again; otherwise the client gets 504.
func TestE2EPerTryTimeout(t *testing.T) {
	t.Parallel()
	// Long enough for the live backend to answer on a loaded machine.
	const extra = "    retry: {per_try_timeout: 1s}\n"
	cases := []struct {
		name, method, body string
		status             int
		secondGot          int
	}{
		{"get-moves-on", "GET", "", 200, 1},
		{"put-moves-on", "PUT", "x", 200, 1},
		{"post-504", "POST", "x", 504, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			silent := startBackend(t, silentHandler)
			good := startBackend(t, echoHandler("good"))
			p := startProxy(t, retryPool(extra, silent.URL, good.URL))
			c := dial(t, p.Addr)
			raw := fmt.Sprintf("%s /p HTTP/1.1\r\nHost: h\r\n", tc.method)
			if tc.body != "" {
				raw += fmt.Sprintf("Content-Length: %d\r\n", len(tc.body))
			}
			r := c.roundTrip(tc.method, raw+"\r\n"+tc.body)
			if r.StatusCode != tc.status {
				t.Errorf("status %d, want %d", r.StatusCode, tc.status)
			}
			if tc.status == 504 {
				assertNoLeak(t, r)
			}
			if n := len(silent.requests()); n != 1 {
				t.Errorf("the silent backend got %d requests, want 1", n)
			}
			if n := len(good.requests()); n != tc.secondGot {
				t.Errorf("the second backend got %d requests, want %d", n, tc.secondGot)
			}
		})
	}
	// After an interim answer went to the client the request cannot move: 504.
	t.Run("after-interim", func(t *testing.T) {
		t.Parallel()
		slow := startBackend(t, func(c *bconn, r *recReq) bool {
			c.write("HTTP/1.1 102 Processing\r\n\r\n")
			<-c.Done
			return false
		})
		good := startBackend(t, echoHandler("good"))
		p := startProxy(t, retryPool(extra, slow.URL, good.URL))
		c := dial(t, p.Addr)
		c.send(get("/", "h"))
		if r := c.read("GET"); r.StatusCode != 102 {
			t.Fatalf("first answer %d, want the 102", r.StatusCode)
		}
		if r := c.read("GET"); r.StatusCode != 504 {
			t.Errorf("final answer %d, want 504", r.StatusCode)
		}
		if n := len(good.requests()); n != 0 {
			t.Errorf("the request moved on after a 102 went to the client (%d)", n)
		}
	})
}

// TestE2ERetryAfterInterim: once a 1xx answer has gone to the client, the backend's final answer
// is the client's, even a retryable one. An HTTP/1.0 client never sees 1xx answers, so for it the
// request may still move.
func TestE2ERetryAfterInterim(t *testing.T) {
	t.Parallel()
	bad := startBackend(t, rawResponse("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"+
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\nX-Backend: bad\r\n\r\nbad"))
	good := startBackend(t, echoHandler("good"))
	p := startProxy(t, retryPool("", bad.URL, good.URL))
	c := dial(t, p.Addr)
	c.send(get("/", "h"))
	if r := c.read("GET"); r.StatusCode != 103 {
		t.Fatalf("first answer %d, want the 103", r.StatusCode)
	}
	if r := c.read("GET"); r.StatusCode != 503 || r.Body != "bad" {
		t.Errorf("final answer %d %q, want the backend's 503", r.StatusCode, r.Body)
	}
	if n := len(good.requests()); n != 0 {
		t.Errorf("the request moved on after a 103 went to the client (%d)", n)
	}
	c10 := dial(t, p.Addr)
	if r := c10.roundTrip("GET", "GET / HTTP/1.0\r\n\r\n"); r.StatusCode != 200 || r.Header.Get("X-Backend") != "good" {
		t.Errorf("HTTP/1.0: status %d from %q, want 200 from good", r.StatusCode, r.Header.Get("X-Backend"))
	}
}

// TestE2ERetryBudget: retries stop when the budget is spent. With budget 0% only min_per_second
// retries are allowed, over a window of 10 seconds: 10 retries, then the backends' answers pass.
func TestE2ERetryBudget(t *testing.T) {
	t.Parallel()
	bad := startBackend(t, statusHandler("bad", 503))
	good := startBackend(t, echoHandler("good"))
	p := startProxy(t, retryPool("    retry: {budget: 0%, min_per_second: 1}\n", bad.URL, good.URL))
	c := dial(t, p.Addr)
	const n = 14
	for i := 0; i < n; i++ {
		r := c.roundTrip("GET", get("/", "h"))
		if from := r.Header.Get("X-Backend"); !(r.StatusCode == 200 && from == "good" || r.StatusCode == 503 && from == "bad") {
			t.Fatalf("request %d: status %d from %q", i, r.StatusCode, from)
		}
	}
	// Every try beyond one per request is a retry.
	if retries := len(bad.requests()) + len(good.requests()) - n; retries != 10 {
		t.Errorf("%d retries, want 10 (min_per_second × 10 s)", retries)
	}
}

// ---------------------------------------------------------------------------------------------
// Balancing and circuit breaking

func TestE2EStickyCookie(t *testing.T) {
	t.Parallel()
	a := startBackend(t, echoHandler("a"))
	b := startBackend(t, echoHandler("b"))
	p := startProxy(t, retryPool("    sticky: {cookie: gh_s, secret: 0123456789abcdef-s3cret}\n", a.URL, b.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", get("/", "h"))
	first := r.Header.Get("X-Backend")
	var cookie *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == "gh_s" {
			cookie = ck
		}
	}
	if r.StatusCode != 200 || cookie == nil || cookie.Value == "" {
		t.Fatalf("first answer %d from %q, Set-Cookie %q: want a sticky cookie", r.StatusCode, first, r.Header.Values("Set-Cookie"))
	}
	if cookie.Path != "/" || !cookie.HttpOnly {
		t.Errorf("cookie %q: want Path=/ and HttpOnly", r.Header.Get("Set-Cookie"))
	}
	// With the cookie, every request goes to the same backend, with no new cookie; round_robin
	// alone would alternate.
	for i := 0; i < 4; i++ {
		r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\nCookie: other=1; gh_s="+cookie.Value+"; x=y\r\n\r\n")
		if r.Header.Get("X-Backend") != first {
			t.Errorf("request %d with the cookie went to %q, want %q", i, r.Header.Get("X-Backend"), first)
		}
		if v := r.Header.Values("Set-Cookie"); len(v) != 0 {
			t.Errorf("request %d with a valid cookie got Set-Cookie %q", i, v)
		}
	}
	// A forged cookie is ignored and replaced.
	r = c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\nCookie: gh_s=forged\r\n\r\n")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Set-Cookie"), "gh_s=") {
		t.Errorf("forged cookie: status %d Set-Cookie %q, want a new cookie", r.StatusCode, r.Header.Get("Set-Cookie"))
	}
	// The backend goes away: the request moves on and the cookie is replaced by one for the other.
	gone, other := a, "b"
	if first == "b" {
		gone, other = b, "a"
	}
	gone.close()
	c2 := dial(t, p.Addr)
	r = c2.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\nCookie: gh_s="+cookie.Value+"\r\n\r\n")
	if r.StatusCode != 200 || r.Header.Get("X-Backend") != other {
		t.Fatalf("after the sticky backend went: status %d from %q, want 200 from %q", r.StatusCode, r.Header.Get("X-Backend"), other)
	}
	if sc := r.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "gh_s=") || strings.HasPrefix(sc, "gh_s="+cookie.Value+";") {
		t.Errorf("after failover Set-Cookie %q, want a new cookie naming %s", sc, other)
	}
}

// TestE2EConsistentHashHeader also pins a bug: the engine looked the key's header up with
// h1.Request.Header, which wants a lower-case name, by the name as written in the config: with
// "X-User" no request had a key, and every request was placed at random.
func TestE2EConsistentHashHeader(t *testing.T) {
	t.Parallel()
	var urls []string
	for i := 0; i < 3; i++ {
		urls = append(urls, startBackend(t, echoHandler(fmt.Sprintf("b%d", i))).URL)
	}
	p := startProxy(t, `
routes:
  - name: main
    upstream: up
upstreams:
  - name: up
    balance: consistent_hash
    hash: {key: header, name: X-User}
    backends: [`+strings.Join(urls, ", ")+`]
`)
	c := dial(t, p.Addr)
	owner := map[string]string{}
	used := map[string]bool{}
	for round := 0; round < 3; round++ {
		for k := 0; k < 12; k++ {
			key := "user-" + strconv.Itoa(k)
			name := []string{"X-User", "x-user", "X-USER"}[round] // any spelling of the name
			r := c.roundTrip("GET", "GET / HTTP/1.1\r\nHost: h\r\n"+name+": "+key+"\r\n\r\n")
			be := r.Header.Get("X-Backend")
			if r.StatusCode != 200 || be == "" {
				t.Fatalf("status %d from %q", r.StatusCode, be)
			}
			if prev, ok := owner[key]; ok && prev != be {
				t.Errorf("key %s went to %s, then to %s", key, prev, be)
			}
			owner[key] = be
			used[be] = true
		}
	}
	if len(used) < 2 {
		t.Errorf("12 keys all went to %v: the key is not hashed", used)
	}
}

func TestE2ECircuitBreaker(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		queue  int
		second int // the second request's status
	}{
		{"no-queue-503", 0, 503},
		{"queue-waits", 1, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			be := startBackend(t, func(c *bconn, r *recReq) bool {
				if r.Target == "/hold" {
					select {
					case <-release:
					case <-c.Done:
						return false
					}
				}
				c.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				return true
			})
			p := startProxy(t, retryPool(fmt.Sprintf("    limits: {max_connections: 1, queue_size: %d, queue_timeout: 30s}\n", tc.queue), be.URL))
			first := dial(t, p.Addr)
			first.send(get("/hold", "h"))
			be.next(t) // the first request holds the only slot
			second := dial(t, p.Addr)
			second.send(get("/second", "h"))
			if tc.queue > 0 {
				lim := p.backendAt("up", be.Addr)
				waitFor(t, "the second request to queue", func() bool { _, w := lim.LimitStats(); return w == 1 })
				close(release)
			}
			r := second.read("GET")
			if r.StatusCode != tc.second {
				t.Errorf("second request: status %d, want %d", r.StatusCode, tc.second)
			}
			if tc.queue == 0 {
				assertNoLeak(t, r)
				close(release) // the first request was still held when the 503 came
			}
			if r := first.read("GET"); r.StatusCode != 200 {
				t.Errorf("first request: status %d", r.StatusCode)
			}
			wantReqs := 1
			if tc.second == 200 {
				wantReqs = 2
			}
			if n := len(be.requests()); n != wantReqs {
				t.Errorf("the backend got %d requests, want %d", n, wantReqs)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Metrics

// metricValue finds the sample of name whose labels include every one given, in the Prometheus
// text format; -1 when there is none.
func metricValue(text, name string, labels ...string) float64 {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			return v
		}
	}
	return -1
}

var metricLine = regexp.MustCompile(`(?m)^gatehouse_`)

// TestE2EMetrics: with metrics on, every kind of answer is counted by route, backend and class,
// and retries by pool.
func TestE2EMetrics(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	bad := startBackend(t, statusHandler("bad", 503))
	good := startBackend(t, echoHandler("good"))
	p := startProxyMetrics(t, `
routes:
  - name: deny
    match: {path_prefix: /deny}
    respond: {status: 403}
  - name: moved
    match: {path_prefix: /moved}
    redirect: {path: /}
  - name: main
    match: {hosts: [app.example]}
    upstream: up
upstreams:
  - name: up
    balance: round_robin
    backends: [`+bad.URL+`, `+good.URL+`]
`, reg)
	c := dial(t, p.Addr)
	for _, tc := range []struct {
		target, host string
		status       int
	}{
		{"/", "app.example", 200}, // retried after bad's 503
		{"/deny", "x", 403},
		{"/moved", "x", 302},
		{"/nothing", "x", 404},
	} {
		if r := c.roundTrip("GET", get(tc.target, tc.host)); r.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.target, r.StatusCode, tc.status)
		}
	}
	p.logLines(4) // the requests have finished, counted before their log lines
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	if !metricLine.MatchString(text) {
		t.Fatalf("no gatehouse_ metrics:\n%s", text)
	}
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gatehouse_requests_total", []string{`route="main"`, `backend="` + good.Addr + `"`, `code="2xx"`}, 1},
		{"gatehouse_requests_total", []string{`route="deny"`, `backend=""`, `code="4xx"`}, 1},
		{"gatehouse_requests_total", []string{`route="moved"`, `backend=""`, `code="3xx"`}, 1},
		{"gatehouse_requests_total", []string{`route=""`, `backend=""`, `code="4xx"`}, 1},
		{"gatehouse_retries_total", []string{`pool="up"`}, 1},
	} {
		if got := metricValue(text, m.name, m.labels...); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
	if got := metricValue(text, "gatehouse_requests_total", `backend="`+bad.Addr+`"`); got > 0 {
		t.Errorf("the dropped 503 was counted as a request of the bad backend (%v)", got)
	}
}

// TestE2ENoResendOfPOSTOnReusedConnection pins a bug: a POST sent on a pooled connection that the
// backend read and then closed without answering was sent again on a fresh connection (and on to
// another backend), even with retry.attempts 0. A request that is not idempotent may have been
// acted on; it gets 502 and reaches the backend once. A GET in the same place is resent.
func TestE2ENoResendOfPOSTOnReusedConnection(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		if r.Method == "GET" && r.Target == "/first" {
			return echoHandler("b")(c, r)
		}
		if c.N == 1 {
			return false // the pooled connection: read the request, then close without a word
		}
		return echoHandler("b")(c, r)
	})
	p := startProxy(t, singleUpstream(be.URL)+"    retry: {attempts: 0}\n")
	c := dial(t, p.Addr)
	if r := c.roundTrip("GET", get("/first", "h")); r.StatusCode != 200 {
		t.Fatalf("first GET: status %d", r.StatusCode)
	}
	c.send("POST /pay HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
	if r := c.read("POST"); r.StatusCode != 502 {
		t.Errorf("POST whose connection was closed after it was read: status %d, want 502", r.StatusCode)
	}
	posts := 0
	for _, r := range be.requests() {
		if r.Method == "POST" {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("the backend received the POST %d times, want once", posts)
	}
}

// TestE2ERetriesCountedOnlyWhenMade: a move to another backend after a refused connection is a
// retry in gatehouse_retries_total; a refused connection with no backend left to move to is not
// (it used to be counted all the same).
func TestE2ERetriesCountedOnlyWhenMade(t *testing.T) {
	t.Parallel()
	good := startBackend(t, echoHandler("good"))
	tests := []struct {
		name     string
		backends string
		status   int
		retries  float64
	}{
		{"refused, then the other backend", "[http://" + freeport.Addr(t) + ", " + good.URL + "]", 200, 1},
		{"refused, nothing left", "[http://" + freeport.Addr(t) + "]", 502, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := metrics.NewRegistry()
			p := startProxyMetrics(t, "routes:\n  - name: main\n    upstream: up\nupstreams:\n  - name: up\n"+
				"    balance: round_robin\n    backends: "+tt.backends+"\n", reg)
			c := dial(t, p.Addr)
			if r := c.roundTrip("GET", get("/", "h")); r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tt.status)
			}
			p.logLines(1)
			rec := httptest.NewRecorder()
			reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if got := metricValue(rec.Body.String(), "gatehouse_retries_total", `pool="up"`); got != tt.retries {
				t.Errorf("gatehouse_retries_total = %v, want %v", got, tt.retries)
			}
		})
	}
}
