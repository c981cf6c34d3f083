package proxy_test

// End-to-end tests of HTTP/2 to backends (upstreams with protocol: h2): HTTP/1.1 clients through
// gatehouse to Go HTTP/2 servers, over h2c and over TLS.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/gatehouse-proxy/gatehouse/internal/freeport"
	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

// h2Server is an HTTP/2 backend on loopback: h2c with prior knowledge, or TLS with ALPN when
// given a certificate. It counts its connections.
type h2Server struct {
	Addr  string
	URL   string // http:// or https://
	conns atomic.Int32
}

// h2Opts are the options of an h2Server.
type h2Opts struct {
	cert      *tls.Certificate // nil: h2c
	alpn      []string         // the ALPN protocols offered with cert; default h2
	maxStream uint32           // SETTINGS_MAX_CONCURRENT_STREAMS; 0: the server's default
	window    int32            // the receive windows (stream and connection); 0: the server's default
}

func startH2Server(t *testing.T, o h2Opts, h http.HandlerFunc) *h2Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &h2Server{Addr: ln.Addr().String(), URL: "http://" + ln.Addr().String()}
	srv := &http2.Server{MaxConcurrentStreams: o.maxStream, MaxUploadBufferPerStream: o.window, MaxUploadBufferPerConnection: o.window}
	var tc *tls.Config
	if o.cert != nil {
		s.URL = "https://" + s.Addr
		tc = &tls.Config{Certificates: []tls.Certificate{*o.cert}, NextProtos: o.alpn}
		if tc.NextProtos == nil {
			tc.NextProtos = []string{"h2"}
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			mu.Lock()
			open = append(open, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				if tc != nil {
					tlc := tls.Server(nc, tc)
					if tlc.Handshake() != nil || tlc.ConnectionState().NegotiatedProtocol != "h2" {
						return
					}
					nc = tlc
				}
				srv.ServeConn(nc, &http2.ServeConnOpts{Handler: h})
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// h2Upstream is a config with one route "main" to the h2 upstream "up"; extra is YAML added to
// the upstream's mapping (indented four spaces).
func h2Upstream(extra string, backends ...string) string {
	return "routes:\n  - name: main\n    upstream: up\nupstreams:\n  - name: up\n    protocol: h2\n" +
		"    balance: round_robin\n" + extra + "    backends: [" + strings.Join(backends, ", ") + "]\n"
}

// h2TLS makes a CA-signed certificate for 127.0.0.1 and returns it with the YAML that makes an
// upstream trust the CA.
func h2TLS(t *testing.T) (*tls.Certificate, string) {
	t.Helper()
	ca := tlstest.NewCA(t, "h2 backends")
	cert := ca.Server(t, "127.0.0.1").TLSCertificate()
	return &cert, "    tls: {ca_file: " + ca.WriteRootFile(t, t.TempDir(), "ca.pem") + "}\n"
}

// echoH2 answers with what it received: method, target, protocol, selected fields and the body.
func echoH2(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("X-Proto", r.Proto)
	w.Header().Set("X-Host", r.Host)
	w.Header().Set("X-Forwarded-For", r.Header.Get("X-Forwarded-For"))
	w.Header().Set("X-Te", r.Header.Get("Te"))
	w.Header().Set("X-User-Agent", strings.Join(r.Header.Values("User-Agent"), "|"))
	w.Header().Set("X-Content-Length", fmt.Sprint(r.ContentLength))
	w.Header().Set("X-Request-Trailer", r.Trailer.Get("X-Sum"))
	w.Header().Set("Connection-Test", "kept") // an ordinary field that merely looks like one
	fmt.Fprintf(w, "%s %s|%s", r.Method, r.RequestURI, body)
}

// Requests of every shape reach h2c and TLS backends as HTTP/2 and come back as HTTP/1.1.
func TestE2EH2UpExchanges(t *testing.T) {
	t.Parallel()
	cert, tlsYAML := h2TLS(t)
	big := strings.Repeat("0123456789abcdef", 8<<10) // 128 KiB: streamed, not buffered
	kinds := []struct {
		name string
		cert *tls.Certificate
		yaml string
	}{{"h2c", nil, ""}, {"tls", cert, tlsYAML}}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			srv := startH2Server(t, h2Opts{cert: k.cert}, echoH2)
			p := startProxy(t, h2Upstream(k.yaml, srv.URL))
			tests := []struct {
				name, method, raw string
				body              string
				check             func(t *testing.T, r *response)
			}{
				{name: "get", method: "GET", raw: "GET /a/b?x=1&y HTTP/1.1\r\nHost: app.example\r\nUser-Agent: curl/8\r\n\r\n",
					body: "GET /a/b?x=1&y|", check: func(t *testing.T, r *response) {
						want := map[string]string{"X-Proto": "HTTP/2.0", "X-Host": "app.example", "X-Forwarded-For": "127.0.0.1",
							"X-Te": "", "X-User-Agent": "curl/8", "Connection-Test": "kept"}
						for k, v := range want {
							if got := r.Header.Get(k); got != v {
								t.Errorf("%s: %q, want %q", k, got, v)
							}
						}
					}},
				{name: "no user agent added", method: "GET", raw: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", body: "GET /|",
					check: func(t *testing.T, r *response) {
						if ua := r.Header.Get("X-User-Agent"); ua != "" {
							t.Errorf("the backend got User-Agent %q; the client sent none", ua)
						}
					}},
				{name: "te trailers passed", method: "GET", raw: "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nConnection: TE\r\n\r\n", body: "GET /|",
					check: func(t *testing.T, r *response) {
						if te := r.Header.Get("X-Te"); te != "trailers" {
							t.Errorf("te at the backend %q, want trailers", te)
						}
					}},
				{name: "small post", method: "POST", raw: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", body: "POST /p|hello",
					check: func(t *testing.T, r *response) {
						if cl := r.Header.Get("X-Content-Length"); cl != "5" {
							t.Errorf("content-length at the backend %s, want 5", cl)
						}
					}},
				{name: "large post streamed", method: "POST", raw: fmt.Sprintf("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(big), big),
					body: "POST /big|" + big},
				{name: "chunked post with trailers", method: "PUT",
					raw:  "PUT /c HTTP/1.1\r\nHost: a\r\nTrailer: X-Sum, X_Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Sum: 5\r\nX_Bad: 1\r\n\r\n",
					body: "PUT /c|abcde", check: func(t *testing.T, r *response) {
						if got := r.Header.Get("X-Request-Trailer"); got != "5" {
							t.Errorf("request trailer at the backend %q, want 5", got)
						}
						if cl := r.Header.Get("X-Content-Length"); cl != "-1" {
							t.Errorf("content-length at the backend %s, want none (-1)", cl)
						}
					}},
				{name: "head", method: "HEAD", raw: "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n", body: ""},
			}
			c := dial(t, p.Addr)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := c.roundTrip(tt.method, tt.raw)
					if r.StatusCode != 200 || r.Body != tt.body {
						t.Fatalf("%d %q, want 200 %q", r.StatusCode, trunc(r.Body), trunc(tt.body))
					}
					if r.Proto != "HTTP/1.1" || r.Close {
						t.Errorf("%s close=%v, want a kept-alive HTTP/1.1 answer", r.Proto, r.Close)
					}
					if tt.check != nil {
						tt.check(t, r)
					}
				})
			}
			if n := srv.conns.Load(); n != 1 {
				t.Errorf("the backend saw %d connections for requests in a row, want 1", n)
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// The backend's response trailers become the chunked trailer section (less what a trailer may not
// carry and what the route removes); an HTTP/1.0 client gets the body close-delimited.
func TestE2EH2UpResponseTrailers(t *testing.T) {
	t.Parallel()
	srv := startH2Server(t, h2Opts{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Grpc-Status, X-Secret")
		w.Header().Set("Content-Type", "application/grpc")
		w.WriteHeader(200)
		io.WriteString(w, "part1")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part2")
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set("X-Secret", "s")
		w.Header().Set(http.TrailerPrefix+"Grpc-Message", "fine")
	})
	p := startProxy(t, "routes:\n  - name: main\n    upstream: up\n    response_headers: {remove: [X-Secret]}\n"+
		"upstreams:\n  - name: up\n    protocol: h2\n    backends: ["+srv.URL+"]\n")
	t.Run("http/1.1", func(t *testing.T) {
		c := dial(t, p.Addr)
		r := c.roundTrip("POST", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTE: trailers\r\n\r\n")
		if r.Body != "part1part2" || len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
			t.Fatalf("body %q transfer-encoding %v, want the chunked body", r.Body, r.TransferEncoding)
		}
		if r.Trailer.Get("Grpc-Status") != "0" || r.Trailer.Get("Grpc-Message") != "fine" {
			t.Errorf("trailers %v, want grpc-status 0 and grpc-message", r.Trailer)
		}
		if _, ok := r.Trailer["X-Secret"]; ok && r.Trailer.Get("X-Secret") != "" {
			t.Errorf("the route removes X-Secret, and the trailer came through: %v", r.Trailer)
		}
		if r.Close {
			t.Error("the connection closes after a complete chunked answer")
		}
	})
	t.Run("http/1.0", func(t *testing.T) {
		c := dial(t, p.Addr)
		c.send("GET /x HTTP/1.0\r\nHost: a\r\n\r\n")
		raw, _ := io.ReadAll(c.br)
		s := string(raw)
		if !strings.HasPrefix(s, "HTTP/1.1 200") || !strings.HasSuffix(s, "\r\n\r\npart1part2") || strings.Contains(s, "chunked") {
			t.Errorf("answer %q, want a close-delimited body", s)
		}
	})
}

// A backend that does not negotiate h2 fails the connect, which moves the request to the next
// backend and counts against the first.
func TestE2EH2UpNoALPNIsConnectFailure(t *testing.T) {
	t.Parallel()
	cert, tlsYAML := h2TLS(t)
	bad := startH2Server(t, h2Opts{cert: cert, alpn: []string{"http/1.1"}}, echoH2)
	good := startH2Server(t, h2Opts{cert: cert}, echoH2)
	p := startProxy(t, h2Upstream(tlsYAML, bad.URL, good.URL))
	c := dial(t, p.Addr)
	for i := range 4 {
		r := c.roundTrip("POST", fmt.Sprintf("POST /n%d HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", i))
		if r.StatusCode != 200 || r.Body != fmt.Sprintf("POST /n%d|x", i) {
			t.Fatalf("request %d: %d %q", i, r.StatusCode, r.Body)
		}
	}
	be := p.backendAt("up", bad.Addr)
	if be.Open() != 0 {
		t.Errorf("%d connections open to the backend without h2", be.Open())
	}
	found := false
	for _, e := range p.errors() {
		found = found || strings.Contains(e, "connect:") && strings.Contains(e, "no application protocol")
	}
	if !found {
		t.Errorf("no connect failure reported: %q", p.errors())
	}
}

// 502, 503 and 504 answers are retried on another backend for idempotent requests only.
func TestE2EH2UpRetries(t *testing.T) {
	t.Parallel()
	var failGets, failPosts atomic.Int32
	fail := startH2Server(t, h2Opts{}, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			failGets.Add(1)
		} else {
			failPosts.Add(1)
		}
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	ok := startH2Server(t, h2Opts{}, echoH2)
	p := startProxy(t, h2Upstream("    health: {passive: {consecutive_5xx: 0}}\n", fail.URL, ok.URL))
	c := dial(t, p.Addr)
	for i := range 4 {
		if r := c.roundTrip("GET", get(fmt.Sprintf("/g%d", i), "a")); r.StatusCode != 200 {
			t.Errorf("GET %d: %d, want 200 (retried)", i, r.StatusCode)
		}
	}
	if failGets.Load() == 0 {
		t.Error("no GET reached the failing backend: nothing was retried")
	}
	posts := map[int]int{}
	for i := range 4 { // round robin: every other POST goes to the failing backend first
		r := c.roundTrip("POST", fmt.Sprintf("POST /p%d HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", i))
		posts[r.StatusCode]++
	}
	if posts[503] == 0 || posts[503] != int(failPosts.Load()) || posts[503]+posts[200] != 4 {
		t.Errorf("POST answers %v with %d at the failing backend: want each of those answered 503, never retried", posts, failPosts.Load())
	}
}

// A backend that resets the stream before answering gets the client a 502; one that resets it
// mid-body cuts the client's connection (the answer cannot be completed).
func TestE2EH2UpReset(t *testing.T) {
	t.Parallel()
	srv := startH2Server(t, h2Opts{}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/mid" {
			w.WriteHeader(200)
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
		}
		panic(http.ErrAbortHandler) // RST_STREAM
	})
	p := startProxy(t, h2Upstream("    retry: {attempts: 0}\n", srv.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", get("/early", "a"))
	if r.StatusCode != 502 {
		t.Errorf("reset before the head: %d, want 502", r.StatusCode)
	}
	assertNoLeak(t, r)
	if r := c.roundTrip("GET", get("/early", "a")); r.StatusCode != 502 {
		t.Errorf("again on the kept-alive connection: %d, want 502", r.StatusCode)
	}
	c = dial(t, p.Addr)
	c.send(get("/mid", "a"))
	r, err := c.tryRead("GET")
	if err != nil {
		t.Fatalf("reading the head: %v", err)
	}
	if r.StatusCode != 200 || r.BodyErr == nil {
		t.Errorf("reset mid-body: %d, body %q, error %v; want the head and a truncated body", r.StatusCode, r.Body, r.BodyErr)
	}
}

// A client that goes away cancels the backend's stream: while the backend streams its answer,
// and while the backend has not answered yet.
func TestE2EH2UpClientGoneCancelsStream(t *testing.T) {
	t.Parallel()
	cancelled, arrived := make(chan string, 4), make(chan string, 4)
	srv := startH2Server(t, h2Opts{}, func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.URL.Path
		if r.URL.Path == "/streaming" {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
		cancelled <- r.URL.Path
	})
	p := startProxy(t, h2Upstream("", srv.URL))
	for _, path := range []string{"/streaming", "/waiting"} {
		t.Run(path, func(t *testing.T) {
			c := dial(t, p.Addr)
			c.send(get(path, "a"))
			if path == "/streaming" {
				_ = c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
				line, err := c.br.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
					t.Fatalf("status line %q, %v", line, err)
				}
			}
			if got := <-arrived; got != path {
				t.Fatalf("the backend got %s, want %s", got, path)
			}
			c.nc.Close()
			select {
			case got := <-cancelled:
				if got != path {
					t.Errorf("cancelled %s, want %s", got, path)
				}
			case <-time.After(ioTimeout):
				t.Fatal("the backend's stream was not cancelled")
			}
		})
	}
}

// Timeouts: no head within upstream_header is a 504; a body that stalls for upstream_body_idle
// cuts the answer.
func TestE2EH2UpTimeouts(t *testing.T) {
	t.Parallel()
	srv := startH2Server(t, h2Opts{}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			w.WriteHeader(200)
			io.WriteString(w, "x")
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	})
	p := startProxy(t, serverWith("upstream_header", "300ms", "upstream_body_idle", "300ms")+h2Upstream("    retry: {attempts: 0}\n", srv.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("GET", get("/slow", "a"))
	if r.StatusCode != 504 {
		t.Errorf("no head: %d, want 504", r.StatusCode)
	}
	c = dial(t, p.Addr)
	c.send(get("/stall", "a"))
	r, err := c.tryRead("GET")
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 200 || r.Body != "x" || r.BodyErr == nil {
		t.Errorf("stalled body: %d %q %v, want the head, x, then the connection cut", r.StatusCode, r.Body, r.BodyErr)
	}
}

// Many concurrent requests share few backend connections.
func TestE2EH2UpMultiplexed(t *testing.T) {
	t.Parallel()
	const n = 40
	var arrived atomic.Int32
	release := make(chan struct{})
	srv := startH2Server(t, h2Opts{maxStream: 100}, func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-release
		io.WriteString(w, "ok "+r.URL.Path)
	})
	p := startProxy(t, h2Upstream("", srv.URL))
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.Dial("tcp", p.Addr)
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(ioTimeout))
			fmt.Fprintf(nc, "GET /r%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if want := fmt.Sprintf("ok /r%d", i); string(body) != want {
				errs <- fmt.Errorf("request %d: %q", i, body)
			}
		}()
	}
	waitFor(t, "every request at the backend at once", func() bool { return arrived.Load() == n })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c := srv.conns.Load(); c != 1 {
		t.Errorf("%d backend connections for %d concurrent requests, want 1", c, n)
	}
}

