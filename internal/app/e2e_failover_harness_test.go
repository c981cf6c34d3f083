package app

// The harness of e2e_failover_test.go: gatehouse started with Start on loopback, backends that count
// what they serve and can be killed, strict kept-alive clients and steady load.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
)

// foDeadline bounds every wait of these tests: far above what a loaded machine needs.
const foDeadline = 15 * time.Second

// foUntil polls cond until it holds, failing the test after foDeadline.
func foUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(foDeadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// foLog collects gatehouse's operational log.
type foLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *foLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// connectFailures counts the failed connects to addr that the engine logged: each is a request
// that was sent toward addr (internal/proxy/forward.go logs "backend ADDR: connect: ...").
func (l *foLog) connectFailures(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, "backend "+addr+": connect:") {
			n++
		}
	}
	return n
}

// foProxy is a gatehouse started with Start.
type foProxy struct {
	t     *testing.T
	app   *App
	addr  string // the public listener
	admin string // the admin listener; "" when off
	log   *foLog
	hc    *http.Client // for the admin listener
}

// startFO starts gatehouse with the dynamic config given (routes, upstreams), a listener and, when
// admin is set, the admin listener, both on free loopback ports; no access log.
func startFO(t *testing.T, dynamic string, admin bool) *foProxy {
	t.Helper()
	adminAddr := "off"
	if admin {
		adminAddr = "127.0.0.1:2"
	}
	src := "listeners: [{address: \"127.0.0.1:1\"}]\nadmin: {address: \"" + adminAddr + "\"}\naccess_log: {output: \"off\"}\n" +
		"server: {timeouts: {upstream_connect: 2s, shutdown_drain: 2s}}\n" + dynamic
	cfg, err := config.Parse([]byte(src), "failover.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	// Port 0 is not a valid config, but Start takes it: the kernel picks free ports, with no race
	// against other tests for them.
	cfg.Listeners[0].Address = "127.0.0.1:0"
	if admin {
		cfg.Admin.Address = "127.0.0.1:0"
	}
	p := &foProxy{t: t, log: &foLog{}, hc: &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: foDeadline}}
	if p.app, err = Start(cfg, Options{Logf: p.log.logf}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.app.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	p.addr = p.app.Addrs()[0].String()
	if admin {
		p.admin = p.app.AdminAddr().String()
	}
	return p
}

// foBackendView is one backend in the admin API's /api/upstreams.
type foBackendView struct {
	Address      string     `json:"address"`
	Backup       bool       `json:"backup"`
	Available    bool       `json:"available"`
	ActiveUp     bool       `json:"active_check_up"`
	EjectedUntil *time.Time `json:"ejected_until"`
	LastError    string     `json:"last_check_error"`
}

// adminGet reads an admin endpoint.
func (p *foProxy) adminGet(path string) []byte {
	p.t.Helper()
	resp, err := p.hc.Get("http://" + p.admin + path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		p.t.Fatalf("GET %s: %d %v %s", path, resp.StatusCode, err, b)
	}
	return b
}

// backends returns the admin API's view of upstream u's backends, by address.
func (p *foProxy) backends(u string) map[string]foBackendView {
	p.t.Helper()
	var ups []struct {
		Name     string          `json:"name"`
		Backends []foBackendView `json:"backends"`
	}
	if err := json.Unmarshal(p.adminGet("/api/upstreams"), &ups); err != nil {
		p.t.Fatal(err)
	}
	out := map[string]foBackendView{}
	for _, up := range ups {
		if up.Name == u {
			for _, b := range up.Backends {
				out[b.Address] = b
			}
		}
	}
	return out
}

// retries reads gatehouse_retries_total of pool u from /metrics.
func (p *foProxy) retries(u string) int {
	p.t.Helper()
	re := regexp.MustCompile(`(?m)^gatehouse_retries_total\{pool="` + regexp.QuoteMeta(u) + `"\} (\d+)$`)
	m := re.FindSubmatch(p.adminGet("/metrics"))
	if m == nil {
		p.t.Fatalf("no gatehouse_retries_total for pool %q in /metrics", u)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// Backend modes.
const (
	foOK   = 200
	fo500  = 500
	fo503  = 503
	foSlow = -1 // hold each request until the gate opens
)

// foBackend is a net/http server that counts what it serves and can be killed hard.
type foBackend struct {
	name   string
	addr   string
	srv    *http.Server
	ln     net.Listener
	mode   atomic.Int32 // foOK, fo500, fo503 or foSlow for every path but /health
	health atomic.Int32 // the status of GET /health
	delay  time.Duration
	gate   chan struct{} // foSlow requests wait until it is closed

	mu       sync.Mutex
	arrivals []time.Time // requests other than /health, in order
	bodies   []string
	inflight int           // requests being handled that have not written their answer
	killed   bool          // the server is killed: in-flight requests never answer
	atKill   int           // requests in flight when the server was killed, or arriving after
	dead     chan struct{} // closed once a kill has closed the server's connections
}

// startFOBackend serves on addr ("127.0.0.1:0" for any free port).
func startFOBackend(t *testing.T, name, addr string, delay time.Duration) *foBackend {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return serveFOBackend(t, name, ln, delay)
}

// serveFOBackend serves on ln.
func serveFOBackend(t *testing.T, name string, ln net.Listener, delay time.Duration) *foBackend {
	b := &foBackend{name: name, addr: ln.Addr().String(), delay: delay, gate: make(chan struct{})}
	b.mode.Store(foOK)
	b.health.Store(200)
	b.serve(t, ln)
	return b
}

func (b *foBackend) serve(t *testing.T, ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(b.handle), ErrorLog: log.New(io.Discard, "", 0)}
	b.mu.Lock()
	b.srv, b.ln, b.killed, b.dead = srv, ln, false, make(chan struct{})
	b.mu.Unlock()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func (b *foBackend) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		w.WriteHeader(int(b.health.Load()))
		return
	}
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.arrivals = append(b.arrivals, time.Now())
	b.bodies = append(b.bodies, string(body))
	b.inflight++
	if b.killed {
		b.atKill++
	}
	b.mu.Unlock()
	status := int(b.mode.Load())
	if status == foSlow {
		<-b.gate
		status = 200
	}
	if b.delay > 0 {
		time.Sleep(b.delay)
	}
	// The answer is written under the lock, so that a request is either answered whole before a
	// kill or not at all: a killed server answers nothing.
	b.mu.Lock()
	b.inflight--
	if b.killed {
		dead := b.dead
		b.mu.Unlock()
		<-dead
		panic(http.ErrAbortHandler) // no answer; net/http closes the connection quietly
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b.name)))
	w.WriteHeader(status)
	io.WriteString(w, b.name)
	w.(http.Flusher).Flush()
	b.mu.Unlock()
}

