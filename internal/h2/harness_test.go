package h2

import (
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// testEngine is a small HTTP/1.1 responder standing for the engine: it reads one request from the
// stream with h1.ParseRequest and answers by path.
type testEngine struct {
	hold     chan struct{} // /hold waits for it to close
	started  chan string   // /hold reports its path when it starts waiting
	errs     chan error    // /hold reports how its read of the stream ended
	served   sync.WaitGroup
	mu       sync.Mutex
	lastHead string // the last request head received
}

func newTestEngine() *testEngine {
	return &testEngine{hold: make(chan struct{}), started: make(chan string, 1000), errs: make(chan error, 1000)}
}

// request is what the engine read.
type request struct {
	method, path, head string
	host               string
	fields             []string // "name: value"
	body               []byte
	trailers           string
	upgrade            bool
	wsKey              string
	chunked            bool
	length             int64
}

// readRequest reads a request head and (except for /hold and tunnels) its body.
func readRequest(in *h1.Reader, withBody bool) (*request, error) {
	var req h1.Request
	for {
		if err := h1.ParseRequest(in.Buffered(), &req, &h1.Limits{MaxHeaderBytes: 1 << 20}); err != nil {
			return nil, err
		}
		if req.HeadLen > 0 {
			break
		}
		if in.W == len(in.Buf) {
			in.Grow(2 * len(in.Buf))
		}
		if _, err := in.Fill(); err != nil {
			return nil, err
		}
	}
	r := &request{method: string(req.Method), path: string(req.Path), head: string(in.Buffered()[:req.HeadLen]),
		host: string(req.Host), upgrade: req.Upgrade}
	for _, f := range req.Fields {
		r.fields = append(r.fields, string(f.Name)+": "+string(f.Value))
		if h1.EqualFold(f.Name, "sec-websocket-key") {
			r.wsKey = string(f.Value)
		}
	}
	r.chunked, r.length = req.Chunked, req.ContentLength
	in.Consume(req.HeadLen)
	if !withBody {
		return r, nil
	}
	return r, r.readBody(in)
}

// readBody reads the request's body into r.body (and r.trailers).
func (r *request) readBody(in *h1.Reader) error {
	var err error
	switch {
	case r.chunked:
		r.body, r.trailers, err = readChunked(in)
	case r.length > 0:
		r.body, err = readN(in, int(r.length))
	}
	return err
}

func readN(in *h1.Reader, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for len(out) < n {
		if in.Len() == 0 {
			if _, err := in.Fill(); err != nil {
				return out, err
			}
		}
		k := min(in.Len(), n-len(out))
		out = append(out, in.Buffered()[:k]...)
		in.Consume(k)
	}
	return out, nil
}

func readChunked(in *h1.Reader) (body []byte, trailers string, err error) {
	for {
		size, n, err := h1.ParseChunkLine(in.Buffered())
		if err != nil {
			return body, "", err
		}
		if n == 0 {
			if _, err := in.Fill(); err != nil {
				return body, "", err
			}
			continue
		}
		in.Consume(n)
		if size == 0 {
			break
		}
		b, err := readN(in, int(size)+2)
		if err != nil {
			return body, "", err
		}
		body = append(body, b[:size]...)
	}
	for {
		_, n, err := h1.ParseTrailers(in.Buffered(), nil, nil)
		if err != nil {
			return body, "", err
		}
		if n > 0 {
			trailers = string(in.Buffered()[:n])
			in.Consume(n)
			return body, trailers, nil
		}
		if _, err := in.Fill(); err != nil {
			return body, "", err
		}
	}
}

// serve is an Options.Serve.
func (e *testEngine) serve(vc net.Conn) {
	e.served.Add(1)
	defer e.served.Done()
	defer vc.Close()
	in := &h1.Reader{Src: vc, Buf: make([]byte, 4096)}
	req, err := readRequest(in, false)
	if err != nil {
		return
	}
	hold := strings.HasPrefix(req.path, "/hold")
	if !hold && req.path != "/ws" && req.path != "/stall" && req.path != "/early" {
		if err := req.readBody(in); err != nil {
			e.errs <- err
			return
		}
	}
	e.mu.Lock()
	e.lastHead = req.head
	e.mu.Unlock()
	w := func(s string) bool { _, err := io.WriteString(vc, s); return err == nil }
	path := req.path
	switch {
	case hold:
		e.started <- path
		rerr := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, vc); rerr <- err }()
		select {
		case <-e.hold:
			w("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nheld")
			// The reader must be done with vc before the handler returns and the stream is
			// recycled: closing vc ends its Read.
			vc.Close()
			<-rerr
		case err := <-rerr:
			if err != nil {
				e.errs <- err
				return
			}
			// The request ended: wait for the release all the same.
			<-e.hold
			w("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nheld")
		}
	case path == "/early":
		// Answers without reading the body, as the engine does for a 413.
		w("HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n")
	case path == "/stall":
		// Reads nothing until released, then reports how its read ends.
		e.started <- path
		<-e.hold
		_, err := io.Copy(io.Discard, vc)
		e.errs <- err
	case path == "/echo":
		h := "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(req.body)) + "\r\n"
		if req.trailers != "" {
			h += "X-Trailers: " + strings.ReplaceAll(strings.TrimSpace(req.trailers), "\r\n", "|") + "\r\n"
		}
		w(h + "\r\n" + string(req.body))
	case path == "/request":
		w("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(req.head)) + "\r\n\r\n" + req.head)
	case path == "/chunked":
		w("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/grpc\r\nTrailer: grpc-status\r\n\r\n")
		w("5\r\nhello\r\n")
		w("6;ext=1\r\n world\r\n0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n")
	case path == "/chunked-plain":
		w("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	case path == "/split":
		for _, b := range []byte("HTTP/1.1 200 OK\r\nX-Split: yes\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n") {
			if !w(string(b)) {
				return
			}
		}
	case path == "/info":
		w("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n")
		w("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	case path == "/close":
		w("HTTP/1.1 200 OK\r\nConnection: close\r\nKeep-Alive: timeout=5\r\n\r\nuntil the end")
	case path == "/head":
		h := "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"
		if req.method != "HEAD" {
			h += "hello world"
		}
		w(h)
	case strings.HasPrefix(path, "/status/"):
		w("HTTP/1.1 " + path[8:] + " X\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\n")
	case strings.HasPrefix(path, "/big/"):
		n, _ := strconv.Atoi(path[5:])
		if !w("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n") {
			return
		}
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for n > 0 {
			k := min(n, len(chunk))
			if _, err := vc.Write(chunk[:k]); err != nil {
				e.errs <- err
				return
			}
			n -= k
		}
	case path == "/ws":
		if !req.upgrade || req.wsKey == "" {
			w("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		sum := sha1.Sum([]byte(req.wsKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		w("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
		if in.Len() > 0 {
			vc.Write(in.Buffered())
		}
		io.Copy(vc, vc)
	case path == "/nothing":
		// Close without answering.
	default:
		w("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nContent-Type: text/plain\r\n\r\nnot found")
	}
}

// testServer runs Conns on a loopback listener.
type testServer struct {
	ln    net.Listener
	addr  string
	mu    sync.Mutex
	conns []*Conn
	wg    sync.WaitGroup
	newc  chan *Conn
}

func startServer(t testing.TB, opts Options, tlsConf *tls.Config) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	s := &testServer{ln: ln, addr: ln.Addr().String(), newc: make(chan *Conn, 100)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if tc, ok := nc.(*tls.Conn); ok {
				if tc.Handshake() != nil {
					nc.Close()
					continue
				}
			}
			c := NewConn(nc, nil, &opts)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			select {
			case s.newc <- c:
			default:
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); c.Serve() }()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// serverTLS is a TLS config offering h2 with a test CA's certificate; the pool trusts it.
func serverTLS(t testing.TB) (*tls.Config, *tls.Config) {
	ca := tlstest.NewCA(t, "h2 test CA")
	leaf := ca.Server(t, "127.0.0.1", "localhost")
	srv := &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, NextProtos: []string{"h2"}}
	cli := &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"h2"}, ServerName: "127.0.0.1"}
	return srv, cli
}

// rawClient speaks HTTP/2 frame by frame, for protocol tests.
type rawClient struct {
	t    testing.TB
	nc   net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
	next uint32 // next stream id
	// The server's settings, from its first SETTINGS frame.
	settings map[http2.SettingID]uint32
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawClient{t: t, nc: nc, next: 1, settings: map[http2.SettingID]uint32{}}
	c.fr = http2.NewFramer(nc, nc)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(65536, nil)
	c.fr.AllowIllegalWrites = true
	c.enc = hpack.NewEncoder(&c.hbuf)
	return c
}

// handshake sends the preface and SETTINGS, reads the server's SETTINGS and acknowledges it.
func (c *rawClient) handshake(settings ...http2.Setting) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, ClientPreface); err != nil {
		c.t.Fatal(err)
	}
	if err := c.fr.WriteSettings(settings...); err != nil {
		c.t.Fatal(err)
	}
	f := c.read()
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		c.t.Fatalf("first frame: %v", f)
	}
	sf.ForeachSetting(func(s http2.Setting) error { c.settings[s.ID] = s.Val; return nil })
	if err := c.fr.WriteSettingsAck(); err != nil {
		c.t.Fatal(err)
	}
}

