package proxy_test

// Request and response bodies: streaming, framing changes, trailers, limits, Expect: 100-continue.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"
)

const bigSize = 5 << 20

// testData returns n deterministic pseudo-random bytes.
func testData(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// chunkSizes are the sizes a chunked body is cut into, cycling: small, around the engine's 4 KiB
// read buffer and its 64 KiB copy buffer, and large.
var chunkSizes = []int{1, 7, 4095, 4096, 4097, 65535, 65536, 65537, 300000, 16 << 10}

// appendChunked appends data chunk-encoded with chunkSizes, and the last chunk with trailer lines.
func appendChunked(dst, data []byte, ext bool, trailer string) []byte {
	for i := 0; len(data) > 0; i++ {
		n := min(chunkSizes[i%len(chunkSizes)], len(data))
		dst = strconv.AppendInt(dst, int64(n), 16)
		if ext && i%3 == 0 {
			dst = append(dst, `;name=value;q="quoted"`...)
		}
		dst = append(dst, "\r\n"...)
		dst = append(dst, data[:n]...)
		dst = append(dst, "\r\n"...)
		data = data[n:]
	}
	dst = append(dst, "0\r\n"...)
	dst = append(dst, trailer...)
	return append(dst, "\r\n"...)
}

// hashHandler answers 200 with the sha256 of the request body.
func hashHandler(c *bconn, r *recReq) bool {
	body := sum(r.Body)
	c.write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	return true
}

func TestE2ELargeRequestBody(t *testing.T) {
	t.Parallel()
	be := startBackend(t, hashHandler)
	p := startProxy(t, singleUpstream(be.URL))
	data := testData(bigSize, 1)
	want := sum(data)
	cases := []struct {
		name string
		msg  []byte
	}{
		{"content-length", append([]byte(fmt.Sprintf("POST /cl HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", len(data))), data...)},
		{"chunked", appendChunked([]byte("POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"), data, true, "")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, p.Addr)
			errc := make(chan error, 1)
			go func() {
				// In pieces, as a client streams it.
				msg := tc.msg
				for len(msg) > 0 {
					n := min(len(msg), 100000)
					if _, err := c.nc.Write(msg[:n]); err != nil {
						errc <- err
						return
					}
					msg = msg[n:]
				}
				errc <- nil
			}()
			r := c.read("POST")
			if err := <-errc; err != nil {
				t.Fatalf("writing the body: %v", err)
			}
			if r.StatusCode != 200 || r.Body != want {
				t.Errorf("status %d, backend's sha256 %q, want %q", r.StatusCode, r.Body, want)
			}
			// Still usable.
			if r := c.roundTrip("POST", "POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"); r.Body != sum([]byte("abc")) {
				t.Errorf("next request: status %d body %q", r.StatusCode, r.Body)
			}
		})
	}
}

func TestE2EChunkedRequestTrailers(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, singleUpstream(be.URL))
	c := dial(t, p.Addr)
	r := c.roundTrip("POST", "POST /t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"+
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n"+
		"X-Checksum: abc\r\nX-Other: 2\r\nContent-Length: 99\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
	if r.StatusCode != 200 || r.Body != "b POST /t|hello world" {
		t.Fatalf("status %d body %q", r.StatusCode, r.Body)
	}
	got := be.next(t)
	if !got.Chunked || got.Err != nil {
		t.Fatalf("backend: chunked %v err %v lines %q", got.Chunked, got.Err, got.Lines)
	}
	if got.Trailer.Get("X-Checksum") != "abc" || got.Trailer.Get("X-Other") != "2" {
		t.Errorf("trailers at the backend %v, want X-Checksum and X-Other", got.Trailer)
	}
	for _, h := range []string{"Content-Length", "Host", "Connection"} {
		if v := got.Trailer.Values(h); len(v) != 0 {
			t.Errorf("trailer field %s reached the backend: %q", h, v)
		}
	}
	// A Connection field in the trailer section does not close the connection.
	if r := c.roundTrip("GET", get("/after", "h")); r.StatusCode != 200 {
		t.Errorf("next request: status %d", r.StatusCode)
	}
}

