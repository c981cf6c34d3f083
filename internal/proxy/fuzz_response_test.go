package proxy_test

// FuzzBackendResponse: the fuzzed bytes are what a backend sends. One engine (built from a YAML
// config, as gatehouse builds it) sits in front of one raw backend that, for every connection,
// reads one request head, writes the current input's bytes, half-closes, reads to EOF and closes.
// Per input, a client sends one fixed request (chosen by the mode byte: GET over HTTP/1.1, HEAD over
// HTTP/1.1, or GET over HTTP/1.0; the 1.1 ones say Connection: close, so that EOF ends every
// exchange), reads everything until EOF, then waits, as FuzzSmuggling does, until the engine has
// finished the client connection and every backend connection is closed (pools reaped by moving
// their clock), so that nothing leaks into the next input.
//
// Invariants, checked per input (frCheck):
//
//  1. The client's bytes parse with http.ReadResponse (with the request's method) as zero or more
//     1xx answers then exactly one final response, whose body is either whole or cut short by EOF;
//     nothing follows it. HTTP/1.0 clients get no 1xx.
//  2. When the engine's own parser (h1.ParseResponse, applied head after head as the engine's
//     receive loop does) rejects the backend's final head, or the backend ends before one, or sends
//     more than 16 interim answers, or a 101: the client gets the interim answers passed on before
//     the bad head (HTTP/1.1 only) and then exactly the engine's own 502 (its body, and no field but
//     Content-Type, Content-Length, Date and Connection), nothing of the backend's bytes.
//     Interim answers keep the backend's status, as HTTP/1.1, and carry no hop-by-hop field,
//     Content-Length or Transfer-Encoding.
//  3. A final response the engine accepted arrives with the backend's status; its body, when whole,
//     equals the body net/http frames from the backend's bytes (see frReference for when that is
//     comparable); a body cut short is a prefix of it. A body that fails before any byte reached
//     the client may instead get the engine's own 502 (only when net/http, too, finds the body
//     bad, or has no opinion because it rejects the head). Its head carries no hop-by-hop field
//     (Connection other than close/keep-alive, Keep-Alive, Transfer-Encoding other than chunked,
//     or any for an HTTP/1.0 client, Upgrade, TE, Trailer, Proxy-*) and no field the backend's
//     Connection header named (bar the framing fields the engine writes itself).
//  4. A final response relayed as complete, when the backend framed it by Content-Length, has
//     exactly that many body bytes (the engine must cut the client off rather than send a short
//     body that looks complete).
//  5. No 101 reaches the client.
//
// Known bugs (frKnownBugs) fail the plain test run through their seeds and are tolerated under
// -fuzz, as FuzzSmuggling does.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// frServerYAML leaves the head limits at their defaults (32 KiB), so that the response limit is the
// engine's real one; the upstream timeouts are long enough never to fire against a backend that
// answers at once and closes.
const frServerYAML = `
server:
  timeouts:
    client_header: 1s
    client_body_idle: 1s
    client_write_idle: 2s
    keepalive_idle: 1s
    upstream_connect: 1s
    upstream_header: 3s
    upstream_body_idle: 3s
    shutdown_drain: 1s
routes:
  - name: main
    upstream: up
upstreams:
  - name: up
    backends: [%s]
`

// frMaxInterim mirrors the engine's maxInterim.
const frMaxInterim = 16

// frRequests are the client's requests, by mode.
var frRequests = [3]struct {
	raw    string
	method string
	minor  int
}{
	{"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "GET", 1},
	{"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "HEAD", 1},
	{"GET / HTTP/1.0\r\nHost: h\r\n\r\n", "GET", 0},
}

// ---------------------------------------------------------------------------------------------
// The raw backend

type frBackend struct {
	ln   net.Listener
	Addr string

	mu    sync.Mutex
	resp  []byte // the current input
	open  int
	zero  chan struct{} // closed when open drops to 0
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func frStartBackend(tb testing.TB) *frBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	b := &frBackend{ln: ln, Addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}, zero: make(chan struct{})}
	close(b.zero)
	b.wg.Add(1)
	go b.accept()
	return b
}

func (b *frBackend) set(resp []byte) {
	b.mu.Lock()
	b.resp = resp
	b.mu.Unlock()
}

func (b *frBackend) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		if b.open == 0 {
			b.zero = make(chan struct{})
		}
		b.open++
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serve(c)
	}
}

