package h2

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"golang.org/x/net/http2"
)

// TestMalformedOnTheWire sends malformed requests over a real connection: each is a stream error
// PROTOCOL_ERROR (or a local answer), and the connection goes on serving.
func TestMalformedOnTheWire(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	base := []string{":method", "GET", ":scheme", "http", ":path", "/x", ":authority", "a"}
	with := func(kv ...string) []string { return append(base[:8:8], kv...) }
	tests := []struct {
		name   string
		fields []string
		end    bool
		status string // a local answer; "" for RST_STREAM PROTOCOL_ERROR
	}{
		{"uppercase name", with("X-Foo", "1"), true, ""},
		{"connection field", with("connection", "keep-alive"), true, ""},
		{"transfer-encoding", with("transfer-encoding", "chunked"), true, ""},
		{"te gzip", with("te", "gzip"), true, ""},
		{"pseudo after regular", with("x", "1", ":foo", "b"), true, ""},
		{"unknown pseudo", with(":foo", "b"), true, ""},
		{"duplicated pseudo", with(":path", "/y"), true, ""},
		{"missing path", []string{":method", "GET", ":scheme", "http", ":authority", "a"}, true, ""},
		{"status in request", with(":status", "200"), true, ""},
		{"value with NUL", with("x", "a\x00b"), true, ""},
		{"value with CRLF", with("x", "a\r\nb: c"), true, ""},
		{"value leading space", with("x", " a"), true, ""},
		{"name not a token", with("a(b", "1"), true, ""},
		{"content-length and END_STREAM", with("content-length", "3"), true, ""},
		{"too many fields", with(strings.Split(strings.Repeat("x\x00y\x00", 101), "\x00")[:202]...), true, "431"},
		{"unknown extended CONNECT protocol", []string{":method", "CONNECT", ":protocol", "foo", ":scheme", "http", ":path", "/", ":authority", "a"}, false, "501"},
	}
	c := dialRaw(t, srv.addr)
	c.handshake()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := c.request(tt.end, tt.fields...)
			res, ga := c.collect(id)
			if ga != nil {
				t.Fatalf("GOAWAY %v", ga.ErrCode)
			}
			r := res[id]
			if tt.status == "" {
				if !r.reset || r.rst != http2.ErrCodeProtocol {
					t.Errorf("got %+v, want RST_STREAM PROTOCOL_ERROR", r)
				}
			} else if r.status != tt.status {
				t.Errorf("got %+v, want %s", r, tt.status)
			}
		})
	}
	// The connection still works.
	id := c.get("/request")
	res, _ := c.collect(id)
	if res[id].status != "200" {
		t.Fatalf("after the malformed requests: %+v", res[id])
	}
}

// TestContentLengthMismatch: DATA that does not add up to content-length is a malformed request
// (RFC 9113 §8.1.1): RST_STREAM PROTOCOL_ERROR, and the engine's read fails instead of ending.
func TestContentLengthMismatch(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	tests := []struct {
		name string
		data []string
	}{
		{"short", []string{"abc"}},
		{"long", []string{"abc", "def"}},
	}
	c := dialRaw(t, srv.addr)
	c.handshake()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := c.request(false, ":method", "POST", ":scheme", "http", ":path", "/hold/cl", ":authority", "a", "content-length", "5")
			<-e.started
			for i, d := range tt.data {
				c.fr.WriteData(id, i == len(tt.data)-1, []byte(d))
			}
			if code := c.expectReset(id); code != http2.ErrCodeProtocol {
				t.Errorf("RST_STREAM %v", code)
			}
			err := <-e.errs
			if err == nil || errors.Is(err, io.EOF) || isTimeout(err) {
				t.Errorf("engine read ended with %v, want a failure", err)
			}
		})
	}
}

// TestClientReset: RST_STREAM from the client makes the stream's blocked Read fail (not a timeout).
func TestClientReset(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	c := dialRaw(t, srv.addr)
	c.handshake()
	id := c.request(false, ":method", "POST", ":scheme", "http", ":path", "/hold", ":authority", "a")
	<-e.started
	c.fr.WriteRSTStream(id, http2.ErrCodeCancel)
	err := <-e.errs
	if !errors.Is(err, errStreamReset) || isTimeout(err) {
		t.Fatalf("engine read: %v", err)
	}
	// The connection goes on.
	id = c.get("/x")
	if res, _ := c.collect(id); res[id].status != "404" {
		t.Fatalf("%+v", res[id])
	}
}

