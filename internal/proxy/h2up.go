package proxy

// HTTP/2 to backends (upstreams with protocol h2). The client side stays the engine's: the request
// arrived as HTTP/1.1 (from a client, or from the HTTP/2 front end's stream), is rewritten for the
// backend exactly as for an HTTP/1.1 backend (appendRequestHead), and becomes one stream on the
// backend's multiplexed HTTP/2 connections (upstream.Backend.RoundTripH2). The answer is rewritten
// by the engine's response rules (appendResponseHead) and relayed as it comes, each read flushed
// at once so that streaming calls (gRPC) see every message; without a Content-Length, or with
// trailers announced, it is chunked, and the backend's trailers become the chunked trailer section.
//
// Unlike an HTTP/1.1 try, a streamed request body is read from the client by the HTTP/2
// transport's goroutine while this one relays the response (a bidirectional gRPC call needs
// both at once): h2ReqBody owns the client's read side until finish has stopped it.
//
// The files: h2up.go (the try, the request, failures), h2up_body.go (the request body),
// h2up_relay.go (the response).

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// Why an HTTP/2 try's context was cancelled by gatehouse itself.
const (
	whyNone   uint32 = iota
	whyHead          // no response head within upstream_header (or the per-try timeout)
	whyStall         // the backend took no request body for upstream_body_idle
	whyIdle          // the response body was idle for upstream_body_idle
	whyClient        // the client went away, or the connection was aborted (shutdown)
)

// streamConn is a client connection that knows when its client is gone, as an HTTP/2 front end's
// stream may: its context ends when the client resets the stream or the connection is lost, and
// that cancels the backend's stream. Plain TCP and TLS client connections are checked by the
// watchdog instead while the answer is awaited (checkClient).
type streamConn interface {
	Context() context.Context
}

// h2call is one HTTP/2 try: its context, its timers and the goroutines reading the client.
type h2call struct {
	c      *conn
	a      *attempt // &att
	att    attempt
	be     *upstream.Backend
	ctx    context.Context
	cancel context.CancelFunc
	why    atomic.Uint32 // the first whyXxx that cancelled ctx
	start  time.Time     // when the request went to the transport

	body *h2ReqBody     // the streamed request body; nil when there is none or it was buffered
	resp *http.Response // the backend's answer, once its head is in
	head h1.Response    // resp's head in HTTP/1.1 terms, for the engine's response rewriting

	// idle bounds each read of the response body; the engine's goroutine alone arms it.
	idle *time.Timer

	mu       sync.Mutex // guards what follows, shared with the transport's goroutine
	finished bool       // finish has begun: nothing new starts
	headIn   bool       // RoundTrip returned: the head timer is off for good
	sent     time.Time  // when the request was complete, for the backend's latency
	headT    *time.Timer
	stallT   *time.Timer
	checking bool // the client is checked (Deadline.Check) until finish
}

// tryH2 is try for a backend spoken to over HTTP/2.
func (c *conn) tryH2(rt *router.Route, be *upstream.Backend, a *attempt) outcome {
	x := &h2call{c: c, be: be, att: *a}
	x.a = &x.att // a copy: the caller's attempt must not escape to the heap (the HTTP/1.1 path's)
	out := x.run(rt)
	x.finish()
	*a = x.att
	return out
}

