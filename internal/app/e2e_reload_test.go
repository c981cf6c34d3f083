package app

// End-to-end tests of hot reload through app.Start: a config file in t.TempDir(), real backends
// and clients on loopback. The first half of the file is the harness that e2e_admin_test.go
// shares.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"
)

// waitLimit bounds every poll for something that happens in the background (a reload picked up by
// the file watcher, a connection returned to its pool); far beyond what it needs, so that only a
// hang fails a test, never a slow machine.
const waitLimit = 15 * time.Second

// ---------------------------------------------------------------------------------------------
// Harness

// logSink collects the App's log lines; they are printed only when the test fails, since a
// background goroutine may log after the test's end, when t.Logf would panic.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// count is the number of lines containing s.
func (l *logSink) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// harness is a running App with its config file.
type harness struct {
	t      *testing.T
	app    *App
	path   string
	static string // the config's static sections, which write puts before the dynamic ones
	base   string // "http://" and the public listener's address
	admin  string // "http://" and the admin listener's address; "" with the admin off
	log    *logSink
}

// staticYAML is a static config part: the public listener and the admin listener on free loopback
// ports (admin "off" leaves it out), no access log, and a short drain.
func staticYAML(t *testing.T, admin string, pprof bool) string {
	t.Helper()
	if admin == "" {
		admin = freeport.Addr(t)
	}
	return fmt.Sprintf("listeners: [{address: %q}]\nadmin: {address: %q, pprof: %t}\naccess_log: {output: \"off\"}\n"+
		"server: {timeouts: {shutdown_drain: 5s}}\n", freeport.Addr(t), admin, pprof)
}

// startHarness writes static+dynamic to a file and starts an App on it, watching the file every
// watch (0: not watched). The App is shut down when the test ends.
func startHarness(t *testing.T, static, dynamic string, watch time.Duration) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "gatehouse.yaml"), static: static, log: &logSink{}}
	h.write(dynamic)
	cfg, err := config.Load(h.path)
	if err != nil {
		t.Fatal(err)
	}
	h.app, err = Start(cfg, Options{Path: h.path, WatchInterval: watch, Logf: h.log.logf})
	if err != nil {
		t.Fatal(err)
	}
	h.base = "http://" + h.app.Addrs()[0].String()
	if a := h.app.AdminAddr(); a != nil {
		h.admin = "http://" + a.String()
	}
	t.Cleanup(func() {
		h.app.Shutdown(context.Background())
		if t.Failed() {
			t.Logf("gatehouse log:\n%s", h.log)
		}
	})
	return h
}

// write replaces the config file with the static part and dynamic, atomically (as editors and
// ConfigMaps do), so that the watcher never reads half a file.
func (h *harness) write(dynamic string) { h.writeFull(h.static + dynamic) }

func (h *harness) writeFull(src string) {
	h.t.Helper()
	tmp := h.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, h.path); err != nil {
		h.t.Fatal(err)
	}
}

// do sends one request and returns its status, body and header fields.
func do(c *http.Client, method, url string, hdr ...string) (int, string, http.Header, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, "", nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, err
}

// mustDo is do on the test goroutine: an error fails the test.
func (h *harness) mustDo(c *http.Client, method, url string, hdr ...string) (int, string, http.Header) {
	h.t.Helper()
	code, body, header, err := do(c, method, url, hdr...)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, url, err)
	}
	return code, body, header
}

// getJSON fetches an admin endpoint and decodes its JSON answer into v.
func (h *harness) getJSON(path string, v any) {
	h.t.Helper()
	code, body, _ := h.mustDo(http.DefaultClient, "GET", h.admin+path)
	if code != 200 {
		h.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		h.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// waitFor polls cond until it holds; it fails the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// idleConns is the number of pooled idle connections gatehouse holds to addr in upstream pool.
func (h *harness) idleConns(pool, addr string) int {
	for _, s := range h.app.gw.Services() {
		if s.Name != pool {
			continue
		}
		for _, be := range s.Backends() {
			if be.Addr == addr {
				return be.Idle()
			}
		}
	}
	return 0
}

// backend is an HTTP backend that answers "<name> <path>" and counts the connections it accepts.
// A request for /hold answers only once release is closed, after sending to held.
type backend struct {
	name    string
	addr    string // host:port
	url     string
	conns   atomic.Int64 // connections accepted
	held    chan struct{}
	release chan struct{}
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name, held: make(chan struct{}, 16), release: make(chan struct{})}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			b.held <- struct{}{}
			<-b.release
		}
		io.WriteString(w, name+" "+r.URL.Path)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	b.url, b.addr = srv.URL, strings.TrimPrefix(srv.URL, "http://")
	return b
}

