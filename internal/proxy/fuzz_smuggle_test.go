package proxy_test

// FuzzSmuggling: raw bytes from one client connection go through the real engine (built from a YAML
// config, as gatehouse builds it) to one recording backend that parses what it receives with
// net/http's strict reader. The checks look for request smuggling and desynchronisation: a request
// the backend sees that the client got no answer for, an answer the client cannot frame, a head a
// strict parser rejects or that carries ambiguous framing.
//
// One proxy and one backend serve a whole fuzz process; inputs run one at a time, and before each
// input's checks the engine has finished with the client connection and closed every backend
// connection (pooled ones are reaped by moving the pools' clock past their idle timeout), so that the
// backend has parsed every byte the engine sent on behalf of that input and nothing leaks into the
// next one.
//
// Invariants, checked per input (fzCheck):
//
//  1. The backend never hits a parse error: http.ReadRequest accepts every head, and every body
//     reads whole or ends only because the engine closed the connection mid-body (a body the client
//     had not finished, or that turned out malformed or too large while streaming).
//  2. Every request the backend answered (its answer carries X-Seq: the backend's request number)
//     reaches the client as a final response, in the order the backend received them, at the
//     position of the client request it was forwarded for (as the engine's own parser splits the
//     input): same method, origin-form target, Host and body. The backend receives at most one
//     more request than it answered, the last one, cut short mid-body; the client request it came
//     from must indeed have a body that is incomplete, malformed or over the route's limit.
//     So the backend never receives more requests than the client got final responses for, bar
//     that one cut-off request.
//  3. Every head the backend received is strictly well formed (CRLF line endings, a valid request
//     line, token field names, no control bytes in values) and has exactly one Host field and at
//     most one Content-Length or Transfer-Encoding field, never both; Transfer-Encoding is exactly
//     "chunked" and Content-Length plain digits. No Expect or hop-by-hop field is forwarded
//     (Connection is only "upgrade", with an Upgrade field). Chunked trailers carry no
//     Content-Length, Transfer-Encoding or Host.
//  4. The client's byte stream parses as a sequence of responses with http.ReadResponse (HEAD
//     answers read as bodiless), with nothing before, between or after them; interim responses
//     are 100 Continue only; there are no more final responses than requests; an answer 400, 408,
//     413, 414, 417, 431, 501 or 505, or any answer saying Connection: close, is the last one and
//     says Connection: close. The engine never answers 504 (the backend answers at once: a 504
//     means the backend was left waiting for bytes the engine had announced) and always ends the
//     connection once the client has half-closed it.
//
// Timing: the client writes the input in one write and half-closes, so the engine sees EOF rather
// than a timeout whenever it waits for more; how much of the input the engine has buffered when it
// decides to keep or close a connection can vary (a fixed answer keeps the connection only if the
// body is already buffered), so no check depends on how many requests get answered, only on the
// correspondence of those that are. The client reads until EOF with a 5s deadline rather than 1s:
// after the half-close the engine ends the connection within milliseconds, so the deadline only
// ever catches a hang, and a generous one cannot flake. A connection the engine closes with unread
// bytes in its socket is reset by the kernel; whether the reset destroys answers still in flight
// depends on timing, the reset itself does not, so the reset is what is checked (kind "reset"),
// and after one, answers missing at the end of the stream are put down to it.
//
// Known bugs (listed in fzKnownBugs) fail the plain test run through their seeds, so that they stay
// visible until fixed; under -fuzz they are tolerated, so that the fuzzer can look for new ones.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/gateway"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/internal/reqid"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

const (
	// fzReadTimeout bounds the client's wait for the engine to end the connection. The engine ends it
	// within milliseconds of the client's half-close; this only catches a hang.
	fzReadTimeout = 5 * time.Second
	// fzSettle bounds the wait for the engine and the backend to finish with an input's connections.
	fzSettle = 10 * time.Second
	// fzMaxInput caps an input: larger ones are no more interesting and slow the fuzzer down.
	fzMaxInput = 256 << 10
	// fzSmallMax is the max_body_size of the /small route.
	fzSmallMax = 16
	// fzMainMax is the max_body_size of the main route: above maxBufferedBody (64 KiB), so that a
	// large Content-Length body is streamed, not buffered.
	fzMainMax = 1 << 20
)

// fzServerYAML has the harness's small head limits and short client timeouts, so that a stuck input
// ends quickly; the upstream timeouts are long enough never to fire against a backend that answers at
// once, and shorter than fzReadTimeout, so that a backend left waiting shows as a 504.
const fzServerYAML = `
server:
  max_request_line: 1KiB
  max_header_bytes: 2KiB
  max_header_count: 20
  timeouts:
    client_header: 200ms
    client_body_idle: 200ms
    client_write_idle: 1s
    keepalive_idle: 200ms
    upstream_connect: 1s
    upstream_header: 2s
    upstream_body_idle: 2s
    shutdown_drain: 1s
forwarded:
  policy: append
  trusted_proxies: ["127.0.0.1"]
`

