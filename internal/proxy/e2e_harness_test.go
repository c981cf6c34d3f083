package proxy_test

// End-to-end harness: a real proxy.Handler built from a YAML config (as gatehouse builds it), served
// on a loopback listener, in front of scripted raw backends, driven by raw client connections.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/gateway"
	"github.com/gatehouse-proxy/gatehouse/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/internal/proxy"
	"github.com/gatehouse-proxy/gatehouse/internal/reqid"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// ioTimeout bounds every blocking read or write a test does; it is far beyond what any exchange
// needs, so that a hung test fails instead of hanging.
const ioTimeout = 30 * time.Second

// generous bounds how long a timeout of a few hundred milliseconds may take to fire, on a loaded
// machine, before a test calls it broken.
const generous = 4 * time.Second

// defaultServerYAML is the server section used when a test config has none: small head limits, so
// that limit tests need small requests, and timeouts long enough never to fire on a loaded machine;
// a test of a timeout shortens it with serverWith.
const defaultServerYAML = `
server:
  max_request_line: 1KiB
  max_header_bytes: 2KiB
  max_header_count: 20
  timeouts:
    client_header: 10s
    client_body_idle: 10s
    client_write_idle: 10s
    keepalive_idle: 10s
    upstream_connect: 5s
    upstream_header: 10s
    upstream_body_idle: 10s
    shutdown_drain: 2s
`

var (
	serverSection   = regexp.MustCompile(`(?m)^server:`)
	listenerSection = regexp.MustCompile(`(?m)^listeners:`)
)

// ---------------------------------------------------------------------------------------------
// Proxy

// syncBuffer is a bytes.Buffer safe for the access logger's flusher and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testProxy is a running engine.
type testProxy struct {
	t      *testing.T
	Addr   string
	H      *proxy.Handler
	Graph  *gateway.Graph
	Config *config.Config
	ln     net.Listener
	logBuf *syncBuffer
	logger *accesslog.Logger
	wd     *watchdog.Watchdog

	acceptDone chan struct{}
	shutOnce   sync.Once
	shutErr    error

	errMu sync.Mutex
	errs  []string
}

// startProxy compiles yamlBody (routes, upstreams and optionally server/forwarded sections; the
// listener and access_log sections are added) and serves it on 127.0.0.1:0.
func startProxy(t *testing.T, yamlBody string) *testProxy {
	t.Helper()
	return startProxyMetrics(t, yamlBody, nil)
}

// startProxyMetrics is startProxy with the routes, pools and the engine counting into reg; nil
// counts nothing (every route's Metrics is nil).
func startProxyMetrics(t *testing.T, yamlBody string, reg *metrics.Registry) *testProxy {
	t.Helper()
	src := "access_log: {output: \"off\"}\n"
	if !listenerSection.MatchString(yamlBody) {
		src += "listeners: [{address: \"127.0.0.1:1\"}]\n"
	}
	if !serverSection.MatchString(yamlBody) {
		src += defaultServerYAML
	}
	src += yamlBody
	cfg, err := config.Parse([]byte(src), "e2e.yaml")
	if err != nil {
		t.Fatalf("config:\n%s\n%v", src, err)
	}
	opts, err := gateway.EngineOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{t: t, Config: cfg, logBuf: &syncBuffer{}, acceptDone: make(chan struct{})}
	p.wd = watchdog.New(5*time.Millisecond, time.Now)
	gw, err := gateway.New(gateway.Options{Watchdog: p.wd, Metrics: reg})
	if err == nil {
		p.Graph, err = gw.Apply(cfg)
	}
	if err != nil {
		p.wd.Close()
		t.Fatal(err)
	}
	ids, err := reqid.New()
	if err != nil {
		t.Fatal(err)
	}
	p.logger = accesslog.New(p.logBuf, 5*time.Millisecond)
	opts.IDs, opts.Watchdog, opts.Log, opts.Metrics = ids, p.wd, p.logger, reg
	opts.Errorf = func(format string, args ...any) {
		p.errMu.Lock()
		p.errs = append(p.errs, fmt.Sprintf(format, args...))
		p.errMu.Unlock()
	}
	p.H = proxy.New(opts, p.Graph.Table)
	p.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = p.ln.Addr().String()
	// A plain endpoint with the protocols of the config's first listener (its address is not used).
	protos := cfg.Listeners[0].Protocols
	ep, err := proxy.NewEndpoint(proxy.Endpoint{H2C: slices.Contains(protos, "h2c"), NoH1: !slices.Contains(protos, "h1")})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.acceptDone)
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			go p.H.ServeConnOn(c, ep)
		}
	}()
	t.Cleanup(func() {
		p.shutdown(2 * time.Second)
		p.Graph.Close()
		p.logger.Close()
		p.wd.Close()
	})
	return p
}

