package h2

import (
	"errors"
	"io"
	"net"
	"time"

	"golang.org/x/net/http2"
)

// connReader buffers the socket for the Framer, after the bytes the engine had already read. It
// also bounds the bytes one ReadFrame call may consume: a header block's HEADERS and CONTINUATION
// frames are read within one call, so that budget ends a CONTINUATION flood (CVE-2023-45288) even
// of empty frames, which the Framer alone would read forever.
type connReader struct {
	nc     net.Conn
	buf    []byte
	r, w   int
	budget int // bytes the current frame read may still take
}

// errFrameBudget is a header block that goes on past any legitimate size.
var errFrameBudget = errors.New("h2: header block too large on the wire (continuation flood)")

func (b *connReader) init(nc net.Conn, buffered []byte) {
	b.nc = nc
	b.buf = make([]byte, max(16<<10, len(buffered)))
	b.w = copy(b.buf, buffered)
}

func (b *connReader) Read(p []byte) (int, error) {
	if b.budget <= 0 {
		return 0, errFrameBudget
	}
	if len(p) > b.budget {
		p = p[:b.budget]
	}
	if b.r == b.w {
		if len(p) >= len(b.buf) {
			n, err := b.nc.Read(p)
			b.budget -= n
			return n, err
		}
		n, err := b.nc.Read(b.buf)
		if n == 0 {
			return 0, err
		}
		b.r, b.w = 0, n
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	b.budget -= n
	return n, nil
}

// connError is a connection error to answer with GOAWAY.
type connError struct {
	code   http2.ErrCode
	reason string
}

func connErr(code http2.ErrCode, reason string) *connError { return &connError{code, reason} }

// Error makes a connError something a read can return (readHeaderBlock).
func (e *connError) Error() string { return e.reason }

// readLoop reads the preface and then frames until the connection ends.
func (c *Conn) readLoop() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.opts.PrefaceTimeout))
	var pre [len(ClientPreface)]byte
	c.br.budget = len(pre)
	if _, err := io.ReadFull(&c.br, pre[:]); err != nil {
		return err
	}
	if string(pre[:]) != ClientPreface {
		return c.failConn(connErr(http2.ErrCodeProtocol, "invalid connection preface"))
	}
	budget := 9 + maxReadFrame + 2*int(c.opts.MaxHeaderListSize) + frameBudgetSlack
	for {
		c.br.budget = budget
		f, err := c.fr.ReadFrame()
		if hf, ok := f.(*http2.HeadersFrame); ok && err == nil {
			err = c.readHeaderBlock(hf) // into c.hdr.blk, for processLocked
		}
		if err != nil {
			ce, fatal := c.readError(err)
			if ce != nil {
				return c.failConn(ce)
			}
			if fatal {
				return err
			}
			continue
		}
		c.mu.Lock()
		var ce *connError
		switch {
		case c.dead:
			c.mu.Unlock()
			return net.ErrClosed
		case c.goAwaySent && c.closing:
			// An error GOAWAY is out, or the connection is ending: frames are no longer processed.
			c.mu.Unlock()
			return c.drain()
		default:
			ce = c.processLocked(f)
		}
		c.mu.Unlock()
		if ce != nil {
			return c.failConn(ce)
		}
	}
}

// readError sorts a ReadFrame (or readHeaderBlock) error: a stream error is answered here (and may
// turn into a connection error), a protocol error is a connection error, anything else (the
// socket's) is fatal.
func (c *Conn) readError(err error) (ce *connError, fatal bool) {
	var se http2.StreamError
	var cerr http2.ConnectionError
	var own *connError
	switch {
	case errors.As(err, &own): // readHeaderBlock's
		return own, false
	case errors.As(err, &se):
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.streamErrorLocked(se), false
	case errors.As(err, &cerr):
		reason := "frame error"
		if d := c.fr.ErrorDetail(); d != nil {
			reason = d.Error()
		}
		return connErr(http2.ErrCode(cerr), reason), false
	case errors.Is(err, http2.ErrFrameTooLarge):
		return connErr(http2.ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE"), false
	case errors.Is(err, errFrameBudget):
		return calm(errFrameBudget.Error()), false
	}
	return nil, true
}

// streamErrorLocked answers a frame the Framer rejected as a stream error: a malformed header block
// (which still opened its stream), a bad WINDOW_UPDATE or PRIORITY.
func (c *Conn) streamErrorLocked(se http2.StreamError) *connError {
	if !c.sawSettings {
		return connErr(http2.ErrCodeProtocol, "first frame is not SETTINGS")
	}
	id := se.StreamID
	if s := c.streams[id]; s != nil {
		c.resetStreamLocked(s, se.Code, errStreamReset)
		return c.resetBudgetLocked()
	}
	if id > c.maxClientID && id%2 == 1 && se.Code == http2.ErrCodeProtocol {
		// A new stream whose header block was malformed: it is opened, and closed at once.
		c.maxClientID = id
	}
	c.sendResetLocked(id, se.Code)
	if !c.queueControlLocked() {
		return connErr(http2.ErrCodeEnhanceYourCalm, "control frames not read")
	}
	return c.resetBudgetLocked()
}

// failConn ends the connection for ce: GOAWAY with its code (unless the socket itself failed), then
// the rest of the client's input is read and dropped until the writer has shut the connection.
func (c *Conn) failConn(ce *connError) error {
	c.mu.Lock()
	if !c.dead {
		c.opts.Logf("h2: %v: connection error %v: %s", c.nc.RemoteAddr(), ce.code, ce.reason)
		c.sendGoAwayLocked(ce.code, []byte(ce.reason))
		c.closing = true
		c.wakeWriterLocked()
	}
	c.mu.Unlock()
	return c.drain()
}

// drain reads and drops input until the client closes, the writer's linger deadline passes or a
// bound is reached, so that the GOAWAY reaches the client before the socket closes.
func (c *Conn) drain() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(2 * lingerTime))
	c.br.budget = 1 << 20
	_, err := io.Copy(io.Discard, &c.br)
	return err
}

