package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/internal/balance"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/reqid"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/service"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// rawBackend answers every request on every connection with resp, allocating nothing per request:
// it counts request heads by their final CRLFCRLF, which is enough for the bodiless requests and
// Content-Length bodies the benchmarks send (bodies never contain CRLFCRLF).
func rawBackend(tb testing.TB, resp []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				carry := 0
				for {
					n, err := c.Read(buf[carry:])
					if err != nil {
						return
					}
					data := buf[:carry+n]
					for {
						i := bytes.Index(data, []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						data = data[i+4:]
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
					carry = copy(buf, data[max(0, len(data)-3):])
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// benchProxy starts a Handler in front of a raw backend and returns its address.
func benchProxy(tb testing.TB, resp []byte) string { return benchProxyLog(tb, resp, nil) }

// benchProxyLog is benchProxy with an access log.
func benchProxyLog(tb testing.TB, resp []byte, log *accesslog.Logger) string {
	set := upstream.Settings{MaxIdle: 64, IdleTimeout: time.Minute, ConnectTimeout: time.Second}
	return benchEngine(tb, rawBackend(tb, resp), set, log)
}

// benchEngine starts a Handler with one route to the backend at addr, built with set, and
// returns the proxy's address.
func benchEngine(tb testing.TB, addr string, set upstream.Settings, log *accesslog.Logger) string {
	wd := watchdog.New(50*time.Millisecond, time.Now)
	tb.Cleanup(wd.Close)
	be := upstream.NewBackend(addr, set, wd, time.Now)
	pool, err := balance.NewPool("bench", balance.Config{}, []*upstream.Backend{be}, time.Now)
	if err != nil {
		tb.Fatal(err)
	}
	svc := &service.Service{Name: "bench", Pool: pool, Outlier: upstream.NewOutlier(upstream.DefaultOutlierConfig(), time.Now)}
	svc.Outlier.SetBackends(pool.Backends())
	ids, err := reqid.New()
	if err != nil {
		tb.Fatal(err)
	}
	rt := &router.Route{Name: "bench", NameBytes: []byte("bench"), Prefix: "/", Service: svc, MaxBody: 1 << 20}
	h := New(Options{
		Limits: h1.Limits{MaxRequestLine: 8 << 10, MaxHeaderBytes: 32 << 10, MaxHeaderCount: 100},
		Timeouts: Timeouts{ClientHeader: 10 * time.Second, ClientBodyIdle: 10 * time.Second,
			ClientWriteIdle: 10 * time.Second, KeepAliveIdle: time.Minute, UpstreamConnect: time.Second,
			UpstreamHeader: 10 * time.Second, UpstreamBodyIdle: 10 * time.Second},
		IDs: ids, Watchdog: wd, Log: log,
	}, router.NewTable([]*router.Route{rt}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close(); be.CloseIdle() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go h.ServeConn(c)
		}
	}()
	return ln.Addr().String()
}

// benchmarkForward sends req over one kept-alive connection b.N times and reads each response,
// counting the allocations of the whole process: client, proxy and backend.
func benchmarkForward(b *testing.B, req, resp []byte) {
	benchmarkForwardLog(b, req, resp, nil)
}

func benchmarkForwardLog(b *testing.B, req, resp []byte, log *accesslog.Logger) {
	benchRoundTrips(b, benchProxyLog(b, resp, log), req, int64(len(req)+len(resp)))
}

// benchRoundTrips sends req to addr over one kept-alive connection b.N times, after 100 to warm
// the pools, and reads each response: its head, then Content-Length bytes. size is what SetBytes
// counts per round trip.
func benchRoundTrips(b *testing.B, addr string, req []byte, size int64) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	buf := make([]byte, 64<<10)
	roundTrip := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n := -1
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) == 2 {
				break
			}
			if len(line) > 16 && h1.EqualFold(line[:15], "content-length:") {
				n = 0
				for _, d := range bytes.TrimSpace(line[15:]) {
					n = n*10 + int(d-'0')
				}
			}
		}
		if n < 0 {
			b.Fatal("response without Content-Length")
		}
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			b.Fatal(err)
		}
	}
	for range 100 {
		roundTrip()
	}
	b.ReportAllocs()
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		roundTrip()
	}
}

const smallBody = "hello from the backend, a small body of about sixty bytes.\n"

var smallResponse = []byte("HTTP/1.1 200 OK\r\nServer: raw\r\nContent-Type: text/plain\r\nContent-Length: " +
	strconv.Itoa(len(smallBody)) + "\r\n\r\n" + smallBody)

// BenchmarkForwardSmall is the hot path: a small GET, parsed, routed, forwarded over a pooled
// connection, and its small response relayed. It must report 0 allocs/op.
func BenchmarkForwardSmall(b *testing.B) {
	req := []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	benchmarkForward(b, req, smallResponse)
}

// BenchmarkForwardSmallLogged is BenchmarkForwardSmall with the access log on (written to
// io.Discard): the difference is the log's whole cost on the hot path.
func BenchmarkForwardSmallLogged(b *testing.B) {
	log := accesslog.New(io.Discard, 0)
	defer log.Close()
	req := []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	benchmarkForwardLog(b, req, smallResponse, log)
}

// BenchmarkForwardBrowser forwards a browser-sized request head (about 700 bytes, 12 fields).
func BenchmarkForwardBrowser(b *testing.B) {
	req := []byte("GET /static/app.js?v=1234 HTTP/1.1\r\nHost: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
		"Accept-Language: en-GB,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Referer: https://www.example.com/\r\nConnection: keep-alive\r\n" +
		"Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; consent=yes\r\n" +
		"Sec-Fetch-Dest: script\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Site: same-origin\r\n" +
		"X-Forwarded-For: 203.0.113.9\r\n\r\n")
	benchmarkForward(b, req, smallResponse)
}

// BenchmarkForwardPost4K forwards a 4 KiB POST body, read whole and sent with the head.
func BenchmarkForwardPost4K(b *testing.B) {
	req := append([]byte("POST /upload HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/octet-stream\r\n"+
		"Content-Length: 4096\r\n\r\n"), bytes.Repeat([]byte("x"), 4096)...)
	benchmarkForward(b, req, smallResponse)
}

// BenchmarkForwardNewConnection opens a new client connection for every request (Connection:
// close), as compare.py's close workload does; allocs/op counts both ends of the connection.
func BenchmarkForwardNewConnection(b *testing.B) {
	addr := benchProxy(b, smallResponse)
	req := []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n")
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := c.Read(buf); err != nil {
				break // the proxy closes after the response
			}
		}
		c.Close()
	}
}
