package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/internal/balance"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/reqid"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

const (
	// readBufferSize is a client connection's read buffer; a head that does not fit grows it up to
	// the header limit for that one request.
	readBufferSize = 4 << 10
	// copyBufferSize is the buffer bodies are relayed through beyond what the read buffers hold.
	copyBufferSize = 64 << 10
)

// bufPools hold the byte slices that live only for one request.
type bufPool struct{ p sync.Pool }

func (b *bufPool) get(size int) *[]byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return v
	}
	s := make([]byte, 0, size)
	return &s
}

func (b *bufPool) put(s *[]byte) {
	*s = (*s)[:0]
	b.p.Put(s)
}

var (
	headBufs bufPool // heads being written, 4 KiB to start
	copyBufs bufPool // body relay buffers, copyBufferSize
)

// conn is one client connection and the state of the request it is serving.
type conn struct {
	h     *Handler
	nc    net.Conn
	dl    *watchdog.Deadline // &dlOwn
	dlOwn watchdog.Deadline
	in    h1.Reader

	// idle is set while the connection waits for a request with nothing buffered: Shutdown closes
	// such connections at once.
	idle atomic.Bool
	// up is the backend connection in use, for abort.
	up atomic.Pointer[upstream.Conn]
	// gone is set when the client went away while a backend was being asked (an HTTP/2 stream
	// reset): the backend's failure that follows is ours, not the backend's.
	gone     atomic.Bool
	goneHook func() // c.clientGone, made once per pooled conn
	// checkHook is c.checkClient, made once per pooled conn; nil until the conn first serves a
	// socket. checked tells whether the current client is a socket the watchdog checks.
	checkHook func()
	checked   bool

	clientAddr []byte // "ip:port" for the log
	clientIP   []byte // for X-Forwarded-For
	clientIPv6 bool
	fwd        *forwarding // the forwarding policy of the current request
	ep         *Endpoint   // the listener's settings

	// The verified client certificate, read once per connection.
	certChecked     bool
	certSubject     []byte
	certFingerprint []byte

	req      h1.Request
	resp     *h1.Response // the response being relayed, owned by its upstream connection
	trailers []h1.Field
	head     *[]byte // the head being written, from headBufs
	body     *[]byte // a small request body read whole, from copyBufs
	bufs     net.Buffers
	vec      [2][]byte

	rreq router.Request  // the request as the router sees it
	pick balance.Request // the request as the balancer sees it

	// per request
	route      *router.Route
	backend    *upstream.Backend // the backend of the last try, nil for a local answer
	retries    int               // retries made (not counting a resend on a fresh connection)
	retryTo    *upstream.Backend // the backend mayRetry picked for the next try
	idempotent bool
	start      time.Time
	status     int
	bytesIn    int64
	bytesOut   int64
	upstream   []byte
	bodyDone   bool   // the request body has been read whole
	isHead     bool   // the request is a HEAD: answers carry no body
	rejected   bool   // the last head was rejected: the connection lingers before it closes
	toH2       bool   // the connection speaks HTTP/2: serveH2 takes it over
	id         []byte // X-Request-Id
	logMeta    []byte // method, host and path, copied for the log
	logLens    [3]int
}

// newConn takes a conn from the pool, with its buffers, and binds it to nc.
func (h *Handler) newConn(nc net.Conn) *conn {
	c, _ := h.connPool.Get().(*conn)
	if c == nil {
		c = &conn{h: h}
		c.in.Buf = make([]byte, readBufferSize)
		c.req.Fields = make([]h1.Field, 0, 16)
		c.id = make([]byte, 0, 128)
		c.clientAddr = make([]byte, 0, 64)
		c.clientIP = make([]byte, 0, 48)
	}
	c.nc = nc
	c.in.Src = nc
	// A client socket is checked while it waits on a backend (checkClient); an HTTP/2 stream says
	// itself when its client goes (SetFailHook).
	var check func()
	if c.checked = isSocket(nc); c.checked {
		if c.checkHook == nil {
			c.checkHook = c.checkClient
		}
		check = c.checkHook
	}
	h.opts.Watchdog.WatchChecked(&c.dlOwn, nc, check)
	c.dl = &c.dlOwn
	c.clientAddr, c.clientIP = c.clientAddr[:0], c.clientIP[:0]
	var ap netip.AddrPort
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		ap = ta.AddrPort()
	}
	if ip := ap.Addr().Unmap(); ip.IsValid() {
		c.clientAddr = netip.AddrPortFrom(ip, ap.Port()).AppendTo(c.clientAddr)
		c.clientIP = ip.AppendTo(c.clientIP)
		c.clientIPv6 = ip.Is6()
		c.rreq.ClientIP = ip
	} else {
		c.clientAddr = append(c.clientAddr, nc.RemoteAddr().String()...)
		c.clientIP = append(c.clientIP, c.clientAddr...)
		c.clientIPv6 = false
		c.rreq.ClientIP = netip.Addr{}
	}
	return c
}

