package proxy

import (
	"errors"

	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// requestPipe relays from the client to the backend.
func (c *conn) requestPipe(uc *upstream.Conn, max int64) pipe {
	t := &c.h.opts.Timeouts
	return pipe{
		src: &c.in, srcDL: c.dl, srcIdle: t.ClientBodyIdle,
		dst: uc.Conn, dstDL: uc.DL, dstIdle: t.UpstreamBodyIdle,
		out: c.headBuf(), lim: &c.h.opts.Limits, max: max, trailers: c.trailers,
		drops: &c.route.Request, request: true,
	}
}

// responsePipe relays from the backend to the client.
func (c *conn) responsePipe(uc *upstream.Conn, out []byte) pipe {
	t := &c.h.opts.Timeouts
	return pipe{
		src: &uc.In, srcDL: uc.DL, srcIdle: t.UpstreamBodyIdle,
		dst: c.nc, dstDL: c.dl, dstIdle: t.ClientWriteIdle,
		out: out, lim: &c.h.opts.Limits, trailers: c.trailers,
		drops: &c.route.Response,
	}
}

// sendBody streams a request body that was not buffered whole. It reports false, with the outcome,
// when the attempt ended.
func (c *conn) sendBody(rt *router.Route, a *attempt) (outcome, bool) {
	req := &c.req
	uc := a.uc
	p := c.requestPipe(uc, rt.MaxBody)
	var err error
	if req.Chunked {
		err = p.chunked(true)
	} else {
		err = p.fixed(req.ContentLength)
	}
	*c.head = p.out
	c.trailers = p.trailers
	p.release()
	c.bytesIn += p.read
	if err == nil {
		c.bodyDone = true
		return 0, true
	}
	uc.Close()
	switch {
	case errors.Is(err, errDst):
		// The backend stopped reading. It may have answered early; without the answer, 502.
		a.status, a.broken = 502, true
		return failed, false
	case errors.Is(err, errTooLarge):
		a.status = 413
		return failed, false
	case errors.Is(err, errProtocol):
		a.status = 400
		return failed, false
	case isTimeout(err) || c.dl.Fired():
		c.status = 408
		c.writeErrorNow(408)
		return aborted, false
	}
	c.status = 499 // the client went away
	return aborted, false
}

// relayResponse sends the parsed response head and its body to the client.
func (c *conn) relayResponse(a *attempt, isHead bool, minor uint8) outcome {
	resp := c.resp
	uc := a.uc
	frame, srcClose := frameLength, false
	switch {
	case resp.Bodyless(isHead):
		frame = frameNone
	case resp.Chunked:
		frame = frameChunked
	case resp.ContentLength < 0:
		frame, srcClose = frameChunked, true
	}
	if frame == frameChunked && minor == 0 {
		frame = frameClose
	}
	keep := c.req.KeepAlive && c.bodyDone && frame != frameClose && !c.h.draining.Load()
	c.status = resp.Status
	b := c.appendResponseHead(c.headBuf(), frame, keep)
	uc.In.Consume(resp.HeadLen)

	var err error
	switch {
	case frame == frameNone:
		*c.head = b
		if !c.writeClient(b) {
			err = errDst
		}
	case !resp.Chunked && !srcClose:
		// The common case: head and the body bytes already read go out in one write.
		n := resp.ContentLength
		avail := uc.In.Buffered()
		if int64(len(avail)) > n {
			avail = avail[:n]
		}
		var ok bool
		if len(avail) <= flushAt {
			b = append(b, avail...) // one plain write beats writev for a small body
			*c.head = b
			ok = c.writeClient(b)
		} else {
			*c.head = b
			ok = c.writeClient2(b, avail)
		}
		if !ok {
			err = errDst
			break
		}
		uc.In.Consume(len(avail))
		if rest := n - int64(len(avail)); rest > 0 {
			p := c.responsePipe(uc, (*c.head)[:0])
			err = p.fixed(rest)
			c.finishPipe(&p)
		}
	default:
		p := c.responsePipe(uc, b)
		if srcClose {
			err = p.untilClose(frame == frameChunked)
		} else {
			err = p.chunked(frame == frameChunked)
		}
		c.finishPipe(&p)
		if err != nil && p.written == 0 && !errors.Is(err, errDst) {
			// The body failed before anything, head included, reached the client: a clean 502.
			uc.Close()
			a.status, a.broken = 502, true
			return failed
		}
	}
	if err != nil {
		uc.Close()
		if errors.Is(err, errDst) {
			c.status = 499
		}
		// Head sent: the only honest end for a truncated body is to cut the client connection.
		return aborted
	}
	if resp.KeepAlive && !srcClose && c.bodyDone {
		uc.Backend.Put(uc)
	} else {
		uc.Close()
	}
	a.keep = keep
	return done
}

func (c *conn) finishPipe(p *pipe) {
	*c.head = p.out
	c.trailers = p.trailers
	c.bytesOut += p.written
	p.release()
}
