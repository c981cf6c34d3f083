// Package upstream holds the backends that requests are forwarded to: per-backend pools of kept-alive
// connections, and the pools of backends that routes balance over.
package upstream

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// Settings tune every backend of a pool.
type Settings struct {
	// MaxIdle caps the idle connections kept per backend; 0 keeps none.
	MaxIdle int
	// IdleTimeout closes a connection idle this long.
	IdleTimeout time.Duration
	// ConnectTimeout bounds a TCP connect.
	ConnectTimeout time.Duration
	// ReadBuffer is the size of each connection's read buffer. Default 4 KiB.
	ReadBuffer int
	// TLS, when set, makes the backends https://: each connection runs a TLS handshake after its TCP
	// connect, bounded by Dial's context and by ConnectTimeout. Build it with ClientTLS; its session
	// cache is shared by the backends using it. Default nil: plain TCP.
	TLS *tls.Config
	// HTTP2 makes the backends speak HTTP/2 instead of HTTP/1.1: over TLS with ALPN "h2" (a
	// backend that does not negotiate h2 fails the connect) when TLS is set, else cleartext with
	// prior knowledge (h2c). Requests then go through RoundTripH2, multiplexed on few connections;
	// MaxIdle and ReadBuffer do not apply. Default false: HTTP/1.1.
	HTTP2 bool
}

// staleCheckAfter is the idle time after which a pooled connection is probed before reuse: a backend
// that closed it shows as readable. Connections reused sooner rely on the engine's one retry instead.
const staleCheckAfter = time.Second

// Backend is one server address and its pool of idle connections, most recently used last.
type Backend struct {
	// Addr is host:port.
	Addr string
	// AddrBytes is Addr, for writing into headers and logs without conversion.
	AddrBytes []byte
	// Weight is the backend's relative weight for weighted balancing, at least 1.
	Weight int
	// Backup backends get requests only when no primary backend is available.
	Backup bool
	// State is the health, load and latency state, shared with balancers and health checks.
	State State

	// Health and limits: fields owned by limit.go and outlier.go go here.
	outlier outlierState // passive outlier detection's streaks and ejection level (outlier.go)
	limit   limiter      // concurrency limit and wait queue (limit.go); the zero value is unlimited

	set    Settings
	given  Settings // as passed to NewBackend, before defaults: what Settings returns
	wd     *watchdog.Watchdog
	clock  func() time.Time
	dialer net.Dialer
	tls    *tls.Config  // set.TLS for this backend (ServerName filled in), nil for plain TCP
	open   atomic.Int64 // connections open, idle or busy
	h2     *h2Client    // the HTTP/2 client when set.HTTP2 (h2.go), else nil

	mu     sync.Mutex
	idle   []*Conn
	closed bool
}

// NewBackend returns a backend for addr. wd enforces the deadlines of its connections.
func NewBackend(addr string, set Settings, wd *watchdog.Watchdog, clock func() time.Time) *Backend {
	given := set
	if set.ReadBuffer <= 0 {
		set.ReadBuffer = 4 << 10
	}
	b := &Backend{
		Weight:    1,
		Addr:      addr,
		AddrBytes: []byte(addr),
		set:       set,
		given:     given,
		wd:        wd,
		clock:     clock,
		dialer:    net.Dialer{Timeout: set.ConnectTimeout, KeepAlive: 30 * time.Second},
	}
	if set.TLS != nil {
		b.tls = backendTLS(set.TLS, addr)
	}
	if set.HTTP2 {
		b.h2 = newH2Client(b)
	}
	return b
}

// Conn is a connection to a backend.
type Conn struct {
	net.Conn
	// In buffers what the backend sent.
	In h1.Reader
	// Resp is the response being read; its slices point into In.
	Resp h1.Response
	// DL is the connection's deadline.
	DL *watchdog.Deadline
	// Reused is set when the connection served an earlier request.
	Reused bool
	// Backend is where the connection goes.
	Backend *Backend

	idleSince int64
	closed    bool   // set by Close, which only the owning goroutine calls
	probe     prober // alive's
}