// close closes the connection and returns the conn to the pool.
func (c *conn) close() {
	c.dl.Unregister()
	c.nc.Close()
	c.releaseHead()
	c.releaseBody()
	if len(c.in.Buf) != readBufferSize {
		c.in.Buf = make([]byte, readBufferSize)
	}
	c.in.R, c.in.W, c.in.Src = 0, 0, nil
	c.nc, c.dl, c.route, c.upstream, c.backend, c.retryTo = nil, nil, nil, nil, nil, nil
	c.rreq.Method, c.rreq.Host, c.rreq.Target, c.rreq.Fields = nil, nil, nil, nil
	clear(c.pick.Tried[:cap(c.pick.Tried)])
	c.pick.Tried, c.pick.Key, c.pick.Sticky = c.pick.Tried[:0], nil, nil
	c.req.Reset()
	c.resp = nil
	c.trailers = c.trailers[:0]
	c.idle.Store(false)
	c.gone.Store(false)
	c.rejected = false
	c.h.connPool.Put(c)
}

// detach returns the conn to the pool without closing its connection, which the caller now owns:
// for a connection handed over to HTTP/2.
func (c *conn) detach() {
	c.toH2 = false
	c.nc = noConn{}
	c.close()
}

// noConn stands in for a connection handed over elsewhere, so that close has nothing to close.
type noConn struct{ net.Conn }

func (noConn) Close() error { return nil }

// kick interrupts an idle connection's wait for a request. Only for shutdown.
func (c *conn) kick() { _ = c.nc.SetReadDeadline(time.Unix(1, 0)) }

// abort closes the connection and the backend connection it is using, wherever its goroutine is
// blocked: for a shutdown whose drain time is up. The goroutine then finds its sockets closed and
// cleans up as after any failure.
func (c *conn) abort() {
	closeNow(c.nc)
	if up := c.up.Load(); up != nil {
		closeNow(up.Conn)
	}
}

// clientGone is called when the client gave up on the request (its HTTP/2 stream was reset, or
// checkClient found its connection closed):
// the backend connection the request waits on is closed, so that the wait ends now instead of at
// the backend's timeout. It may run on another goroutine, and must not block.
func (c *conn) clientGone() {
	c.gone.Store(true)
	if up := c.up.Load(); up != nil {
		closeNow(up.Conn)
	}
}

// clientCheckEvery is how often a client is checked while its request waits on a backend: a
// request answered within it costs two atomic stores and no probe.
const clientCheckEvery = time.Second

// checkClient runs on the watchdog's goroutine, every clientCheckEvery while a request waits on its
// backend (its head or its body): a client that closed its connection gave up the request, which
// ends it now (clientGone: the backend connection closes, the log says 499) rather than at the
// backend's timeout, as nginx does. A client that only half-closed after its request counts as
// gone too, as in nginx. It runs under the watchdog's lock, so c.nc is this client's.
func (c *conn) checkClient() {
	if c.dlOwn.Checking() && clientClosed(c.nc) && c.dlOwn.Checking() {
		c.clientGone()
	}
}

// isSocket reports whether nc is a TCP connection, or TLS over one: what clientClosed can peek at.
func isSocket(nc net.Conn) bool {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	_, ok := nc.(*net.TCPConn)
	return ok
}

// closeNow closes a connection without a TLS close_notify, which could block on a peer that does
// not read: the socket underneath is closed.
func closeNow(nc net.Conn) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	_ = nc.Close()
}

func (c *conn) serve() {
	first := true
	for {
		if !c.readHead(first) {
			if c.rejected {
				c.lingerClose()
			}
			return
		}
		first = false
		keep := c.handle()
		c.log()
		if !keep || c.h.draining.Load() {
			if c.in.Len() > 0 || !c.bodyDone {
				// Input is left unread: pipelined requests after a closing one, or a body not read.
				c.lingerClose()
			}
			return
		}
		if len(c.in.Buf) > readBufferSize && c.in.Len() <= readBufferSize {
			// Give back the grown buffer of a large head.
			nb := make([]byte, readBufferSize)
			c.in.W = copy(nb, c.in.Buffered())
			c.in.R = 0
			c.in.Buf = nb
		}
	}
}