// shutdown closes the listener and drains the handler within drain. It returns how long the
// handler's Shutdown took and its error. Only the first call does anything.
func (p *testProxy) shutdown(drain time.Duration) (time.Duration, error) {
	var took time.Duration
	p.shutOnce.Do(func() {
		p.ln.Close()
		<-p.acceptDone
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- p.H.Shutdown(ctx) }()
		select {
		case p.shutErr = <-done:
		case <-time.After(drain + 15*time.Second):
			p.shutErr = errors.New("handler Shutdown did not return")
		}
		took = time.Since(start)
	})
	return took, p.shutErr
}

// errors returns what the engine reported through Errorf.
func (p *testProxy) errors() []string {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return append([]string(nil), p.errs...)
}

// logLine is one access log entry.
type logLine struct {
	Time       string  `json:"time"`
	Client     string  `json:"client"`
	Method     string  `json:"method"`
	Host       string  `json:"host"`
	Path       string  `json:"path"`
	Status     int     `json:"status"`
	BytesIn    int64   `json:"bytes_in"`
	BytesOut   int64   `json:"bytes_out"`
	DurationMS float64 `json:"duration_ms"`
	Upstream   string  `json:"upstream"`
	RequestID  string  `json:"request_id"`
	Route      string  `json:"route"`
	raw        string
}

// logLines waits until the access log holds at least n lines and returns them all, each checked to
// be one valid JSON object.
func (p *testProxy) logLines(n int) []logLine {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		text := p.logBuf.String()
		raw := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if text == "" {
			raw = nil
		}
		if len(raw) >= n || time.Now().After(deadline) {
			if len(raw) < n {
				p.t.Fatalf("access log has %d lines, want at least %d:\n%s", len(raw), n, text)
			}
			out := make([]logLine, len(raw))
			for i, l := range raw {
				var fields map[string]any
				if err := json.Unmarshal([]byte(l), &fields); err != nil {
					p.t.Fatalf("access log line %d is not one valid JSON object: %v\n%s", i, err, l)
				}
				for _, k := range []string{"time", "client", "method", "host", "path", "status", "bytes_in",
					"bytes_out", "duration_ms", "upstream", "request_id", "route"} {
					if _, ok := fields[k]; !ok {
						p.t.Errorf("access log line %d has no %q: %s", i, k, l)
					}
				}
				if err := json.Unmarshal([]byte(l), &out[i]); err != nil {
					p.t.Fatalf("access log line %d: %v\n%s", i, err, l)
				}
				out[i].raw = l
			}
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------------------
// Backends

// recReq is a request as a backend received it.
type recReq struct {
	Conn    int // backend connection number, from 1
	Seq     int // request number on the backend, from 1
	Method  string
	Target  string
	Proto   string
	Lines   []string // the header field lines, raw
	Header  http.Header
	Chunked bool
	Body    []byte
	Trailer http.Header
	Err     error // the body could not be read whole
}

// host returns the value of the Host field, which Header leaves out (as net/http does not).
func (r *recReq) host() string { return r.Header.Get("Host") }

// bconn is a backend's side of one proxy connection.
type bconn struct {
	net.Conn
	BR   *bufio.Reader
	N    int
	Done <-chan struct{} // closed when the backend shuts down
}

func (c *bconn) write(s string) { _, _ = io.WriteString(c.Conn, s) }

// handlerFunc answers one request; it reports whether the connection stays open.
type handlerFunc func(c *bconn, r *recReq) bool

// backend is a scripted HTTP/1.1 server that records every request it receives.
type backend struct {
	t       *testing.T
	ln      net.Listener
	Addr    string
	URL     string
	handler handlerFunc
	Done    chan struct{} // closed when the backend shuts down

	mu    sync.Mutex
	reqs  []*recReq
	conns map[net.Conn]struct{}
	nconn int
	seen  chan *recReq
	wg    sync.WaitGroup
}

func startBackend(t *testing.T, h handlerFunc) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{t: t, ln: ln, Addr: ln.Addr().String(), handler: h, Done: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, seen: make(chan *recReq, 1000)}
	b.URL = "http://" + b.Addr
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *backend) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.nconn++
		n := b.nconn
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serve(&bconn{Conn: c, BR: bufio.NewReader(c), N: n, Done: b.Done})
	}
}