// newClient returns a client that keeps connections alive, or opens one per request.
func newClient(t *testing.T, keepAlive bool) *http.Client {
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitLimit,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// ---------------------------------------------------------------------------------------------
// WebSocket: the handshake and a few frames, by hand (RFC 6455).

// wsGUID is the handshake's constant (RFC 6455 section 1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// wsWriteFrame writes one final frame; the client masks (mask non-nil), the server does not.
func wsWriteFrame(w io.Writer, opcode byte, payload []byte, mask []byte) error {
	if len(payload) > 125 {
		return errors.New("test frames stay under 126 bytes")
	}
	f := []byte{0x80 | opcode, byte(len(payload))}
	if mask != nil {
		f[1] |= 0x80
		f = append(f, mask...)
		for i, c := range payload {
			f = append(f, c^mask[i%4])
		}
	} else {
		f = append(f, payload...)
	}
	_, err := w.Write(f)
	return err
}

// wsReadFrame reads one frame and returns its opcode and unmasked payload.
func wsReadFrame(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<16 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	var mask [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range p {
			p[i] ^= mask[i%4]
		}
	}
	return h[0] & 0x0f, p, nil
}

// wsBackend accepts WebSocket handshakes and echoes every frame until a close frame, which it
// answers. It counts the handshakes it accepted.
type wsBackend struct {
	url        string
	handshakes atomic.Int64
}

func startWSBackend(t *testing.T) *wsBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ws := &wsBackend{url: "http://" + ln.Addr().String()}
	var conns sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				ws.serve(c)
			}()
		}
	}()
	return ws
}

func (ws *wsBackend) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(2 * waitLimit))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	ws.handshakes.Add(1)
	fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		wsAccept(req.Header.Get("Sec-WebSocket-Key")))
	for {
		op, p, err := wsReadFrame(br)
		if err != nil {
			return
		}
		if err := wsWriteFrame(c, op, p, nil); err != nil || op == 0x8 {
			return
		}
	}
}

// wsClient is an open WebSocket through gatehouse.
type wsClient struct {
	c  net.Conn
	br *bufio.Reader
}

// dialWS opens a WebSocket to url's path through the gatehouse listener at addr.
func dialWS(t *testing.T, addr, path string) *wsClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(2 * waitLimit))
	key := make([]byte, 16)
	rand.Read(key)
	k := base64.StdEncoding.EncodeToString(key)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: gatehouse.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", path, k)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("websocket handshake: %v", err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(k) {
		t.Fatalf("websocket handshake: %d, accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	return &wsClient{c: c, br: br}
}

// echo sends msg as a text frame and returns the frame that comes back.
func (w *wsClient) echo(msg string) (string, error) {
	mask := make([]byte, 4)
	rand.Read(mask)
	if err := wsWriteFrame(w.c, 0x1, []byte(msg), mask); err != nil {
		return "", fmt.Errorf("send: %w", err)
	}
	op, p, err := wsReadFrame(w.br)
	if err != nil {
		return "", fmt.Errorf("receive: %w", err)
	}
	if op != 0x1 {
		return "", fmt.Errorf("opcode %#x", op)
	}
	return string(p), nil
}

// ---------------------------------------------------------------------------------------------
// Load

// load sends requests through gatehouse from several goroutines until stop: half of them over
// kept-alive connections, half on a new connection each. A request fails unless it gets 200 and
// a body that check accepts.
type load struct {
	ok     atomic.Int64
	failed atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup

	mu   sync.Mutex
	errs []string // the first few failures
}