// fzRoutesYAML: two fixed answers (by host and by path), a route with a tiny body limit and the main
// route, all but the fixed ones to the one backend.
const fzRoutesYAML = `
routes:
  - name: fixedhost
    match: {hosts: [fixed.test]}
    respond: {status: 200, body: "fixed"}
  - name: fixedpath
    match: {path_prefix: /fixed}
    respond: {status: 403, body: "no"}
  - name: small
    match: {path_prefix: /small}
    upstream: up
    max_body_size: 16
  - name: main
    upstream: up
    max_body_size: 1MiB
    request_headers: {set: {X-Gw: "1"}, remove: [x-remove-me]}
upstreams:
  - name: up
    backends: [%s]
`

// ---------------------------------------------------------------------------------------------
// The recording backend

// fzRec is one request as the backend received it.
type fzRec struct {
	Seq      int // backend-wide request number, from 1; the answer's X-Seq
	Conn     int
	Method   string
	URI      string
	Host     string
	RawHead  []byte // the head exactly as received
	Header   http.Header
	Body     []byte
	Trailer  http.Header
	Complete bool  // the body was read whole and the request answered
	BodyErr  error // why the body stopped short: only the connection ending mid-body
}

// fzParseErr is something the backend's strict reader rejected.
type fzParseErr struct {
	Conn int
	Err  error
	Raw  []byte // the bytes of the request being read
}

// fzTee records what is read from a connection, so that a request's raw head can be cut out.
type fzTee struct {
	net.Conn
	buf []byte
}

func (t *fzTee) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

type fzBackend struct {
	ln   net.Listener
	Addr string

	mu    sync.Mutex
	recs  []*fzRec
	errs  []fzParseErr
	open  int
	nconn int
	zero  chan struct{} // closed when open drops to 0
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup

	// syncURI is a request-target no input can guess; a request for it, sent straight to the
	// backend, marks that every connection made before it has been accepted (see waitIdle).
	syncURI string
	synced  chan struct{}
}

func fzStartBackend(tb testing.TB) *fzBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		tb.Fatal(err)
	}
	b := &fzBackend{ln: ln, Addr: ln.Addr().String(), conns: map[net.Conn]struct{}{},
		syncURI: "/fz-sync-" + hex.EncodeToString(tok[:]), synced: make(chan struct{}, 1)}
	b.wg.Add(1)
	go b.accept()
	return b
}

func (b *fzBackend) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.nconn++
		n := b.nconn
		if b.open == 0 {
			b.zero = make(chan struct{})
		}
		b.open++
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serve(c, n)
	}
}

func (b *fzBackend) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// waitIdle waits until every backend connection made so far has been closed by the engine and read
// to its end. A connection the engine made may still wait in the listener's accept queue, where
// open does not count it yet: a marker connection made now is accepted after it (the queue is
// FIFO), so once the marker's request arrives, open counts every earlier connection.
func (b *fzBackend) waitIdle(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	nc, err := net.DialTimeout("tcp", b.Addr, d)
	if err != nil {
		return false
	}
	defer nc.Close()
	if _, err := io.WriteString(nc, "GET "+b.syncURI+" HTTP/1.1\r\nHost: s\r\n\r\n"); err != nil {
		return false
	}
	select {
	case <-b.synced:
	case <-t.C:
		return false
	}
	nc.Close()
	b.mu.Lock()
	if b.open == 0 {
		b.mu.Unlock()
		return true
	}
	ch := b.zero
	b.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// snapshot returns how many requests and parse errors the backend has recorded.
func (b *fzBackend) snapshot() (int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.recs), len(b.errs)
}

func (b *fzBackend) since(nrec, nerr int) ([]*fzRec, []fzParseErr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*fzRec(nil), b.recs[nrec:]...), append([]fzParseErr(nil), b.errs[nerr:]...)
}

// fzTruncated reports whether a body read failed only because the connection ended mid-body: the
// error says so and the connection is indeed at its end. (net/http also reports a trailer section
// larger than its buffer as "unexpected EOF reading trailer"; there the connection is not at its
// end, and the engine waits for an answer: that is a parse error.) A body cut short is cut short
// by the engine closing the connection, so the end is already there and the short wait never
// decides the outcome.
func fzTruncated(err error, nc net.Conn, br *bufio.Reader) bool {
	if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) &&
		!strings.Contains(err.Error(), "unexpected EOF") {
		return false
	}
	_ = nc.SetReadDeadline(time.Now().Add(time.Second))
	_, perr := br.Peek(br.Size())
	return perr == io.EOF || errors.Is(perr, syscall.ECONNRESET)
}