// bodyBackend answers by path:
//
//	/cl        the big data with Content-Length
//	/chunked   the big data chunked, with extensions and a trailer X-Sum
//	/close     the big data without length, read until the backend closes (HTTP/1.1 Connection: close)
//	/close10   the same as an HTTP/1.0 response
//	/head      a HEAD answer with Content-Length: 100
//	/204       204 without fields
//	/304       304 with Content-Length: 50
//	/small     "small"
func bodyBackend(data []byte) handlerFunc {
	return func(c *bconn, r *recReq) bool {
		switch r.Target {
		case "/cl":
			c.write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(data)))
			_, _ = c.Write(data)
		case "/chunked":
			msg := appendChunked([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"),
				data, true, "X-Sum: "+sum(data)+"\r\nConnection: x\r\n")
			for len(msg) > 0 { // in pieces, so that the proxy sees partial chunks
				n := min(len(msg), 77777)
				if _, err := c.Write(msg[:n]); err != nil {
					return false
				}
				msg = msg[n:]
			}
		case "/close", "/close10":
			if r.Target == "/close" {
				c.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
			} else {
				c.write("HTTP/1.0 200 OK\r\n\r\n")
			}
			for d := data; len(d) > 0; {
				n := min(len(d), 50000)
				if _, err := c.Write(d[:n]); err != nil {
					break
				}
				d = d[n:]
			}
			return false
		case "/head":
			c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Head: yes\r\n\r\n")
		case "/204":
			c.write("HTTP/1.1 204 No Content\r\nX-No: content\r\n\r\n")
		case "/304":
			c.write("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: \"e\"\r\n\r\n")
		default:
			c.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall")
		}
		return true
	}
}

func TestE2EResponseBodies(t *testing.T) {
	t.Parallel()
	data := testData(bigSize, 2)
	want := sum(data)
	be := startBackend(t, bodyBackend(data))
	p := startProxy(t, singleUpstream(be.URL))
	cases := []struct {
		path    string
		minor   int
		chunked bool // the client gets it chunked
		trailer bool // with the X-Sum trailer
		closes  bool
	}{
		{"/cl", 1, false, false, false},
		{"/cl", 0, false, false, true},
		{"/chunked", 1, true, true, false},
		{"/chunked", 0, false, false, true},
		{"/close", 1, true, false, false},
		{"/close", 0, false, false, true},
		{"/close10", 1, true, false, false},
		{"/close10", 0, false, false, true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s-http1%d", tc.path[1:], tc.minor), func(t *testing.T) {
			t.Parallel()
			c := dial(t, p.Addr)
			if tc.minor == 1 {
				c.send(get(tc.path, "h"))
			} else {
				c.send("GET " + tc.path + " HTTP/1.0\r\nHost: h\r\n\r\n")
			}
			r := c.read("GET")
			if r.StatusCode != 200 {
				t.Fatalf("status %d", r.StatusCode)
			}
			if got := sum([]byte(r.Body)); got != want {
				t.Errorf("body of %d bytes differs (sha256 %s, want %d bytes %s)", len(r.Body), got, len(data), want)
			}
			isChunked := len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked"
			if isChunked != tc.chunked {
				t.Errorf("chunked %v (%q), want %v", isChunked, r.TransferEncoding, tc.chunked)
			}
			if !tc.chunked && !tc.closes && r.ContentLength != int64(len(data)) {
				t.Errorf("Content-Length %d, want %d", r.ContentLength, len(data))
			}
			if tc.minor == 0 && len(r.Header.Values("Transfer-Encoding")) != 0 {
				t.Errorf("HTTP/1.0 client got Transfer-Encoding")
			}
			if tc.trailer {
				if r.Trailer.Get("X-Sum") != want {
					t.Errorf("trailer %v, want X-Sum %s", r.Trailer, want)
				}
				if len(r.Trailer.Values("Connection")) != 0 {
					t.Errorf("hop-by-hop field in the trailer reached the client: %v", r.Trailer)
				}
			}
			if r.Close != tc.closes {
				t.Errorf("closes %v, want %v", r.Close, tc.closes)
			}
			if tc.closes {
				c.expectClosed()
				return
			}
			if r := c.roundTrip("GET", get("/small", "h")); r.StatusCode != 200 || r.Body != "small" {
				t.Errorf("next request: status %d body %q", r.StatusCode, r.Body)
			}
		})
	}
}

func TestE2EBodylessResponses(t *testing.T) {
	t.Parallel()
	be := startBackend(t, bodyBackend(nil))
	p := startProxy(t, singleUpstream(be.URL))
	cases := []struct {
		method, path string
		status       int
		length       string // the Content-Length field the client must see, "" for none
	}{
		{"HEAD", "/head", 200, "100"},
		{"HEAD", "/cl", 200, "0"},
		{"GET", "/204", 204, ""},
		{"GET", "/304", 304, "50"},
	}
	for _, tc := range cases {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			t.Parallel()
			c := dial(t, p.Addr)
			// The next request right behind: a body where none belongs would be read as its answer.
			c.send(tc.method + " " + tc.path + " HTTP/1.1\r\nHost: h\r\n\r\n" + get("/small", "h"))
			r := c.read(tc.method)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.status)
			}
			if got := r.Header.Get("Content-Length"); got != tc.length {
				t.Errorf("Content-Length %q, want %q", got, tc.length)
			}
			if len(r.Header.Values("Transfer-Encoding")) != 0 {
				t.Errorf("Transfer-Encoding on a bodyless response")
			}
			r = c.read("GET")
			if r.StatusCode != 200 || r.Body != "small" {
				t.Errorf("next response: status %d body %q", r.StatusCode, r.Body)
			}
			c.expectOpen(50 * time.Millisecond)
		})
	}
}