// Get returns an idle connection, most recently used first, or nil when there is none worth using.
// A connection idle for a second or more is probed first (closed by the backend?); probe asks for
// that on any connection, for a request that must not be sent twice.
func (b *Backend) Get(probe bool) *Conn {
	now := b.clock().UnixNano()
	for {
		b.mu.Lock()
		n := len(b.idle)
		if n == 0 {
			b.mu.Unlock()
			return nil
		}
		c := b.idle[n-1]
		b.idle[n-1] = nil
		b.idle = b.idle[:n-1]
		b.mu.Unlock()
		idle := time.Duration(now - c.idleSince)
		if idle >= b.set.IdleTimeout || (probe || idle >= staleCheckAfter) && !c.alive() {
			c.close(true)
			continue
		}
		c.Reused = true
		return c
	}
}

// Dial opens a new connection, and runs its TLS handshake for an https:// backend: ctx bounds
// both. A backend certificate that does not verify fails the dial.
func (b *Backend) Dial(ctx context.Context) (*Conn, error) {
	nc, err := b.dialer.DialContext(ctx, "tcp", b.Addr)
	if err != nil {
		return nil, err
	}
	if b.tls != nil {
		tc, err := b.handshake(ctx, nc)
		if err != nil {
			return nil, err
		}
		nc = tc
	}
	b.open.Add(1)
	c := &Conn{Conn: nc, Backend: b}
	c.In = h1.Reader{Src: nc, Buf: make([]byte, b.set.ReadBuffer)}
	c.Resp.Fields = make([]h1.Field, 0, 16)
	c.DL = b.wd.Register(nc)
	return c, nil
}

// Put returns a connection whose exchange completed cleanly, for reuse. The caller must not use c
// after Put.
func (b *Backend) Put(c *Conn) {
	if !c.DL.Clear() || c.In.Len() != 0 {
		c.Close()
		return
	}
	c.idleSince = b.clock().UnixNano()
	var expired *Conn
	b.mu.Lock()
	if b.closed || len(b.idle) >= b.set.MaxIdle {
		b.mu.Unlock()
		c.close(true)
		return
	}
	// The least recently used connection sits at the bottom; it is the first to pass its idle timeout.
	if len(b.idle) > 0 && time.Duration(c.idleSince-b.idle[0].idleSince) >= b.set.IdleTimeout {
		expired = b.idle[0]
		copy(b.idle, b.idle[1:])
		b.idle[len(b.idle)-1] = nil
		b.idle = b.idle[:len(b.idle)-1]
	}
	b.idle = append(b.idle, c)
	b.mu.Unlock()
	if expired != nil {
		expired.close(true)
	}
}

// Close closes the connection and stops watching it. Only the first call has an effect. A TLS
// connection is closed without a close_notify alert: Close may come mid-exchange, from a backend
// that stopped reading, where crypto/tls would block up to 5 s writing the alert.
func (c *Conn) Close() error { return c.close(false) }

// close is Close; notify sends a TLS connection's close_notify first. Only for idle connections,
// whose send buffer is empty: the alert cannot block.
func (c *Conn) close(notify bool) error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.DL.Unregister()
	c.Backend.open.Add(-1)
	if tc, ok := c.Conn.(*tls.Conn); ok && !notify {
		return tc.NetConn().Close()
	}
	return c.Conn.Close()
}

// Idle is the number of idle pooled connections.
func (b *Backend) Idle() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.idle)
}

// Open is the number of open connections, idle or busy.
func (b *Backend) Open() int64 { return b.open.Load() }

// Reap closes idle connections past their idle timeout.
func (b *Backend) Reap() {
	now := b.clock().UnixNano()
	var old []*Conn
	b.mu.Lock()
	i := 0
	for i < len(b.idle) && time.Duration(now-b.idle[i].idleSince) >= b.set.IdleTimeout {
		i++
	}
	if i > 0 {
		old = append(old, b.idle[:i]...)
		n := copy(b.idle, b.idle[i:])
		clear(b.idle[n:])
		b.idle = b.idle[:n]
	}
	b.mu.Unlock()
	for _, c := range old {
		c.close(true)
	}
}

// CloseIdle closes every idle connection and keeps none from now on. An HTTP/2 backend's
// connections close as their last stream ends.
func (b *Backend) CloseIdle() {
	b.mu.Lock()
	idle := b.idle
	b.idle = nil
	b.closed = true
	b.mu.Unlock()
	for _, c := range idle {
		c.close(true)
	}
	if b.h2 != nil {
		b.h2.t.CloseIdleConnections()
	}
}

// isClosed reports whether CloseIdle was called.
func (b *Backend) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