func (b *backend) close() {
	b.ln.Close()
	select {
	case <-b.Done:
	default:
		close(b.Done)
	}
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *backend) serve(c *bconn) {
	defer b.wg.Done()
	defer func() {
		c.Close()
		b.mu.Lock()
		delete(b.conns, c.Conn)
		b.mu.Unlock()
	}()
	for {
		r, err := readRequest(c.BR)
		if err != nil {
			return
		}
		r.Conn = c.N
		b.mu.Lock()
		b.reqs = append(b.reqs, r)
		r.Seq = len(b.reqs)
		b.mu.Unlock()
		b.seen <- r
		if r.Err != nil {
			return
		}
		if !b.handler(c, r) {
			return
		}
	}
}

// requests returns what the backend has received so far.
func (b *backend) requests() []*recReq {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*recReq(nil), b.reqs...)
}

// connCount is the number of connections the backend has accepted.
func (b *backend) connCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nconn
}

// next waits for the next request the backend receives.
func (b *backend) next(t *testing.T) *recReq {
	t.Helper()
	select {
	case r := <-b.seen:
		return r
	case <-time.After(ioTimeout):
		t.Fatal("the backend received no request")
		return nil
	}
}

// sawPath reports whether any request the backend received had this target.
func (b *backend) sawPath(target string) bool {
	for _, r := range b.requests() {
		if r.Target == target {
			return true
		}
	}
	return false
}

// readRequest reads one request head and its body from br; it returns an error only when no head
// could be read. A body that fails is recorded in Err.
func readRequest(br *bufio.Reader) (*recReq, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("request line not ended by CRLF: %q", line)
	}
	parts := strings.SplitN(strings.TrimSuffix(line, "\r\n"), " ", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("bad request line %q", line)
	}
	r := &recReq{Method: parts[0], Target: parts[1], Proto: parts[2], Header: http.Header{}}
	if err := readFields(br, &r.Lines, r.Header); err != nil {
		return nil, err
	}
	te := r.Header.Values("Transfer-Encoding")
	switch {
	case len(te) > 0:
		r.Chunked = len(te) == 1 && strings.EqualFold(te[0], "chunked")
		if !r.Chunked {
			r.Err = fmt.Errorf("unexpected Transfer-Encoding %q", te)
			return r, nil
		}
		r.Body, r.Err = io.ReadAll(httputil.NewChunkedReader(br))
		if r.Err == nil {
			r.Trailer = http.Header{}
			var lines []string
			r.Err = readFields(br, &lines, r.Trailer)
		}
	case r.Header.Get("Content-Length") != "":
		if len(r.Header.Values("Content-Length")) != 1 {
			r.Err = errors.New("several Content-Length fields")
			return r, nil
		}
		n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
		if err != nil || n < 0 {
			r.Err = fmt.Errorf("bad Content-Length %q", r.Header.Get("Content-Length"))
			return r, nil
		}
		r.Body = make([]byte, n)
		_, r.Err = io.ReadFull(br, r.Body)
	}
	return r, nil
}

// readFields reads CRLF-ended field lines up to the empty line.
func readFields(br *bufio.Reader, lines *[]string, h http.Header) error {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasSuffix(line, "\r\n") {
			return fmt.Errorf("field line not ended by CRLF: %q", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		if line == "" {
			return nil
		}
		*lines = append(*lines, line)
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("bad field line %q", line)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(name), strings.Trim(value, " \t"))
	}
}

// echoHandler answers 200 with a body naming the backend, the method, the target and the request
// body, and headers X-Backend and X-Echo-Method. A HEAD gets the same head without the body.
func echoHandler(name string) handlerFunc {
	return func(c *bconn, r *recReq) bool {
		body := fmt.Sprintf("%s %s %s|%s", name, r.Method, r.Target, r.Body)
		head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\nX-Backend: %s\r\nX-Echo-Method: %s\r\n\r\n",
			len(body), name, r.Method)
		if r.Method == "HEAD" {
			body = ""
		}
		c.write(head + body)
		return true
	}
}

// rawResponse answers every request with the given bytes, keeping the connection open.
func rawResponse(s string) handlerFunc {
	return func(c *bconn, r *recReq) bool {
		c.write(s)
		return true
	}
}

// ---------------------------------------------------------------------------------------------
// Clients

// client is a raw connection to the proxy.
type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// send writes s in one write.
func (c *client) send(s string) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write to the proxy: %v", err)
	}
}