func TestE2EMaxBodySize(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
routes:
  - name: main
    upstream: up
    max_body_size: 1KiB
  - name: local
    match: {path_prefix: /local}
    respond: {body: local}
    max_body_size: 1KiB
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	body := func(n int) string { return strings.Repeat("x", n) }
	chunks := func(sizes ...int) string {
		var b strings.Builder
		for _, n := range sizes {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body(n))
		}
		return b.String() + "0\r\n\r\n"
	}
	cases := []struct {
		name   string
		raw    string
		status int
	}{
		{"cl-over", "POST /cl-over HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n", 413},
		{"cl-over-local", "POST /local HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n", 413},
		{"cl-at-limit", "POST /cl-at HTTP/1.1\r\nHost: h\r\nContent-Length: 1024\r\n\r\n" + body(1024), 200},
		{"chunked-over", "POST /chunked-over HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks(600, 600, 600), 413},
		{"chunked-over-one-chunk", "POST /chunked-over1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks(1025), 413},
		{"chunked-at-limit", "POST /chunked-at HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks(512, 500, 12), 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, p.Addr)
			r := c.roundTrip("POST", tc.raw)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.status)
			}
			if tc.status != 413 {
				return
			}
			if !r.Close {
				t.Errorf("413 does not close the connection")
			}
			assertNoLeak(t, r)
			c.expectClosed()
		})
	}
	t.Cleanup(func() {
		for _, r := range be.requests() {
			if r.Target == "/cl-over" {
				t.Errorf("the backend received a request whose Content-Length is over the limit")
			}
			if strings.HasPrefix(r.Target, "/chunked-over") && r.Err == nil {
				t.Errorf("the backend received the whole of %s, %d bytes", r.Target, len(r.Body))
			}
		}
	})
}

func TestE2EExpectContinue(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, `
routes:
  - name: main
    upstream: up
    max_body_size: 1KiB
upstreams:
  - name: up
    backends: [`+be.URL+`]
`)
	t.Run("content-length", func(t *testing.T) {
		t.Parallel()
		c := dial(t, p.Addr)
		c.send("POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
		r := c.read("POST")
		if r.StatusCode != 100 {
			t.Fatalf("first answer %d, want 100", r.StatusCode)
		}
		c.send("hello world")
		r = c.read("POST")
		if r.StatusCode != 200 || r.Body != "b POST /e|hello world" {
			t.Fatalf("final answer %d %q", r.StatusCode, r.Body)
		}
		got := be.next(t)
		if v := got.Header.Values("Expect"); len(v) != 0 {
			t.Errorf("Expect reached the backend: %q", v)
		}
		if r := c.roundTrip("GET", get("/after", "h")); r.StatusCode != 200 {
			t.Errorf("next request: status %d", r.StatusCode)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		t.Parallel()
		c := dial(t, p.Addr)
		c.send("POST /ec HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-Continue\r\n\r\n")
		if r := c.read("POST"); r.StatusCode != 100 {
			t.Fatalf("first answer %d, want 100", r.StatusCode)
		}
		c.send("3\r\nabc\r\n0\r\n\r\n")
		if r := c.read("POST"); r.StatusCode != 200 || r.Body != "b POST /ec|abc" {
			t.Fatalf("final answer %d %q", r.StatusCode, r.Body)
		}
	})
	t.Run("streamed-body", func(t *testing.T) {
		t.Parallel()
		be := startBackend(t, hashHandler)
		p := startProxy(t, singleUpstream(be.URL))
		data := testData(200000, 4) // more than is read whole before sending: streamed
		c := dial(t, p.Addr)
		c.send(fmt.Sprintf("POST /es HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(data)))
		if r := c.read("POST"); r.StatusCode != 100 {
			t.Fatalf("first answer %d, want 100", r.StatusCode)
		}
		go func() { _, _ = c.nc.Write(data) }()
		if r := c.read("POST"); r.StatusCode != 200 || r.Body != sum(data) {
			t.Fatalf("final answer %d %q", r.StatusCode, r.Body)
		}
		if v := be.next(t).Header.Values("Expect"); len(v) != 0 {
			t.Errorf("Expect reached the backend: %q", v)
		}
	})
	t.Run("over-limit", func(t *testing.T) {
		t.Parallel()
		c := dial(t, p.Addr)
		c.send("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
		r := c.read("POST")
		if r.StatusCode != 413 {
			t.Fatalf("answer %d, want 413 without 100 first", r.StatusCode)
		}
		c.expectClosed()
	})
	t.Run("unknown-expectation", func(t *testing.T) {
		t.Parallel()
		c := dial(t, p.Addr)
		c.send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: teapot\r\n\r\n")
		r := c.read("POST")
		if r.StatusCode != 417 {
			t.Fatalf("answer %d, want 417", r.StatusCode)
		}
		c.expectClosed()
	})
}
