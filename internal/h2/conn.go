package h2

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// Conn is one HTTP/2 client connection. Create it with NewConn and run it with Serve; Shutdown and
// Close may be called from any goroutine.
type Conn struct {
	nc   net.Conn
	opts Options
	br   connReader
	fr   *http2.Framer
	hdr  blockReader // decodes header blocks; used by the reading goroutine only

	// Everything below is guarded by mu; the streams' fields are too.
	mu sync.Mutex

	// The write side (write.go).
	wcond         sync.Cond // the writer waits on it for frames to send
	wbuf          []byte    // encoded frames queued for the writer
	wspare        []byte    // the writer's other buffer
	writerIdle    bool      // the writer waits on wcond
	ctrlQueued    int       // client-provoked control frames in wbuf
	blocked       []*stream // streams waiting for connection window or buffer space
	scratch       []byte    // lower-cased names, re-framed header blocks
	tableSize     uint32    // the HPACK table size our encoder declares
	tableUpdate   bool      // a table size update must start the next header block
	sendWin       int64     // the connection's send window
	peerInitWin   int64     // the client's SETTINGS_INITIAL_WINDOW_SIZE
	peerMaxFrame  int       // the client's SETTINGS_MAX_FRAME_SIZE
	recvWin       int64     // connection receive window left to the client
	recvUnacked   int64     // received connection window not yet returned
	unackedSet    int       // our SETTINGS frames not yet acknowledged
	sawSettings   bool      // the client's first SETTINGS arrived
	writerStarted bool

	// Streams.
	streams     map[uint32]*stream
	maxClientID uint32         // the highest stream the client opened (or tried to)
	active      int            // streams open in the protocol sense
	handlers    int            // running Serve callbacks
	pending     []*stream      // streams waiting for a handler slot, in order
	wg          sync.WaitGroup // the handler goroutines

	// Handler goroutines (see worker).
	idleW     []*worker   // waiting for a stream; the last is the next to take one
	idleLow   int         // the fewest idle since the last trim: that many were not needed
	trimTimer *time.Timer // runs trimIdle every workerLinger while there are idle workers
	trimArmed bool
	workers   int // busy or idle
	spawned   int // goroutines started, for tests

	// The last streams we reset: frames the client sent on them before it saw the RST_STREAM are
	// ignored (RFC 9113 §5.1), trailers included, rather than taken for frames on closed streams.
	resetIDs [64]uint32
	resetPos int

	// Lifecycle.
	goAwaySent bool
	shutdown   bool // graceful: close once no stream is open
	closing    bool // the writer flushes what is queued, then ends the connection
	dead       bool // the socket is closed or failed
	idleSince  time.Time
	idleTimer  *time.Timer
	writerDone chan struct{}

	// Defences (defence.go).
	resets bucket
	junk   bucket
}

// NewConn prepares an HTTP/2 connection over nc. buffered holds bytes already read from nc (the
// client preface or its beginning, as when the engine sniffed h2c prior knowledge); they are read
// before nc. opts is copied, its zero fields defaulted; opts.Serve is required.
func NewConn(nc net.Conn, buffered []byte, opts *Options) *Conn {
	c := &Conn{
		nc:           nc,
		opts:         opts.withDefaults(),
		streams:      make(map[uint32]*stream),
		sendWin:      initialWindow,
		peerInitWin:  initialWindow,
		peerMaxFrame: 16384,
		tableSize:    4096,
		writerDone:   make(chan struct{}),
	}
	c.wcond.L = &c.mu
	c.br.init(nc, buffered)
	c.fr = http2.NewFramer(nil, &c.br)
	c.hdr.init(c.opts.MaxHeaderListSize)
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(maxReadFrame)
	now := time.Now()
	c.resets.init(resetBurst(c.opts.MaxConcurrentStreams), float64(c.opts.MaxConcurrentStreams), now)
	c.junk.init(junkBurst, junkRate, now)
	c.recvWin = int64(c.opts.ConnWindow)
	c.idleSince = now
	// The server preface: SETTINGS first, then the connection window.
	c.wbuf = appendSettings(c.wbuf[:0], &c.opts)
	c.unackedSet = 1
	if d := c.opts.ConnWindow - initialWindow; d > 0 {
		c.wbuf = appendWindowUpdate(c.wbuf, 0, d)
	}
	return c
}

// Serve runs the connection: it reads frames on the calling goroutine and starts a writer goroutine
// and handler goroutines, reused from request to request (see worker). It returns once the
// connection is closed and every Serve callback has returned. It closes nc.
func (c *Conn) Serve() {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		c.finish()
		return
	}
	c.writerStarted = true
	c.idleTimer = time.AfterFunc(c.opts.IdleTimeout, c.onIdle)
	c.mu.Unlock()
	go c.writeLoop()
	_ = c.readLoop() // a socket error or the end of input: nothing worth a log line
	c.finish()
}

// Shutdown starts a graceful close: GOAWAY with the last stream processed, no new streams, and the
// connection closes once the open streams are done. It may be called from any goroutine, any number
// of times, before or during Serve.
func (c *Conn) Shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead || c.shutdown {
		return
	}
	c.shutdown = true
	c.sendGoAwayLocked(http2.ErrCodeNo, nil)
	c.maybeFinishLocked()
}