func (b *fzBackend) serve(nc net.Conn, n int) {
	defer b.wg.Done()
	defer func() {
		nc.Close()
		b.mu.Lock()
		delete(b.conns, nc)
		b.open--
		if b.open == 0 {
			close(b.zero)
		}
		b.mu.Unlock()
	}()
	tee := &fzTee{Conn: nc}
	br := bufio.NewReader(tee)
	consumed := func() int { return len(tee.buf) - br.Buffered() }
	for {
		// Drop what earlier requests used.
		tee.buf = append(tee.buf[:0], tee.buf[consumed():]...)
		req, err := http.ReadRequest(br)
		if err != nil {
			if consumed() == 0 && br.Buffered() == 0 && (err == io.EOF || errors.Is(err, syscall.ECONNRESET)) {
				return // the engine closed the connection between requests
			}
			b.mu.Lock()
			b.errs = append(b.errs, fzParseErr{Conn: n, Err: err, Raw: bytes.Clone(tee.buf)})
			b.mu.Unlock()
			return
		}
		if req.RequestURI == b.syncURI {
			select {
			case b.synced <- struct{}{}:
			default: // a waiter that gave up left its token
			}
			return
		}
		r := &fzRec{Conn: n, Method: req.Method, URI: req.RequestURI, Host: req.Host, Header: req.Header,
			RawHead: bytes.Clone(tee.buf[:consumed()])}
		r.Body, r.BodyErr = io.ReadAll(req.Body)
		r.Trailer = req.Trailer
		if r.BodyErr != nil && !fzTruncated(r.BodyErr, nc, br) {
			b.mu.Lock()
			b.errs = append(b.errs, fzParseErr{Conn: n, Err: fmt.Errorf("body: %w", r.BodyErr), Raw: bytes.Clone(tee.buf)})
			b.mu.Unlock()
			return
		}
		r.Complete = r.BodyErr == nil
		b.mu.Lock()
		b.recs = append(b.recs, r)
		r.Seq = len(b.recs)
		b.mu.Unlock()
		if !r.Complete {
			return
		}
		resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Seq: " + strconv.Itoa(r.Seq) + "\r\n\r\n"
		if req.Method != "HEAD" {
			resp += "ok"
		}
		if _, err := io.WriteString(nc, resp); err != nil {
			return
		}
	}
}

// ---------------------------------------------------------------------------------------------
// The engine

// fuzzEngine is the engine a proxy-level fuzz target runs, built from YAML as the product builds it.
// Its pools run on a clock the target moves forward (offset) to age pooled connections past their
// idle timeout, and served gets a token each time the engine finishes with a client connection.
type fuzzEngine struct {
	addr   string
	h      *proxy.Handler
	graph  *gateway.Graph
	lim    h1.Limits
	ln     net.Listener
	served chan struct{} // one token per client connection the engine has finished with
	offset atomic.Int64  // added to the pools' clock, to age pooled connections past their timeout
	wg     sync.WaitGroup
}

// startFuzzEngine serves the config body src (the listener and access_log sections are added) on
// 127.0.0.1:0 until the test ends; stopBackend then runs once the engine has stopped.
func startFuzzEngine(tb testing.TB, src string, stopBackend func()) *fuzzEngine {
	e := &fuzzEngine{served: make(chan struct{}, 64)}
	src = "listeners: [{address: \"127.0.0.1:1\"}]\naccess_log: {output: \"off\"}\n" + src
	cfg, err := config.Parse([]byte(src), "fuzz.yaml")
	if err != nil {
		tb.Fatalf("config:\n%s\n%v", src, err)
	}
	opts, err := gateway.EngineOptions(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	wd := watchdog.New(5*time.Millisecond, time.Now)
	poolClock := func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }
	e.graph, err = gateway.Compile(cfg, wd, poolClock)
	if err != nil {
		tb.Fatal(err)
	}
	ids, err := reqid.New()
	if err != nil {
		tb.Fatal(err)
	}
	logger := accesslog.New(io.Discard, 5*time.Millisecond)
	opts.IDs, opts.Watchdog, opts.Log = ids, wd, logger
	e.lim = opts.Limits
	e.h = proxy.New(opts, e.graph.Table)
	e.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	e.addr = e.ln.Addr().String()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := e.ln.Accept()
			if err != nil {
				return
			}
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				e.h.ServeConn(c)
				select {
				case e.served <- struct{}{}:
				default: // only after a failed input, whose connection outlived its wait
				}
			}()
		}
	}()
	tb.Cleanup(func() {
		e.ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = e.h.Shutdown(ctx)
		cancel()
		e.wg.Wait()
		e.graph.Close()
		stopBackend()
		logger.Close()
		wd.Close()
	})
	return e
}

// fzEnv is FuzzSmuggling's engine and its recording backend.
type fzEnv struct {
	*fuzzEngine
	back *fzBackend
}

func fzStart(tb testing.TB) *fzEnv {
	back := fzStartBackend(tb)
	src := fzServerYAML + fmt.Sprintf(fzRoutesYAML, "http://"+back.Addr)
	return &fzEnv{fuzzEngine: startFuzzEngine(tb, src, back.close), back: back}
}

// fzResult is what one input produced.
type fzResult struct {
	stream   []byte // everything the client read
	readErr  error  // why reading stopped, when not EOF or a reset
	reset    bool   // reading ended with a reset, not EOF
	nrec     int    // backend counts before the input
	nerr     int
	recs     []*fzRec
	errs     []fzParseErr
	settled  string // what did not finish, if anything
	wrote    int
	writeErr error
}

