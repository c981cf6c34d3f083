package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// HTTP/2 to backends. A backend made with Settings.HTTP2 keeps an x/net/http2 Transport: it
// multiplexes requests on as few connections as the backend's concurrent-stream limit allows,
// handles flow control, and pings a connection that has gone quiet. Connections are dialled to
// the backend's own address through its dialer, with the TLS handshake (ALPN "h2" only) of an
// https backend, or as plain TCP speaking h2c with prior knowledge.

// Dead-peer detection and write bounds of HTTP/2 connections.
const (
	// H2ReadIdleTimeout is how long an HTTP/2 connection to a backend may receive nothing before it
	// is pinged.
	H2ReadIdleTimeout = 30 * time.Second
	// H2PingTimeout is how long such a ping may go unanswered before the connection is closed and
	// its streams fail.
	H2PingTimeout = 10 * time.Second
	// H2WriteByteTimeout closes an HTTP/2 connection to which nothing could be written this long:
	// a backend that stopped reading its socket.
	H2WriteByteTimeout = 30 * time.Second
)

// ConnectError is the failure to open a connection to a backend: the TCP connect, the TLS
// handshake, or an ALPN that is not "h2" for an HTTP/2 backend. Nothing was sent, so the request
// may go to another backend whatever its method. RoundTripH2 returns it wrapped as it came from
// the transport; find it with errors.As.
type ConnectError struct {
	// Addr is the backend's host:port.
	Addr string
	// Err is the cause.
	Err error
}

func (e *ConnectError) Error() string { return "connect to " + e.Addr + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// h2Client is a backend's HTTP/2 client.
type h2Client struct {
	t      *http2.Transport
	scheme string // "https" or "http" (h2c)
}

func newH2Client(b *Backend) *h2Client {
	c := &h2Client{scheme: "http"}
	if b.tls != nil {
		c.scheme = "https"
		b.tls.NextProtos = []string{http2.NextProtoTLS} // b.tls is this backend's own clone
	}
	c.t = &http2.Transport{
		DialTLSContext:     b.dialH2,
		AllowHTTP:          true, // http:// URLs go through DialTLSContext too, which dials h2c
		DisableCompression: true, // a proxy passes bodies as they are
		IdleConnTimeout:    b.set.IdleTimeout,
		ReadIdleTimeout:    H2ReadIdleTimeout,
		PingTimeout:        H2PingTimeout,
		WriteByteTimeout:   H2WriteByteTimeout,
	}
	return c
}

// HTTP2 reports whether the backend speaks HTTP/2 (Settings.HTTP2): requests to it go through
// RoundTripH2, not Get and Dial.
func (b *Backend) HTTP2() bool { return b.h2 != nil }

// RoundTripH2 sends req to an HTTP/2 backend and returns its answer once the response head has
// arrived; the request body may still be being sent, from the transport's own goroutine, while
// the caller reads the response. It sets req.URL's scheme and host to the backend's. req's context
// bounds the whole exchange: cancelling it resets the stream. The caller must close the response
// body. A connection that could not be made is a *ConnectError.
func (b *Backend) RoundTripH2(req *http.Request) (*http.Response, error) {
	if b.h2 == nil {
		return nil, fmt.Errorf("upstream: backend %s does not speak HTTP/2", b.Addr)
	}
	req.URL.Scheme, req.URL.Host = b.h2.scheme, b.Addr
	resp, err := b.h2.t.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &h2Body{ReadCloser: resp.Body, b: b}
	return resp, nil
}

// h2Body is a response body that, once closed, lets a retired backend close the connection that
// carried it.
type h2Body struct {
	io.ReadCloser
	b *Backend
}

// Close ends the stream (resetting it if the body was not read to its end).
func (r *h2Body) Close() error {
	err := r.ReadCloser.Close()
	if r.b.isClosed() {
		r.b.h2.t.CloseIdleConnections()
	}
	return err
}

// dialH2 opens a connection for the HTTP/2 transport: TCP to the backend's address, then for an
// https backend the TLS handshake, which must negotiate h2.
func (b *Backend) dialH2(ctx context.Context, _, _ string, _ *tls.Config) (net.Conn, error) {
	// The transport dials once for every request waiting on a connection, with the first one's
	// context: that request giving up must not fail the others. ConnectTimeout bounds the dial.
	ctx = context.WithoutCancel(ctx)
	if d := b.set.ConnectTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	nc, err := b.dialer.DialContext(ctx, "tcp", b.Addr)
	if err != nil {
		return nil, &ConnectError{Addr: b.Addr, Err: err}
	}
	if b.tls != nil {
		tc, err := b.handshake(ctx, nc)
		if err != nil {
			return nil, &ConnectError{Addr: b.Addr, Err: err}
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
			_ = nc.Close()
			return nil, &ConnectError{Addr: b.Addr, Err: fmt.Errorf("%w (ALPN gave %q)", ErrNoH2, p)}
		}
		nc = tc
	}
	b.open.Add(1)
	return &h2Conn{Conn: nc, b: b}, nil
}

// ErrNoH2 is the cause of a ConnectError when an https backend of an HTTP/2 upstream does not
// negotiate h2 by ALPN.
var ErrNoH2 = errors.New("upstream tls: backend did not negotiate h2")

// h2Conn counts an HTTP/2 connection in Backend.Open until it closes.
type h2Conn struct {
	net.Conn
	b      *Backend
	closed atomic.Bool
}

// Close closes the connection; only the first call counts it out.
func (c *h2Conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.b.open.Add(-1)
	}
	return c.Conn.Close()
}
