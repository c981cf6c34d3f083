// Package proxy is gatehouse's HTTP/1.1 forwarding engine. One goroutine serves each client
// connection and runs every request through the same phases, in order:
//
//	read head   parse and check the request head                   (conn.go)
//	route       match a route on the normalised path; answer locally for a
//	            fixed response, a redirect or no route (404)           (conn.go, router)
//	upstream    pick a backend of the route's service (balancer, health, limits)
//	            and a pooled connection                               (forward.go)
//	request     rewrite the head for the backend, send it and the body (headers.go, body.go)
//	response    read the backend's head; on a connect failure, a retryable status or a
//	            per-try timeout go back to "upstream" when the retry policy allows;
//	            rewrite the head, relay the body                      (forward.go, body.go)
//	log         count the request in the metrics, write the access log line (conn.go)
//
// Filters that later issues add (cache, WAF, rate limits, auth) slot in between route and
// upstream, where the route and the whole request head are known and nothing has been sent.
//
// The goroutine that reads the request also talks to the backend, so no request crosses goroutines;
// a second goroutine runs only for the duration of an upgraded (WebSocket) tunnel.
package proxy

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/h2"
	"github.com/gatehouse-proxy/gatehouse/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/internal/reqid"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// Timeouts bound every wait; all must be positive.
type Timeouts struct {
	ClientHeader     time.Duration // whole request head, from its first byte (or from accept)
	ClientBodyIdle   time.Duration // between reads of a request body
	ClientWriteIdle  time.Duration // a blocked write to the client
	KeepAliveIdle    time.Duration // between requests on a connection
	UpstreamConnect  time.Duration // TCP connect to a backend
	UpstreamHeader   time.Duration // from the request sent to the backend's response head
	UpstreamBodyIdle time.Duration // between reads of a response body; also writes to a backend
}

// ForwardedMode says what happens to X-Forwarded-* and Forwarded.
type ForwardedMode uint8

// Forwarded modes.
const (
	ForwardedAppend  ForwardedMode = iota // keep incoming values from trusted peers, add ours
	ForwardedReplace                      // drop incoming values, send ours
	ForwardedOff                          // pass incoming fields through, add nothing
)

// Options configure a Handler.
type Options struct {
	Limits   h1.Limits
	Timeouts Timeouts
	// Forwarded is the X-Forwarded-*/Forwarded policy; Trusted lists the peers whose incoming values
	// are kept under ForwardedAppend. SetForwarded changes them later.
	Forwarded ForwardedMode
	Trusted   []netip.Prefix
	// Log receives one entry per request; nil turns logging off.
	Log *accesslog.Logger
	// IDs generates X-Request-Id values. Required.
	IDs *reqid.Generator
	// Watchdog enforces the timeouts. Required.
	Watchdog *watchdog.Watchdog
	// Clock gives the time. Default time.Now.
	Clock func() time.Time
	// Errorf reports problems that are not a client's fault (a backend that misbehaves). Default: none.
	Errorf func(format string, args ...any)
	// Metrics counts requests; routes carry their own counters, this registry counts the requests
	// no route took (404s, rejected heads). Default: none.
	Metrics *metrics.Registry
	// HTTP2 bounds HTTP/2 connections, on endpoints that serve them.
	HTTP2 HTTP2Options
}

// Handler serves client connections. It is safe for concurrent use.
type Handler struct {
	opts     Options
	table    atomic.Pointer[router.Table]
	noRoute  *metrics.Route // counts requests that no route took; nil without metrics
	fwd      atomic.Pointer[forwarding]
	draining atomic.Bool

	connPool sync.Pool // *conn, with their buffers

	h2o h2.Options // HTTP/2 connection settings, but for Serve

	mu       sync.Mutex
	conns    map[*conn]struct{}
	sessions map[*session]struct{} // HTTP/2 connections
	wg       sync.WaitGroup
}

// New returns a Handler routing by table.
func New(opts Options, table *router.Table) *Handler {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Errorf == nil {
		opts.Errorf = func(string, ...any) {}
	}
	h := &Handler{opts: opts, conns: make(map[*conn]struct{}), sessions: make(map[*session]struct{})}
	h.h2o = h.h2Options()
	h.SetForwarded(opts.Forwarded, opts.Trusted)
	if opts.Metrics != nil {
		h.noRoute = opts.Metrics.Route(metrics.NoRoute)
	}
	h.table.Store(table)
	return h
}

// SetTable swaps the routing table; requests already routed finish on the old one.
func (h *Handler) SetTable(t *router.Table) { h.table.Store(t) }

// ServeConn serves one client connection until it closes. It takes ownership of nc.
func (h *Handler) ServeConn(nc net.Conn) { h.ServeConnOn(nc, plainEndpoint) }

// NewEndpoint checks an endpoint and prepares it for ServeConnOn.
func NewEndpoint(ep Endpoint) (*Endpoint, error) {
	if err := ep.prepare(); err != nil {
		return nil, err
	}
	return &ep, nil
}

// ServeConnOn serves one connection of a listener described by ep (from NewEndpoint). It takes
// ownership of nc.
func (h *Handler) ServeConnOn(nc net.Conn, ep *Endpoint) {
	c := h.newConn(nc)
	c.ep = ep
	c.rreq.TLS = ep.TLS
	c.certChecked = false // a pooled conn remembers its last connection's certificate
	h.mu.Lock()
	if h.draining.Load() {
		h.mu.Unlock()
		c.close()
		return
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	c.serve()
	// Out of the set before close recycles c, so that Shutdown never kicks a recycled conn.
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	if c.toH2 {
		// The connection speaks HTTP/2: it goes on as a session, with what c read of it.
		nc, ep, buffered := c.nc, c.ep, bytes.Clone(c.in.Buffered())
		c.detach()
		h.serveH2(nc, ep, buffered)
	} else {
		c.close()
	}
	h.wg.Done()
}

// Active is the number of open client connections, HTTP/1.1 and HTTP/2.
func (h *Handler) Active() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns) + len(h.sessions)
}

// Draining reports whether Shutdown has begun.
func (h *Handler) Draining() bool { return h.draining.Load() }

// Shutdown stops keeping connections alive: idle ones are closed now, busy ones after their current
// response. It returns when every connection has closed, or closes the rest when ctx ends.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining.Store(true)
	for c := range h.conns {
		if c.idle.Load() {
			c.kick()
		}
	}
	for s := range h.sessions {
		s.shutdown()
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			h.mu.Lock()
			for c := range h.conns {
				c.abort()
			}
			for s := range h.sessions {
				s.abort()
			}
			h.mu.Unlock()
			<-done
			return ctx.Err()
		case <-tick.C:
			// A connection that was busy when Shutdown began and has gone idle since.
			h.mu.Lock()
			for c := range h.conns {
				if c.idle.Load() {
					c.kick()
				}
			}
			h.mu.Unlock()
		}
	}
}

// forwarding is the X-Forwarded-*/Forwarded policy in force; a reload swaps it.
type forwarding struct {
	mode    ForwardedMode
	trusted []netip.Prefix
}

// SetForwarded swaps the forwarding policy; requests already being forwarded keep the old one.
func (h *Handler) SetForwarded(mode ForwardedMode, trusted []netip.Prefix) {
	h.fwd.Store(&forwarding{mode: mode, trusted: trusted})
}

// trusts reports whether ip's incoming forwarding fields are kept.
func (f *forwarding) trusts(ip netip.Addr) bool {
	for _, p := range f.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