func startLoad(t *testing.T, workers int, url string, check func(body string) bool) *load {
	l := &load{stop: make(chan struct{})}
	for i := range workers {
		c := newClient(t, i%2 == 0)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				code, body, _, err := do(c, "GET", fmt.Sprintf("%s/w%d/%d", url, i, n))
				if err == nil && code == 200 && check(body) {
					l.ok.Add(1)
					continue
				}
				l.failed.Add(1)
				l.mu.Lock()
				if len(l.errs) < 10 {
					l.errs = append(l.errs, fmt.Sprintf("worker %d request %d: %d %q %v", i, n, code, body, err))
				}
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.end)
	return l
}

// end stops the load and waits for the requests in flight; only the first call does anything.
func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// progress waits until at least n more requests succeeded than at mark, and returns the new mark:
// proof that load ran through the step just taken.
func (l *load) progress(t *testing.T, mark int64, n int64) int64 {
	t.Helper()
	waitFor(t, "requests of the load to succeed", func() bool { return l.ok.Load() >= mark+n || l.failed.Load() > 0 })
	return l.ok.Load()
}

// ---------------------------------------------------------------------------------------------
// Tests

// reloadConfig is the dynamic config of generation gen of TestE2EReloadUnderLoad. What changes
// with gen: a route /only-<gen> that exists in that generation only, a route /side/ and its
// upstream that exist in even generations, the backends and balancing policy of upstream app, and
// the pool size of upstream ws (which rebuilds its Backend objects under the open WebSocket).
// Upstream stable never changes. invalid adds a route to an upstream that does not exist.
func reloadConfig(gen int, a, b, c, s *backend, ws *wsBackend, invalid bool) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "routes:\n")
	fmt.Fprintf(&sb, "  - {name: gen, match: {path: /gen}, respond: {status: 200, body: \"gen %d\"}}\n", gen)
	fmt.Fprintf(&sb, "  - {name: only-%d, match: {path: /only-%d}, respond: {status: 200, body: \"only %d\"}}\n", gen, gen, gen)
	fmt.Fprintf(&sb, "  - {name: app, match: {path_prefix: /app/}, upstream: app}\n")
	fmt.Fprintf(&sb, "  - {name: stable, match: {path_prefix: /stable}, upstream: stable}\n")
	fmt.Fprintf(&sb, "  - {name: ws, match: {path: /ws}, upstream: ws}\n")
	if gen%2 == 0 {
		fmt.Fprintf(&sb, "  - {name: side, match: {path_prefix: /side/}, upstream: side}\n")
	}
	if invalid {
		fmt.Fprintf(&sb, "  - {name: broken, match: {path: /broken}, upstream: nope}\n")
	}
	appBackends := [][]*backend{{a, b}, {a, b, c}, {b, c}}[gen%3]
	urls := make([]string, len(appBackends))
	for i, be := range appBackends {
		urls[i] = be.url
	}
	policy := []string{"round_robin", "p2c_ewma"}[gen%2]
	fmt.Fprintf(&sb, "upstreams:\n")
	fmt.Fprintf(&sb, "  - {name: app, balance: %s, backends: [%s]}\n", policy, strings.Join(urls, ", "))
	fmt.Fprintf(&sb, "  - {name: stable, backends: [%s]}\n", s.url)
	fmt.Fprintf(&sb, "  - {name: ws, max_idle_per_backend: %d, backends: [%s]}\n", 16+gen%2, ws.url)
	if gen%2 == 0 {
		fmt.Fprintf(&sb, "  - {name: side, backends: [%s]}\n", a.url)
	}
	return sb.String()
}

