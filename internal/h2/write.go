package h2

import (
	"encoding/binary"
	"runtime"
	"time"

	"golang.org/x/net/http2"
)

// The write side. Streams and the reader append encoded frames to c.wbuf under c.mu; one writer
// goroutine swaps it with its spare buffer and writes it in one call, so at high concurrency the
// frames of many streams leave in one syscall.

const (
	// writeBufferLimit is how many queued bytes make streams wait before they add DATA or HEADERS.
	// With the buffer being written, at most about twice this is held per connection.
	writeBufferLimit = 256 << 10
	// maxQueuedControl caps the control frames a client provokes (SETTINGS and PING acks, RST_STREAM)
	// that wait for the writer: a client that sends them faster than it reads is disconnected.
	maxQueuedControl = 10000
	// keepBuffer is the largest write buffer kept while the connection has no open stream.
	keepBuffer = 64 << 10
	// lingerTime is how long a connection being closed waits for the client to close its side, so
	// that the last frames (GOAWAY) are not destroyed by a TCP reset.
	lingerTime = time.Second
	// batchBytes is the queue size below which the writer lets other goroutines add to it first.
	batchBytes = 32 << 10
)

// writeLoop is the writer goroutine.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	var deadlineSet time.Time
	for {
		c.mu.Lock()
		for len(c.wbuf) == 0 && !c.closing && !c.dead {
			c.writerIdle = true
			c.wcond.Wait()
		}
		c.writerIdle = false
		if len(c.wbuf) < batchBytes && !c.dead && !c.closing {
			// Let the goroutines that are ready to run (handlers whose backends have answered)
			// queue their frames first: one write then carries many responses. Without this,
			// the woken writer runs as soon as the first handler blocks and writes each response
			// on its own (one syscall per request at 100 streams in flight).
			c.mu.Unlock()
			runtime.Gosched()
			c.mu.Lock()
		}
		if c.dead {
			c.mu.Unlock()
			return
		}
		if len(c.wbuf) == 0 { // closing, and everything is written
			c.mu.Unlock()
			c.endWrite()
			return
		}
		buf := c.wbuf
		c.wbuf, c.wspare = c.wspare[:0], nil
		c.ctrlQueued = 0
		c.wakeBlockedLocked()
		closing := c.closing
		c.mu.Unlock()

		// The write deadline is moved at most every eighth of the timeout: a blocked write fails
		// after between 7/8 and all of WriteTimeout, for one timer update per many writes. Once the
		// connection is closing, finish has set a shorter one.
		if now := time.Now(); !closing && now.Sub(deadlineSet) > c.opts.WriteTimeout/8 {
			_ = c.nc.SetWriteDeadline(now.Add(c.opts.WriteTimeout))
			deadlineSet = now
		}
		_, err := c.nc.Write(buf)

		c.mu.Lock()
		if cap(buf) > keepBuffer && c.active == 0 {
			buf = nil
		}
		c.wspare = buf[:0]
		if err != nil { // the client is gone, or did not read for WriteTimeout
			c.dieLocked(errConnGone)
			c.mu.Unlock()
			closeNow(c.nc)
			return
		}
		c.mu.Unlock()
	}
}

// endWrite ends a connection whose last frames are written: the write side is shut (TCP FIN or TLS
// close_notify) and the reader gets lingerTime to see the client close its side.
func (c *Conn) endWrite() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTime))
}

// wakeWriterLocked tells the writer there is something to do.
func (c *Conn) wakeWriterLocked() {
	if c.writerIdle {
		c.wcond.Signal()
	}
}

// queueControlLocked accounts for a control frame the client provoked; it reports false when the
// client has made us queue too many without reading them.
func (c *Conn) queueControlLocked() bool {
	c.ctrlQueued++
	c.wakeWriterLocked()
	return c.ctrlQueued <= maxQueuedControl
}

// wakeBlockedLocked wakes the streams waiting for connection window or buffer space.
func (c *Conn) wakeBlockedLocked() {
	for i, s := range c.blocked {
		s.blockedOnConn = false
		s.cond.Broadcast()
		c.blocked[i] = nil
	}
	c.blocked = c.blocked[:0]
}

// blockLocked registers s as waiting for connection window or buffer space.
func (c *Conn) blockLocked(s *stream) {
	if !s.blockedOnConn {
		s.blockedOnConn = true
		c.blocked = append(c.blocked, s)
	}
}

// removeBlockedLocked forgets s as a waiter.
func (c *Conn) removeBlockedLocked(s *stream) {
	if !s.blockedOnConn {
		return
	}
	s.blockedOnConn = false
	for i, b := range c.blocked {
		if b == s {
			last := len(c.blocked) - 1
			c.blocked[i] = c.blocked[last]
			c.blocked[last] = nil
			c.blocked = c.blocked[:last]
			return
		}
	}
}