// run sends one input and waits until the engine and the backend are done with it.
func (e *fzEnv) run(in []byte) *fzResult {
	res := &fzResult{}
	res.nrec, res.nerr = e.back.snapshot()
	nc, err := net.DialTimeout("tcp", e.addr, fzSettle)
	if err != nil {
		res.settled = "dial: " + err.Error()
		return res
	}
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		_ = nc.SetWriteDeadline(time.Now().Add(fzReadTimeout))
		res.wrote, res.writeErr = nc.Write(in)
		_ = nc.(*net.TCPConn).CloseWrite()
	}()
	_ = nc.SetReadDeadline(time.Now().Add(fzReadTimeout))
	var buf bytes.Buffer
	_, err = buf.ReadFrom(nc)
	res.stream = buf.Bytes()
	if errors.Is(err, syscall.ECONNRESET) {
		res.reset = true
	} else if err != nil {
		res.readErr = err
	}
	<-wdone
	nc.Close()

	t := time.NewTimer(fzSettle)
	defer t.Stop()
	select {
	case <-e.served:
	case <-t.C:
		res.settled = "the engine did not finish serving the client connection"
		return res
	}
	// Age every pooled backend connection past its idle timeout and reap it: the engine closes them,
	// and the backend reads each to its end.
	e.offset.Add(int64(1000 * time.Hour))
	e.graph.Reap()
	if !e.back.waitIdle(fzSettle) {
		res.settled = "the backend connections did not all close"
	}
	res.recs, res.errs = e.back.since(res.nrec, res.nerr)
	return res
}

// ---------------------------------------------------------------------------------------------
// The client's requests, as the engine's parser splits them

// fzWant is one request of the input as the engine parses it.
type fzWant struct {
	ok     bool // the head was accepted
	status int  // for a rejected head: the parser's answer
	head   bool // the request is a HEAD: the answer is bodiless
	// headMaybe is set for a rejected head whose request line begins with HEAD.
	headMaybe bool
	method    string
	uri       string // the origin-form target the backend should see
	host      string // the Host the backend should see, "" for the backend's address
	route     string // fixedhost, fixedpath, small, main or "" (no route)
	chunked   bool
	// body is the body, decoded; when bodyOK is false it is what arrived before the body ended
	// short or turned malformed.
	body   []byte
	bodyOK bool
	// uncertain is set when the body's fate depends on how the engine's buffers happened to be
	// filled (chunk lines or trailers near the buffer size): body checks are skipped.
	uncertain bool
}

func (w *fzWant) String() string {
	if !w.ok {
		return fmt.Sprintf("rejected head (%d)", w.status)
	}
	return fmt.Sprintf("%s %s host=%q route=%s chunked=%v bodyOK=%v body=%q", w.method, w.uri, w.host, w.route,
		w.chunked, w.bodyOK, fzClip(w.body, 200))
}

// fzRoute mirrors fzRoutesYAML's routing.
func fzRoute(host, path []byte) string {
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && (len(host) == 0 || host[0] != '[') {
		host = host[:i]
	}
	if h1.EqualFold(host, "fixed.test") {
		return "fixedhost"
	}
	if len(path) == 0 || path[0] != '/' {
		path = []byte("/")
	}
	switch {
	case bytes.HasPrefix(path, []byte("/fixed")):
		return "fixedpath"
	case bytes.HasPrefix(path, []byte("/small")):
		return "small"
	}
	return "main"
}

// fzSplit parses the input with the engine's parser, request after request, as far as it can.
func fzSplit(in []byte, lim *h1.Limits) []*fzWant {
	var out []*fzWant
	rest := in
	for len(rest) > 0 {
		var r h1.Request
		err := h1.ParseRequest(rest, &r, lim)
		if err != nil {
			st := 400
			var he *h1.Error
			if errors.As(err, &he) {
				st = he.Status
			}
			out = append(out, &fzWant{status: st, headMaybe: bytes.HasPrefix(bytes.TrimLeft(rest, "\r\n"), []byte("HEAD "))})
			return out
		}
		if r.HeadLen == 0 {
			return out // an unfinished head: the engine answers nothing
		}
		w := &fzWant{ok: true, head: r.IsMethod("HEAD"), method: string(r.Method), host: string(r.Host),
			chunked: r.Chunked, route: fzRoute(r.Host, r.Path)}
		w.uri = string(r.Path)
		if len(r.Path) == 0 || r.Path[0] == '?' {
			w.uri = "/" + w.uri
		}
		out = append(out, w)
		rest = rest[r.HeadLen:]
		switch {
		case r.Chunked:
			var n int
			n, w.body, w.bodyOK, w.uncertain = fzDechunk(rest, lim)
			if !w.bodyOK {
				return out
			}
			rest = rest[n:]
		case r.ContentLength > 0:
			if int64(len(rest)) < r.ContentLength {
				w.body = bytes.Clone(rest)
				return out
			}
			w.body, w.bodyOK = bytes.Clone(rest[:r.ContentLength]), true
			rest = rest[r.ContentLength:]
		default:
			w.bodyOK = true
		}
	}
	return out
}

// fzDechunk decodes a chunked body as the engine's relay does. It returns the length of the encoding,
// the data and whether the body was whole and valid.
func fzDechunk(b []byte, lim *h1.Limits) (n int, data []byte, ok, uncertain bool) {
	for {
		size, m, err := h1.ParseChunkLine(b[n:])
		if m > h1.MaxChunkLine-64 || (m == 0 && len(b)-n > h1.MaxChunkLine-64) {
			uncertain = true // the relay reads chunk lines through a 4 KiB buffer
		}
		if err != nil || m == 0 {
			return n, data, false, uncertain
		}
		n += m
		if size == 0 {
			_, t, err := h1.ParseTrailers(b[n:], nil, lim)
			if t > lim.MaxHeaderBytes-64 || (t == 0 && len(b)-n > lim.MaxHeaderBytes-64) {
				uncertain = true
			}
			if err != nil || t == 0 {
				return n, data, false, uncertain
			}
			return n + t, data, true, uncertain
		}
		avail := int64(len(b) - n)
		if avail < size {
			data = append(data, b[n:]...)
			return len(b), data, false, uncertain
		}
		data = append(data, b[n:n+int(size)]...)
		n += int(size)
		if len(b)-n < 2 || b[n] != '\r' || b[n+1] != '\n' {
			return n, data, false, uncertain
		}
		n += 2
	}
}