// readHead reads and parses the next request head. It reports false when the connection is to close;
// it has then answered the client if there was anything to answer.
func (c *conn) readHead(first bool) bool {
	c.req.Reset()
	t := c.h.opts.Timeouts
	armedHeader := first || c.in.Len() > 0
	if armedHeader {
		c.dl.Set(t.ClientHeader)
	} else {
		c.dl.Set(t.KeepAliveIdle)
	}
	sniff := first && c.ep.sniffs()
	for {
		if c.in.Len() > 0 && sniff {
			switch yes, more := c.wantsH2(); {
			case yes:
				c.idle.Store(false)
				c.toH2 = true
				c.dl.Clear()
				return false
			case !more && c.ep.NoH1:
				return false // neither HTTP/2 nor allowed HTTP/1.1: close
			case !more:
				sniff = false
			}
		}
		if c.in.Len() > 0 && !sniff {
			c.idle.Store(false)
			if err := h1.ParseRequest(c.in.Buffered(), &c.req, &c.h.opts.Limits); err != nil {
				c.reject(err)
				return false
			}
			if c.req.HeadLen > 0 {
				// The head is in: from here each wait on the client arms its own deadline, and
				// none runs while the request waits on a backend.
				return c.dl.Clear()
			}
			if !armedHeader {
				// The head has begun: from now on it must arrive whole within the header timeout.
				armedHeader = true
				c.dl.Set(t.ClientHeader)
			}
			if c.in.W == len(c.in.Buf) && c.in.R == 0 {
				c.in.Grow(c.h.opts.Limits.MaxHeaderBytes + 2*maxLeadingCRLFBytes)
			}
		} else {
			c.idle.Store(true)
			if c.h.draining.Load() {
				return false
			}
		}
		if _, err := c.in.Fill(); err != nil {
			c.idle.Store(false)
			if c.in.Len() > 0 && isTimeout(err) {
				c.startRejected(408)
				c.writeErrorNow(408)
				c.log()
			}
			c.plainOnTLS(err)
			return false
		}
	}
}

// plainOnTLS answers a client that spoke plain HTTP to a TLS listener, as nginx does, so that the
// mistake shows in a browser or curl instead of as a closed connection.
func (c *conn) plainOnTLS(err error) {
	if _, ok := c.nc.(*tls.Conn); !ok || err == io.EOF {
		return // not TLS (an HTTP/2 stream, say), or a clean end: no allocation for errors.As
	}
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) || rh.Conn == nil || !looksLikeHTTP(rh.RecordHeader[:]) {
		return
	}
	_ = rh.Conn.SetWriteDeadline(time.Now().Add(c.h.opts.Timeouts.ClientWriteIdle))
	_, _ = io.WriteString(rh.Conn, plainOnTLSAnswer)
}

const plainOnTLSAnswer = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\nContent-Length: 50\r\n\r\n400 Bad Request: plain HTTP sent to an HTTPS port\n"

// looksLikeHTTP reports whether the first bytes of a TLS record are an HTTP method instead.
func looksLikeHTTP(b []byte) bool {
	for _, m := range []string{"GET ", "POST ", "PUT ", "HEAD ", "DELETE", "OPTIONS", "PATCH", "CONNECT"} {
		if len(b) >= 5 && strings.HasPrefix(m, string(b[:min(len(b), len(m))])) {
			return true
		}
	}
	return false
}

const maxLeadingCRLFBytes = 8

// reject answers a request whose head could not be accepted, and logs it.
func (c *conn) reject(err error) {
	status := 400
	var e *h1.Error
	if errors.As(err, &e) {
		status = e.Status
	}
	c.startRejected(status)
	c.writeErrorNow(status)
	c.log()
	c.rejected = true
}

// lingerClose ends a connection whose client may still be sending (RFC 9112 §9.6): closing a
// socket with unread input makes the kernel send a reset, which destroys the answers not yet
// delivered. So the write side is shut first, and the input read and dropped until the client
// closes, for at most lingerTime and lingerBytes.
func (c *conn) lingerClose() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.dl.Clear()
	if c.nc.SetReadDeadline(time.Now().Add(lingerTime)) != nil {
		return
	}
	for total := 0; total < lingerBytes; {
		n, err := c.nc.Read(c.in.Buf)
		total += n
		if err != nil {
			return
		}
	}
}