// response is a response as the client read it, body whole.
type response struct {
	*http.Response
	Body    string
	BodyErr error
}

// tryRead reads one response to a request with this method and its whole body.
func (c *client) tryRead(method string) (*response, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	body, berr := io.ReadAll(resp.Body)
	resp.Body.Close()
	return &response{Response: resp, Body: string(body), BodyErr: berr}, nil
}

// read reads one response whose body must arrive whole.
func (c *client) read(method string) *response {
	c.t.Helper()
	r, err := c.tryRead(method)
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	if r.BodyErr != nil {
		c.t.Fatalf("reading the body of a %d response: %v", r.StatusCode, r.BodyErr)
	}
	return r
}

// roundTrip sends a request and reads its response.
func (c *client) roundTrip(method, raw string) *response {
	c.t.Helper()
	c.send(raw)
	return c.read(method)
}

// closed waits up to d for the proxy to close the connection. It reports whether it did and any
// bytes that arrived before the end.
func (c *client) closed(d time.Duration) (bool, string) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.br.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false, string(got)
			}
			return true, string(got) // EOF or reset
		}
	}
}

// expectClosed fails unless the proxy closes the connection without sending anything more.
func (c *client) expectClosed() {
	c.t.Helper()
	ok, extra := c.closed(5 * time.Second)
	if extra != "" {
		c.t.Errorf("after the last response the proxy sent %q", extra)
	}
	if !ok {
		c.t.Errorf("the proxy did not close the connection")
	}
}

// expectOpen fails if the proxy closed the connection or sent anything within d.
func (c *client) expectOpen(d time.Duration) {
	c.t.Helper()
	ok, extra := c.closed(d)
	if ok || extra != "" {
		c.t.Errorf("connection closed=%v, unexpected bytes %q; want it open and quiet", ok, extra)
	}
}

// get is a minimal GET request.
func get(path, host string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
}

// singleUpstream is a config body with one route "main" for every request to one upstream "up".
func singleUpstream(backends ...string) string {
	return "routes:\n  - name: main\n    upstream: up\nupstreams:\n  - name: up\n    backends: [" +
		strings.Join(backends, ", ") + "]\n"
}

// assertNoLeak fails if an error answer gives away an address or software name.
func assertNoLeak(t *testing.T, r *response) {
	t.Helper()
	var sb strings.Builder
	_ = r.Header.Write(&sb)
	all := strings.ToLower(sb.String() + "\n" + r.Body)
	for _, s := range []string{"127.0.0.1", "gatehouse", "go1.", "golang", "go-http", "dial tcp", "connection refused"} {
		if strings.Contains(all, s) {
			t.Errorf("%d answer gives away %q:\n%s", r.StatusCode, s, all)
		}
	}
}

// serverWith returns the default server section with some settings changed: pairs of a key
// ("upstream_header") and its new value ("300ms").
func serverWith(kv ...string) string {
	s := defaultServerYAML
	for i := 0; i+1 < len(kv); i += 2 {
		re := regexp.MustCompile(`(?m)^(\s+)` + regexp.QuoteMeta(kv[i]) + `: .*$`)
		if !re.MatchString(s) {
			panic("serverWith: no setting " + kv[i])
		}
		s = re.ReplaceAllString(s, "${1}"+kv[i]+": "+kv[i+1])
	}
	return s
}

// ---------------------------------------------------------------------------------------------
// Helpers for routing, retries and balancing

// statusHandler answers every request with this status, a body naming the backend and X-Backend.
func statusHandler(name string, status int) handlerFunc {
	return func(c *bconn, r *recReq) bool {
		body := name
		if r.Method == "HEAD" {
			body = ""
		}
		c.write(fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Length: %d\r\nX-Backend: %s\r\n\r\n%s",
			status, http.StatusText(status), len(name), name, body))
		return true
	}
}

// silentHandler reads a request and never answers it.
func silentHandler(c *bconn, r *recReq) bool {
	<-c.Done
	return false
}

// backendAt returns the running Backend of an upstream by address.
func (p *testProxy) backendAt(upstreamName, addr string) *upstream.Backend {
	p.t.Helper()
	svc := p.Graph.Services[upstreamName]
	if svc == nil {
		p.t.Fatalf("no upstream %q", upstreamName)
	}
	for _, be := range svc.Backends() {
		if be.Addr == addr {
			return be
		}
	}
	p.t.Fatalf("upstream %q has no backend %s", upstreamName, addr)
	return nil
}

// waitFor polls cond until it holds, and fails the test if it does not within ioTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