// TestDeadlines: the stream's deadlines act like a socket's.
func TestDeadlines(t *testing.T) {
	type result struct {
		step string
		err  error
	}
	results := make(chan result, 10)
	serve := func(vc net.Conn) {
		defer vc.Close()
		in := &h1.Reader{Src: vc, Buf: make([]byte, 4096)}
		if _, err := readRequest(in, false); err != nil {
			results <- result{"head", err}
			return
		}
		buf := make([]byte, 10)
		vc.SetReadDeadline(time.Unix(1, 0))
		_, err := vc.Read(buf)
		results <- result{"read past", err}
		vc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err = vc.Read(buf)
		results <- result{"read future", err}
		// A Write blocked on flow control (the client's window is 0) is interrupted by a deadline
		// set from another goroutine, as the engine's watchdog does.
		vc.SetReadDeadline(time.Time{})
		done := make(chan error, 1)
		go func() {
			_, err := io.WriteString(vc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
			done <- err
		}()
		vc.SetDeadline(time.Unix(1, 0))
		results <- result{"write blocked", <-done}
		vc.SetDeadline(time.Time{})
		_, err = vc.Write([]byte("x"))
		results <- result{"write after clear", err}
	}
	srv := startServer(t, Options{Serve: serve}, nil)
	c := dialRaw(t, srv.addr)
	c.handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	c.request(false, ":method", "POST", ":scheme", "http", ":path", "/", ":authority", "a")
	for _, step := range []string{"read past", "read future", "write blocked"} {
		r := <-results
		if r.step != step || !isTimeout(r.err) || !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: got %s %v, want a timeout", step, r.step, r.err)
		}
	}
	// A Write after the deadline is cleared proceeds: here it adds to the head the blocked one
	// buffered, and waits for window again; the client's window opening lets both through.
	c.fr.WriteWindowUpdate(1, 100)
	r := <-results
	if r.step != "write after clear" || r.err != nil {
		t.Errorf("%s: %v", r.step, r.err)
	}
}

// TestShutdownGraceful: GOAWAY with the last stream, new streams ignored, open ones finish, then
// the connection closes.
func TestShutdownGraceful(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	c := dialRaw(t, srv.addr)
	c.handshake()
	id := c.request(true, ":method", "GET", ":scheme", "http", ":path", "/hold", ":authority", "a")
	<-e.started
	conn := <-srv.newc
	conn.Shutdown()
	conn.Shutdown() // idempotent
	f := c.read()
	ga, ok := f.(*http2.GoAwayFrame)
	for !ok { // a SETTINGS ack may come first
		f = c.read()
		ga, ok = f.(*http2.GoAwayFrame)
	}
	if ga.ErrCode != http2.ErrCodeNo || ga.LastStreamID != id {
		t.Fatalf("GOAWAY %v last %d", ga.ErrCode, ga.LastStreamID)
	}
	c.get("/x") // past the GOAWAY: not processed
	close(e.hold)
	res, _ := c.collect(id)
	if res[id].status != "200" || string(res[id].body) != "held" {
		t.Fatalf("in-flight stream: %+v", res[id])
	}
	c.expectClosed()
}

// TestClose aborts a connection: the streams' Reads fail, Serve returns once handlers did.
func TestClose(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	c := dialRaw(t, srv.addr)
	c.handshake()
	c.request(false, ":method", "POST", ":scheme", "http", ":path", "/hold", ":authority", "a")
	<-e.started
	conn := <-srv.newc
	conn.Close()
	if err := <-e.errs; err == nil || isTimeout(err) {
		t.Fatalf("engine read: %v", err)
	}
	c.expectClosed()
	conn.Close()
}

// TestMaxConcurrentStreams: a stream past the advertised limit is refused; the others go on.
func TestMaxConcurrentStreams(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve, MaxConcurrentStreams: 4}, nil)
	c := dialRaw(t, srv.addr)
	c.handshake()
	if c.settings[http2.SettingMaxConcurrentStreams] != 4 {
		t.Fatalf("settings %v", c.settings)
	}
	var ids []uint32
	for range 4 {
		ids = append(ids, c.request(true, ":method", "GET", ":scheme", "http", ":path", "/hold", ":authority", "a"))
	}
	extra := c.get("/x")
	if code := c.expectReset(extra); code != http2.ErrCodeRefusedStream {
		t.Fatalf("over the limit: %v", code)
	}
	close(e.hold)
	res, _ := c.collect(ids...)
	for _, id := range ids {
		if res[id].status != "200" {
			t.Errorf("stream %d: %+v", id, res[id])
		}
	}
}

// TestIdleTimeout: a connection without streams is closed with GOAWAY NO_ERROR.
func TestIdleTimeout(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve, IdleTimeout: 50 * time.Millisecond}, nil)
	c := dialRaw(t, srv.addr)
	c.handshake()
	id := c.get("/x")
	c.collect(id)
	if code := c.expectGoAway(); code != http2.ErrCodeNo {
		t.Fatalf("GOAWAY %v", code)
	}
	c.expectClosed()
}

