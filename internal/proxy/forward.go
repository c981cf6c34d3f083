package proxy

import (
	"context"
	"errors"
	"io"

	"github.com/gatehouse-proxy/gatehouse/internal/balance"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/service"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// outcome is how one attempt at a backend ended.
type outcome uint8

const (
	done    outcome = iota // the response was relayed; keep says whether the client stays
	retry                  // nothing came back on a reused connection; the request may be resent
	failed                 // nothing was sent to the client; answer status
	aborted                // the client connection must close without a (further) answer
)

// attempt is the state of one try at a backend.
type attempt struct {
	uc         *upstream.Conn
	replayable bool // the whole request is in c.head, so it can be sent again
	status     int  // for failed
	keep       bool // for done
	// broken is set when the backend failed at the connection level (refused, reset, timed out,
	// malformed answer) rather than answering: it counts toward ejection.
	broken bool
	// retried is set when the answer was dropped for a retry that mayRetry already allowed.
	retried bool
	// interim is set once a 1xx answer went to the client: the request can no longer move.
	interim bool
	// reached is set when an HTTP/2 try got its request onto a connection to the backend (an
	// HTTP/1.1 try has uc for that).
	reached bool
}

// next outcomes of an attempt, beyond those of one exchange.
const (
	// nextBackend: the try failed before anything was sent to the client and the request may go to
	// another backend.
	nextBackend outcome = aborted + 1 + iota
)

// forward sends the request to a backend of the route's service and relays the answer, trying
// other backends as the retry policy allows. It reports whether the client connection stays open.
func (c *conn) forward(rt *router.Route) bool {
	svc := rt.Service
	pool := svc.Pool
	if !c.takeBody() {
		return false
	}
	defer c.releaseBody()
	pool.CountRequest()
	c.preparePick(pool)
	status := 502
	c.retries, c.retryTo = 0, nil
	for {
		be, why := c.retryTo, balance.Picked
		c.retryTo = nil
		if be == nil {
			be, why = pool.Pick(&c.pick)
			if be != nil && len(c.pick.Tried) > 0 && svc.Metrics != nil {
				// A move after a try that never reached its backend (mayRetry counts the others,
				// when it picks their next backend itself).
				svc.Metrics.Retry()
			}
		}
		if be == nil {
			if why == balance.Unavailable && len(c.pick.Tried) == 0 || status == 503 {
				status = 503
			}
			c.status = status
			c.releaseHead()
			return c.failLocal(status)
		}
		c.pick.Tried = append(c.pick.Tried, be)
		c.backend, c.upstream = be, be.AddrBytes
		if be.Acquire(0) != nil {
			// The backend is at its concurrency limit: nothing was sent, another may take it. Not
			// logged: under overload that would be a line per request; the access log has the 503.
			status = 503
			continue
		}
		be.State.Begin()
		a := attempt{}
		out := c.try(rt, be, &a)
		be.State.End()
		be.Release()
		if c.gone.Load() {
			// The client gave up (and the try failed, or was cut, for it): no report against
			// the backend, no retry, nothing more to answer.
			c.releaseHead()
			if out != done {
				c.status = 499
			}
			return false
		}
		if out == nextBackend || out == failed {
			st := a.status
			if out == nextBackend && st == 0 {
				st = 502
			}
			c.report(svc, be, st, a.broken)
			if out == nextBackend && (a.retried || c.mayRetry(svc, &a)) {
				status = st
				continue
			}
			c.status = st
			c.releaseHead()
			return c.failLocal(st)
		}
		c.releaseHead()
		switch out {
		case done:
			c.report(svc, be, c.status, false)
			return a.keep
		default:
			if a.broken {
				c.report(svc, be, 502, true)
			}
			if c.status == 0 {
				c.status = 502
			}
			return false
		}
	}
}

// mayRetry decides whether a failed try goes on to another backend: a connection that could not
// be made always may (nothing reached the backend); an answer or a timeout only for a replayable,
// idempotent request, within the service's attempts and retry budget, and only when there is a
// backend left to try. That backend is picked now, into c.retryTo, so that a backend's answer is
// never dropped for a retry that cannot happen: the client gets the last backend's own answer.
func (c *conn) mayRetry(svc *service.Service, a *attempt) bool {
	c.pick.Now = c.h.opts.Clock().UnixNano() // the try took time: judge availability afresh
	if a.uc == nil && !a.reached {
		// Never connected (refused or timed out): nothing was sent.
		return true
	}
	if !a.replayable || !c.idempotent || c.retries >= svc.Retry.Attempts {
		return false
	}
	next, _ := svc.Pool.Pick(&c.pick)
	if next == nil || !svc.Pool.AllowRetry() {
		return false
	}
	c.retryTo = next
	c.retries++
	if svc.Metrics != nil {
		svc.Metrics.Retry()
	}
	return true
}

// report tells outlier detection how a try ended.
func (c *conn) report(svc *service.Service, be *upstream.Backend, status int, broken bool) {
	r := upstream.Success
	switch {
	case broken:
		r = upstream.FailureConnect
	case status >= 500:
		r = upstream.Failure5xx
	}
	if svc.Outlier.Report(be, r) {
		c.h.opts.Errorf("backend %s ejected from %s after repeated failures", be.Addr, svc.Name)
		if svc.Metrics != nil {
			svc.Metrics.Ejection()
		}
	}
}

// try runs one attempt at be: a pooled or new connection, the exchange, and the retry on a fresh
// connection when a pooled one turns out closed.
func (c *conn) try(rt *router.Route, be *upstream.Backend, a *attempt) outcome {
	if be.HTTP2() {
		return c.tryH2(rt, be, a)
	}
	isHead, minor := c.isHead, c.req.Minor
	// A request that must not be sent twice gets a pooled connection only after a probe: the
	// resend on a fresh connection below is for idempotent requests only.
	uc := be.Get(!c.idempotent)
	if uc == nil {
		var err error
		if uc, err = c.dial(be); err != nil {
			a.status, a.broken = 502, true
			if isTimeout(err) {
				a.status = 504
			}
			c.h.opts.Errorf("backend %s: connect: %v", be.Addr, err)
			return nextBackend
		}
	}
	a.uc = uc
	c.up.Store(uc)
	if c.gone.Load() {
		// The client gave up while the connection was being made (clientGone found no c.up).
		closeNow(uc.Conn)
	}
	defer c.up.Store(nil)
	out := c.exchange(rt, a, isHead, minor)
	if out == retry {
		// A reused connection failed before any answer: the backend had closed it. Once more,
		// on a fresh connection to the same backend.
		uc.Close()
		fresh, err := c.dial(be)
		if err != nil {
			a.uc, a.status, a.broken = nil, 502, true
			return nextBackend
		}
		a.uc = fresh
		c.up.Store(fresh)
		if c.gone.Load() {
			closeNow(fresh.Conn)
		}
		out = c.resend(rt, a, isHead, minor)
	}
	return out
}

// preparePick fills what the balancer needs to know about the request.
func (c *conn) preparePick(pool *balance.Pool) {
	p := &c.pick
	p.Tried = p.Tried[:0]
	p.ClientIP = c.rreq.ClientIP
	p.Now = c.start.UnixNano()
	p.Key, p.Sticky = nil, nil
	switch kind, name := pool.HashKey(); kind {
	case balance.KeyHeader:
		p.Key = c.req.Header(name)
	case balance.KeyCookie:
		p.Key = c.req.Cookie(name)
	case balance.KeyPath:
		p.Key = c.rreq.NormalizedPath()
	}
	if name := pool.StickyCookie(); name != "" {
		p.Sticky = c.req.Cookie(name)
	}
}

func (c *conn) dial(be *upstream.Backend) (*upstream.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.h.opts.Timeouts.UpstreamConnect)
	defer cancel()
	return be.Dial(ctx)
}