// ---------------------------------------------------------------------------------------------
// The checks

// fzResp is one response the client read.
type fzResp struct {
	status int
	seq    int // X-Seq, 0 when the engine answered itself
	close  bool
	body   []byte
	raw    string
}

// fzProblems collects what an input broke; kind names the class of each, for the known-bug list.
type fzProblems struct {
	list []string
	kind []string
}

func (p *fzProblems) add(kind, format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
	p.kind = append(p.kind, kind)
}

// fzKnownBugs are problem kinds reported and kept as seeds; they fail the seed run and are tolerated
// while fuzzing. Empty when no bug is known.
var fzKnownBugs = map[string]string{
	// None now. The "reset" kind (connections closed with unread input were reset, losing answers
	// in flight) was fixed by the lingering close; its seeds stay: fzLargeSeeds' CL.TE refusal with
	// 200 pipelined requests behind it, and testdata/fuzz/FuzzSmuggling d11cf44bf06f4237 and
	// 0d4c182c060fbdc9.
}

var fzClosing = map[int]bool{400: true, 408: true, 413: true, 414: true, 417: true, 431: true, 501: true, 505: true}

// fzCheck applies the invariants to one input's result.
func fzCheck(in []byte, res *fzResult, lim *h1.Limits, backAddr string) *fzProblems {
	p := &fzProblems{}
	if res.settled != "" {
		p.add("hang", "%s", res.settled)
		return p
	}
	if res.reset {
		p.add("reset", "the engine reset the connection: it closed it with unread client bytes, without a "+
			"half-close and lingering read (RFC 9112 section 9.6), so the kernel sent RST and may destroy answers "+
			"still in flight, this connection's last answer included")
	}
	if res.readErr != nil {
		p.add("hang", "reading the answers: %v (the engine did not end the connection after the client's half-close)", res.readErr)
	}

	// 1. The backend's strict parser accepted everything.
	for _, e := range res.errs {
		p.add(fzErrKind(e), "backend conn %d: strict parser error: %v\nbytes received: %q", e.Conn, e.Err, fzClip(e.Raw, 2000))
	}

	// 3. Every head the backend received is clean and unambiguous.
	for _, r := range res.recs {
		for _, s := range fzHeadProblems(r.RawHead) {
			p.add("head", "backend request #%d: %s\nhead: %q", r.Seq, s, r.RawHead)
		}
		for _, k := range []string{"Content-Length", "Transfer-Encoding", "Host"} {
			if _, ok := r.Trailer[k]; ok {
				p.add("trailer", "backend request #%d: trailer carries %s: %v", r.Seq, k, r.Trailer)
			}
		}
	}

	// 4. The client's stream is a clean sequence of responses.
	wants := fzSplit(in[:min(len(in), max(res.wrote, 0))], lim)
	if res.writeErr == nil {
		wants = fzSplit(in, lim)
	}
	var resps []*fzResp
	off := 0
	for off < len(res.stream) {
		j := len(resps)
		// A rejected head's answer may or may not carry its body when the request line began with
		// HEAD (the request was never accepted as one): both framings are accepted, nothing else.
		methods := []string{"GET"}
		if j < len(wants) && wants[j].head {
			methods = []string{"HEAD"}
		} else if j < len(wants) && wants[j].headMaybe {
			methods = []string{"GET", "HEAD"}
		}
		var hr *http.Response
		var body []byte
		var err error
		n := 0
		method := ""
		for _, method = range methods {
			sr := bytes.NewReader(res.stream[off:])
			br := bufio.NewReader(sr)
			hr, err = http.ReadResponse(br, &http.Request{Method: method})
			if err == nil {
				body, err = io.ReadAll(hr.Body)
				hr.Body.Close()
			}
			n = len(res.stream) - off - sr.Len() - br.Buffered()
			if err == nil && (len(methods) == 1 || !(fzClosing[hr.StatusCode] || hr.Close) || off+n == len(res.stream)) {
				break
			}
		}
		raw := res.stream[off : off+n]
		if err != nil {
			kind := "stream"
			if res.reset && errors.Is(err, io.ErrUnexpectedEOF) {
				kind = "reset" // an answer cut off by the reset
			}
			p.add(kind, "response %d: unparsable: %v\nat: %q", j, err, fzClip(res.stream[off:], 500))
			break
		}
		off += n
		if hr.StatusCode < 200 {
			if hr.StatusCode != 100 {
				p.add("stream", "response %d: interim %d from the engine", j, hr.StatusCode)
			}
			continue
		}
		r := &fzResp{status: hr.StatusCode, close: hr.Close, body: body, raw: string(raw)}
		if s := hr.Header.Get("X-Seq"); s != "" {
			r.seq, _ = strconv.Atoi(s)
			if r.seq <= 0 || hr.StatusCode != 200 || (method != "HEAD" && string(body) != "ok") {
				p.add("stream", "response %d: garbled backend answer %q", j, raw)
			}
		}
		resps = append(resps, r)
		if hr.StatusCode == 504 {
			p.add("hang", "response %d: 504: the backend was left waiting for bytes the engine announced", j)
		}
		if fzClosing[hr.StatusCode] || hr.Close {
			if !hr.Close {
				p.add("close", "response %d: %d without Connection: close", j, hr.StatusCode)
			}
			if off < len(res.stream) {
				p.add("stream", "response %d (%d, closing) is followed by %q", j, hr.StatusCode, fzClip(res.stream[off:], 500))
			}
			break
		}
	}
	if len(resps) > len(wants) {
		p.add("count", "%d final responses to %d requests (as the engine's parser splits the input)", len(resps), len(wants))
	}

	// 2. Every request the backend got answers a client request, in order.
	var complete []*fzRec
	for i, r := range res.recs {
		if r.Complete {
			complete = append(complete, r)
			continue
		}
		if i != len(res.recs)-1 {
			p.add("count", "backend request #%d was cut short but more requests followed it", r.Seq)
		}
	}
	var fromBackend []*fzResp
	for j, r := range resps {
		if r.seq == 0 {
			if j < len(wants) && wants[j].ok && (wants[j].route == "small" || wants[j].route == "main") &&
				r.status == 200 {
				p.add("count", "response %d: a 200 for a forwarded route that did not come from the backend", j)
			}
			continue
		}
		fromBackend = append(fromBackend, r)
		if j >= len(wants) {
			continue // reported above
		}
		w := wants[j]
		var rec *fzRec
		for _, x := range complete {
			if x.Seq == r.seq {
				rec = x
			}
		}
		switch {
		case rec == nil:
			p.add("count", "response %d answers backend request #%d, which belongs to no request of this input", j, r.seq)
		case !w.ok:
			p.add("desync", "response %d came from the backend (#%d %s %s) but the engine's parser rejects request %d",
				j, r.seq, rec.Method, rec.URI, j)
		default:
			p.match(j, w, rec, backAddr)
		}
	}
	if len(fromBackend) != len(complete) {
		// After a reset, answers at the end may have been destroyed in flight: that is the reset's
		// doing, as long as the client got the ones before in order (checked next).
		kind := "count"
		if res.reset && len(fromBackend) < len(complete) {
			kind = "reset"
		}
		p.add(kind, "the backend answered %d requests, the client got %d of those answers", len(complete), len(fromBackend))
	}
	for i := 0; i < min(len(fromBackend), len(complete)); i++ {
		if fromBackend[i].seq != complete[i].Seq {
			p.add("count", "answer %d from the backend is #%d, want #%d (order)", i, fromBackend[i].seq, complete[i].Seq)
			break
		}
	}
	if n := len(res.recs); n > 0 && !res.recs[n-1].Complete {
		r := res.recs[n-1]
		// The request cut short is the first request forwarded after the last one the backend
		// answered that got no answer from the backend: none at all (the client went away, or after
		// a reset the answer was lost), or the engine's error answer (400, 413).
		last := -1
		for j, x := range resps {
			if x.seq != 0 {
				last = j
			}
		}
		j := last + 1
		for ; j < len(wants) && j < len(resps); j++ {
			w := wants[j]
			if w.ok && (w.route == "small" || w.route == "main") && resps[j].seq == 0 && resps[j].status >= 400 {
				break
			}
		}
		// fits reports whether client request i can be the one cut short: the same request, with a
		// body that was not whole, or over the limit.
		fits := func(i int) bool {
			if i >= len(wants) || !wants[i].ok {
				return false
			}
			w := wants[i]
			tooLarge := w.route == "small" && len(w.body) > fzSmallMax || len(w.body) > fzMainMax
			return w.method == r.Method && w.uri == r.URI && (!w.bodyOK || tooLarge || w.uncertain) &&
				(w.uncertain || bytes.HasPrefix(w.body, r.Body))
		}
		if !fits(j) && res.reset {
			// Answers lost to the reset hide where the client's requests had got to.
			for i := j + 1; i < len(wants); i++ {
				if fits(i) {
					j = i
					break
				}
			}
		}
		switch {
		case fits(j):
		case j >= len(wants) || !wants[j].ok:
			p.add("desync", "backend request #%d (%s %s) was cut short, and matches no request of the input (answer %d)",
				r.Seq, r.Method, r.URI, j)
		default:
			w := wants[j]
			if w.method != r.Method || w.uri != r.URI {
				p.add("desync", "backend request #%d is %s %s, but the client's request %d is %s %s", r.Seq, r.Method,
					r.URI, j, w.method, w.uri)
			} else if !w.uncertain && !bytes.HasPrefix(w.body, r.Body) {
				p.add("body", "backend request #%d: body %q is not a prefix of the client's %q", r.Seq,
					fzClip(r.Body, 200), fzClip(w.body, 200))
			} else {
				p.add("desync", "backend request #%d was cut short (%v, got %d bytes) though the client's body was whole: %q",
					r.Seq, r.BodyErr, len(r.Body), fzClip(w.body, 200))
			}
		}
	}
	return p
}