// processLocked handles one frame.
func (c *Conn) processLocked(f http2.Frame) *connError {
	if !c.sawSettings {
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			return connErr(http2.ErrCodeProtocol, "first frame is not SETTINGS")
		}
		c.sawSettings = true
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	switch f := f.(type) {
	case *http2.HeadersFrame:
		return c.processHeadersLocked(&c.hdr.blk) // the block readLoop decoded
	case *http2.DataFrame:
		return c.processDataLocked(f)
	case *http2.SettingsFrame:
		return c.processSettingsLocked(f)
	case *http2.WindowUpdateFrame:
		return c.processWindowUpdateLocked(f)
	case *http2.PingFrame:
		if !c.junk.take(time.Now()) {
			return calm("PING flood")
		}
		if f.IsAck() {
			return nil // we send no PING: an unsolicited ack is ignored (RFC 9113 §6.7)
		}
		c.wbuf = appendPingAck(c.wbuf, f.Data)
		if !c.queueControlLocked() {
			return calm("PING acks not read")
		}
		return nil
	case *http2.RSTStreamFrame:
		return c.processResetLocked(f)
	case *http2.PriorityFrame:
		if !c.junk.take(time.Now()) {
			return calm("PRIORITY flood")
		}
		if f.StreamDep == f.StreamID {
			return c.streamErrorLocked(http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol})
		}
		return nil // priorities are not acted on (RFC 9113 §5.3.2)
	case *http2.GoAwayFrame:
		// The client is leaving: finish the streams it opened, then close.
		c.shutdown = true
		c.sendGoAwayLocked(http2.ErrCodeNo, nil)
		c.maybeFinishLocked()
		return nil
	case *http2.PushPromiseFrame:
		return connErr(http2.ErrCodeProtocol, "PUSH_PROMISE from a client")
	}
	// Unknown frame types are ignored (RFC 9113 §5.5), within the junk budget.
	if !c.junk.take(time.Now()) {
		return calm("flood of ignored frames")
	}
	return nil
}

func calm(reason string) *connError { return connErr(http2.ErrCodeEnhanceYourCalm, reason) }

// resetBudgetLocked takes a token for a stream reset the client caused.
func (c *Conn) resetBudgetLocked() *connError {
	if !c.resets.take(time.Now()) {
		return calm("too many stream resets")
	}
	return nil
}

// idle reports whether id names a stream the client has not opened: frames other than HEADERS and
// PRIORITY on it are a connection error (RFC 9113 §5.1).
func (c *Conn) idle(id uint32) bool { return id > c.maxClientID || id%2 == 0 }

func (c *Conn) processSettingsLocked(f *http2.SettingsFrame) *connError {
	if f.IsAck() {
		if c.unackedSet == 0 {
			return connErr(http2.ErrCodeProtocol, "SETTINGS ack without SETTINGS")
		}
		c.unackedSet--
		return nil
	}
	if !c.junk.take(time.Now()) {
		return calm("SETTINGS flood")
	}
	for i := 0; i < f.NumSettings(); i++ {
		st := f.Setting(i)
		if err := st.Valid(); err != nil {
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				return connErr(http2.ErrCode(ce), "invalid SETTINGS value")
			}
			return connErr(http2.ErrCodeProtocol, "invalid SETTINGS value")
		}
		switch st.ID {
		case http2.SettingHeaderTableSize:
			if st.Val < c.tableSize {
				c.tableSize, c.tableUpdate = st.Val, true
			}
		case http2.SettingInitialWindowSize:
			delta := int64(st.Val) - c.peerInitWin
			c.peerInitWin = int64(st.Val)
			for _, s := range c.streams {
				s.sendWin += delta
				if s.sendWin > maxWindow {
					return connErr(http2.ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows a window")
				}
				s.cond.Broadcast()
			}
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = int(st.Val)
		}
	}
	c.wbuf = appendSettingsAck(c.wbuf)
	if !c.queueControlLocked() {
		return calm("SETTINGS acks not read")
	}
	return nil
}

