package h2

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"golang.org/x/net/http2"
)

// stream is one request stream, presented to the engine as a net.Conn that carries one HTTP/1.1
// exchange. Every field is guarded by c.mu but those noted.
type stream struct {
	c    *Conn
	gen  atomic.Uint64 // bumped on release: a deadline timer of an earlier use does nothing
	cond sync.Cond     // L is &c.mu; Read, Write and Close wait and wake on it
	wmu  sync.Mutex    // one Write at a time (held across waits, not by Close)

	// Buffers kept across uses.
	head     []byte // the synthesized request head; later the chunked body's tail
	trailers []byte // the request's trailer lines, for a chunked body
	wb       []byte // a partial response head, chunk-size line or trailer section
	resp     h1.Response
	tfields  []h1.Field
	rbuf     *[]byte // request body received and not yet read, from bodyPool

	state
}

// state is the per-use part of a stream, zeroed on release.
type state struct {
	id   uint32
	info reqInfo

	// Request side (Read).
	hoff      int   // bytes of head already read
	rr, rw    int   // unread body bytes are (*rbuf)[rr:rw]
	recvd     int64 // body bytes received
	recvWin   int64 // receive window left to the client
	unacked   int64 // body bytes read and not yet returned by WINDOW_UPDATE
	chunkLeft int   // bytes of the current chunk still to read
	frame     [20]byte
	foff      int // chunk framing bytes to read are frame[foff:flen]
	flen      int
	endRemote bool // END_STREAM received
	bodyEOF   bool // the body (and its tail) has been handed over whole

	// Response side (Write): guarded by c.mu and wmu.
	rs         respState
	left       int64 // bytes left of a Content-Length body or of a chunk
	crlf       int   // bytes of the CRLF after a chunk's data seen
	sendWin    int64
	endLocal   bool // END_STREAM sent
	tunnelOpen bool // a 101 turned the stream into a tunnel

	// Lifecycle.
	err           error // why Reads and Writes fail; nil while the stream is healthy
	closed        bool  // Close was called
	protoClosed   bool  // closed in the protocol: out of c.streams
	queued        bool  // waiting for a handler slot
	handlerDone   bool
	blockedOnConn bool // listed in c.blocked

	rdl, wdl       time.Time
	rtimer, wtimer *time.Timer

	// Told when the stream fails (client reset, connection lost): see SetFailHook and Context.
	onFail func()
	ctx    context.Context
	cancel context.CancelFunc
}

var (
	_ net.Conn = (*stream)(nil)
	_          = interface{ ConnectionState() tls.ConnectionState }((*stream)(nil))
)

// streamPool and bodyPool recycle streams and their receive buffers.
var (
	streamPool = sync.Pool{New: func() any { return new(stream) }}
	bodyPool   sync.Pool // *[]byte
)

// newStreamLocked takes a stream from the pool for stream id.
func (c *Conn) newStreamLocked(id uint32) *stream {
	s := streamPool.Get().(*stream)
	s.c = c
	s.cond.L = &c.mu
	s.id = id
	s.recvWin = int64(c.opts.StreamWindow)
	s.sendWin = c.peerInitWin
	return s
}

// releaseLocked returns s to the pool: its handler is done and it is closed in the protocol.
func (c *Conn) releaseLocked(s *stream) {
	if s.rtimer != nil {
		s.rtimer.Stop()
	}
	if s.wtimer != nil {
		s.wtimer.Stop()
	}
	if s.rbuf != nil {
		bodyPool.Put(s.rbuf)
		s.rbuf = nil
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.gen.Add(1)
	s.state = state{}
	s.head = trim(s.head)
	s.trailers = trim(s.trailers)
	s.wb = trim(s.wb)
	s.resp.Reset()
	clear(s.tfields[:cap(s.tfields)])
	s.tfields = s.tfields[:0]
	clear(s.resp.Fields[:cap(s.resp.Fields)])
	s.c = nil
	streamPool.Put(s)
}

// trim empties b, dropping it if a large head made it grow past what is worth keeping.
func trim(b []byte) []byte {
	if cap(b) > 8<<10 {
		return nil
	}
	return b[:0]
}

// failLocked makes the stream's Reads and Writes fail with err from now on.
func (s *stream) failLocked(err error) {
	if s.err == nil {
		s.err = err
		if s.onFail != nil {
			s.onFail()
		}
		if s.cancel != nil {
			s.cancel()
		}
	}
	s.cond.Broadcast()
}

// SetFailHook makes the stream call f, once, when it fails: the client reset it, the connection
// was lost, or the protocol broke. f runs on the connection's reader with its lock held: it must
// not block or touch the stream (closing another socket is what it is for: a backend connection
// the engine waits on for this stream). A stream that has failed already does not call it.
func (s *stream) SetFailHook(f func()) {
	c := s.c
	c.mu.Lock()
	s.onFail = f
	c.mu.Unlock()
}

// Context is a context that ends when the stream fails (as SetFailHook) or is done with.
func (s *stream) Context() context.Context {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		if s.err != nil {
			s.cancel()
		}
	}
	return s.ctx
}

