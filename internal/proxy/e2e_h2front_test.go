package proxy_test

// The HTTP/2 front end: h2c clients through the same routes, balancing and logs as HTTP/1.1.

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2cClient is an HTTP/2 client speaking cleartext HTTP/2 with prior knowledge, on one connection
// at a time.
func h2cClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

const h2cListener = "listeners: [{address: \"127.0.0.1:1\", protocols: [h1, h2c]}]\n"

func TestE2EH2CRoutesLikeHTTP1(t *testing.T) {
	t.Parallel()
	api := startBackend(t, echoHandler("api"))
	site := startBackend(t, echoHandler("site"))
	p := startProxy(t, h2cListener+`
routes:
  - {name: api, match: {path_prefix: /api/}, upstream: api}
  - {name: fixed, match: {path: /ping}, respond: {status: 200, body: pong}}
  - {name: site, match: {hosts: [example.com]}, upstream: site}
upstreams:
  - {name: api, backends: ["`+api.URL+`"]}
  - {name: site, backends: ["`+site.URL+`"]}
`)
	c := h2cClient(t)
	for _, tc := range []struct {
		name, url, wantBody string
		status              int
		be                  *backend
	}{
		{name: "path route", url: "http://" + p.Addr + "/api/x?q=1", status: 200, wantBody: "api", be: api},
		{name: "host route", url: "http://example.com/page", status: 200, wantBody: "site", be: site},
		{name: "fixed answer", url: "http://" + p.Addr + "/ping", status: 200, wantBody: "pong"},
		{name: "no route", url: "http://other.org/nothing", status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tc.url, nil)
			req.URL.Host = p.Addr // connect to the proxy whatever the authority
			if !strings.Contains(tc.url, p.Addr) {
				req.Host = strings.SplitN(strings.TrimPrefix(tc.url, "http://"), "/", 2)[0]
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Errorf("answered over %s, want HTTP/2", resp.Proto)
			}
			if resp.StatusCode != tc.status || tc.wantBody != "" && !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("status %d body %q, want %d with %q", resp.StatusCode, body, tc.status, tc.wantBody)
			}
			if tc.be == nil {
				return
			}
			got := tc.be.next(t)
			if got.Proto != "HTTP/1.1" {
				t.Errorf("backend got %s, want HTTP/1.1", got.Proto)
			}
			if want := req.Host; want != "" && got.host() != want {
				t.Errorf("backend Host %q, want the :authority %q", got.host(), want)
			}
			if xfp := got.Header.Get("X-Forwarded-Proto"); xfp != "http" {
				t.Errorf("X-Forwarded-Proto %q, want http", xfp)
			}
		})
	}
	// Every request has its access log line, as over HTTP/1.1.
	lines := p.logLines(4)
	statuses := map[int]int{}
	for _, l := range lines {
		statuses[l.Status]++
	}
	if statuses[200] != 3 || statuses[404] != 1 {
		t.Errorf("logged statuses %v, want three 200 and one 404", statuses)
	}
}

func TestE2EH2CAndHTTP1OnOnePort(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("be"))
	p := startProxy(t, h2cListener+singleUpstream(be.URL))
	raw := dial(t, p.Addr)
	if r := raw.roundTrip("GET", get("/one", "h")); r.StatusCode != 200 {
		t.Fatalf("HTTP/1.1 on an h2c listener: status %d", r.StatusCode)
	}
	resp, err := h2cClient(t).Get("http://" + p.Addr + "/two")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("h2c: %s %d", resp.Proto, resp.StatusCode)
	}
}

func TestE2EH2COnlyRefusesHTTP1(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("be"))
	p := startProxy(t, "listeners: [{address: \"127.0.0.1:1\", protocols: [h2c]}]\n"+singleUpstream(be.URL))
	raw := dial(t, p.Addr)
	raw.send(get("/", "h"))
	raw.expectClosed()
	resp, err := h2cClient(t).Get("http://" + p.Addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("h2c on an h2c-only listener: %d", resp.StatusCode)
	}
	if n := len(be.requests()); n != 1 {
		t.Errorf("backend saw %d requests, want only the HTTP/2 one", n)
	}
}