// run sends the request and relays the answer. Whatever it returns, finish must follow.
func (x *h2call) run(rt *router.Route) outcome {
	c, a := x.c, x.a
	isHead, minor := c.isHead, c.req.Minor
	parent := context.Background()
	if sc, ok := c.nc.(streamConn); ok {
		parent = sc.Context()
	}
	x.ctx, x.cancel = context.WithCancel(parent)
	// abort (shutdown out of time) closes c.up's connection: for this try, a stand-in that
	// cancels the stream wherever this goroutine waits.
	c.up.Store(&upstream.Conn{Conn: h2Abort{x}})
	defer c.up.Store(nil)

	req, err := c.h2Request(x.ctx, rt, x.be)
	if err != nil {
		c.h.opts.Errorf("backend %s: %v", x.be.Addr, err)
		a.status = 502
		return failed
	}
	a.replayable = c.bodyDone
	switch {
	case c.body != nil:
		// Buffered whole: the transport may send it again on another connection (GOAWAY,
		// refused stream) and may still be reading it after this try, so it gets its own copy.
		b := bytes.Clone(*c.body)
		req.ContentLength = int64(len(b))
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	case c.bodyDone:
		req.ContentLength = 0
	default:
		if c.req.ExpectContinue {
			if !c.writeClient(continue100) {
				c.status = 499
				return aborted
			}
			c.req.ExpectContinue = false // sent: a try on another backend does not send it again
		}
		x.body = newH2ReqBody(c, rt, x)
		req.Body = x.body
		req.ContentLength = c.req.ContentLength
		if c.req.Chunked {
			req.ContentLength = -1
			// Filled when the last chunk arrives, before EOF. The names the client announced are
			// announced to the backend (HTTP/2 servers may keep only announced trailers).
			req.Trailer = x.body.trailer
			c.announceTrailers(rt, req.Trailer)
		}
		// The body's reads reuse the buffer the request head is in, while this goroutine may
		// still look at the sticky cookie (appendResponseHead).
		c.pick.Sticky = bytes.Clone(c.pick.Sticky)
	}
	x.start = c.h.opts.Clock()
	// The head is awaited, and the client checked, once the transport has written the whole
	// request: the body's last bytes may wait on the backend's flow control after its last read.
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { x.requestSent() },
	}))
	resp, err := x.be.RoundTripH2(req)
	x.mu.Lock()
	x.headIn = true
	if x.headT != nil {
		x.headT.Stop()
	}
	if x.stallT != nil {
		// After the head, a backend that takes no more of the body is judged by its answer.
		x.stallT.Stop()
	}
	sent := x.sent
	x.mu.Unlock()
	if err != nil {
		return x.failed(err)
	}
	x.resp = resp
	a.reached = true
	now := c.h.opts.Clock()
	if sent.IsZero() {
		sent = x.start
	}
	x.be.State.ObserveLatency(now.Sub(sent), now.UnixNano())
	svc := c.route.Service
	if svc.Retry.OnStatus(resp.StatusCode) && c.mayRetry(svc, a) {
		// A retryable answer and a retry allowed: drop it and try another backend.
		a.status, a.retried = resp.StatusCode, true
		return nextBackend
	}
	return x.relay(isHead, minor)
}

// failed turns a RoundTrip error (no response head) into the try's outcome.
func (x *h2call) failed(err error) outcome {
	c, a := x.c, x.a
	if out, ok := x.clientFailed(false); ok {
		return out
	}
	switch x.reason() {
	case whyClient:
		c.status = 499
		return aborted
	case whyHead:
		a.reached, a.status, a.broken = true, 504, true
		return nextBackend
	case whyStall:
		// The backend stopped taking the body: as for an HTTP/1.1 backend that stopped reading.
		a.reached, a.status, a.broken = true, 502, true
		return failed
	}
	if ce, ok := errors.AsType[*upstream.ConnectError](err); ok {
		// Nothing reached the backend, and the transport reads no body before it has a
		// connection; should it have, the body cannot go to another backend.
		a.reached = x.body != nil && x.body.began()
		a.status, a.broken = 502, true
		if isTimeout(ce.Err) {
			a.status = 504
		}
		c.h.opts.Errorf("backend %s: connect: %v", x.be.Addr, ce.Err)
		return nextBackend
	}
	a.reached, a.status, a.broken = true, 502, true
	c.h.opts.Errorf("backend %s: %v", x.be.Addr, err)
	return nextBackend
}

// clientFailed answers for a request body that failed on the client's side: too large, malformed,
// too slow, or the client gone; headSent says the answer has begun, so that only the status is
// recorded. It reports false when the body did not fail.
func (x *h2call) clientFailed(headSent bool) (outcome, bool) {
	if x.body == nil {
		return 0, false
	}
	x.body.stop()
	err := x.body.failure()
	if err == nil {
		return 0, false
	}
	c, a := x.c, x.a
	switch {
	case headSent:
		return aborted, true
	case errors.Is(err, errTooLarge):
		a.status = 413
		return failed, true
	case errors.Is(err, errProtocol):
		a.status = 400
		return failed, true
	case isTimeout(err):
		c.status = 408
		c.writeErrorNow(408)
		return aborted, true
	}
	c.status = 499 // the client went away
	return aborted, true
}