// TestPrefaceTimeout: a client that sends no preface is disconnected.
func TestPrefaceTimeout(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve, PrefaceTimeout: 50 * time.Millisecond}, nil)
	for _, sent := range []string{"", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"} {
		c := dialRaw(t, srv.addr)
		io.WriteString(c.nc, sent)
		c.expectClosed()
	}
}

// TestBadPreface: anything but the preface is a connection error.
func TestBadPreface(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	c := dialRaw(t, srv.addr)
	io.WriteString(c.nc, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if code := c.expectGoAway(); code != http2.ErrCodeProtocol {
		t.Fatalf("GOAWAY %v", code)
	}
	c.expectClosed()
}

// TestWriteTimeout: a client that stops reading is disconnected once a write to it blocks for
// WriteTimeout; the engine's Write fails.
func TestWriteTimeout(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve, WriteTimeout: 100 * time.Millisecond}, nil)
	c := dialRaw(t, srv.addr)
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	c.handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: maxWindow})
	c.fr.WriteWindowUpdate(0, maxWindow-initialWindow)
	c.get("/big/1000000000")
	// Never read again: the server's writes fill the socket buffers and block.
	err := <-e.errs
	if err == nil {
		t.Fatal("engine write did not fail")
	}
	conn := <-srv.newc
	done := make(chan struct{})
	go func() { conn.Close(); close(done) }()
	<-done
}

// TestBufferedPreface: bytes the engine read before handing the connection over are read first.
func TestBufferedPreface(t *testing.T) {
	e := newTestEngine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 10) // part of the preface, as when h2c was sniffed
		if _, err := io.ReadFull(nc, buf); err != nil {
			return
		}
		NewConn(nc, buf, &Options{Serve: e.serve, IdleTimeout: 50 * time.Millisecond}).Serve()
	}()
	c := dialRaw(t, ln.Addr().String())
	c.handshake()
	id := c.get("/x")
	if res, _ := c.collect(id); res[id].status != "404" {
		t.Fatalf("%+v", res[id])
	}
	c.nc.Close()
	<-served
}

// TestReceiveFlowControl: DATA past a stream's window (padding counted) is a stream error
// FLOW_CONTROL_ERROR and the engine's read fails; the connection goes on.
func TestReceiveFlowControl(t *testing.T) {
	tests := []struct {
		name string
		pad  uint8
	}{{"data", 0}, {"padded data", 255}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine()
			srv := startServer(t, Options{Serve: e.serve}, nil)
			c := dialRaw(t, srv.addr)
			c.handshake()
			if w := c.settings[http2.SettingInitialWindowSize]; w != defaultStreamWindow {
				t.Fatalf("window %d", w)
			}
			id := c.request(false, ":method", "POST", ":scheme", "http", ":path", "/stall", ":authority", "a")
			<-e.started
			for sent := 0; sent < defaultStreamWindow; sent += 16384 { // the window whole
				if tt.pad > 0 {
					c.fr.WriteDataPadded(id, false, make([]byte, 16384-int(tt.pad)-1), make([]byte, tt.pad))
				} else {
					c.fr.WriteData(id, false, make([]byte, 16384))
				}
			}
			c.fr.WriteData(id, false, []byte("x")) // one byte too many
			if code := c.expectReset(id); code != http2.ErrCodeFlowControl {
				t.Fatalf("RST_STREAM %v", code)
			}
			close(e.hold)
			if err := <-e.errs; err == nil || isTimeout(err) {
				t.Fatalf("engine read: %v", err)
			}
			id = c.get("/x")
			if res, _ := c.collect(id); res[id].status != "404" {
				t.Fatalf("%+v", res[id])
			}
		})
	}
}

// TestEarlyAnswer: the engine answers before the request body is in; the stream is ended with
// RST_STREAM NO_ERROR, and what the client had already sent on it (DATA, trailers) is ignored, not
// taken for frames on a closed stream, which would end the connection.
func TestEarlyAnswer(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	c := dialRaw(t, srv.addr)
	c.handshake()
	id := c.request(false, ":method", "POST", ":scheme", "http", ":path", "/early", ":authority", "a")
	res, _ := c.collect(id)
	if r := res[id]; r.status != "413" || !r.ended {
		t.Fatalf("%+v", r)
	}
	if code := c.expectReset(id); code != http2.ErrCodeNo {
		t.Fatalf("RST_STREAM %v", code)
	}
	c.fr.WriteData(id, false, []byte("late body"))
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.block("x-sum", "1"), EndStream: true, EndHeaders: true})
	next := c.get("/x")
	res, ga := c.collect(next)
	if ga != nil || res[next].status != "404" {
		t.Fatalf("GOAWAY %v; %+v", ga, res[next])
	}
}