// TestE2EH2CManyStreams sends 200 requests, 100 at a time, over one HTTP/2 connection.
func TestE2EH2CManyStreams(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("be"))
	p := startProxy(t, h2cListener+singleUpstream(be.URL))
	c := h2cClient(t)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	sem := make(chan struct{}, 100)
	for i := range 200 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := c.Get(fmt.Sprintf("http://%s/r%d", p.Addr, i))
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), fmt.Sprintf("/r%d", i)) {
				errs <- fmt.Errorf("request %d: %d %q %v", i, resp.StatusCode, body, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := p.H.Active(); n > 1 {
		t.Errorf("%d client connections open, want the one HTTP/2 connection", n)
	}
}

func TestE2EH2CBodies(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("be"))
	p := startProxy(t, h2cListener+singleUpstream(be.URL))
	c := h2cClient(t)
	big := testData(300000, 7)
	for _, tc := range []struct {
		name        string
		body        func() io.Reader
		length      int64
		wantChunked bool
	}{
		{name: "small with length", body: func() io.Reader { return strings.NewReader("hello") }, length: 5},
		{name: "large with length", body: func() io.Reader { return bytes.NewReader(big) }, length: int64(len(big))},
		// No content-length: the body is streamed to the backend chunked.
		{name: "streamed", body: func() io.Reader { return io.MultiReader(strings.NewReader("part1,"), bytes.NewReader(big)) },
			length: -1, wantChunked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				_, err := io.Copy(pw, tc.body())
				pw.CloseWithError(err)
			}()
			req, _ := http.NewRequest("POST", "http://"+p.Addr+"/up", pr)
			req.ContentLength = tc.length
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got := be.next(t)
			want, _ := io.ReadAll(tc.body())
			if !bytes.Equal(got.Body, want) {
				t.Errorf("backend got %d body bytes, want %d", len(got.Body), len(want))
			}
			if got.Chunked != tc.wantChunked {
				t.Errorf("backend got chunked=%v, want %v", got.Chunked, tc.wantChunked)
			}
		})
	}
}

// TestE2EH2CShutdownFinishesStreams shuts the handler down while an HTTP/2 request waits on a slow
// backend: the request completes, and Shutdown returns once it has.
func TestE2EH2CShutdownFinishesStreams(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		<-release
		c.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
		return true
	})
	p := startProxy(t, h2cListener+singleUpstream(be.URL))
	c := h2cClient(t)
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Get("http://" + p.Addr + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{string(b), err}
	}()
	be.next(t) // the request is at the backend
	shut := make(chan error, 1)
	go func() { _, err := p.shutdown(10 * time.Second); shut <- err }()
	waitFor(t, "the handler to drain", func() bool { return p.H.Draining() })
	close(release)
	if r := <-done; r.err != nil || r.body != "slow" {
		t.Fatalf("in-flight request during shutdown: %q, %v", r.body, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestE2EWebSocketOverH2 opens a WebSocket by extended CONNECT (RFC 8441) and checks that it is
// tunnelled to an HTTP/1.1 backend as an upgrade.
func TestE2EWebSocketOverH2(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.Header.Get("Sec-WebSocket-Key") == "" {
			c.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return true
		}
		c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: x\r\n\r\n")
		_, _ = io.Copy(c.Conn, c.BR)
		return false
	})
	p := startProxy(t, h2cListener+singleUpstream(be.URL))
	fc := dialH2(t, p.Addr)
	if !fc.settings[http2.SettingEnableConnectProtocol] {
		t.Fatal("the server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL")
	}
	fc.headers(1, false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "http",
		":path", "/chat", ":authority", "example.com", "sec-websocket-version", "13")
	status, fields := fc.readHeaders(t, 1)
	if status != "200" {
		t.Fatalf("extended CONNECT answered %s %v, want 200", status, fields)
	}
	got := be.next(t)
	if got.Method != "GET" || got.Target != "/chat" || got.Header.Get("Sec-Websocket-Version") != "13" {
		t.Errorf("backend got %s %s %v", got.Method, got.Target, got.Header)
	}
	for _, msg := range []string{"hello", strings.Repeat("x", 40000)} {
		for rest := []byte(msg); len(rest) > 0; {
			n := min(len(rest), 16384) // the default SETTINGS_MAX_FRAME_SIZE
			if err := fc.fr.WriteData(1, false, rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if echo := fc.readData(t, 1, len(msg)); echo != msg {
			t.Fatalf("echo of %d bytes: got %d bytes", len(msg), len(echo))
		}
	}
}

// h2conn is a raw HTTP/2 client connection, for what net/http's client cannot send.
type h2conn struct {
	nc       net.Conn
	fr       *http2.Framer
	enc      *hpack.Encoder
	buf      bytes.Buffer
	settings map[http2.SettingID]bool
}

func dialH2(t *testing.T, addr string) *h2conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &h2conn{nc: nc, settings: map[http2.SettingID]bool{}}
	c.fr = http2.NewFramer(nc, nc)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.buf)
	if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	_ = c.fr.WriteWindowUpdate(0, 1<<20)
	f, err := c.fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok {
		t.Fatalf("first frame %v, want SETTINGS", f)
	}
	_ = sf.ForeachSetting(func(s http2.Setting) error {
		c.settings[s.ID] = s.Val != 0
		return nil
	})
	_ = c.fr.WriteSettingsAck()
	return c
}

func (c *h2conn) headers(stream uint32, end bool, kv ...string) {
	c.buf.Reset()
	for i := 0; i < len(kv); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	_ = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: c.buf.Bytes(), EndStream: end, EndHeaders: true})
}