// Frame encoding (RFC 9113 §4.1, §6).

func appendFrameHeader(b []byte, length int, t http2.FrameType, f http2.Flags, id uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), byte(t), byte(f),
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

// appendSettings appends our SETTINGS frame.
func appendSettings(b []byte, o *Options) []byte {
	settings := [...]struct {
		id  http2.SettingID
		val uint32
	}{
		{http2.SettingMaxConcurrentStreams, o.MaxConcurrentStreams},
		{http2.SettingInitialWindowSize, o.StreamWindow},
		{http2.SettingMaxHeaderListSize, o.MaxHeaderListSize},
		{http2.SettingEnableConnectProtocol, 1},
	}
	b = appendFrameHeader(b, 6*len(settings), http2.FrameSettings, 0, 0)
	for _, s := range settings {
		b = binary.BigEndian.AppendUint16(b, uint16(s.id))
		b = binary.BigEndian.AppendUint32(b, s.val)
	}
	return b
}

func appendWindowUpdate(b []byte, id, incr uint32) []byte {
	b = appendFrameHeader(b, 4, http2.FrameWindowUpdate, 0, id)
	return binary.BigEndian.AppendUint32(b, incr&0x7fffffff)
}

func appendRSTStream(b []byte, id uint32, code http2.ErrCode) []byte {
	b = appendFrameHeader(b, 4, http2.FrameRSTStream, 0, id)
	return binary.BigEndian.AppendUint32(b, uint32(code))
}

func appendGoAway(b []byte, last uint32, code http2.ErrCode, debug []byte) []byte {
	b = appendFrameHeader(b, 8+len(debug), http2.FrameGoAway, 0, 0)
	b = binary.BigEndian.AppendUint32(b, last&0x7fffffff)
	b = binary.BigEndian.AppendUint32(b, uint32(code))
	return append(b, debug...)
}

func appendPingAck(b []byte, data [8]byte) []byte {
	b = appendFrameHeader(b, 8, http2.FramePing, http2.FlagPingAck, 0)
	return append(b, data[:]...)
}

func appendSettingsAck(b []byte) []byte {
	return appendFrameHeader(b, 0, http2.FrameSettings, http2.FlagSettingsAck, 0)
}

func appendData(b []byte, id uint32, data []byte, end bool) []byte {
	var f http2.Flags
	if end {
		f = http2.FlagDataEndStream
	}
	b = appendFrameHeader(b, len(data), http2.FrameData, f, id)
	return append(b, data...)
}

// beginHeadersLocked starts a header block in c.wbuf: it reserves the HEADERS frame header and
// returns where the block begins. A pending table size update opens the block.
func (c *Conn) beginHeadersLocked() int {
	c.wbuf = append(c.wbuf, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	start := len(c.wbuf)
	if c.tableUpdate {
		c.wbuf = appendTableSize(c.wbuf, c.tableSize)
		c.tableUpdate = false
	}
	return start
}

// endHeadersLocked frames the header block that begins at start: one HEADERS frame, or HEADERS and
// CONTINUATION frames when it is larger than the client's SETTINGS_MAX_FRAME_SIZE.
func (c *Conn) endHeadersLocked(start int, id uint32, end bool) {
	block := c.wbuf[start:]
	flags := http2.FlagHeadersEndHeaders
	if end {
		flags |= http2.FlagHeadersEndStream
	}
	if len(block) <= c.peerMaxFrame {
		appendFrameHeader(c.wbuf[start-9:start-9], len(block), http2.FrameHeaders, flags, id)
		c.wakeWriterLocked()
		return
	}
	c.scratch = append(c.scratch[:0], block...)
	b := c.wbuf[:start-9]
	rest := c.scratch
	first := true
	for len(rest) > 0 {
		n := min(len(rest), c.peerMaxFrame)
		var f http2.Flags
		t := http2.FrameContinuation
		if first {
			t = http2.FrameHeaders
			if end {
				f |= http2.FlagHeadersEndStream
			}
		}
		if n == len(rest) {
			f |= http2.FlagHeadersEndHeaders
		}
		b = appendFrameHeader(b, n, t, f, id)
		b = append(b, rest[:n]...)
		rest = rest[n:]
		first = false
	}
	c.wbuf = b
	c.wakeWriterLocked()
}

// appendLocalResponseLocked answers a request itself (431, 501): HEADERS with :status and an empty
// body.
func (c *Conn) appendLocalResponseLocked(id uint32, status int) {
	start := c.beginHeadersLocked()
	c.wbuf = appendStatus(c.wbuf, status)
	c.wbuf, c.scratch = appendField(c.wbuf, c.scratch, []byte("content-length"), []byte("0"))
	c.endHeadersLocked(start, id, true)
}