// Read returns the synthesized request head, then the body, then io.EOF.
func (s *stream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case s.closed:
			return 0, net.ErrClosed
		case s.err != nil:
			return 0, s.err
		}
		n, eof := s.fillLocked(p)
		if n > 0 {
			s.returnWindowLocked()
			return n, nil
		}
		if eof {
			return 0, io.EOF
		}
		if expired(s.rdl) {
			return 0, os.ErrDeadlineExceeded
		}
		s.cond.Wait()
	}
}

// fillLocked copies what can be read now into p. eof is set when nothing is left to read.
func (s *stream) fillLocked(p []byte) (n int, eof bool) {
	for len(p) > 0 {
		if s.hoff < len(s.head) {
			k := copy(p, s.head[s.hoff:])
			s.hoff += k
			n += k
			p = p[k:]
			continue
		}
		if s.foff < s.flen {
			k := copy(p, s.frame[s.foff:s.flen])
			s.foff += k
			n += k
			p = p[k:]
			continue
		}
		if s.bodyEOF {
			return n, n == 0
		}
		switch s.info.mode {
		case bodyNone:
			s.bodyEOF = true
			continue
		case bodyTunnel:
			if !s.tunnelOpen {
				// No body bytes before the engine has answered 101; an answer that was not a 101
				// ends the request.
				s.bodyEOF = s.endLocal
				if !s.bodyEOF {
					return n, false
				}
				continue
			}
			fallthrough
		case bodyLength:
			if k := s.takeBody(p); k > 0 {
				n += k
				p = p[k:]
				continue
			}
			if !s.endRemote {
				return n, false
			}
			s.bodyEOF = true
		case bodyChunked:
			if s.chunkLeft > 0 {
				k := s.takeBody(p[:min(len(p), s.chunkLeft)])
				if k == 0 {
					return n, false
				}
				s.chunkLeft -= k
				n += k
				p = p[k:]
				if s.chunkLeft == 0 {
					s.setFrame(append(s.frame[:0], '\r', '\n'))
				}
				continue
			}
			if avail := s.rw - s.rr; avail > 0 {
				s.chunkLeft = avail
				b := strconv.AppendUint(s.frame[:0], uint64(avail), 16)
				s.setFrame(append(b, '\r', '\n'))
				continue
			}
			if !s.endRemote {
				return n, false
			}
			// The last chunk and the trailer section, handed over like the head.
			s.head = append(s.head[:0], "0\r\n"...)
			s.head = append(s.head, s.trailers...)
			s.head = append(s.head, "\r\n"...)
			s.hoff = 0
			s.bodyEOF = true
		}
	}
	return n, false
}

func (s *stream) setFrame(b []byte) { s.foff, s.flen = 0, len(b) }

// takeBody copies received body bytes into p.
func (s *stream) takeBody(p []byte) int {
	if s.rr == s.rw {
		return 0
	}
	k := copy(p, (*s.rbuf)[s.rr:s.rw])
	s.rr += k
	if s.rr == s.rw {
		s.rr, s.rw = 0, 0
	}
	s.unacked += int64(k)
	return k
}