func (c *Conn) processWindowUpdateLocked(f *http2.WindowUpdateFrame) *connError {
	inc := int64(f.Increment) // never 0: the Framer rejects that
	if inc < minWindowUpdate && !c.junk.take(time.Now()) {
		return calm("flood of small WINDOW_UPDATEs")
	}
	if f.StreamID == 0 {
		c.sendWin += inc
		if c.sendWin > maxWindow {
			return connErr(http2.ErrCodeFlowControl, "connection window over 2^31-1")
		}
		c.wakeBlockedLocked()
		return nil
	}
	s := c.streams[f.StreamID]
	if s == nil {
		if c.idle(f.StreamID) {
			return connErr(http2.ErrCodeProtocol, "WINDOW_UPDATE on an idle stream")
		}
		return nil // a closed stream: clients send these as they read what they received
	}
	s.sendWin += inc
	if s.sendWin > maxWindow {
		c.resetStreamLocked(s, http2.ErrCodeFlowControl, errStreamReset)
		return nil
	}
	s.cond.Broadcast()
	return nil
}

func (c *Conn) processResetLocked(f *http2.RSTStreamFrame) *connError {
	s := c.streams[f.StreamID]
	if s == nil {
		if c.idle(f.StreamID) {
			return connErr(http2.ErrCodeProtocol, "RST_STREAM on an idle stream")
		}
		return nil // a closed stream: a client cancelling what we have finished
	}
	s.failLocked(errStreamReset)
	c.closeStreamLocked(s, -1)
	if !s.endLocal {
		return c.resetBudgetLocked() // a request given up on: rapid reset counts these
	}
	return nil
}

// processDataLocked takes a DATA frame: flow control, the content-length check, the body buffer.
func (c *Conn) processDataLocked(f *http2.DataFrame) *connError {
	id := f.StreamID
	length := int64(f.Length) // padding included: it counts against flow control
	data := f.Data()
	s := c.streams[id]
	if s == nil && c.idle(id) {
		return connErr(http2.ErrCodeProtocol, "DATA on an idle stream")
	}
	if length > c.recvWin {
		return connErr(http2.ErrCodeFlowControl, "DATA beyond the connection window")
	}
	c.recvWin -= length
	c.returnConnWindowLocked(length)
	if s == nil || s.endRemote {
		// Closed, or half-closed (remote): STREAM_CLOSED (RFC 9113 §5.1), but for streams beyond
		// a GOAWAY and streams we reset, whose frames are ignored.
		if s == nil && (c.goAwaySent || c.weReset(id)) {
			return nil
		}
		if !c.junk.take(time.Now()) {
			return calm("DATA flood on closed streams")
		}
		if s != nil {
			c.resetStreamLocked(s, http2.ErrCodeStreamClosed, errStreamClosed)
			return nil
		}
		c.wbuf = appendRSTStream(c.wbuf, id, http2.ErrCodeStreamClosed)
		if !c.queueControlLocked() {
			return calm("control frames not read")
		}
		return nil
	}
	if length > s.recvWin {
		c.resetStreamLocked(s, http2.ErrCodeFlowControl, errStreamReset)
		return c.resetBudgetLocked()
	}
	s.recvWin -= length
	if len(data) == 0 && !f.StreamEnded() && !c.junk.take(time.Now()) {
		return calm("empty DATA flood")
	}
	s.recvd += int64(len(data))
	if s.info.length >= 0 && s.recvd > s.info.length {
		c.resetStreamLocked(s, http2.ErrCodeProtocol, errMalformedReq)
		return c.resetBudgetLocked()
	}
	if len(data) > 0 && !s.closed && (s.info.mode != bodyNone) {
		s.appendBodyLocked(data)
	} else {
		s.unacked += int64(len(data)) // dropped: the window comes back all the same
	}
	s.unacked += length - int64(len(data)) // padding
	if f.StreamEnded() {
		return c.endRequestLocked(s)
	}
	s.returnWindowLocked()
	s.cond.Broadcast()
	return nil
}

// endRequestLocked records END_STREAM from the client.
func (c *Conn) endRequestLocked(s *stream) *connError {
	s.endRemote = true
	if s.info.length >= 0 && s.recvd != s.info.length {
		c.resetStreamLocked(s, http2.ErrCodeProtocol, errMalformedReq)
		return c.resetBudgetLocked()
	}
	s.cond.Broadcast()
	if s.endLocal {
		c.closeStreamLocked(s, -1)
	}
	return nil
}

// returnConnWindowLocked gives the client back connection window as soon as DATA arrives: the
// stream windows bound what is buffered, so a stalled stream never holds up the others.
func (c *Conn) returnConnWindowLocked(n int64) {
	c.recvUnacked += n
	if c.recvUnacked < int64(c.opts.ConnWindow/4) {
		return
	}
	c.wbuf = appendWindowUpdate(c.wbuf, 0, uint32(c.recvUnacked))
	c.recvWin += c.recvUnacked
	c.recvUnacked = 0
	c.wakeWriterLocked()
}