// Close aborts the connection now: the socket is closed and every stream's Reads and Writes fail.
// Serve still returns only after the Serve callbacks have.
func (c *Conn) Close() {
	c.mu.Lock()
	c.dieLocked(errConnClosed)
	c.mu.Unlock()
	closeNow(c.nc)
}

// The errors a stream's Read and Write return when the stream or its connection is gone. None is a
// timeout.
var (
	errConnClosed   = errors.New("h2: connection closed")
	errConnGone     = errors.New("h2: connection lost")
	errGoAway       = errors.New("h2: connection closed after a protocol error")
	errStreamReset  = errors.New("h2: stream reset by the client")
	errStreamClosed = errors.New("h2: stream closed")
	errRespDone     = errors.New("h2: write after the end of the response")
	errRespInvalid  = errors.New("h2: invalid response from the engine")
	errMalformedReq = errors.New("h2: request body does not match its content-length")
)

// failStreamsLocked fails every open stream with err and closes it (without RST_STREAM).
func (c *Conn) failStreamsLocked(err error) {
	for _, s := range c.streams {
		s.failLocked(err)
		c.closeStreamLocked(s, -1)
	}
	c.pending = nil // every queued stream was in c.streams: closed and released above
}

// dieLocked marks the connection unusable: every stream fails, the writer and the reader stop.
func (c *Conn) dieLocked(err error) {
	if c.dead {
		return
	}
	c.failStreamsLocked(err)
	c.dead = true
	c.dismissIdleLocked()
	c.wcond.Broadcast()
	c.wakeBlockedLocked()
}

// finish ends Serve. The streams fail, what is queued (a GOAWAY) is written within lingerTime, then
// the socket is closed and the writer and every handler waited for.
func (c *Conn) finish() {
	c.mu.Lock()
	c.failStreamsLocked(errConnGone)
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	started := c.writerStarted
	if started && !c.dead {
		c.closing = true
		c.wakeWriterLocked()
		c.mu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(lingerTime))
		<-c.writerDone
		c.mu.Lock()
	}
	c.dieLocked(errConnGone)
	c.mu.Unlock()
	closeNow(c.nc)
	if started {
		<-c.writerDone
	}
	c.wg.Wait()
}

// closeNow closes nc without a TLS close_notify, which could block on a peer that does not read.
func closeNow(nc net.Conn) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	_ = nc.Close()
}

// maybeFinishLocked starts the end of a connection shutting down once no stream is open.
func (c *Conn) maybeFinishLocked() {
	if c.shutdown && c.active == 0 && !c.closing {
		c.closing = true
		c.wakeWriterLocked()
	}
}

// onIdle runs when the idle timer fires: a connection without an open stream for IdleTimeout is
// closed with GOAWAY NO_ERROR; otherwise the timer is armed again.
func (c *Conn) onIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead || c.closing {
		return
	}
	if c.active > 0 {
		c.idleTimer.Reset(c.opts.IdleTimeout)
		return
	}
	if left := c.opts.IdleTimeout - time.Since(c.idleSince); left > 0 {
		c.idleTimer.Reset(left)
		return
	}
	c.shutdown = true
	c.sendGoAwayLocked(http2.ErrCodeNo, nil)
	c.maybeFinishLocked()
}

// startHandlerLocked runs s's request on an idle worker goroutine, or a new one, when a handler slot
// is free, else queues it. Handlers are capped at MaxConcurrentStreams, those of reset streams still
// running included, so that resetting streams cannot multiply the work in flight (rapid reset).
func (c *Conn) startHandlerLocked(s *stream) {
	if c.handlers >= int(c.opts.MaxConcurrentStreams) {
		s.queued = true
		c.pending = append(c.pending, s)
		return
	}
	c.handlers++
	if n := len(c.idleW) - 1; n >= 0 {
		w := c.idleW[n]
		c.idleW[n] = nil
		c.idleW = c.idleW[:n]
		c.idleLow = min(c.idleLow, n)
		w.next <- s // never blocks: an idle worker's channel is empty
		return
	}
	c.wg.Add(1)
	c.workers++
	c.spawned++
	go c.work(s)
}

// A worker is a handler goroutine that runs one stream's Serve after another. Reusing it saves
// starting a goroutine per request and, above all, growing a new stack to the engine's depth each
// time (runtime.copystack was 7% of the CPU of h2load's 100 streams per connection).
//
// Finished workers wait on the connection's idle list (a stack: the most recently used, whose
// stack is warm, is taken first), at most MaxConcurrentStreams of them. Every workerLinger, the
// idle workers that no stream needed since the last look (the list's low-water mark) end, so a
// connection keeps as many as its recent peaks used: a quiet one keeps none after two looks. A
// dead connection ends them all at once.
type worker struct {
	next chan *stream // capacity 1: the next stream, or nil to end
}