// read reads the next frame, failing the test on error or after 10 s.
func (c *rawClient) read() http2.Frame {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := c.fr.ReadFrame()
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

// readFrame reads the next frame or the error that ends the connection.
func (c *rawClient) readFrame() (http2.Frame, error) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c.fr.ReadFrame()
}

// block encodes header fields given as name, value pairs.
func (c *rawClient) block(kv ...string) []byte {
	c.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(c.hbuf.Bytes())
}

// get opens a stream with a GET for path and END_STREAM; it returns the stream id.
func (c *rawClient) get(path string) uint32 {
	return c.request(true, ":method", "GET", ":scheme", "http", ":path", path, ":authority", "example.com")
}

// request opens a stream with the header fields given.
func (c *rawClient) request(end bool, kv ...string) uint32 {
	c.t.Helper()
	id := c.next
	c.next += 2
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.block(kv...),
		EndStream: end, EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
	return id
}

// response is what a raw client collected of one stream.
type response struct {
	status   string
	headers  []hpack.HeaderField
	infos    []string // informational statuses
	body     []byte
	trailers []hpack.HeaderField
	rst      http2.ErrCode
	reset    bool
	ended    bool
}

func (r *response) header(name string) string {
	for _, f := range r.headers {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// collect reads frames until every stream in ids is ended or reset; other frames are answered
// (PING) or recorded. It returns the responses by stream id and the GOAWAY seen, if any.
func (c *rawClient) collect(ids ...uint32) (map[uint32]*response, *http2.GoAwayFrame) {
	c.t.Helper()
	out := map[uint32]*response{}
	open := map[uint32]bool{}
	for _, id := range ids {
		out[id] = &response{}
		open[id] = true
	}
	var ga *http2.GoAwayFrame
	for len(open) > 0 {
		f, err := c.readFrame()
		if err != nil {
			if ga != nil {
				return out, ga
			}
			c.t.Fatalf("collect %v: %v", ids, err)
		}
		id := f.Header().StreamID
		r := out[id]
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			g := *f
			ga = &g
		case *http2.MetaHeadersFrame:
			if r == nil {
				continue
			}
			st := f.PseudoValue("status")
			switch {
			case st != "" && st[0] == '1':
				r.infos = append(r.infos, st)
			case st != "":
				r.status = st
				r.headers = append([]hpack.HeaderField(nil), f.RegularFields()...)
			default:
				r.trailers = append([]hpack.HeaderField(nil), f.Fields...)
			}
			if f.StreamEnded() {
				r.ended = true
				delete(open, id)
			}
		case *http2.DataFrame:
			if r == nil {
				continue
			}
			r.body = append(r.body, f.Data()...)
			if len(f.Data()) > 0 {
				c.fr.WriteWindowUpdate(0, uint32(len(f.Data())))
				c.fr.WriteWindowUpdate(id, uint32(len(f.Data())))
			}
			if f.StreamEnded() {
				r.ended = true
				delete(open, id)
			}
		case *http2.RSTStreamFrame:
			if r == nil {
				continue
			}
			r.reset, r.rst = true, f.ErrCode
			delete(open, id)
		}
	}
	return out, ga
}

// expectGoAway reads until a GOAWAY arrives or the connection ends; it returns the GOAWAY's code or
// fails when the connection ends without one.
func (c *rawClient) expectGoAway() http2.ErrCode {
	c.t.Helper()
	for {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("connection ended without GOAWAY: %v", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			return ga.ErrCode
		}
	}
}

// expectClosed reads until the connection ends, within 10 s.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	for {
		if _, err := c.readFrame(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatal("connection not closed")
			}
			return
		}
	}
}

// expectReset reads until a RST_STREAM for id (returning its code), failing on a GOAWAY.
func (c *rawClient) expectReset(id uint32) http2.ErrCode {
	c.t.Helper()
	for {
		f := c.read()
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return f.ErrCode
			}
		case *http2.GoAwayFrame:
			c.t.Fatalf("GOAWAY %v (%s) while waiting for RST_STREAM on %d", f.ErrCode, f.DebugData(), id)
		}
	}
}

func hf(kv ...string) []hpack.HeaderField {
	var out []hpack.HeaderField
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func fieldsString(fs []hpack.HeaderField) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s=%s;", f.Name, f.Value)
	}
	return b.String()
}