// TestE2EReloadUnderLoad is the reload test of issue 3: constant load while the config is
// reloaded 20 times — routes added and removed, upstreams changed, one invalid config among
// them — through POST /api/reload, the file watcher and App.Reload in turn, with a WebSocket open
// the whole time. No request fails, the WebSocket echoes after every reload, the invalid config is
// refused with its file and line, the last valid config is what serves at the end, and the
// backend of an upstream no reload touched keeps its one pooled connection throughout.
func TestE2EReloadUnderLoad(t *testing.T) {
	t.Parallel()
	a, b, c, s := startBackend(t, "a"), startBackend(t, "b"), startBackend(t, "c"), startBackend(t, "s")
	ws := startWSBackend(t)
	h := startHarness(t, staticYAML(t, "", false), reloadConfig(0, a, b, c, s, ws, false), 50*time.Millisecond)
	client := newClient(t, true)

	sock := dialWS(t, strings.TrimPrefix(h.base, "http://"), "/ws")
	if got, err := sock.echo("hello"); err != nil || got != "hello" {
		t.Fatalf("websocket echo before any reload: %q %v", got, err)
	}
	l := startLoad(t, 4, h.base+"/app", func(body string) bool {
		name, path, _ := strings.Cut(body, " ")
		return (name == "a" || name == "b" || name == "c") && strings.HasPrefix(path, "/app/w")
	})
	mark := l.progress(t, 0, 20)

	// probeStable sends one request to upstream stable and waits until gatehouse has put the
	// connection back in its pool, so that the next probe, after the next reload, must reuse it
	// unless the reload dropped the pool.
	probeStable := func(step string) {
		t.Helper()
		if code, body, _ := h.mustDo(client, "GET", h.base+"/stable"); code != 200 || body != "s /stable" {
			t.Fatalf("%s: /stable: %d %q", step, code, body)
		}
		waitFor(t, "stable's connection back in its pool", func() bool { return h.idleConns("stable", s.addr) > 0 })
	}
	probeStable("before the reloads")

	const reloads = 20
	const invalidAt = 10
	sources := map[string]int{}
	for gen := 1; gen <= reloads; gen++ {
		invalid := gen == invalidAt
		h.write(reloadConfig(gen, a, b, c, s, ws, invalid))
		switch {
		case invalid:
			sources["App.Reload"]++
			err := h.app.Reload("test")
			if err == nil {
				t.Fatal("the invalid config was applied")
			}
			wantPos := fmt.Sprintf("%s:%d:", h.path, lineOf(t, h.path, "upstream: nope"))
			if !strings.Contains(err.Error(), wantPos) || !strings.Contains(err.Error(), `upstream "nope" is not defined`) {
				t.Errorf("reload error %q does not name %s and the problem", err, wantPos)
			}
			var last struct {
				LastReload ReloadStatus `json:"last_reload"`
			}
			h.getJSON("/api/reload", &last)
			if last.LastReload.OK || !strings.Contains(last.LastReload.Error, wantPos) {
				t.Errorf("GET /api/reload: %+v, want the refusal naming %s", last.LastReload, wantPos)
			}
		case gen%3 == 0:
			sources["POST /api/reload"]++
			code, body, _ := h.mustDo(client, "POST", h.admin+"/api/reload")
			if code != 200 || !strings.Contains(body, `"reloaded"`) {
				t.Fatalf("reload %d: POST /api/reload: %d %s", gen, code, body)
			}
		case gen%3 == 1:
			sources["file change"]++
			want := fmt.Sprintf("gen %d", gen)
			waitFor(t, "the watcher to apply generation "+want, func() bool {
				_, body, _, err := do(client, "GET", h.base+"/gen")
				return err == nil && body == want
			})
		default:
			sources["App.Reload"]++
			if err := h.app.Reload("test"); err != nil {
				t.Fatalf("reload %d: %v", gen, err)
			}
		}
		step := fmt.Sprintf("reload %d", gen)
		servingGen := gen
		if invalid {
			servingGen = gen - 1 // the old config keeps serving
		}
		if code, body, _ := h.mustDo(client, "GET", h.base+"/gen"); code != 200 || body != fmt.Sprintf("gen %d", servingGen) {
			t.Fatalf("%s: /gen answers %d %q, want generation %d", step, code, body, servingGen)
		}
		if got, err := sock.echo(step); err != nil || got != step {
			t.Fatalf("%s: the websocket broke: echo %q %v", step, got, err)
		}
		probeStable(step)
		mark = l.progress(t, mark, 10)
	}
	l.end()
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the reloads; first: %q", n, n+l.ok.Load(), l.errs)
	}
	t.Logf("%d requests succeeded during %d reloads (%v)", l.ok.Load(), reloads, sources)
	if n := h.log.count("reload (file change): config " + h.path + " applied"); n < sources["file change"] {
		t.Errorf("the watcher applied %d configs, want at least the %d only it was told of", n, sources["file change"])
	}
	if h.log.count("reload (test) refused, the running config keeps serving: "+h.path) != 1 {
		t.Errorf("the refused reload is not logged with its file:\n%s", h.log)
	}

	// The WebSocket is still the one tunnel it was, and closes cleanly.
	if got, err := sock.echo("last"); err != nil || got != "last" {
		t.Errorf("websocket after the reloads: %q %v", got, err)
	}
	if n := ws.handshakes.Load(); n != 1 {
		t.Errorf("the websocket backend saw %d handshakes, want 1", n)
	}
	mask := []byte{1, 2, 3, 4}
	if err := wsWriteFrame(sock.c, 0x8, []byte{0x03, 0xe8}, mask); err != nil {
		t.Fatal(err)
	}
	if op, _, err := wsReadFrame(sock.br); err != nil || op != 0x8 {
		t.Errorf("close frame: opcode %#x %v", op, err)
	}

	// The backend of upstream stable, which no reload changed, kept its one connection.
	if n := s.conns.Load(); n != 1 {
		t.Errorf("stable's backend accepted %d connections over %d reloads, want 1: its pool was not kept", n, reloads)
	}

	// The routes of the last config (generation 20) are in effect, those of others are gone.
	tests := []struct {
		name, path string
		code       int
		body       string
	}{
		{"this generation's route", "/only-20", 200, "only 20"},
		{"an earlier generation's route", "/only-19", 404, ""},
		{"the invalid config's route", "/broken", 404, ""},
		{"route of even generations", "/side/x", 200, "a /side/x"},
		{"generation marker", "/gen", 200, "gen 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := h.mustDo(client, "GET", h.base+tt.path)
			if code != tt.code || tt.body != "" && body != tt.body {
				t.Errorf("GET %s: %d %q, want %d %q", tt.path, code, body, tt.code, tt.body)
			}
		})
	}
	// Generation 20's upstream app is b and c: a request never goes to a any more.
	for i := range 6 {
		code, body, _ := h.mustDo(client, "GET", fmt.Sprintf("%s/app/final%d", h.base, i))
		if code != 200 || !strings.HasPrefix(body, "b ") && !strings.HasPrefix(body, "c ") {
			t.Errorf("GET /app/final%d: %d %q, want backend b or c", i, code, body)
		}
	}
	if st := h.app.LastReload(); !st.OK {
		t.Errorf("last reload %+v, want the successful generation 20", st)
	}
}