// match checks that the backend received request w as the client sent it.
func (p *fzProblems) match(j int, w *fzWant, r *fzRec, backAddr string) {
	if w.route != "small" && w.route != "main" {
		p.add("desync", "response %d came from the backend (#%d) but request %d goes to route %s", j, r.Seq, j, w.route)
	}
	if r.Method != w.method || r.URI != w.uri {
		p.add("desync", "request %d is %s %s, the backend received #%d as %s %s", j, w.method, w.uri, r.Seq, r.Method, r.URI)
	}
	host := w.host
	if host == "" {
		host = backAddr
	}
	if r.Host != host {
		p.add("desync", "request %d is for host %q, the backend received #%d for %q", j, host, r.Seq, r.Host)
	}
	if !w.uncertain && (!w.bodyOK || !bytes.Equal(r.Body, w.body)) {
		p.add("body", "request %d has body %q (whole: %v), the backend received #%d with %q", j, fzClip(w.body, 200),
			w.bodyOK, r.Seq, fzClip(r.Body, 200))
	}
}

// fzErrKind classifies a backend parse error for the known-bug list.
func fzErrKind(e fzParseErr) string {
	s := e.Err.Error()
	switch {
	case strings.Contains(s, "invalid URL escape"):
		return "uri-escape"
	}
	return "parse"
}

