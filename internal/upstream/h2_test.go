package upstream

import (
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// h2Backend is an HTTP/2 server on loopback: h2c with prior knowledge, or TLS when given a config
// (which then decides the ALPN protocols offered).
type h2Backend struct {
	ln    net.Listener
	addr  string
	conns atomic.Int32 // connections accepted
	open  atomic.Int32 // connections not yet closed
	wg    sync.WaitGroup
}

func startH2Backend(t *testing.T, tc *tls.Config, h http.HandlerFunc) *h2Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &h2Backend{ln: ln, addr: ln.Addr().String()}
	srv := &http2.Server{}
	var mu sync.Mutex
	var all []net.Conn
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			b.conns.Add(1)
			b.open.Add(1)
			mu.Lock()
			all = append(all, nc)
			mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer b.open.Add(-1)
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
		for _, c := range all {
			c.Close()
		}
		mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func newH2Backend(t *testing.T, addr string, tc *tls.Config) *Backend {
	t.Helper()
	b := NewBackend(addr, Settings{IdleTimeout: time.Minute, ConnectTimeout: 5 * time.Second, TLS: tc, HTTP2: true}, nil, time.Now)
	t.Cleanup(b.CloseIdle)
	return b
}

func h2Get(ctx context.Context, b *Backend, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://placeholder"+path, nil)
	if err != nil {
		return nil, err
	}
	return b.RoundTripH2(req)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// Requests over h2c and over TLS with ALPN h2 reach the backend as HTTP/2, to the backend's own
// address whatever the request's URL said.
func TestH2RoundTrip(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "h2 ca")
	srvTLS := &tls.Config{Certificates: []tls.Certificate{issue(t, ca, "backend", []string{"127.0.0.1"}, false).tls}, NextProtos: []string{"h2"}}
	handler := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s tls=%v", r.Proto, r.Method, r.URL.Path, r.TLS != nil)
	}
	tests := []struct {
		name   string
		srvTLS *tls.Config
		want   string
	}{
		{"h2c", nil, "HTTP/2.0 GET /x tls=false"},
		{"tls", srvTLS, "HTTP/2.0 GET /x tls=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startH2Backend(t, tt.srvTLS, handler)
			var tc *tls.Config
			if tt.srvTLS != nil {
				tc = clientTLS(t, TLSOptions{CAFile: writeFile(t, "ca.pem", ca.pem)})
			}
			b := newH2Backend(t, srv.addr, tc)
			if !b.HTTP2() {
				t.Fatal("HTTP2() is false for a backend made with Settings.HTTP2")
			}
			resp, err := h2Get(context.Background(), b, "/x")
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); got != tt.want {
				t.Errorf("body %q, want %q", got, tt.want)
			}
			if b.Open() != 1 {
				t.Errorf("Open() = %d, want 1", b.Open())
			}
		})
	}
}

// Many concurrent requests share one connection: HTTP/2 multiplexes them.
func TestH2Multiplexing(t *testing.T) {
	t.Parallel()
	const n = 50
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	srv := startH2Backend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		now := inFlight.Add(1)
		for {
			p := peak.Load()
			if now <= p || peak.CompareAndSwap(p, now) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
		io.WriteString(w, "ok")
	})
	b := newH2Backend(t, srv.addr, nil)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := h2Get(context.Background(), b, "/")
			if err != nil {
				errs <- err
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && string(body) != "ok" {
				err = fmt.Errorf("body %q", body)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for inFlight.Load() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if p := peak.Load(); p != n {
		t.Errorf("peak concurrency at the backend %d, want %d", p, n)
	}
	if c := srv.conns.Load(); c != 1 {
		t.Errorf("%d connections for %d concurrent requests, want 1", c, n)
	}
}

// Failures to connect are ConnectErrors: refused, a TLS backend that does not choose h2, a
// certificate that does not verify.
func TestH2ConnectErrors(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "h2 ca")
	cert := issue(t, ca, "backend", []string{"127.0.0.1"}, false).tls
	h1Only := startH2Backend(t, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}, nil)
	noALPN := startH2Backend(t, &tls.Config{Certificates: []tls.Certificate{cert}}, nil)
	h2srv := startH2Backend(t, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}, nil)
	refused := freeport.Addr(t)
	good := clientTLS(t, TLSOptions{CAFile: writeFile(t, "ca.pem", ca.pem)})
	tests := []struct {
		name  string
		addr  string
		tc    *tls.Config
		cause string
	}{
		{"refused", refused, nil, "refused"},
		{"http/1.1 only by ALPN", h1Only.addr, good, "no application protocol"},
		{"no ALPN", noALPN.addr, good, "did not negotiate h2"},
		{"unknown authority", h2srv.addr, clientTLS(t, TLSOptions{}), "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newH2Backend(t, tt.addr, tt.tc)
			_, err := h2Get(context.Background(), b, "/")
			ce, ok := errors.AsType[*ConnectError](err)
			if !ok {
				t.Fatalf("error %v (%T), want a *ConnectError", err, err)
			}
			if ce.Addr != tt.addr || !strings.Contains(ce.Error(), tt.cause) {
				t.Errorf("ConnectError %q for %s, want one for %s saying %q", ce, ce.Addr, tt.addr, tt.cause)
			}
			if b.Open() != 0 {
				t.Errorf("Open() = %d after a failed connect, want 0", b.Open())
			}
		})
	}
}

// The request that starts a dial may give up without failing the dial for the requests waiting on
// it: the connection is made and kept.
func TestH2DialOutlivesFirstRequest(t *testing.T) {
	t.Parallel()
	srv := startH2Backend(t, nil, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	b := newH2Backend(t, srv.addr, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h2Get(ctx, b, "/"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled request: %v, want context.Canceled", err)
	}
	resp, err := h2Get(context.Background(), b, "/")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); got != "ok" {
		t.Errorf("body %q", got)
	}
	if c := srv.conns.Load(); c != 1 {
		t.Errorf("%d connections, want 1: the dial of the cancelled request is the one used", c)
	}
}

// CloseIdle closes idle connections at once and busy ones when their last stream ends.
func TestH2CloseIdle(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := startH2Backend(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-release
		}
		io.WriteString(w, "ok")
	})
	b := newH2Backend(t, srv.addr, nil)
	slow, err := h2Get(context.Background(), b, "/slow")
	if err != nil {
		t.Fatal(err)
	}
	b.CloseIdle()
	if b.Open() != 1 || srv.open.Load() != 1 {
		t.Fatalf("open %d (backend sees %d) while a stream is busy, want 1", b.Open(), srv.open.Load())
	}
	close(release)
	if got := readAll(t, slow); got != "ok" {
		t.Errorf("body %q", got)
	}
	waitUntil(t, "the busy connection closes after its stream", func() bool { return b.Open() == 0 && srv.open.Load() == 0 })
}

// A backend without Settings.HTTP2 refuses RoundTripH2.
func TestH2NotHTTP2(t *testing.T) {
	t.Parallel()
	b := NewBackend("127.0.0.1:1", Settings{}, nil, time.Now)
	if b.HTTP2() {
		t.Fatal("HTTP2() is true without Settings.HTTP2")
	}
	_, err := b.RoundTripH2(&http.Request{URL: &url.URL{}})
	if err == nil || !strings.Contains(err.Error(), "does not speak HTTP/2") {
		t.Errorf("error %v", err)
	}
}
