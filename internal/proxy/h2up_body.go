package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
)

// aLongTimeAgo is a read deadline that interrupts a blocked Read at once.
var aLongTimeAgo = time.Unix(1, 0)

// errBodyStopped is what a read of the request body returns once the try no longer wants it.
var errBodyStopped = errors.New("request body no longer read")

// h2ReqBody is the client's request body as an HTTP/2 backend's transport reads it: from the
// transport's goroutine, while the engine's goroutine may be relaying the response. It reads the
// client connection (c.in, then c.nc) under a read deadline of its own (the watchdog's deadline
// is the engine goroutine's, which writes to the client meanwhile), de-chunks a chunked body,
// collects its trailers into trailer (the request's Trailer, which the transport sends after the
// last DATA frame) and keeps to the route's body limit. After stop it touches nothing of the
// connection, whoever calls Read.
type h2ReqBody struct {
	c       *conn
	x       *h2call
	rt      *router.Route
	chunked bool
	remain  int64 // bytes left: of the whole body (fixed length) or of the current chunk
	inChunk bool  // chunked: the current chunk's data (or its CRLF) is still to come
	trailer http.Header
	fields  []h1.Field

	mu      sync.Mutex
	cond    sync.Cond
	reading bool  // a Read is under way
	reads   int   // Reads begun
	stopped bool  // stop was called: no more reads of the connection
	done    bool  // the body was read whole
	err     error // the first failure of the client's side
	read    int64 // body bytes read
}

func newH2ReqBody(c *conn, rt *router.Route, x *h2call) *h2ReqBody {
	b := &h2ReqBody{c: c, x: x, rt: rt, chunked: c.req.Chunked, remain: c.req.ContentLength}
	if b.chunked {
		b.remain = 0
		b.trailer = http.Header{}
	}
	b.cond.L = &b.mu
	return b
}

var _ io.ReadCloser = (*h2ReqBody)(nil)

// Read returns the next body bytes, or io.EOF at the end of the body.
func (b *h2ReqBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	switch {
	case b.err != nil:
		err := b.err
		b.mu.Unlock()
		return 0, err
	case b.stopped:
		b.mu.Unlock()
		return 0, errBodyStopped
	case b.done:
		b.mu.Unlock()
		return 0, io.EOF
	}
	b.reading = true
	b.reads++
	b.mu.Unlock()
	b.x.stopStall()
	n, err := b.next(p)
	b.mu.Lock()
	b.reading = false
	b.read += int64(n)
	switch {
	case err == io.EOF:
		b.done = true
	case err != nil && b.stopped:
		err = errBodyStopped // interrupted by stop: not the client's failure
	case err != nil:
		b.err = err
	}
	b.cond.Broadcast()
	b.mu.Unlock()
	if err == nil || err == io.EOF {
		b.x.armStall()
	}
	return n, err
}

// Close stops the body; the transport calls it when it is done with the request.
func (b *h2ReqBody) Close() error {
	b.stop()
	return nil
}

// stop ends the reading of the client connection: a Read blocked on the client is interrupted, and
// once stop returns, nothing touches the connection any more.
func (b *h2ReqBody) stop() {
	b.mu.Lock()
	b.stopped = true
	interrupted := false
	for b.reading {
		if !interrupted {
			_ = b.c.nc.SetReadDeadline(aLongTimeAgo)
			interrupted = true
		}
		b.cond.Wait()
	}
	if interrupted {
		_ = b.c.nc.SetReadDeadline(time.Time{})
	}
	b.mu.Unlock()
}

// failure is the client's failure, if the body failed on its side.
func (b *h2ReqBody) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// began reports whether the transport began reading the body.
func (b *h2ReqBody) began() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reads > 0
}

// isDone reports whether the body was read whole.
func (b *h2ReqBody) isDone() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done
}