// finish ends the try: the stream (reset unless it ended), the timers, and every goroutine reading
// the client, so that the connection is this goroutine's alone again. It records what the body
// reads added to the request.
func (x *h2call) finish() {
	x.mu.Lock()
	x.finished = true
	for _, t := range []*time.Timer{x.headT, x.stallT, x.idle} {
		if t != nil {
			t.Stop()
		}
	}
	checking := x.checking
	x.mu.Unlock()
	if x.cancel != nil {
		x.cancel()
	}
	c := x.c
	if x.body != nil {
		x.body.stop()
		c.bytesIn += x.body.read
		c.bodyDone = x.body.isDone()
		if !c.bodyDone {
			x.a.keep = false // the rest of the body is unread: the connection cannot serve another request
		}
	}
	if checking {
		c.dl.Uncheck()
	}
	if x.resp != nil {
		_ = x.resp.Body.Close()
	}
	if c.resp == &x.head {
		c.resp = nil
	}
}

// requestSent records that the transport has written the whole request: the response head is now
// awaited within the header timeout, and the client is checked. Called from the transport's
// goroutine.
func (x *h2call) requestSent() {
	c := x.c
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.stallT != nil {
		x.stallT.Stop()
	}
	if x.finished || x.headIn {
		return
	}
	x.sent = c.h.opts.Clock()
	wait := c.h.opts.Timeouts.UpstreamHeader
	if pt := c.route.Service.Retry.PerTryTimeout; pt > 0 && pt < wait {
		wait = pt
	}
	x.headT = time.AfterFunc(wait, func() { x.fire(whyHead) })
	if c.checked && (x.body == nil || x.body.isDone()) {
		// Not while a body cut short (the answer came first) may still be being stopped. A
		// client found gone closes c.up, whose stand-in cancels the stream (h2Abort).
		c.dl.Check(clientCheckEvery)
		x.checking = true
	}
}

// armStall starts the clock on a backend that takes no more of the request body: the transport has
// the bytes of a read (or the end of the body) to send; stopStall stops it when the transport reads
// again, requestSent when the request is written. Called from the transport's goroutine.
func (x *h2call) armStall() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.finished || x.headIn {
		return
	}
	d := x.c.h.opts.Timeouts.UpstreamBodyIdle
	if x.stallT == nil {
		x.stallT = time.AfterFunc(d, func() { x.fire(whyStall) })
	} else {
		x.stallT.Reset(d)
	}
}

func (x *h2call) stopStall() {
	x.mu.Lock()
	if x.stallT != nil {
		x.stallT.Stop()
	}
	x.mu.Unlock()
}

// reason is why the try's context ended: the whyXxx gatehouse gave, or whyClient when the client
// connection's own context (streamConn) ended it.
func (x *h2call) reason() uint32 {
	why := x.why.Load()
	if why == whyNone && x.ctx.Err() != nil {
		return whyClient // gatehouse cancels only through fire, until finish
	}
	return why
}

// fire cancels the stream for why, unless something cancelled it already.
func (x *h2call) fire(why uint32) {
	if x.why.CompareAndSwap(whyNone, why) {
		x.cancel()
	}
}

// h2Abort stands in c.up for an HTTP/2 try: abort's Close cancels the stream.
type h2Abort struct{ x *h2call }

var _ net.Conn = h2Abort{}

// Close cancels the try's stream. The other net.Conn methods are never called.
func (a h2Abort) Close() error {
	a.x.fire(whyClient)
	return nil
}

// The rest of net.Conn, which abort never calls.
func (h2Abort) Read([]byte) (int, error)         { return 0, errH2Abort }
func (h2Abort) Write([]byte) (int, error)        { return 0, errH2Abort }
func (h2Abort) LocalAddr() net.Addr              { return nil }
func (h2Abort) RemoteAddr() net.Addr             { return nil }
func (h2Abort) SetDeadline(time.Time) error      { return errH2Abort }
func (h2Abort) SetReadDeadline(time.Time) error  { return errH2Abort }
func (h2Abort) SetWriteDeadline(time.Time) error { return errH2Abort }

var errH2Abort = errors.New("an HTTP/2 try has no connection of its own")