func (b *frBackend) serve(nc net.Conn) {
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
	_ = nc.SetDeadline(time.Now().Add(fzSettle))
	// Read one request head. The engine sends GET and HEAD requests without a body.
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("\r\n\r\n")) {
		n, err := nc.Read(buf)
		head = append(head, buf[:n]...)
		if err != nil {
			return // the engine closed a pooled connection: no request
		}
	}
	b.mu.Lock()
	resp := b.resp
	b.mu.Unlock()
	if _, err := nc.Write(resp); err != nil {
		return
	}
	_ = nc.(*net.TCPConn).CloseWrite()
	// Read to the end before closing, so that the close never resets the engine's side while the
	// answer is still in flight.
	_, _ = io.Copy(io.Discard, nc)
}

// waitIdle waits until every backend connection has been closed. Every connection the engine makes
// for an input is accepted before the engine can finish that input (it waits for the answer), so
// open already counts them all.
func (b *frBackend) waitIdle(d time.Duration) bool {
	b.mu.Lock()
	ch := b.zero
	b.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func (b *frBackend) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// ---------------------------------------------------------------------------------------------
// The engine

// frEnv is FuzzBackendResponse's engine (see fuzzEngine) and its scripted backend.
type frEnv struct {
	*fuzzEngine
	back *frBackend
}

func frStart(tb testing.TB) *frEnv {
	back := frStartBackend(tb)
	src := fmt.Sprintf(frServerYAML, "http://"+back.Addr)
	return &frEnv{fuzzEngine: startFuzzEngine(tb, src, back.close), back: back}
}

type frResult struct {
	stream  []byte
	readErr error
	reset   bool
	settled string
}

// run sends the mode's request with in as the backend's answer and waits until the engine and the
// backend are done with it.
func (e *frEnv) run(mode int, in []byte) *frResult {
	res := &frResult{}
	e.back.set(in)
	nc, err := net.DialTimeout("tcp", e.addr, fzSettle)
	if err != nil {
		res.settled = "dial: " + err.Error()
		return res
	}
	_ = nc.SetDeadline(time.Now().Add(fzReadTimeout))
	if _, err := io.WriteString(nc, frRequests[mode].raw); err != nil {
		res.readErr = fmt.Errorf("write: %w", err)
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(nc)
	res.stream = buf.Bytes()
	if errors.Is(err, syscall.ECONNRESET) {
		res.reset = true
	} else if err != nil && res.readErr == nil {
		res.readErr = err
	}
	nc.Close()

	t := time.NewTimer(fzSettle)
	defer t.Stop()
	select {
	case <-e.served:
	case <-t.C:
		res.settled = "the engine did not finish serving the client connection"
		return res
	}
	e.offset.Add(int64(1000 * time.Hour))
	e.graph.Reap()
	if !e.back.waitIdle(fzSettle) {
		res.settled = "the backend connections did not all close"
	}
	return res
}

// ---------------------------------------------------------------------------------------------
// The models

// frModel is what the engine's own parser makes of the backend's bytes.
type frModel struct {
	interims [][]byte // raw 1xx heads before the final one
	bad      string   // why the engine must answer 502, "" when it relays a final response
	resp     h1.Response
	named    []string // lower-cased field names the final head's Connection fields list
	body     []byte   // the bytes after the final head
}

func frParse(in []byte, lim *h1.Limits) *frModel {
	m := &frModel{}
	rest := in
	for i := 0; ; i++ {
		if i == frMaxInterim {
			m.bad = "too many interim answers"
			return m
		}
		m.resp = h1.Response{}
		if err := h1.ParseResponse(rest, &m.resp, lim); err != nil {
			m.bad = "parse: " + err.Error()
			return m
		}
		if m.resp.HeadLen == 0 {
			m.bad = "no whole head before EOF"
			return m
		}
		if m.resp.Status == 101 {
			m.bad = "unsolicited 101"
			return m
		}
		if m.resp.Status >= 200 {
			break
		}
		m.interims = append(m.interims, rest[:m.resp.HeadLen])
		rest = rest[m.resp.HeadLen:]
	}
	m.named = frNamed(m.resp.Fields)
	m.body = rest[m.resp.HeadLen:]
	return m
}

// frNamed returns the lower-cased field names the Connection fields list, less those the engine
// never drops for a Connection token (h1's markHop keeps Host and the framing fields, and the engine
// writes its own Connection and framing).
func frNamed(fields []h1.Field) []string {
	var named []string
	for _, f := range fields {
		if f.ID != h1.Connection {
			continue
		}
		for _, t := range strings.Split(string(f.Value), ",") {
			t = strings.ToLower(strings.Trim(t, " \t"))
			switch t {
			case "", "close", "keep-alive", "upgrade", "content-length", "transfer-encoding", "host", "connection":
			default:
				named = append(named, t)
			}
		}
	}
	return named
}

// frBodyBad reports whether the engine's own parser finds the final answer's body incomplete or
// malformed: net/http is laxer in places (it takes a bare LF ending a trailer section, for one), and
// a body the engine rejects before sending anything gets its 502.
func frBodyBad(m *frModel, head bool, lim *h1.Limits) bool {
	switch {
	case m.resp.Bodyless(head):
		return false
	case m.resp.Chunked:
		_, _, ok, _ := fzDechunk(m.body, lim)
		return !ok
	case m.resp.ContentLength >= 0:
		return int64(len(m.body)) < m.resp.ContentLength
	}
	return false
}

// frRef is the body net/http frames from the backend's bytes.
type frRef struct {
	ok      bool // net/http accepted the final head: body and bodyErr are meaningful
	body    []byte
	bodyErr error // the body was cut short or malformed by net/http's reading
}

// frReference reads the backend's bytes with net/http. It is only comparable when both net/http and
// the engine's parser accept the final head: when either rejects it the engine answers 502 (ours) or
// net/http has no opinion on the framing (theirs), and there is nothing to compare against.
func frReference(in []byte, method string) frRef {
	br := bufio.NewReader(bytes.NewReader(in))
	req := &http.Request{Method: method}
	for i := 0; i <= frMaxInterim; i++ {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return frRef{}
		}
		if resp.StatusCode >= 200 || resp.StatusCode == 101 {
			body, err := io.ReadAll(resp.Body)
			return frRef{ok: true, body: body, bodyErr: err}
		}
	}
	return frRef{}
}

// ---------------------------------------------------------------------------------------------
// The checks

func frIsHop(name string) bool {
	switch name {
	case "keep-alive", "upgrade", "te", "trailer":
		return true
	}
	// A bare "Proxy-" is no Proxy-* field, for h1.classify as for this check.
	return len(name) > 6 && strings.HasPrefix(name, "proxy-")
}

// frHeadFields splits a raw head (status line, fields, CRLF CRLF) into lower-cased name and value
// pairs.
func frHeadFields(raw []byte) [][2]string {
	var out [][2]string
	lines := strings.Split(strings.TrimSuffix(string(raw), "\r\n\r\n"), "\r\n")
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		out = append(out, [2]string{strings.ToLower(strings.TrimSpace(name)), strings.Trim(value, " \t")})
	}
	return out
}