// next reads the next body bytes into p.
func (b *h2ReqBody) next(p []byte) (int, error) {
	in := &b.c.in
	if !b.chunked {
		if b.remain == 0 {
			return 0, io.EOF
		}
		return b.data(p)
	}
	for b.remain == 0 {
		if b.inChunk {
			for in.Len() < 2 {
				if err := b.fill(); err != nil {
					return 0, err
				}
			}
			if d := in.Buffered(); d[0] != '\r' || d[1] != '\n' {
				return 0, &relayErr{errProtocol, h1.ErrChunkData}
			}
			in.Consume(2)
			b.inChunk = false
		}
		size, n, err := h1.ParseChunkLine(in.Buffered())
		if err != nil {
			return 0, &relayErr{errProtocol, err}
		}
		if n == 0 {
			if in.W == len(in.Buf) && in.R == 0 {
				return 0, &relayErr{errProtocol, h1.ErrChunkSize}
			}
			if err := b.fill(); err != nil {
				return 0, err
			}
			continue
		}
		in.Consume(n)
		if size == 0 {
			return 0, b.trailers()
		}
		if max := b.rt.MaxBody; max > 0 && b.read+size > max {
			return 0, &relayErr{errTooLarge, errors.New("over the route's max_body_size")}
		}
		b.remain, b.inChunk = size, true
	}
	return b.data(p)
}

// data reads body bytes of the current chunk (or fixed-length body) into p: those already
// buffered, else straight from the connection, never past the body's end.
func (b *h2ReqBody) data(p []byte) (int, error) {
	in := &b.c.in
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	var n int
	if in.Len() > 0 {
		n = copy(p, in.Buffered())
		in.Consume(n)
	} else {
		if !b.arm() {
			return 0, errBodyStopped
		}
		m, err := b.c.nc.Read(p)
		b.disarm()
		if m == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, &relayErr{errSrc, err}
		}
		n = m
	}
	b.remain -= int64(n)
	return n, nil
}

// trailers reads the trailer section after the last chunk into b.trailer, less the fields a
// trailer may not carry; it returns io.EOF, the end of the body, on success.
func (b *h2ReqBody) trailers() error {
	in := &b.c.in
	lim := &b.c.h.opts.Limits
	for {
		fields, n, err := h1.ParseTrailers(in.Buffered(), b.fields, lim)
		b.fields = fields
		if err != nil {
			return &relayErr{errProtocol, err}
		}
		if n > 0 {
			rules := pipe{drops: &b.rt.Request, request: true}
			for i := range fields {
				f := &fields[i]
				if rules.forwardTrailer(f) {
					k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
					b.trailer[k] = append(b.trailer[k], string(f.Value))
				}
			}
			in.Consume(n)
			return io.EOF
		}
		if in.W == len(in.Buf) && in.R == 0 {
			if len(in.Buf) >= lim.MaxHeaderBytes+1024 {
				return &relayErr{errProtocol, h1.ErrTrailer}
			}
			in.Grow(lim.MaxHeaderBytes + 1024)
		}
		if err := b.fill(); err != nil {
			return err
		}
	}
}

// fill reads more of the client's bytes into c.in.
func (b *h2ReqBody) fill() error {
	if !b.arm() {
		return errBodyStopped
	}
	_, err := b.c.in.Fill()
	b.disarm()
	if err != nil {
		return &relayErr{errSrc, err}
	}
	return nil
}

// arm sets the client body idle timeout on the connection's read side before a read; it reports
// false after stop. Under b.mu, so that stop's interruption cannot come before it and be lost.
func (b *h2ReqBody) arm() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return false
	}
	_ = b.c.nc.SetReadDeadline(time.Now().Add(b.c.h.opts.Timeouts.ClientBodyIdle))
	return true
}

// disarm clears the read deadline after a read, unless stop has set its own.
func (b *h2ReqBody) disarm() {
	b.mu.Lock()
	if !b.stopped {
		_ = b.c.nc.SetReadDeadline(time.Time{})
	}
	b.mu.Unlock()
}