// failLocal answers an error when nothing has been sent to the client. The connection stays open only
// when the request body has been read whole.
func (c *conn) failLocal(status int) bool {
	keep := c.bodyDone && c.req.KeepAlive && !c.h.draining.Load()
	return c.writeError(status, !keep) && keep
}

// maxBufferedBody is the largest request body read whole before the request is sent, as nginx's
// request buffering does: the head and body then go out in one write, and the request can be sent
// again if a pooled connection turns out dead. Larger bodies are streamed.
const maxBufferedBody = copyBufferSize

// takeBody consumes the request head and reads a small body whole into c.body. It reports false
// when the client failed, after answering it if that is still possible.
func (c *conn) takeBody() bool {
	req := &c.req
	c.in.Consume(req.HeadLen)
	if req.Chunked || req.ContentLength <= 0 || req.ContentLength > maxBufferedBody {
		return true
	}
	n := int(req.ContentLength)
	c.body = copyBufs.get(copyBufferSize)
	body := (*c.body)[:0]
	take := min(c.in.Len(), n)
	body = append(body, c.in.Buffered()[:take]...)
	c.in.Consume(take)
	if len(body) < n && req.ExpectContinue && !c.writeClient(continue100) {
		c.status = 499
		return false
	}
	for len(body) < n {
		// c.in is empty: read straight into the body, never past it (a pipelined request may follow).
		c.dl.Set(c.h.opts.Timeouts.ClientBodyIdle)
		m, err := c.nc.Read(body[len(body):n])
		c.dl.Clear()
		body = body[:len(body)+m]
		if err != nil && len(body) < n {
			c.bytesIn += int64(len(body))
			if isTimeout(err) || c.dl.Fired() {
				c.status = 408
				c.writeErrorNow(408)
			} else {
				c.status = 499 // the client went away
			}
			return false
		}
	}
	*c.body = body
	c.bytesIn += int64(n)
	c.bodyDone = true
	return true
}

func (c *conn) releaseBody() {
	if c.body != nil {
		copyBufs.put(c.body)
		c.body = nil
	}
}