// lineOf is the 1-based line of the first line of the file containing s.
func lineOf(t *testing.T, path, s string) int {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", path, s)
	return 0
}

// TestE2EReloadForwardedPolicy: forwarded is dynamic config. A reload from append with the
// client trusted to replace makes gatehouse drop the client's X-Forwarded-For at once.
func TestE2EReloadForwardedPolicy(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("X-Forwarded-For")
	}))
	t.Cleanup(srv.Close)
	dynamic := func(policy string) string {
		return "forwarded: {policy: " + policy + ", trusted_proxies: [127.0.0.1]}\n" +
			"routes:\n  - {name: r, upstream: u}\nupstreams: [{name: u, backends: [" + srv.URL + "]}]\n"
	}
	h := startHarness(t, staticYAML(t, "off", false), dynamic("append"), 0)
	client := newClient(t, true)
	get := func() string {
		t.Helper()
		if code, _, _ := h.mustDo(client, "GET", h.base+"/", "X-Forwarded-For", "203.0.113.9"); code != 200 {
			t.Fatalf("status %d", code)
		}
		return <-seen
	}
	if got := get(); got != "203.0.113.9, 127.0.0.1" {
		t.Fatalf("append from a trusted peer: X-Forwarded-For %q, want the client's value kept", got)
	}
	h.write(dynamic("replace"))
	if err := h.app.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "127.0.0.1" {
		t.Errorf("after the reload to replace: X-Forwarded-For %q, want 127.0.0.1 only", got)
	}
	if strings.Contains(h.log.String(), "forwarded changed") {
		t.Errorf("forwarded was reported as static:\n%s", h.log)
	}
}