func frCheck(mode int, in []byte, res *frResult, lim *h1.Limits) (list, kinds []string) {
	add := func(kind, format string, args ...any) {
		list = append(list, fmt.Sprintf(format, args...))
		kinds = append(kinds, kind)
	}
	if res.settled != "" {
		add("hang", "%s", res.settled)
		return
	}
	if res.reset {
		add("reset", "the client's read ended with a reset")
	}
	if res.readErr != nil {
		add("read", "client: %v", res.readErr)
	}
	rq := frRequests[mode]
	model := frParse(in, lim)

	// Parse the client's stream: 1xx answers, then one final response.
	rd := bytes.NewReader(res.stream)
	br := bufio.NewReader(rd)
	consumed := func() int { return len(res.stream) - rd.Len() - br.Buffered() }
	req := &http.Request{Method: rq.method}
	var interims [][]byte
	var final *http.Response
	var finalHead []byte
	for {
		start := consumed()
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			switch {
			case len(res.stream) == 0:
				add("empty", "the client got no answer at all (neither a 502 nor a head cut short)")
			case strings.Contains(err.Error(), "Content-Length"):
				// The engine writes its own Content-Length; on bodyless answers it once forwarded
				// the backend's field as received (fixed in aa3de69).
				add("cl-list", "the client's head at offset %d has a Content-Length net/http rejects: %v", start, err)
			default:
				add("garbage", "the client's bytes at offset %d do not parse as a response: %v", start, err)
			}
			return
		}
		head := res.stream[start:consumed()]
		if resp.StatusCode == 101 {
			add("101", "a 101 reached the client")
			return
		}
		if resp.StatusCode < 200 {
			interims = append(interims, head)
			continue
		}
		final, finalHead = resp, head
		break
	}
	body, bodyErr := io.ReadAll(final.Body)
	if bodyErr != nil && !errors.Is(bodyErr, io.ErrUnexpectedEOF) {
		add("garbage", "the final response's body does not parse: %v", bodyErr)
		return
	}
	cut := bodyErr != nil
	if !cut {
		if extra := res.stream[consumed():]; len(extra) > 0 {
			add("after", "%d bytes after the final response: %q", len(extra), fzClip(extra, 200))
		}
	}
	framedClose := final.ContentLength < 0 && len(final.TransferEncoding) == 0 && final.Body != http.NoBody

	// The interim answers: passed on, rebuilt less their hop-by-hop fields, to HTTP/1.1 clients only.
	var want [][]byte
	if rq.minor == 1 {
		want = model.interims
	}
	if len(interims) != len(want) {
		add("interim", "the client got %d interim answers, the backend sent %d before its final or bad head "+
			"(HTTP/1.%d client)", len(interims), len(want), rq.minor)
	} else {
		for i := range interims {
			if !bytes.Equal(interims[i][:12], append([]byte("HTTP/1.1 "), want[i][9:12]...)) {
				add("interim", "interim %d is %q, the backend sent %q", i, interims[i], want[i])
			}
		}
	}
	for i, h := range interims {
		var named []string
		if i < len(want) {
			var r h1.Response
			if h1.ParseResponse(want[i], &r, lim) == nil {
				named = frNamed(r.Fields)
			}
		}
		for _, f := range frHeadFields(h) {
			if f[0] == "connection" || f[0] == "transfer-encoding" || f[0] == "content-length" || frIsHop(f[0]) {
				add("interim-hop", "an interim answer carries %s: %q", f[0], f[1])
			}
			for _, n := range named {
				if f[0] == n {
					add("interim-hop", "an interim answer carries %s, which its Connection header named", f[0])
				}
			}
		}
	}

	ref := frReference(in, rq.method)
	// A body that fails before anything reached the client gets the engine's own 502 rather than a
	// head cut short; which of the two depends on how much of the body the engine had buffered when
	// it sent the head, so either is right when the body is bad. When net/http rejects the final head
	// (and ours accepts it) there is no reference to say whether the body is bad, and a 502 is
	// accepted too.
	bodyBad := !ref.ok || ref.bodyErr != nil || model.bad == "" && frBodyBad(model, rq.method == "HEAD", lim)
	engine502 := func() bool {
		wantBody := "502 " + http.StatusText(502) + "\n"
		if rq.method == "HEAD" {
			wantBody = ""
		}
		if final.StatusCode != 502 || string(body) != wantBody || cut {
			return false
		}
		for name := range final.Header {
			switch strings.ToLower(name) {
			case "content-type", "content-length", "date", "connection":
			default:
				return false
			}
		}
		return true
	}
	if model.bad == "" && final.StatusCode == 502 && model.resp.Status != 502 && bodyBad && engine502() {
		return
	}
	if model.bad != "" {
		// Invariant 2: exactly the engine's own 502.
		if !engine502() {
			add("not502", "the engine's parser rejects the backend's answer (%s), the client got %d with body %q "+
				"(cut short: %v) and fields %v, want the engine's 502", model.bad, final.StatusCode,
				fzClip(body, 200), cut, final.Header)
		}
		return
	}

	// Invariant 3: status, body, head fields.
	if final.StatusCode != model.resp.Status {
		add("status", "the client got %d, the backend answered %d", final.StatusCode, model.resp.Status)
		return
	}
	if ref.ok {
		switch {
		case cut || framedClose && ref.bodyErr != nil:
			// A body cut short (or one a close-delimited HTTP/1.0 answer cannot mark as cut short)
			// holds what came before the end.
			if !bytes.HasPrefix(ref.body, body) && !bytes.HasPrefix(body, ref.body) {
				add("body", "the client's partial body %q is not a prefix of the backend's %q", fzClip(body, 200),
					fzClip(ref.body, 200))
			}
		case ref.bodyErr != nil:
			add("complete", "the client got a complete %d-byte body; net/http finds the backend's body incomplete "+
				"or malformed (%v) after %d bytes", len(body), ref.bodyErr, len(ref.body))
		case !bytes.Equal(body, ref.body):
			add("body", "the client got body %q, the backend framed %q", fzClip(body, 200), fzClip(ref.body, 200))
		}
	}
	// Invariant 4: a Content-Length answer relayed as complete has all its bytes.
	if !cut && !model.resp.Bodyless(rq.method == "HEAD") && model.resp.ContentLength >= 0 &&
		int64(len(body)) != model.resp.ContentLength {
		add("short", "the client got a complete body of %d bytes, the backend's Content-Length is %d",
			len(body), model.resp.ContentLength)
	}
	for _, f := range frHeadFields(finalHead) {
		switch {
		case f[0] == "connection":
			for _, t := range strings.Split(f[1], ",") {
				if t = strings.ToLower(strings.TrimSpace(t)); t != "close" && t != "keep-alive" {
					add("hop", "the client's head has Connection: %q", f[1])
				}
			}
		case f[0] == "transfer-encoding":
			if f[1] != "chunked" || rq.minor == 0 {
				add("hop", "the client's head has Transfer-Encoding: %q (HTTP/1.%d client)", f[1], rq.minor)
			}
		case frIsHop(f[0]):
			add("hop", "the client's head has %s: %q", f[0], f[1])
		}
		for _, n := range model.named {
			if f[0] == n {
				add("hop", "the client's head has %s, which the backend's Connection header named", f[0])
			}
		}
	}
	return
}

