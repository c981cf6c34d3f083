package proxy

import (
	"bytes"
	"crypto/tls"
	"net"
	"sync"

	"github.com/gatehouse-proxy/gatehouse/internal/h2"
)

// HTTP/2 front end. An HTTP/2 connection (ALPN h2 on a TLS listener, or the h2c preface on a plain
// one) is handed from the HTTP/1.1 conn that accepted it to internal/h2, which presents each request
// stream as a virtual HTTP/1.1 connection carrying that one request. Each stream is then served by
// the same conn code as any client connection: every phase (routing, balancing, retries, limits,
// logging) is the HTTP/1.1 engine's, with no second forwarding path.

// HTTP2Options bound HTTP/2 client connections. Header limits and timeouts come from Options.Limits
// and Options.Timeouts.
type HTTP2Options struct {
	// MaxConcurrentStreams is the most requests in flight on one connection. Default 128.
	MaxConcurrentStreams uint32
}

// session is one HTTP/2 client connection and the conns serving its streams, so that an aborted
// shutdown reaches the backend connections those streams use.
type session struct {
	h2 *h2.Conn

	mu      sync.Mutex
	streams map[*conn]struct{}
	aborted bool
}

// h2Options are the internal/h2 settings of every HTTP/2 connection of h, but for Serve.
func (h *Handler) h2Options() h2.Options {
	t, l := h.opts.Timeouts, h.opts.Limits
	return h2.Options{
		MaxConcurrentStreams: h.opts.HTTP2.MaxConcurrentStreams,
		MaxHeaderListSize:    uint32(max(l.MaxHeaderBytes, 0)),
		MaxHeaderCount:       l.MaxHeaderCount,
		IdleTimeout:          t.KeepAliveIdle,
		PrefaceTimeout:       t.ClientHeader,
		WriteTimeout:         t.ClientWriteIdle,
		Logf:                 h.opts.Errorf,
	}
}

// serveH2 serves an HTTP/2 connection; buffered holds what was read from nc already (the start of
// the preface at least). It takes ownership of nc and returns once the connection has closed and
// every stream's request has finished.
func (h *Handler) serveH2(nc net.Conn, ep *Endpoint, buffered []byte) {
	s := &session{streams: make(map[*conn]struct{})}
	o := h.h2o
	o.Serve = func(vc net.Conn) { h.serveStream(vc, ep.stream, s) }
	s.h2 = h2.NewConn(nc, buffered, &o)
	h.mu.Lock()
	if h.draining.Load() {
		h.mu.Unlock()
		s.h2.Close()
		return
	}
	h.sessions[s] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.sessions, s)
		h.mu.Unlock()
		h.wg.Done()
	}()
	s.h2.Serve()
}

// serveStream serves one request stream of s, as a connection of its own.
func (h *Handler) serveStream(vc net.Conn, ep *Endpoint, s *session) {
	c := h.newConn(vc)
	c.ep = ep
	c.rreq.TLS = ep.TLS
	c.certChecked = false
	if fs, ok := vc.(interface{ SetFailHook(func()) }); ok {
		if c.goneHook == nil {
			c.goneHook = c.clientGone
		}
		fs.SetFailHook(c.goneHook)
	}
	s.mu.Lock()
	if s.aborted {
		s.mu.Unlock()
		c.close()
		return
	}
	s.streams[c] = struct{}{}
	s.mu.Unlock()
	c.serve()
	s.mu.Lock()
	delete(s.streams, c)
	s.mu.Unlock()
	c.close()
}

// shutdown starts the graceful end of the session: GOAWAY, then close once its streams are done.
func (s *session) shutdown() { s.h2.Shutdown() }

// abort closes the session and the backend connections its streams use, now.
func (s *session) abort() {
	s.mu.Lock()
	s.aborted = true
	for c := range s.streams {
		c.abort()
	}
	s.mu.Unlock()
	s.h2.Close()
}

// wantsH2 reports whether a new connection speaks HTTP/2 after its first read: by ALPN on a TLS
// listener that offers h2, or by the h2c preface on a plain listener that serves h2c. more is set
// when the bytes so far are a proper prefix of the preface: read on before deciding.
func (c *conn) wantsH2() (yes, more bool) {
	ep := c.ep
	if ep.H2 {
		if tc, ok := c.nc.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
			return true, false
		}
	}
	if !ep.H2C {
		return false, false
	}
	b := c.in.Buffered()
	if len(b) >= len(h2.ClientPreface) {
		return bytes.HasPrefix(b, []byte(h2.ClientPreface)), false
	}
	return false, string(b) == h2.ClientPreface[:len(b)]
}