// How long and how much lingerClose reads before it gives up on the client.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 1 << 20
)

// startRejected sets up the per-request state of a request that is answered before it was parsed
// whole: rejected, or timed out.
func (c *conn) startRejected(status int) {
	c.start = c.h.opts.Clock()
	c.status = status
	c.bytesIn, c.bytesOut = int64(c.in.Len()), 0
	c.route, c.upstream, c.backend, c.isHead = nil, nil, nil, false
	c.id = c.h.opts.IDs.Append(c.id[:0])
	c.logMeta = c.logMeta[:0]
	c.logLens = [3]int{}
}

// writeErrorNow writes an error response on a connection that will close, bounded by the write
// timeout even if the read deadline has fired.
func (c *conn) writeErrorNow(status int) {
	_ = c.nc.SetDeadline(time.Time{})
	c.dl.Set(c.h.opts.Timeouts.ClientWriteIdle)
	c.writeError(status, true)
}

// handle serves one parsed request and reports whether the connection stays open.
func (c *conn) handle() bool {
	req := &c.req
	c.start = c.h.opts.Clock()
	c.status, c.bytesIn, c.bytesOut, c.upstream, c.backend = 0, int64(req.HeadLen), 0, nil, nil
	c.bodyDone = !req.HasBody()
	// Kept: req's bytes may be overwritten by a streamed body.
	c.isHead = req.IsMethod("HEAD")
	c.idempotent = req.Idempotent()
	c.fwd = c.h.fwd.Load()
	c.setID()
	if c.h.opts.Log != nil {
		c.keepLogMeta()
	}
	rr := &c.rreq
	rr.Method, rr.Host, rr.Target, rr.Fields = req.Method, req.Host, req.Path, req.Fields
	if keep, answered := c.acmeChallenge(); answered {
		return keep
	}
	if c.ep.redirect != nil {
		// A plain listener that only sends clients to https.
		c.route = c.ep.redirect.Match(rr)
		return c.localAnswer(308, nil)
	}
	rt := c.h.table.Load().Match(rr)
	c.route = rt
	if rt == nil {
		return c.localAnswer(404, nil)
	}
	if rt.RequireClientCert && !c.hasClientCert() {
		return c.localAnswer(403, nil)
	}
	if req.ContentLength > rt.MaxBody {
		c.in.Consume(req.HeadLen)
		c.status = 413
		c.writeError(413, true)
		return false
	}
	switch {
	case rt.Fixed != nil:
		return c.localAnswer(rt.Fixed.Status, rt.Fixed)
	case rt.Redirect != nil:
		return c.localAnswer(rt.Redirect.Status, nil)
	}
	return c.forward(rt)
}

// setID picks the request id: the client's if it is well-formed, else a new one.
func (c *conn) setID() {
	for i := range c.req.Fields {
		f := &c.req.Fields[i]
		if f.ID == h1.XRequestID && reqid.Valid(f.Value) {
			c.id = append(c.id[:0], f.Value...)
			return
		}
	}
	c.id = c.h.opts.IDs.Append(c.id[:0])
}

func (c *conn) keepLogMeta() {
	r := &c.req
	c.logMeta = append(append(append(c.logMeta[:0], r.Method...), r.Host...), r.Target...)
	c.logLens = [3]int{len(r.Method), len(r.Host), len(r.Target)}
}

// localAnswer answers from gatehouse itself: a fixed response, or an error when fixed is nil. A
// request body is skipped when it is already buffered whole; otherwise the connection closes after
// the answer, so that the body's bytes are never read as a request.
func (c *conn) localAnswer(status int, fixed *router.Fixed) bool {
	req := &c.req
	isHead := c.isHead
	keep := req.KeepAlive
	c.in.Consume(req.HeadLen)
	if req.Chunked {
		keep = false
	} else if req.ContentLength > 0 {
		if int64(c.in.Len()) >= req.ContentLength {
			c.in.Consume(int(req.ContentLength))
			c.bytesIn += req.ContentLength
		} else {
			keep = false
		}
	}
	c.status = status
	rt := c.route
	redirect := rt != nil && rt.Redirect != nil
	if fixed == nil && !redirect {
		return c.writeError(status, !keep) && keep
	}
	b := c.headBuf()
	// A local answer always comes from its route, whose response header changes apply to it as to
	// a backend's answer: the fields it removes or sets are left out, then its Set and Add fields
	// are written (AppendSet writes both).
	ops := &rt.Response
	if redirect {
		b = router.AppendStatusLine(b, status)
		if !ops.Removes("location") {
			b = append(b, "Location: "...)
			b = rt.Redirect.AppendLocation(b, &c.rreq)
			b = append(b, "\r\n"...)
		}
		b = append(b, "Content-Length: 0\r\n"...)
	} else if len(ops.Drop) == 0 {
		b = append(b, fixed.Head...)
	} else {
		b = appendFixedHead(b, fixed.Head, ops)
	}
	b = ops.AppendSet(b)
	b = append(b, c.ep.hsts...)
	b = appendConnection(b, keep, req.Minor)
	b = append(b, "\r\n"...)
	if !isHead && !redirect {
		b = append(b, fixed.Body...)
	}
	*c.head = b
	ok := c.writeClient(b)
	c.releaseHead()
	return ok && keep
}