// frKnownBugs are problem kinds reported and kept as seeds; they fail the seed run and are tolerated
// while fuzzing.
var frKnownBugs = map[string]string{
	// None now. Found by this target and fixed in aa3de69, their seeds kept (frSeeds):
	//   interim-hop: 1xx heads were relayed byte for byte, hop-by-hop fields and fields named by
	//     their Connection header included;
	//   cl-list: HEAD and 304 answers carried the backend's Content-Length as written ("5, 5"),
	//     which net/http rejects;
	//   empty: a malformed first chunk (already buffered) left the client with no answer at all.
}

// ---------------------------------------------------------------------------------------------
// The fuzz target

func FuzzBackendResponse(f *testing.F) {
	for _, s := range frSeeds() {
		for mode := range byte(3) {
			f.Add(mode, []byte(s))
		}
	}
	e := frStart(f)
	fuzzing := fzFuzzing()
	f.Fuzz(func(t *testing.T, mode byte, in []byte) {
		if len(in) > fzMaxInput {
			t.Skip("input too large")
		}
		m := int(mode % 3)
		res := e.run(m, in)
		list, kinds := frCheck(m, in, res, &e.lim)
		var fail []string
		for i, s := range list {
			if _, known := frKnownBugs[kinds[i]]; known && fuzzing {
				continue
			}
			fail = append(fail, "["+kinds[i]+"] "+s)
		}
		if len(fail) > 0 {
			t.Fatalf("%s\n\nrequest: %q\nbackend sent (%d bytes): %q\nclient received (%d bytes): %q",
				strings.Join(fail, "\n"), frRequests[m].raw, len(in), fzClip(in, 4000), len(res.stream),
				fzClip(res.stream, 4000))
		}
		if res.settled != "" {
			t.Fatalf("settle: %s", res.settled)
		}
	})
}