// fzHeadProblems checks a head against RFC 9112's grammar, strictly.
func fzHeadProblems(raw []byte) []string {
	var out []string
	if !bytes.HasSuffix(raw, []byte("\r\n\r\n")) {
		return []string{"head does not end with CRLF CRLF"}
	}
	lines := strings.Split(string(raw[:len(raw)-4]), "\r\n")
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			out = append(out, fmt.Sprintf("bare CR or LF in line %q", l))
		}
	}
	parts := strings.Split(lines[0], " ")
	if len(parts) != 3 || !h1.ValidToken([]byte(parts[0])) || parts[1] == "" || parts[2] != "HTTP/1.1" {
		out = append(out, fmt.Sprintf("bad request line %q", lines[0]))
	} else {
		for _, c := range []byte(parts[1]) {
			if c <= ' ' || c >= 0x7f {
				out = append(out, fmt.Sprintf("bad byte %q in the target", c))
				break
			}
		}
	}
	counts := map[string]int{}
	var te, cl, conn, upgrade []string
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok || !h1.ValidToken([]byte(name)) {
			out = append(out, fmt.Sprintf("bad field line %q", l))
			continue
		}
		for _, c := range []byte(value) {
			if c < ' ' && c != '\t' || c == 0x7f {
				out = append(out, fmt.Sprintf("control byte %q in field %q", c, l))
				break
			}
		}
		lname := strings.ToLower(name)
		counts[lname]++
		v := strings.Trim(value, " \t")
		switch lname {
		case "transfer-encoding":
			te = append(te, v)
		case "content-length":
			cl = append(cl, v)
		case "connection":
			conn = append(conn, v)
		case "upgrade":
			upgrade = append(upgrade, v)
		case "expect", "keep-alive", "te", "trailer", "proxy-connection":
			out = append(out, fmt.Sprintf("hop-by-hop field forwarded: %q", l))
		}
	}
	if counts["host"] != 1 {
		out = append(out, fmt.Sprintf("%d Host fields", counts["host"]))
	}
	if len(te)+len(cl) > 1 {
		out = append(out, fmt.Sprintf("framing fields: Transfer-Encoding %q, Content-Length %q", te, cl))
	}
	if len(te) == 1 && te[0] != "chunked" {
		out = append(out, fmt.Sprintf("Transfer-Encoding %q", te[0]))
	}
	if len(cl) == 1 {
		if _, err := strconv.ParseUint(cl[0], 10, 63); err != nil || cl[0][0] == '+' {
			out = append(out, fmt.Sprintf("Content-Length %q", cl[0]))
		}
	}
	if len(conn) > 1 || len(conn) == 1 && (!strings.EqualFold(conn[0], "upgrade") || len(upgrade) != 1) {
		out = append(out, fmt.Sprintf("Connection %q with Upgrade %q", conn, upgrade))
	}
	return out
}

func fzClip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return string(b)
}

// fzFuzzing reports whether the test binary runs with -test.fuzz.
func fzFuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

func (res *fzResult) report(in []byte) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "input (%d bytes): %q\n", len(in), fzClip(in, 4000))
	if res.writeErr != nil {
		fmt.Fprintf(&sb, "client write: %d bytes, %v\n", res.wrote, res.writeErr)
	}
	if res.reset {
		fmt.Fprintf(&sb, "client read ended with a reset\n")
	}
	fmt.Fprintf(&sb, "client received (%d bytes): %q\n", len(res.stream), fzClip(res.stream, 4000))
	for _, r := range res.recs {
		fmt.Fprintf(&sb, "backend #%d (conn %d) complete=%v err=%v head=%q body=%q trailer=%v\n", r.Seq, r.Conn,
			r.Complete, r.BodyErr, r.RawHead, fzClip(r.Body, 500), r.Trailer)
	}
	return sb.String()
}

// ---------------------------------------------------------------------------------------------
// The fuzz target