// h2Request builds the request sent to an HTTP/2 backend: the head appendRequestHead writes for an
// HTTP/1.1 backend (route, forwarding and hop-by-hop rules alike), read back into an http.Request.
// TE is hop-by-hop in HTTP/1.1 and so not in that head; HTTP/2 allows "te: trailers", which gRPC
// requires, so it is passed when the client's TE lists trailers. A request without User-Agent gets
// none (not Go's). The body is the caller's.
func (c *conn) h2Request(ctx context.Context, rt *router.Route, be *upstream.Backend) (*http.Request, error) {
	trailers := c.acceptsTrailers()
	head := c.appendRequestHead(c.headBuf(), rt, be)
	*c.head = head
	fields := h2Fields.Get().(*[]h1.Field)
	defer func() {
		clear((*fields)[:cap(*fields)])
		h2Fields.Put(fields)
	}()
	pr := h1.Request{Fields: (*fields)[:0]}
	// Our own head: limits only as wide as it is.
	lim := h1.Limits{MaxRequestLine: len(head), MaxHeaderBytes: len(head), MaxHeaderCount: bytes.Count(head, []byte{'\n'})}
	if err := h1.ParseRequest(head, &pr, &lim); err != nil || pr.HeadLen == 0 {
		return nil, errors.Join(errors.New("the request head for an HTTP/2 backend does not parse"), err)
	}
	*fields = pr.Fields // keep what ParseRequest grew
	h := make(http.Header, len(pr.Fields)+2)
	for i := range pr.Fields {
		f := &pr.Fields[i]
		if f.Hop || f.ID == h1.Host || f.ID == h1.ContentLength || f.ID == h1.TransferEncoding {
			continue
		}
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		h[k] = append(h[k], string(f.Value))
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // the transport adds Go's unless told there is none
	}
	if trailers {
		h["Te"] = []string{"trailers"}
	}
	u := &url.URL{}
	path, query, hasQuery := bytes.Cut(pr.Path, []byte{'?'})
	if len(path) == 0 || path[0] != '/' && string(path) != "*" {
		path = append([]byte{'/'}, path...)
	}
	if bytes.HasPrefix(path, []byte("//")) {
		// An opaque "//x" would read as a scheme-relative URL: give the decoded path and its
		// exact encoding instead.
		raw := string(path)
		dec, err := url.PathUnescape(raw)
		if err != nil {
			return nil, err
		}
		u.Path, u.RawPath = dec, raw
	} else {
		u.Opaque = string(path)
	}
	u.RawQuery, u.ForceQuery = string(query), hasQuery && len(query) == 0
	req := (&http.Request{
		Method:     string(pr.Method),
		URL:        u,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     h,
		Host:       string(pr.Host),
	}).WithContext(ctx)
	return req, nil
}

// announceTrailers adds to t, without values, the names the client's Trailer field announces and
// a trailer may carry to the backend.
func (c *conn) announceTrailers(rt *router.Route, t http.Header) {
	for i := range c.req.Fields {
		f := &c.req.Fields[i]
		if f.ID != h1.Trailer {
			continue
		}
		for v := f.Value; len(v) > 0; {
			var name []byte
			name, v, _ = bytes.Cut(v, []byte{','})
			name = bytes.TrimSpace(name)
			if !h1.ValidToken(name) || hasUnderscore(name) || notTrailer(name) || rt.Request.Dropped(name) {
				continue
			}
			t[textproto.CanonicalMIMEHeaderKey(string(name))] = nil
		}
	}
}

// notTrailer reports the fields never sent in a request's trailers: framing, routing, hop-by-hop
// and those gatehouse sets itself.
func notTrailer(name []byte) bool {
	n := strings.ToLower(string(name))
	switch n {
	case "content-length", "transfer-encoding", "trailer", "host", "connection", "keep-alive", "te",
		"upgrade", "expect", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded",
		"x-request-id":
		return true
	}
	return strings.HasPrefix(n, "proxy-")
}

// h2Fields holds the scratch field lists h2Request parses the rewritten head into.
var h2Fields = sync.Pool{New: func() any { f := make([]h1.Field, 0, 32); return &f }}

// acceptsTrailers reports whether the client's TE field lists "trailers".
func (c *conn) acceptsTrailers() bool {
	for i := range c.req.Fields {
		f := &c.req.Fields[i]
		if f.ID != h1.TE {
			continue
		}
		for v := f.Value; len(v) > 0; {
			var item []byte
			item, v, _ = bytes.Cut(v, []byte{','})
			item, _, _ = bytes.Cut(item, []byte{';'})
			if h1.EqualFold(bytes.TrimSpace(item), "trailers") {
				return true
			}
		}
	}
	return false
}