// kill closes the listener and every connection at once, as a crashed server would.
func (b *foBackend) kill() {
	b.mu.Lock()
	b.killed, b.atKill = true, b.inflight
	b.mu.Unlock()
	b.closeDead()
}

// killBusy is kill at a moment when at least one request is in flight (those never get an answer).
func (b *foBackend) killBusy(t *testing.T) {
	t.Helper()
	foUntil(t, "a request in flight on "+b.name, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.inflight == 0 {
			return false
		}
		b.killed, b.atKill = true, b.inflight
		return true
	})
	b.closeDead()
}

// closeDead closes the server of a killed backend, then lets its in-flight requests end unanswered.
func (b *foBackend) closeDead() {
	b.mu.Lock()
	srv, ln, dead := b.srv, b.ln, b.dead
	b.mu.Unlock()
	ln.Close() // now: Serve may not have started, and the kernel would accept meanwhile
	srv.Close()
	close(dead)
}

// inFlightAtKill is how many requests were in flight when the server was killed, counting those
// whose handler started after.
func (b *foBackend) inFlightAtKill() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.atKill
}

// revive serves again on the address kill freed. Another socket may hold the port for a moment
// (an outgoing connection given it as its local port): it retries until the deadline.
func (b *foBackend) revive(t *testing.T) {
	t.Helper()
	var ln net.Listener
	foUntil(t, "the port of "+b.name+" to be free again", func() bool {
		var err error
		ln, err = net.Listen("tcp", b.addr)
		if err != nil && !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatal(err)
		}
		return err == nil
	})
	b.serve(t, ln)
}

// count is the number of requests the backend has received, /health aside.
func (b *foBackend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.arrivals)
}

// countIn is the number of requests received in [from, to).
func (b *foBackend) countIn(from, to time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, at := range b.arrivals {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

func (b *foBackend) got(body string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Contains(b.bodies, body)
}

func (b *foBackend) inFlight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inflight
}

func (b *foBackend) url() string { return "http://" + b.addr }

// foClient is a kept-alive HTTP/1.1 client connection, read strictly: a broken connection is an
// error, never retried behind the test's back.
type foClient struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
}

func (c *foClient) do(method, path, body string) (status int, respBody string, err error) {
	if c.c == nil {
		if c.c, err = net.DialTimeout("tcp", c.addr, foDeadline); err != nil {
			return 0, "", err
		}
		c.br = bufio.NewReader(c.c)
	}
	c.c.SetDeadline(time.Now().Add(foDeadline))
	req := method + " " + path + " HTTP/1.1\r\nHost: site.test\r\n"
	if body != "" || method == "POST" {
		req += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	if _, err = io.WriteString(c.c, req+"\r\n"+body); err != nil {
		c.close()
		return 0, "", err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	return resp.StatusCode, string(b), err
}

func (c *foClient) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// mustDo sends a request and fails the test unless it is answered.
func (c *foClient) mustDo(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	st, b, err := c.do(method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return st, b
}

// foLoad is steady concurrent load: workers, each a kept-alive client sending GETs in a loop.
type foLoad struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	ok       atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	failures []string // the first few
}

func startFOLoad(t *testing.T, addr string, workers int) *foLoad {
	l := &foLoad{stop: make(chan struct{})}
	for w := range workers {
		l.wg.Go(func() {
			c := &foClient{addr: addr}
			defer c.close()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				st, _, err := c.do("GET", fmt.Sprintf("/load/%d/%d", w, i), "")
				if err == nil && st == 200 {
					l.ok.Add(1)
					continue
				}
				l.failed.Add(1)
				l.mu.Lock()
				if len(l.failures) < 10 {
					l.failures = append(l.failures, fmt.Sprintf("status %d, error %v", st, err))
				}
				l.mu.Unlock()
			}
		})
	}
	t.Cleanup(l.end)
	return l
}

// end stops the load and waits for the requests in flight. Calling it again does nothing.
func (l *foLoad) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// more waits until n more requests than now have succeeded.
func (l *foLoad) more(t *testing.T, n int64) {
	t.Helper()
	mark := l.ok.Load()
	foUntil(t, fmt.Sprintf("%d more successful requests", n), func() bool { return l.ok.Load() >= mark+n })
}

// all waits until every backend has received at least n requests.
func foAll(t *testing.T, n int, bs ...*foBackend) {
	t.Helper()
	for _, b := range bs {
		foUntil(t, fmt.Sprintf("%d requests on %s", n, b.name), func() bool { return b.count() >= n })
	}
}

func foUpstream(extra string, backends ...string) string {
	return "routes: [{name: r, upstream: u}]\nupstreams:\n  - name: u\n    backends: [" + strings.Join(backends, ", ") + "]\n" + extra
}