func FuzzSmuggling(f *testing.F) {
	for _, s := range fzSeeds {
		f.Add([]byte(s))
	}
	for _, s := range fzLargeSeeds() {
		f.Add([]byte(s))
	}
	e := fzStart(f)
	fuzzing := fzFuzzing()
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > fzMaxInput {
			t.Skip("input too large")
		}
		res := e.run(in)
		p := fzCheck(in, res, &e.lim, e.back.Addr)
		var fail []string
		for i, s := range p.list {
			if _, known := fzKnownBugs[p.kind[i]]; known && fuzzing {
				continue
			}
			fail = append(fail, "["+p.kind[i]+"] "+s)
		}
		if len(fail) > 0 {
			wants := fzSplit(in, &e.lim)
			var ws []string
			for i, w := range wants {
				ws = append(ws, fmt.Sprintf("  %d: %s", i, w))
			}
			t.Fatalf("%s\n\n%s\nrequests as the engine's parser splits them:\n%s", strings.Join(fail, "\n"),
				res.report(in), strings.Join(ws, "\n"))
		}
		if res.settled != "" {
			// Connections of this input may still be open; the next input's attribution would be wrong.
			t.Fatalf("settle: %s", res.settled)
		}
	})
}

// fzSeeds are classic request smuggling and desynchronisation inputs, and valid keep-alive traffic.
var fzSeeds = []string{
	// Valid keep-alive sequences.
	"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\nPOST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;name=val\r\n world\r\n0\r\nX-Sum: 1\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n",
	"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\nX-Remove-Me: x\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\nGET /fixed HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: fixed.test:80\r\n\r\n",

	// CL.TE and TE.CL.
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\nx=1\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: Content-Length\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",

	// TE.TE: obfuscated Transfer-Encoding.
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\x0bchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-encoding: cHuNkEd\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\t\r\n\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",

	// Content-Length variants.
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 005\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  5 \r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nshort",
	"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",

	// Chunk sizes and extensions.
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff1\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"q\\\"x;\"\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n\"\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 ;a=b\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",

	// Bare LF, bare CR, obs-fold, NUL.
	"GET / HTTP/1.1\nHost: h\n\n",
	"GET / HTTP/1.1\r\nHost: h\nX-A: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n",
	"GET /\x00 HTTP/1.1\r\nHost: h\r\n\r\n",

	// Pipelined requests with bodies.
	"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloPOST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nworld\r\n0\r\n\r\nPOST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n!",

	// 100-continue with pipelined data.
	"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\nhello",

	// Upgrade with early data.
	"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 4\r\n\r\nPRI GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",

	// HTTP/1.0 keep-alive with a body.
	"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /last HTTP/1.0\r\n\r\n",

	// Absolute-form targets with a differing Host.
	"GET http://a.test/x HTTP/1.1\r\nHost: b.test\r\n\r\nGET http://fixed.test/ HTTP/1.1\r\nHost: h\r\n\r\nGET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://fixed.test/x HTTP/1.1\r\nHost: fixed.test\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n",

	// Connection naming framing fields.
	"POST / HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, Host\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n",

	// Trailers with framing fields.
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\nHost: evil\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",

	// Body limits: mid-stream and up front, and fixed answers with bodies.
	"POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nX\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n0123456789abcdefXGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST /fixed HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
	"POST /fixed HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",

	// Request-targets. A malformed escape in the path was forwarded, and net/http rejected it
	// (found by this target; a 400 since 4b99024).
	"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://h/a%4 HTTP/1.1\r\nHost: h\r\n\r\nGET /?%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a?b\\c HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
}

// fzLargeSeeds cross the engine's buffer sizes: the 4 KiB client read buffer (heads and chunk lines
// straddling it, chunks read straight past it) and the 64 KiB limit above which a Content-Length
// body is streamed rather than buffered.
func fzLargeSeeds() []string {
	get := "GET /p HTTP/1.1\r\nHost: h\r\n\r\n"
	big := strings.Repeat("b", 70000)
	return []string{
		// Pipelined heads across the 4 KiB boundary.
		strings.Repeat(get, 150),
		strings.Repeat("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\npayload", 80) + get,
		// A chunk larger than the read buffer, then a pipelined request.
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1400\r\n" + strings.Repeat("c", 0x1400) +
			"\r\n0\r\n\r\n" + get,
		// A chunk line with a long extension, reaching past the read buffer.
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nf3c\r\n" + strings.Repeat("x", 0xf3c) +
			"\r\n5;e=" + strings.Repeat("v", 4000) + "\r\nhello\r\n0\r\n\r\n" + get,
		// A streamed Content-Length body, whole and then cut short.
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 70000\r\n\r\n" + big + get,
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 70001\r\n\r\n" + big,
		// A head at the header size limit, then one just over it.
		"GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + strings.Repeat("p", 2000) + "\r\n\r\n" + get,
		"GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + strings.Repeat("p", 2030) + "\r\n\r\n" + get,
		// A request the engine refuses, with more than its read buffer behind it: the engine must
		// close without a reset (it once closed with unread bytes, and the kernel reset it).
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG" +
			strings.Repeat(get, 200),
		// A large trailer section.
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: " + strings.Repeat("t", 1900) +
			"\r\n\r\n" + get,
	}
}
