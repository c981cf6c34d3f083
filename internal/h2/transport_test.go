package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// clients returns Go HTTP/2 clients for srv: TLS with ALPN h2, and h2c with prior knowledge.
func clients(t *testing.T, opts Options) map[string]struct {
	c    *http.Client
	base string
} {
	srvTLS, cliTLS := serverTLS(t)
	tlsSrv := startServer(t, opts, srvTLS)
	plainSrv := startServer(t, opts, nil)
	h2c := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(h2c.CloseIdleConnections)
	tr := &http2.Transport{TLSClientConfig: cliTLS}
	t.Cleanup(tr.CloseIdleConnections)
	return map[string]struct {
		c    *http.Client
		base string
	}{
		"tls": {&http.Client{Transport: tr}, "https://" + tlsSrv.addr},
		"h2c": {&http.Client{Transport: h2c}, "http://" + plainSrv.addr},
	}
}

// TestTransport runs Go's http2.Transport against a Conn, over TLS and h2c.
func TestTransport(t *testing.T) {
	e := newTestEngine()
	for name, cl := range clients(t, Options{Serve: e.serve}) {
		t.Run(name, func(t *testing.T) {
			tests := []struct {
				name, method, path string
				body               io.Reader
				trailer            http.Header
				status             int
				wantBody           string
				wantHeader         map[string]string
				wantTrailer        map[string]string
			}{
				{name: "get 404", method: "GET", path: "/x", status: 404, wantBody: "not found",
					wantHeader: map[string]string{"Content-Type": "text/plain", "Content-Length": "9"}},
				{name: "post echo", method: "POST", path: "/echo", body: strings.NewReader("hello body"), status: 200, wantBody: "hello body"},
				{name: "chunked trailers", method: "GET", path: "/chunked", status: 200, wantBody: "hello world",
					wantHeader:  map[string]string{"Content-Type": "application/grpc"},
					wantTrailer: map[string]string{"Grpc-Status": "0", "Grpc-Message": "ok"}},
				{name: "chunked no trailers", method: "GET", path: "/chunked-plain", status: 200, wantBody: "hello"},
				{name: "split writes", method: "GET", path: "/split", status: 200, wantBody: "abc",
					wantHeader: map[string]string{"X-Split": "yes"}, wantTrailer: map[string]string{"X-T": "1"}},
				{name: "informational", method: "GET", path: "/info", status: 200, wantBody: "ok"},
				{name: "close delimited", method: "GET", path: "/close", status: 200, wantBody: "until the end",
					wantHeader: map[string]string{"Connection": "", "Keep-Alive": ""}},
				{name: "head", method: "HEAD", path: "/head", status: 200, wantBody: "", wantHeader: map[string]string{"Content-Length": "11"}},
				{name: "get with length", method: "GET", path: "/head", status: 200, wantBody: "hello world"},
				{name: "204", method: "GET", path: "/status/204", status: 204, wantBody: ""},
				{name: "304", method: "GET", path: "/status/304", status: 304, wantBody: "", wantHeader: map[string]string{"Etag": `"x"`}},
				{name: "request trailers", method: "POST", path: "/echo", body: &slowReader{s: "abc"},
					trailer: http.Header{"X-Sum": {"42"}}, status: 200, wantBody: "abc",
					wantHeader: map[string]string{"X-Trailers": "x-sum: 42"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					req, err := http.NewRequest(tt.method, cl.base+tt.path, tt.body)
					if err != nil {
						t.Fatal(err)
					}
					if tt.trailer != nil {
						req.Trailer = tt.trailer
						req.ContentLength = -1
					}
					var infos []int
					req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
						Got1xxResponse: func(code int, _ textproto.MIMEHeader) error { infos = append(infos, code); return nil },
					}))
					resp, err := cl.c.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						t.Fatal(err)
					}
					if resp.StatusCode != tt.status || string(body) != tt.wantBody {
						t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.wantBody)
					}
					if resp.ProtoMajor != 2 {
						t.Errorf("proto %s", resp.Proto)
					}
					for k, v := range tt.wantHeader {
						if got := resp.Header.Get(k); got != v {
							t.Errorf("header %s = %q, want %q", k, got, v)
						}
					}
					for k, v := range tt.wantTrailer {
						if got := resp.Trailer.Get(k); got != v {
							t.Errorf("trailer %s = %q, want %q (%v)", k, got, v, resp.Trailer)
						}
					}
					if tt.path == "/info" && fmt.Sprint(infos) != "[103 100]" {
						t.Errorf("informational responses %v, want [103 100]", infos)
					}
				})
			}
		})
	}
}

// slowReader yields its string one byte per Read, so that the body has no known length.
type slowReader struct{ s string }

func (r *slowReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	p[0] = r.s[0]
	r.s = r.s[1:]
	return 1, nil
}

// TestTransportConcurrent sends 200 requests, 100 at a time, on one connection, bodies both ways.
func TestTransportConcurrent(t *testing.T) {
	e := newTestEngine()
	for name, cl := range clients(t, Options{Serve: e.serve}) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			sem := make(chan struct{}, 100)
			errs := make(chan error, 200)
			for i := range 200 {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					want := strings.Repeat(fmt.Sprint(i), 1000+i*37)
					resp, err := cl.c.Post(cl.base+"/echo", "text/plain", strings.NewReader(want))
					if err != nil {
						errs <- err
						return
					}
					got, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || string(got) != want {
						errs <- fmt.Errorf("request %d: %v, %d bytes back of %d", i, err, len(got), len(want))
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestTransportLargeBodies moves bodies far larger than every window both ways.
func TestTransportLargeBodies(t *testing.T) {
	e := newTestEngine()
	for name, cl := range clients(t, Options{Serve: e.serve}) {
		t.Run(name, func(t *testing.T) {
			const n = 4 << 20
			up := bytes.Repeat([]byte("upload--"), n/8)
			var wg sync.WaitGroup
			for range 3 {
				wg.Add(2)
				go func() {
					defer wg.Done()
					resp, err := cl.c.Post(cl.base+"/echo", "application/octet-stream", bytes.NewReader(up))
					if err != nil {
						t.Error(err)
						return
					}
					got, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || !bytes.Equal(got, up) {
						t.Errorf("upload echo: %v, %d bytes", err, len(got))
					}
				}()
				go func() {
					defer wg.Done()
					resp, err := cl.c.Get(cl.base + fmt.Sprintf("/big/%d", n))
					if err != nil {
						t.Error(err)
						return
					}
					got, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || got != n {
						t.Errorf("download: %v, %d bytes", err, got)
					}
				}()
			}
			wg.Wait()
		})
	}
}