// next reads frames until one of stream's, answering what the connection needs meanwhile.
func (c *h2conn) next(t *testing.T, stream uint32) http2.Frame {
	t.Helper()
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.fr.WriteSettingsAck()
			}
			continue
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = c.fr.WritePing(true, f.Data)
			}
			continue
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v", f.ErrCode)
		case *http2.WindowUpdateFrame:
			continue
		}
		if f.Header().StreamID == stream {
			if rst, ok := f.(*http2.RSTStreamFrame); ok {
				t.Fatalf("stream %d reset: %v", stream, rst.ErrCode)
			}
			return f
		}
	}
}

func (c *h2conn) readHeaders(t *testing.T, stream uint32) (status string, fields []hpack.HeaderField) {
	t.Helper()
	f := c.next(t, stream)
	mh, ok := f.(*http2.MetaHeadersFrame)
	if !ok {
		t.Fatalf("stream %d: got %v, want HEADERS", stream, f)
	}
	return mh.PseudoValue("status"), mh.Fields
}

// readData reads n bytes of DATA on stream, returning the window as it goes.
func (c *h2conn) readData(t *testing.T, stream uint32, n int) string {
	t.Helper()
	var b []byte
	for len(b) < n {
		f := c.next(t, stream)
		df, ok := f.(*http2.DataFrame)
		if !ok {
			t.Fatalf("stream %d: got %v after %d bytes, want DATA", stream, f, len(b))
		}
		b = append(b, df.Data()...)
		if l := len(df.Data()); l > 0 {
			_ = c.fr.WriteWindowUpdate(0, uint32(l))
			_ = c.fr.WriteWindowUpdate(stream, uint32(l))
		}
	}
	return string(b)
}

// TestE2EH2RapidReset plays CVE-2023-44487 against the whole engine: a client opening streams and
// resetting them at once, in a loop. gatehouse must stop it (GOAWAY ENHANCE_YOUR_CALM) long before
// the loop ends, the backend must see a bounded number of the requests, and every goroutine the
// streams started must end.
func TestE2EH2RapidReset(t *testing.T) {
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		_, _ = c.BR.ReadByte() // never answers; ends when the proxy closes the connection
		return false
	})
	p := startProxy(t, h2cListener+singleUpstream(be.URL))
	before := runtime.NumGoroutine()
	fc := dialH2(t, p.Addr)
	const tries = 20000
	var stopped error
	go func() {
		for id := uint32(1); id < 2*tries; id += 2 {
			fc.headers(id, true, ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "x")
			if err := fc.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
				return // the server closed the connection
			}
		}
	}()
	for {
		f, err := fc.fr.ReadFrame()
		if err != nil {
			stopped = err
			break
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if ga.ErrCode != http2.ErrCodeEnhanceYourCalm {
				t.Fatalf("GOAWAY %v, want ENHANCE_YOUR_CALM", ga.ErrCode)
			}
			stopped = fmt.Errorf("goaway after stream %d", ga.LastStreamID)
			if ga.LastStreamID >= 2*tries-1 {
				t.Fatalf("GOAWAY only after the last stream (%d)", ga.LastStreamID)
			}
			break
		}
	}
	t.Logf("stopped: %v; the backend saw %d requests", stopped, len(be.requests()))
	if n := len(be.requests()); n > 1000 {
		t.Errorf("the backend saw %d of the reset requests; rapid reset is not bounded", n)
	}
	fc.nc.Close()
	waitFor(t, "the streams' goroutines to end", func() bool { return runtime.NumGoroutine() <= before+5 })
}

// TestE2EH2ResetCancelsBackend resets streams whose requests wait on a backend: each backend
// connection is closed at once (not at upstream_header), the requests are logged as 499, and the
// backend is not held to account for them (more resets than consecutive_failures, no ejection).
func TestE2EH2ResetCancelsBackend(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{}, 10)
	be := startBackend(t, func(c *bconn, r *recReq) bool {
		_, _ = c.BR.ReadByte() // waits for the proxy to close the connection
		closed <- struct{}{}
		return false
	})
	p := startProxy(t, h2cListener+singleUpstream(be.URL))
	fc := dialH2(t, p.Addr)
	const resets = 5
	for i := range resets {
		id := uint32(1 + 2*i)
		fc.headers(id, true, ":method", "GET", ":scheme", "http", ":path", "/wait", ":authority", "x")
		be.next(t)
		if err := fc.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			t.Fatal(err)
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second): // upstream_header is 60s: only the reset can close it
			t.Fatalf("reset %d: the backend connection stayed open after the client reset its stream", i)
		}
	}
	for _, l := range p.logLines(resets) {
		if l.Status != 499 {
			t.Errorf("logged status %d, want 499", l.Status)
		}
	}
	if b := p.backendAt("up", be.Addr); b.State.Ejected(time.Now().UnixNano()) {
		t.Error("the backend was ejected for the client's resets")
	}
	if errs := p.errors(); len(errs) > 0 {
		t.Errorf("the client's resets were reported as backend problems: %q", errs)
	}
}
