package proxy

import (
	"context"
	"errors"
	"io"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
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
}

// forward sends the request to a backend of rt's pool and relays the answer. It reports whether the
// client connection stays open.
func (c *conn) forward(rt *router.Route) bool {
	req := &c.req
	pool := rt.Pool
	var tried uint64
	status := 502
	isHead := c.isHead
	minor := req.Minor
	if !c.takeBody() {
		return false
	}
	defer c.releaseBody()
	for {
		be, idx, allDown := pool.Pick(tried)
		if be == nil {
			if tried == 0 && allDown {
				status = 503
			}
			c.status = status
			c.releaseHead()
			return c.failLocal(status)
		}
		if idx < 64 {
			tried |= 1 << idx
		}
		c.upstream = be.AddrBytes
		uc := be.Get()
		if uc == nil {
			var err error
			if uc, err = c.dial(be); err != nil {
				if isTimeout(err) {
					status = 504
				} else {
					status = 502
				}
				if len(pool.Backends) > 1 {
					be.MarkFailed()
				}
				c.h.opts.Errorf("backend %s: connect: %v", be.Addr, err)
				continue
			}
		}
		be.MarkUp()
		a := attempt{uc: uc}
		c.up.Store(uc)
		out := c.exchange(rt, &a, isHead, minor)
		if out == retry {
			// A reused connection failed before any answer: the backend had closed it. Once more,
			// on a fresh connection to the same backend.
			uc.Close()
			fresh, err := c.dial(be)
			if err != nil {
				c.up.Store(nil)
				c.status = 502
				return c.failLocal(502)
			}
			a.uc = fresh
			c.up.Store(fresh)
			out = c.resend(rt, &a, isHead, minor)
		}
		c.up.Store(nil)
		c.releaseHead()
		switch out {
		case done:
			return a.keep
		case failed:
			c.status = a.status
			return c.failLocal(a.status)
		default:
			if c.status == 0 {
				c.status = 502
			}
			return false
		}
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
		a.status = 502
		return failed
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
		if a.replayable && uc.Reused {
			return retry
		}
		uc.Close()
		a.status = 502
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
	uc := a.uc
	resp := &uc.Resp
	c.resp = resp
	lim := &c.h.opts.Limits
	for interim := 0; ; interim++ {
		if interim == maxInterim {
			c.h.opts.Errorf("backend %s: more than %d interim responses", uc.Backend.Addr, maxInterim)
			uc.Close()
			a.status = 502
			return failed
		}
		resp.Reset()
		uc.DL.Set(c.h.opts.Timeouts.UpstreamHeader)
		got := uc.In.Len() > 0
		for {
			if uc.In.Len() > 0 {
				got = true
				if err := h1.ParseResponse(uc.In.Buffered(), resp, lim); err != nil {
					c.h.opts.Errorf("backend %s: %v", uc.Backend.Addr, err)
					uc.Close()
					a.status = 502
					return failed
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
				uc.Close()
				switch {
				case timedOut:
					a.status = 504
				case !got && a.replayable && uc.Reused && (errors.Is(err, io.EOF) || isReset(err)):
					return retry
				default:
					a.status = 502
				}
				return failed
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
			if !c.writeClient(head) {
				uc.Close()
				return aborted
			}
		}
		uc.In.Consume(resp.HeadLen)
	}
	if resp.Status == 101 {
		if !c.req.Upgrade {
			c.h.opts.Errorf("backend %s: 101 without an upgrade request", uc.Backend.Addr)
			uc.Close()
			a.status = 502
			return failed
		}
		c.status = 101
		return c.tunnel(uc)
	}
	return c.relayResponse(a, isHead, minor)
}