// appendBodyLocked stores DATA received for the engine. Flow control keeps what is stored within
// StreamWindow, the buffer's size.
func (s *stream) appendBodyLocked(data []byte) {
	if s.rbuf == nil {
		size := int(s.c.opts.StreamWindow)
		if b, ok := bodyPool.Get().(*[]byte); ok && cap(*b) >= size {
			s.rbuf = b
		} else {
			nb := make([]byte, size)
			s.rbuf = &nb
		}
		*s.rbuf = (*s.rbuf)[:cap(*s.rbuf)]
	}
	buf := *s.rbuf
	if s.rw+len(data) > len(buf) {
		s.rw = copy(buf, buf[s.rr:s.rw])
		s.rr = 0
	}
	s.rw += copy(buf[s.rw:], data)
}

// returnWindowLocked gives the client back the stream window the engine has read, a quarter of the
// window at a time.
func (s *stream) returnWindowLocked() {
	c := s.c
	if s.endRemote || s.protoClosed || s.unacked < int64(c.opts.StreamWindow/4) {
		return
	}
	c.wbuf = appendWindowUpdate(c.wbuf, s.id, uint32(s.unacked))
	s.recvWin += s.unacked
	s.unacked = 0
	c.wakeWriterLocked()
}

// Close ends the stream (see closeLocked). It is idempotent.
func (s *stream) Close() error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s.closeLocked()
	return nil
}

// closeLocked ends the engine's use of the stream. A complete response needs nothing more; a
// close-delimited body or a tunnel ends with END_STREAM; a response begun and unfinished, or never
// begun, is reset with INTERNAL_ERROR. A request whose body the client is still sending is then
// ended with RST_STREAM NO_ERROR (RFC 9113 §8.1).
func (s *stream) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	s.cond.Broadcast()
	c := s.c
	if s.protoClosed || c.dead {
		return
	}
	switch {
	case s.endLocal:
	case s.rs == rsClose || s.rs == rsTunnel:
		c.wbuf = appendData(c.wbuf, s.id, nil, true)
		c.wakeWriterLocked()
		s.endLocal = true
		c.resets.give(1)
	default:
		c.resetStreamLocked(s, http2.ErrCodeInternal, errStreamClosed)
		return
	}
	if s.endRemote {
		c.closeStreamLocked(s, -1)
	} else {
		c.closeStreamLocked(s, int(http2.ErrCodeNo))
	}
}

// LocalAddr is the connection's local address.
func (s *stream) LocalAddr() net.Addr { return s.c.nc.LocalAddr() }

// RemoteAddr is the client's address.
func (s *stream) RemoteAddr() net.Addr { return s.c.nc.RemoteAddr() }

// ConnectionState is the TLS state of the connection, the zero value on a plain one.
func (s *stream) ConnectionState() tls.ConnectionState {
	if tc, ok := s.c.nc.(*tls.Conn); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

// SetDeadline sets the read and write deadlines, as a socket's: a time in the past makes blocked and
// later Reads and Writes fail with os.ErrDeadlineExceeded; the zero time clears it.
func (s *stream) SetDeadline(t time.Time) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s.rdl, s.wdl = t, t
	s.armLocked(&s.rtimer, t)
	s.armLocked(&s.wtimer, t)
	return nil
}

// SetReadDeadline sets the read deadline.
func (s *stream) SetReadDeadline(t time.Time) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s.rdl = t
	s.armLocked(&s.rtimer, t)
	return nil
}

// SetWriteDeadline sets the write deadline.
func (s *stream) SetWriteDeadline(t time.Time) error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s.wdl = t
	s.armLocked(&s.wtimer, t)
	return nil
}

// armLocked makes the waiters re-check their deadline at t: now if t has passed, else when a timer
// fires. A timer is created only for a deadline in the future.
func (s *stream) armLocked(tp **time.Timer, t time.Time) {
	if t.IsZero() {
		if *tp != nil {
			(*tp).Stop()
		}
		return
	}
	d := time.Until(t)
	if d <= 0 {
		if *tp != nil {
			(*tp).Stop()
		}
		s.cond.Broadcast()
		return
	}
	if *tp != nil {
		(*tp).Reset(d)
		return
	}
	c, gen := s.c, s.gen.Load()
	*tp = time.AfterFunc(d, func() {
		c.mu.Lock()
		if s.gen.Load() == gen {
			s.cond.Broadcast()
		}
		c.mu.Unlock()
	})
}

// expired reports whether deadline t is set and has passed.
func expired(t time.Time) bool { return !t.IsZero() && !time.Now().Before(t) }
