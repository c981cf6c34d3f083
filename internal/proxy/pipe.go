package proxy

import (
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// pipe relays one message body from a buffered source connection to a destination connection,
// re-framing it on the way. Output is gathered in out and written when it grows large or before the
// pipe blocks on the source, so that small chunks cost one write, not three.
type pipe struct {
	src     *h1.Reader
	srcDL   *watchdog.Deadline
	srcIdle time.Duration
	dst     net.Conn
	dstDL   *watchdog.Deadline
	dstIdle time.Duration
	out     []byte
	lim     *h1.Limits
	// max bounds the body's size (0: no bound); read and written count it.
	max     int64
	read    int64
	written int64
	// trailers is scratch space for a trailer section.
	trailers []h1.Field
	// drops are the route's header removals, applied to trailers as to heads; request marks a
	// request body, whose trailers may not carry the fields gatehouse sets itself either.
	drops   *router.HeaderOps
	request bool
	copyBuf *[]byte
}

// The ways a relay can fail; which side failed decides the answer.
var (
	errSrc      = errors.New("source failed")
	errDst      = errors.New("destination failed")
	errProtocol = errors.New("malformed body")
	errTooLarge = errors.New("body too large")
)

// relayErr carries which side failed and why.
type relayErr struct {
	kind error
	err  error
}

func (e *relayErr) Error() string { return e.kind.Error() + ": " + e.err.Error() }
func (e *relayErr) Unwrap() []error {
	return []error{e.kind, e.err}
}

const flushAt = 16 << 10

func (p *pipe) fill() error {
	if err := p.flush(); err != nil {
		return err
	}
	p.srcDL.Set(p.srcIdle)
	_, err := p.src.Fill()
	p.srcDL.Clear()
	if err != nil {
		return &relayErr{errSrc, err}
	}
	return nil
}

func (p *pipe) flush() error {
	if len(p.out) == 0 {
		return nil
	}
	err := p.write(p.out)
	p.out = p.out[:0]
	return err
}

func (p *pipe) write(b []byte) error {
	p.dstDL.Set(p.dstIdle)
	n, err := p.dst.Write(b)
	p.dstDL.Clear()
	p.written += int64(n)
	if err != nil {
		return &relayErr{errDst, err}
	}
	return nil
}

// emit sends body bytes, gathering small ones.
func (p *pipe) emit(b []byte) error {
	if len(p.out)+len(b) <= flushAt {
		p.out = append(p.out, b...)
		return nil
	}
	if err := p.flush(); err != nil {
		return err
	}
	return p.write(b)
}

func (p *pipe) count(n int) error {
	p.read += int64(n)
	if p.max > 0 && p.read > p.max {
		return &relayErr{errTooLarge, errors.New("over the route's max_body_size")}
	}
	return nil
}

// fixed relays n bytes and flushes.
func (p *pipe) fixed(n int64) error {
	if err := p.fixedNoFlush(n); err != nil {
		return err
	}
	return p.flush()
}

// direct reads up to n bytes (at most a copy buffer's worth) from the source connection itself and
// writes them out.
func (p *pipe) direct(n int64) (int, error) {
	if err := p.flush(); err != nil {
		return 0, err
	}
	if p.copyBuf == nil {
		p.copyBuf = copyBufs.get(copyBufferSize)
	}
	buf := (*p.copyBuf)[:cap(*p.copyBuf)]
	if int64(len(buf)) > n {
		buf = buf[:n]
	}
	p.srcDL.Set(p.srcIdle)
	m, err := p.src.Src.Read(buf)
	p.srcDL.Clear()
	if m > 0 {
		if werr := p.write(buf[:m]); werr != nil {
			return m, werr
		}
		if cerr := p.count(m); cerr != nil {
			return m, cerr
		}
		return m, nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return 0, &relayErr{errSrc, err}
}

// untilClose relays everything up to the source's end of stream, chunk-encoded when chunk is set.
func (p *pipe) untilClose(chunk bool) error {
	for {
		if p.src.Len() == 0 {
			err := p.fill()
			var re *relayErr
			if errors.As(err, &re) && re.kind == errSrc && errors.Is(re.err, io.EOF) {
				if chunk {
					p.out = append(p.out, "0\r\n\r\n"...)
				}
				return p.flush()
			}
			if err != nil {
				return err
			}
		}
		b := p.src.Buffered()
		if chunk {
			p.out = appendChunkHeader(p.out, len(b))
		}
		if err := p.emit(b); err != nil {
			return err
		}
		if chunk {
			p.out = append(p.out, "\r\n"...)
		}
		p.src.Consume(len(b))
		if err := p.count(len(b)); err != nil {
			return err
		}
	}
}

func appendChunkHeader(b []byte, n int) []byte {
	b = strconv.AppendInt(b, int64(n), 16)
	return append(b, "\r\n"...)
}

// chunked relays a chunked body. With reframe the output is chunked too (sizes kept, extensions
// dropped, trailers forwarded less framing and hop-by-hop fields); without, it is the bare data.
func (p *pipe) chunked(reframe bool) error {
	for {
		size, n, err := h1.ParseChunkLine(p.src.Buffered())
		if err != nil {
			return &relayErr{errProtocol, err}
		}
		if n == 0 {
			if p.src.W == len(p.src.Buf) && p.src.R == 0 {
				return &relayErr{errProtocol, h1.ErrChunkSize}
			}
			if err := p.fill(); err != nil {
				return err
			}
			continue
		}
		p.src.Consume(n)
		if size == 0 {
			return p.trailer(reframe)
		}
		if p.max > 0 && p.read+size > p.max {
			return &relayErr{errTooLarge, errors.New("over the route's max_body_size")}
		}
		if reframe {
			p.out = strconv.AppendInt(p.out, size, 16)
			p.out = append(p.out, "\r\n"...)
		}
		if err := p.fixedNoFlush(size); err != nil {
			return err
		}
		for p.src.Len() < 2 {
			if err := p.fill(); err != nil {
				return err
			}
		}
		if b := p.src.Buffered(); b[0] != '\r' || b[1] != '\n' {
			return &relayErr{errProtocol, h1.ErrChunkData}
		}
		p.src.Consume(2)
		if reframe {
			p.out = append(p.out, "\r\n"...)
		}
	}
}

// fixedNoFlush relays n bytes without a final flush, so that a chunk's data and its CRLF go out
// together. Large remainders are read straight into a copy buffer, bypassing the source's.
func (p *pipe) fixedNoFlush(n int64) error {
	for n > 0 {
		if p.src.Len() == 0 {
			if n > int64(len(p.src.Buf)) {
				m, err := p.direct(n)
				if err != nil {
					return err
				}
				n -= int64(m)
				continue
			}
			if err := p.fill(); err != nil {
				return err
			}
		}
		b := p.src.Buffered()
		if int64(len(b)) > n {
			b = b[:n]
		}
		if err := p.emit(b); err != nil {
			return err
		}
		p.src.Consume(len(b))
		n -= int64(len(b))
		if err := p.count(len(b)); err != nil {
			return err
		}
	}
	return nil
}

// trailer reads the trailer section after the last chunk and writes the end of the body.
func (p *pipe) trailer(reframe bool) error {
	for {
		fields, n, err := h1.ParseTrailers(p.src.Buffered(), p.trailers, p.lim)
		p.trailers = fields
		if err != nil {
			return &relayErr{errProtocol, err}
		}
		if n > 0 {
			if reframe {
				p.out = append(p.out, "0\r\n"...)
				for i := range fields {
					if p.forwardTrailer(&fields[i]) {
						p.out = append(p.out, fields[i].Line...)
						p.out = append(p.out, "\r\n"...)
					}
				}
				p.out = append(p.out, "\r\n"...)
			}
			p.src.Consume(n)
			return p.flush()
		}
		if p.src.W == len(p.src.Buf) && p.src.R == 0 {
			if len(p.src.Buf) >= p.lim.MaxHeaderBytes+1024 {
				return &relayErr{errProtocol, h1.ErrTrailer}
			}
			p.src.Grow(p.lim.MaxHeaderBytes + 1024)
		}
		if err := p.fill(); err != nil {
			return err
		}
	}
}

// forwardTrailer reports whether a trailer field may be passed on: the rules for head fields hold
// for trailers too, so that a trailer cannot carry what the head may not.
func (p *pipe) forwardTrailer(f *h1.Field) bool {
	if f.Hop || p.drops != nil && len(p.drops.Drop) > 0 && p.drops.Dropped(f.Name) {
		return false
	}
	if p.request {
		switch f.ID {
		case h1.XForwardedFor, h1.XForwardedProto, h1.XForwardedHost, h1.Forwarded, h1.XRequestID:
			return false
		}
		return !hasUnderscore(f.Name)
	}
	return true
}

func (p *pipe) release() {
	if p.copyBuf != nil {
		copyBufs.put(p.copyBuf)
		p.copyBuf = nil
	}
}