func appendConnection(b []byte, keep bool, minor uint8) []byte {
	if !keep {
		return append(b, "Connection: close\r\n"...)
	}
	if minor == 0 {
		return append(b, "Connection: keep-alive\r\n"...)
	}
	return b
}

// writeError writes a small plain-text error response. It reports whether the write succeeded.
func (c *conn) writeError(status int, closing bool) bool {
	b := c.headBuf()
	b = router.AppendStatusLine(b, status)
	text := router.StatusText(status)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(text)+5), 10)
	b = append(b, "\r\nDate: "...)
	b = c.h.opts.Clock().UTC().AppendFormat(b, httpDate)
	b = append(b, "\r\n"...)
	b = append(b, c.ep.hsts...)
	b = appendConnection(b, !closing, c.req.Minor)
	b = append(b, "\r\n"...)
	if !c.isHead {
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, ' ')
		b = append(b, text...)
		b = append(b, '\n')
	}
	*c.head = b
	ok := c.writeClient(b)
	c.releaseHead()
	return ok
}

const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// headBuf returns the pooled head buffer, emptied.
func (c *conn) headBuf() []byte {
	if c.head == nil {
		c.head = headBufs.get(4 << 10)
	}
	return (*c.head)[:0]
}

func (c *conn) releaseHead() {
	if c.head != nil {
		headBufs.put(c.head)
		c.head = nil
	}
}

// writeClient writes b to the client within the write timeout.
func (c *conn) writeClient(b []byte) bool {
	c.dl.Set(c.h.opts.Timeouts.ClientWriteIdle)
	n, err := c.nc.Write(b)
	c.dl.Clear()
	c.bytesOut += int64(n)
	return err == nil
}

// writeClient2 writes a then b to the client in one system call where the connection allows it.
func (c *conn) writeClient2(a, b []byte) bool {
	if len(b) == 0 {
		return c.writeClient(a)
	}
	c.dl.Set(c.h.opts.Timeouts.ClientWriteIdle)
	n, err := c.writev(c.nc, a, b)
	c.dl.Clear()
	c.bytesOut += n
	return err == nil
}

// writev writes a then b to w with one writev(2) where w allows it. The buffers live in the conn,
// so that net.Buffers does not escape and allocate on every call.
func (c *conn) writev(w net.Conn, a, b []byte) (int64, error) {
	c.vec[0], c.vec[1] = a, b
	c.bufs = c.vec[:]
	n, err := c.bufs.WriteTo(w)
	c.vec = [2][]byte{}
	return n, err
}

func (c *conn) log() {
	c.observe()
	l := c.h.opts.Log
	if l == nil {
		return
	}
	m := c.logMeta
	e := accesslog.Entry{
		Time:      c.start,
		Client:    c.clientAddr,
		Method:    m[:c.logLens[0]],
		Host:      m[c.logLens[0] : c.logLens[0]+c.logLens[1]],
		Path:      m[c.logLens[0]+c.logLens[1] : c.logLens[0]+c.logLens[1]+c.logLens[2]],
		Status:    c.status,
		BytesIn:   c.bytesIn,
		BytesOut:  c.bytesOut,
		Duration:  c.h.opts.Clock().Sub(c.start),
		Upstream:  c.upstream,
		RequestID: c.id,
	}
	if c.route != nil {
		e.Route = c.route.NameBytes
	}
	l.Log(&e)
}

// observe counts the request in the metrics: by route, status class and backend.
func (c *conn) observe() {
	m := c.h.noRoute
	if c.route != nil && c.route.Metrics != nil {
		m = c.route.Metrics
	}
	if m != nil {
		m.Observe(c.backend, c.status, c.h.opts.Clock().Sub(c.start), c.bytesIn, c.bytesOut)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