// The access log and the connection state after an h2 exchange are as after an HTTP/1.1 one.
func TestE2EH2UpAccessLog(t *testing.T) {
	t.Parallel()
	srv := startH2Server(t, h2Opts{}, echoH2)
	p := startProxy(t, h2Upstream("", srv.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("POST", "POST /log HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n")
	if r.StatusCode != 200 {
		t.Fatalf("status %d", r.StatusCode)
	}
	l := p.logLines(1)[0]
	if l.Status != 200 || l.Upstream != srv.Addr || l.Path != "/log" || l.BytesIn < 4 || l.BytesOut < int64(len(r.Body)) {
		t.Errorf("log line %s", l.raw)
	}
	// The connection is still good for the next request.
	if r := c.roundTrip("GET", get("/again", "a")); r.StatusCode != 200 || !bytes.HasPrefix([]byte(r.Body), []byte("GET /again")) {
		t.Errorf("next request: %d %q", r.StatusCode, r.Body)
	}
}

// Request bodies that fail on the client's side, or that the backend stops taking, are answered as
// for an HTTP/1.1 backend: 413 over the route's limit, 408 when the client stalls, 502 when the
// backend stops reading; and Expect: 100-continue gets its interim answer before the body is read.
func TestE2EH2UpRequestBodies(t *testing.T) {
	t.Parallel()
	srv := startH2Server(t, h2Opts{}, echoH2)
	// A backend that does not read: the windows it grants are all it takes.
	stuck := startH2Server(t, h2Opts{window: 65535}, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	p := startProxy(t, serverWith("client_body_idle", "300ms", "upstream_body_idle", "1s")+
		"routes:\n  - name: stuck\n    match: {path_prefix: /noread}\n    upstream: stuck\n"+
		"  - name: main\n    upstream: up\n    max_body_size: 100KiB\n"+
		"upstreams:\n  - name: up\n    protocol: h2\n    backends: ["+srv.URL+"]\n"+
		"  - name: stuck\n    protocol: h2\n    backends: ["+stuck.URL+"]\n")
	chunk := strings.Repeat("z", 40<<10)
	tests := []struct {
		name   string
		send   string // sent at once
		status int
		body   string
	}{
		{"expect 100-continue", "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 200, "POST /e|ok"},
		{"over the limit", fmt.Sprintf("POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n",
			len(chunk), chunk, len(chunk), chunk, len(chunk), chunk), 413, ""},
		{"malformed chunk", "POST /bad HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, ""},
		{"client stalls", "POST /slow HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", 408, ""},
		{"backend stops reading", fmt.Sprintf("POST /noread HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", 2*len(chunk), strings.Repeat(chunk, 2)), 502, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, p.Addr)
			c.send(tt.send)
			r := c.read("POST")
			if r.StatusCode == 100 {
				r = c.read("POST")
			} else if tt.name == "expect 100-continue" {
				t.Errorf("no 100 Continue before the answer")
			}
			if r.StatusCode != tt.status || tt.body != "" && r.Body != tt.body {
				t.Errorf("%d %q, want %d %q", r.StatusCode, trunc(r.Body), tt.status, tt.body)
			}
		})
	}
}

// A connect failure happens before the transport reads a streamed body: the request moves to the
// next backend with its body whole.
func TestE2EH2UpStreamedBodyMovesOnConnectFailure(t *testing.T) {
	t.Parallel()
	srv := startH2Server(t, h2Opts{}, echoH2)
	p := startProxy(t, h2Upstream("", "http://"+freeport.Addr(t), srv.URL))
	big := strings.Repeat("q", 100<<10)
	for i := range 2 { // round robin: one of the two starts at the dead backend
		c := dial(t, p.Addr)
		r := c.roundTrip("POST", fmt.Sprintf("POST /m%d HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", i, len(big), big))
		if want := fmt.Sprintf("POST /m%d|%s", i, big); r.StatusCode != 200 || r.Body != want {
			t.Errorf("request %d: %d %q", i, r.StatusCode, trunc(r.Body))
		}
	}
}

// An answer that ends before the request body (the backend did not need the rest) is relayed
// whole, then the client connection closes: the rest of the body is never read as a request.
func TestE2EH2UpAnswerBeforeBodyEnds(t *testing.T) {
	t.Parallel()
	srv := startH2Server(t, h2Opts{}, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "early") // without reading the body
	})
	p := startProxy(t, h2Upstream("", srv.URL))
	c := dial(t, p.Addr)
	c.send("POST /early HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	r := c.read("POST")
	if r.StatusCode != 200 || r.Body != "early" {
		t.Fatalf("%d %q", r.StatusCode, r.Body)
	}
	// The body never ends; what follows would be a request if the connection stayed open.
	c.send("5\r\nGET /\r\n")
	if ok, extra := c.closed(ioTimeout); !ok || extra != "" {
		t.Errorf("connection closed %v, then %q; want it closed without another answer", ok, extra)
	}
}

// Requests pipelined behind one sent to an h2 backend are answered in order: what the client
// watch read while the backend worked is given back to the connection.
func TestE2EH2UpPipelined(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := startH2Server(t, h2Opts{}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			<-release
		}
		echoH2(w, r)
	})
	p := startProxy(t, h2Upstream("", srv.URL))
	c := dial(t, p.Addr)
	c.send(get("/first", "a"))
	waitFor(t, "the first request at the backend", func() bool { return srv.conns.Load() == 1 })
	c.send(get("/second", "a") + "POST /third HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz")
	close(release)
	for _, want := range []string{"GET /first|", "GET /second|", "POST /third|xyz"} {
		if r := c.read("GET"); r.StatusCode != 200 || r.Body != want {
			t.Fatalf("%d %q, want %q", r.StatusCode, r.Body, want)
		}
	}
}

