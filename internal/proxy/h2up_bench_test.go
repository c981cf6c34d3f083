package proxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// benchH2Proxy starts a Handler in front of an h2c backend (x/net's HTTP/2 server) answering every
// request with smallBody, and returns the proxy's address.
func benchH2Proxy(tb testing.TB) string {
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bln.Close() })
	h2srv := &http2.Server{}
	answer := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(smallBody)))
		_, _ = io.WriteString(w, smallBody)
	}
	go func() {
		for {
			c, err := bln.Accept()
			if err != nil {
				return
			}
			go h2srv.ServeConn(c, &http2.ServeConnOpts{Handler: http.HandlerFunc(answer)})
		}
	}()
	set := upstream.Settings{IdleTimeout: time.Minute, ConnectTimeout: time.Second, HTTP2: true}
	return benchEngine(tb, bln.Addr().String(), set, nil)
}

// benchmarkH2Up sends req over one kept-alive client connection b.N times, through gatehouse to an
// HTTP/2 backend, and reads each Content-Length response. Allocations count the whole process:
// the HTTP/2 path builds net/http values (it is not the HTTP/1.1 path's 0 allocs/op).
func benchmarkH2Up(b *testing.B, req []byte) {
	benchRoundTrips(b, benchH2Proxy(b), req, int64(len(req)+len(smallBody)))
}

// BenchmarkForwardH2Small is BenchmarkForwardSmall to an h2c backend.
func BenchmarkForwardH2Small(b *testing.B) {
	benchmarkH2Up(b, []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"))
}

// BenchmarkForwardH2Post4K is BenchmarkForwardPost4K to an h2c backend.
func BenchmarkForwardH2Post4K(b *testing.B) {
	benchmarkH2Up(b, append([]byte("POST /upload HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/octet-stream\r\n"+
		"Content-Length: 4096\r\n\r\n"), bytes.Repeat([]byte("x"), 4096)...))
}