// work is a handler goroutine: it serves s, then the streams queued for a handler slot, then waits
// on the idle list for the next stream.
func (c *Conn) work(s *stream) {
	defer c.wg.Done()
	var w *worker
	for {
		c.opts.Serve(s)
		c.mu.Lock()
		s.closeLocked()
		s.handlerDone = true
		c.handlers--
		if s.protoClosed {
			c.releaseLocked(s)
		}
		s = nil
		if len(c.pending) > 0 && !c.dead && c.handlers < int(c.opts.MaxConcurrentStreams) {
			s = c.pending[0]
			c.pending[0] = nil
			c.pending = c.pending[1:]
			if len(c.pending) == 0 {
				c.pending = nil
			}
			s.queued = false
			c.handlers++
			c.mu.Unlock()
			continue
		}
		if c.dead || len(c.idleW) >= int(c.opts.MaxConcurrentStreams) {
			c.workers--
			c.mu.Unlock()
			return
		}
		if w == nil {
			w = &worker{next: make(chan *stream, 1)}
		}
		c.idleW = append(c.idleW, w)
		if !c.trimArmed {
			c.trimArmed = true
			c.idleLow = len(c.idleW)
			if c.trimTimer == nil {
				c.trimTimer = time.AfterFunc(c.opts.workerLinger, c.trimIdle)
			} else {
				c.trimTimer.Reset(c.opts.workerLinger)
			}
		}
		c.mu.Unlock()
		if s = <-w.next; s == nil {
			c.mu.Lock()
			c.workers--
			c.mu.Unlock()
			return
		}
	}
}

// trimIdle runs every workerLinger while the connection has idle workers: those that stayed idle
// since the last look (the bottom idleLow of the list, the coldest) end.
func (c *Conn) trimIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return
	}
	n := min(c.idleLow, len(c.idleW))
	for i, w := range c.idleW[:n] {
		w.next <- nil
		c.idleW[i] = nil
	}
	c.idleW = append(c.idleW[:0], c.idleW[n:]...)
	clear(c.idleW[len(c.idleW) : n+len(c.idleW)])
	c.idleLow = len(c.idleW)
	if c.trimArmed = len(c.idleW) > 0; c.trimArmed {
		c.trimTimer.Reset(c.opts.workerLinger)
	}
}

// dismissIdleLocked ends every idle worker: the connection is dead.
func (c *Conn) dismissIdleLocked() {
	for i, w := range c.idleW {
		w.next <- nil
		c.idleW[i] = nil
	}
	c.idleW = c.idleW[:0]
	if c.trimTimer != nil {
		c.trimTimer.Stop()
	}
	c.trimArmed = false
}

// closeStreamLocked ends s in the protocol: it leaves the stream table, stops counting against
// MaxConcurrentStreams, and is released once its handler is done. code ≥ 0 sends RST_STREAM.
func (c *Conn) closeStreamLocked(s *stream, code int) {
	if s.protoClosed {
		return
	}
	if code >= 0 && !c.dead {
		c.sendResetLocked(s.id, http2.ErrCode(code))
		c.wakeWriterLocked()
	}
	s.protoClosed = true
	delete(c.streams, s.id)
	c.active--
	if c.active == 0 {
		c.idleSince = time.Now()
	}
	s.cond.Broadcast()
	c.removeBlockedLocked(s)
	if s.queued {
		// Never started: drop it from the queue; no handler will run.
		for i, p := range c.pending {
			if p == s {
				c.pending = append(c.pending[:i], c.pending[i+1:]...)
				break
			}
		}
		s.queued = false
		c.releaseLocked(s)
	} else if s.handlerDone {
		c.releaseLocked(s)
	}
	c.maybeFinishLocked()
}

// sendResetLocked queues RST_STREAM for id and remembers that we reset it.
func (c *Conn) sendResetLocked(id uint32, code http2.ErrCode) {
	c.wbuf = appendRSTStream(c.wbuf, id, code)
	c.resetIDs[c.resetPos] = id
	c.resetPos = (c.resetPos + 1) % len(c.resetIDs)
}

// weReset reports whether id is one of the last streams we reset.
func (c *Conn) weReset(id uint32) bool {
	for _, r := range c.resetIDs {
		if r == id {
			return true
		}
	}
	return false
}

// resetStreamLocked sends RST_STREAM for s with code and fails its Reads and Writes.
func (c *Conn) resetStreamLocked(s *stream, code http2.ErrCode, err error) {
	s.failLocked(err)
	c.closeStreamLocked(s, int(code))
}

// sendGoAwayLocked queues GOAWAY with the last stream processed; a GOAWAY with an error ends the
// connection once it is written.
func (c *Conn) sendGoAwayLocked(code http2.ErrCode, debug []byte) {
	if c.dead || c.goAwaySent && code == http2.ErrCodeNo {
		return
	}
	c.goAwaySent = true
	c.wbuf = appendGoAway(c.wbuf, c.maxClientID, code, debug)
	if code != http2.ErrCodeNo {
		c.closing = true
		for _, s := range c.streams {
			s.failLocked(errGoAway)
			c.closeStreamLocked(s, -1)
		}
	}
	c.wakeWriterLocked()
}

// isTimeout reports a deadline error.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