// A shutdown whose drain time runs out cancels the streams still waiting on backends.
func TestE2EH2UpShutdownAbortsStreams(t *testing.T) {
	t.Parallel()
	arrived, cancelled := make(chan struct{}), make(chan struct{})
	srv := startH2Server(t, h2Opts{}, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
		close(cancelled)
	})
	p := startProxy(t, h2Upstream("", srv.URL))
	c := dial(t, p.Addr)
	c.send(get("/hang", "a"))
	<-arrived
	if _, err := p.shutdown(100 * time.Millisecond); err == nil {
		t.Error("Shutdown reports no error with a request still in flight")
	}
	select {
	case <-cancelled:
	case <-time.After(ioTimeout):
		t.Fatal("the backend's stream was not cancelled")
	}
}

// A per-try timeout moves an idempotent request to another backend, as with HTTP/1.1 backends.
func TestE2EH2UpPerTryTimeout(t *testing.T) {
	t.Parallel()
	slow := startH2Server(t, h2Opts{}, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	fast := startH2Server(t, h2Opts{}, echoH2)
	p := startProxy(t, h2Upstream("    retry: {per_try_timeout: 500ms}\n    health: {passive: {consecutive_failures: 0}}\n", slow.URL, fast.URL))
	c := dial(t, p.Addr)
	for i := range 2 { // round robin: one of the two starts at the slow backend
		if r := c.roundTrip("GET", get(fmt.Sprintf("/t%d", i), "a")); r.StatusCode != 200 || r.Body != fmt.Sprintf("GET /t%d|", i) {
			t.Errorf("GET %d: %d %q, want the fast backend's answer", i, r.StatusCode, r.Body)
		}
	}
	statuses := map[int]int{}
	for i := range 2 {
		r := c.roundTrip("POST", fmt.Sprintf("POST /p%d HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx", i))
		statuses[r.StatusCode]++
	}
	if statuses[504] != 1 || statuses[200] != 1 {
		t.Errorf("POST answers %v, want one 504 (not retried) and one 200", statuses)
	}
}