func frSeeds() []string {
	return []string{
		// Valid framings.
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited body",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nclose-delimited, Connection: close",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnope",
		"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
		// 1xx then final.
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 17) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nok",
		"HTTP/1.1 103 Early Hints\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		// Bodyless statuses and HEAD.
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
		// Bad status lines.
		"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 600 High\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
		"garbage\r\n\r\n",
		"",
		"HTTP/1.1 200 OK\r\nContent-Len",
		// Framing conflicts.
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxxxx",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		// Line endings, folding, control bytes.
		"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\nX: y\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 O\x00K\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 2\r\n\r\nok",
		// Bad chunking.
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nhello\r\n0\r\n\r\n",
		// Short Content-Length bodies, and bytes past the body.
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat("b", 69999),
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		// Trailers.
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 1\r\nContent-Length: 50\r\nConnection: x\r\n\r\n",
		// Connection naming other fields; hop-by-hop fields.
		"HTTP/1.1 200 OK\r\nConnection: X-Secret, x-other\r\nX-Secret: 1\r\nX-Other: 2\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nConnection: Content-Length, Date\r\nDate: x\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nTE: trailers\r\nTrailer: X\r\nProxy-Connection: keep-alive\r\nProxy-Authenticate: Basic\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nConnection: ,,\r\nContent-Length: 2\r\n\r\nok",
		// Huge heads.
		"HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("p", 33<<10) + "\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("p", 30<<10) + "\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 100 Continue\r\nX-Pad: " + strings.Repeat("p", 20<<10) + "\r\n\r\nHTTP/1.1 200 OK\r\nX-Pad: " +
			strings.Repeat("p", 20<<10) + "\r\nContent-Length: 2\r\n\r\nok",
		// 101 unsolicited.
		"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nraw bytes",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
		// HTTP/1.0 responses.
		"HTTP/1.0 200 OK\r\n\r\nhttp/1.0 body until close",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		// A large close-delimited body.
		"HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("c", 100000),
	}
}