// exchange runs one attempt: write the request, read the answer, relay it.
func (c *conn) exchange(rt *router.Route, a *attempt, isHead bool, minor uint8) outcome {
	*c.head = c.appendRequestHead(c.headBuf(), rt, a.uc.Backend)
	a.replayable = c.bodyDone
	return c.send(rt, a, isHead, minor)
}

// resend is the retry of a replayable request on a fresh connection.
func (c *conn) resend(rt *router.Route, a *attempt, isHead bool, minor uint8) outcome {
	out := c.send(rt, a, isHead, minor)
	if out == retry {
		a.uc.Close()
		a.status, a.broken = 502, true
		return nextBackend
	}
	return out
}

func (c *conn) send(rt *router.Route, a *attempt, isHead bool, minor uint8) outcome {
	req := &c.req
	uc := a.uc
	uc.DL.Set(c.h.opts.Timeouts.UpstreamBodyIdle)
	var err error
	if c.body != nil {
		_, err = c.writev(uc.Conn, *c.head, *c.body)
	} else {
		_, err = uc.Write(*c.head)
	}
	if err != nil {
		if a.replayable && c.idempotent && uc.Reused {
			return retry
		}
		uc.Close()
		a.status, a.broken = 502, true
		if a.replayable {
			return nextBackend
		}
		return failed
	}
	if !a.replayable {
		if req.ExpectContinue && !c.writeClient(continue100) {
			uc.Close()
			return aborted
		}
		if out, ok := c.sendBody(rt, a); !ok {
			return out
		}
	}
	return c.receive(a, isHead, minor)
}

var continue100 = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// maxInterim bounds the 1xx responses before a final one, so that a backend cannot hold a request
// forever by sending them.
const maxInterim = 16

// receive reads the backend's answer and relays it.
func (c *conn) receive(a *attempt, isHead bool, minor uint8) outcome {
	if c.checked {
		// From here the engine reads the backend, not the client: check that the client is still
		// there while the answer takes long (checkClient).
		c.dl.Check(clientCheckEvery)
		defer c.dl.Uncheck()
	}
	uc := a.uc
	resp := &uc.Resp
	c.resp = resp
	lim := &c.h.opts.Limits
	svc := c.route.Service
	wait := c.h.opts.Timeouts.UpstreamHeader
	if pt := svc.Retry.PerTryTimeout; pt > 0 && pt < wait {
		wait = pt
	}
	sent := c.h.opts.Clock()
	// fail ends the attempt without an answer: on another backend if nothing reached the client.
	fail := func(status int) outcome {
		uc.Close()
		a.status, a.broken = status, true
		if a.interim {
			return failed
		}
		return nextBackend
	}
	for interim := 0; ; interim++ {
		if interim == maxInterim {
			c.h.opts.Errorf("backend %s: more than %d interim responses", uc.Backend.Addr, maxInterim)
			return fail(502)
		}
		resp.Reset()
		uc.DL.Set(wait)
		got := uc.In.Len() > 0
		for {
			if uc.In.Len() > 0 {
				got = true
				if err := h1.ParseResponse(uc.In.Buffered(), resp, lim); err != nil {
					c.h.opts.Errorf("backend %s: %v", uc.Backend.Addr, err)
					return fail(502)
				}
				if resp.HeadLen > 0 {
					break
				}
				if uc.In.W == len(uc.In.Buf) && uc.In.R == 0 {
					uc.In.Grow(lim.MaxHeaderBytes + 1024)
				}
			}
			if _, err := uc.In.Fill(); err != nil {
				timedOut := uc.DL.Fired() || isTimeout(err)
				switch {
				case timedOut:
					return fail(504)
				case !got && a.replayable && c.idempotent && uc.Reused && (errors.Is(err, io.EOF) || isReset(err)):
					uc.Close()
					return retry
				}
				return fail(502)
			}
		}
		uc.DL.Clear()
		if resp.Status >= 200 || resp.Status == 101 {
			break
		}
		// An interim answer (100, 102, 103): pass it on, less its hop-by-hop fields, to clients
		// that understand it.
		if minor == 1 {
			head := c.appendInterimHead(c.headBuf())
			*c.head = head
			a.interim = true
			if !c.writeClient(head) {
				uc.Close()
				return aborted
			}
		}
		uc.In.Consume(resp.HeadLen)
	}
	now := c.h.opts.Clock()
	uc.Backend.State.ObserveLatency(now.Sub(sent), now.UnixNano())
	if resp.Status == 101 {
		if !c.req.Upgrade {
			c.h.opts.Errorf("backend %s: 101 without an upgrade request", uc.Backend.Addr)
			return fail(502)
		}
		c.status = 101
		c.dl.Uncheck() // a tunnel reads the client itself, and a half-close is its business
		return c.tunnel(uc)
	}
	if svc.Retry.OnStatus(resp.Status) && !a.interim && c.mayRetry(svc, a) {
		// A retryable answer and a retry allowed: drop it and try another backend.
		uc.Close()
		a.status, a.retried = resp.Status, true
		return nextBackend
	}
	return c.relayResponse(a, isHead, minor)
}
