package h2

import (
	"bytes"
	"net"
	"os"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"golang.org/x/net/http2"
)

// respState is where the engine's HTTP/1.1 response stands, as Write parses it.
type respState uint8

const (
	rsHead      respState = iota // reading a head: informational or final
	rsLength                     // a Content-Length body: left bytes to go
	rsChunkLine                  // a chunk-size line
	rsChunkData                  // chunk data: left bytes to go
	rsChunkCRLF                  // the CRLF after chunk data
	rsTrailers                   // the trailer section after the last chunk
	rsClose                      // a body delimited by the end of the connection
	rsTunnel                     // after a 101: raw bytes
	rsDone                       // the response is complete
)

// respLimits bound the engine's response heads and trailer sections. Never written.
var respLimits = h1.Limits{MaxHeaderBytes: 64 << 10, MaxHeaderCount: 256}

// Write takes the engine's HTTP/1.1 response bytes, in pieces of any size, and sends them as
// HEADERS, DATA and trailing HEADERS. Bytes after the end of the response are an error.
func (s *stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := s.writableLocked(); err != nil {
		return 0, err
	}
	n := len(p)
	if len(s.wb) > 0 {
		// A partial head, chunk-size line or trailer section waits: parse it with what follows.
		s.wb = append(s.wb, p...)
		p = s.wb
		s.wb = s.wb[:0]
	}
	for len(p) > 0 {
		k, err := s.consumeLocked(p)
		if err != nil {
			return 0, err
		}
		p = p[k:]
	}
	return n, nil
}

// stash keeps p, the start of something to parse, for the next Write. p may alias s.wb's array.
func (s *stream) stash(p []byte) int {
	s.wb = append(s.wb[:0], p...)
	return len(p)
}

// consumeLocked handles the start of p in the current state and returns how much it used.
func (s *stream) consumeLocked(p []byte) (int, error) {
	switch s.rs {
	case rsHead:
		if err := h1.ParseResponse(p, &s.resp, &respLimits); err != nil {
			return 0, s.invalidLocked()
		}
		if s.resp.HeadLen == 0 {
			return s.stash(p), nil
		}
		k := s.resp.HeadLen
		return k, s.headLocked()
	case rsLength:
		k := int(min(int64(len(p)), s.left))
		end := int64(k) == s.left
		sent, err := s.sendDataLocked(p[:k], end)
		s.left -= int64(sent)
		if err != nil {
			return 0, err
		}
		if end {
			s.doneLocked()
		}
		return k, nil
	case rsChunkLine:
		size, n, err := h1.ParseChunkLine(p)
		switch {
		case err != nil:
			return 0, s.invalidLocked()
		case n == 0:
			return s.stash(p), nil
		case size == 0:
			s.rs = rsTrailers
		default:
			s.rs, s.left = rsChunkData, size
		}
		return n, nil
	case rsChunkData:
		k := int(min(int64(len(p)), s.left))
		// The last chunk of data followed at once by the end of the body: END_STREAM on it.
		end := int64(k) == s.left && bytes.HasPrefix(p[k:], lastChunk)
		sent, err := s.sendDataLocked(p[:k], end)
		s.left -= int64(sent)
		if err != nil {
			return 0, err
		}
		if end {
			s.doneLocked()
			return k + len(lastChunk), nil
		}
		if s.left == 0 {
			s.rs, s.crlf = rsChunkCRLF, 0
		}
		return k, nil
	case rsChunkCRLF:
		if p[0] != "\r\n"[s.crlf] {
			return 0, s.invalidLocked()
		}
		if s.crlf++; s.crlf == 2 {
			s.rs = rsChunkLine
		}
		return 1, nil
	case rsTrailers:
		fields, n, err := h1.ParseTrailers(p, s.tfields[:0], &respLimits)
		s.tfields = fields
		switch {
		case err != nil:
			return 0, s.invalidLocked()
		case n == 0:
			return s.stash(p), nil
		}
		return n, s.trailersLocked()
	case rsClose, rsTunnel:
		if _, err := s.sendDataLocked(p, false); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return 0, errRespDone
}

// lastChunk is what ends a chunked body without trailers, after a chunk's data.
var lastChunk = []byte("\r\n0\r\n\r\n")

// headLocked sends a parsed response head.
func (s *stream) headLocked() error {
	r := &s.resp
	switch {
	case r.Status == 101:
		if !s.info.extConnect || s.tunnelOpen {
			return s.invalidLocked()
		}
		// RFC 8441 §5: the extended CONNECT succeeded; the stream is now the tunnel.
		if err := s.sendHeadersLocked(200, r.Fields, false, true); err != nil {
			return err
		}
		s.rs, s.tunnelOpen = rsTunnel, true
		s.cond.Broadcast() // a Read may wait for the tunnel
	case r.Status < 200:
		if err := s.sendHeadersLocked(r.Status, r.Fields, false, false); err != nil {
			return err
		}
		r.Reset()
	default:
		end := r.Bodyless(s.info.head) || !r.Chunked && r.ContentLength == 0
		if err := s.sendHeadersLocked(r.Status, r.Fields, end, false); err != nil {
			return err
		}
		switch {
		case end:
			s.doneLocked()
		case r.Chunked:
			s.rs = rsChunkLine
		case r.ContentLength > 0:
			s.rs, s.left = rsLength, r.ContentLength
		default:
			s.rs = rsClose
		}
		r.Reset()
	}
	return nil
}

// trailersLocked sends the chunked body's trailer section as a trailing HEADERS, or ends the stream
// with an empty DATA frame when it has no field to forward.
func (s *stream) trailersLocked() error {
	forward := false
	for i := range s.tfields {
		if !s.tfields[i].Hop {
			forward = true
		}
	}
	if forward {
		if err := s.sendHeadersLocked(0, s.tfields, true, false); err != nil {
			return err
		}
	} else if _, err := s.sendDataLocked(nil, true); err != nil {
		return err
	}
	clear(s.tfields)
	s.doneLocked()
	return nil
}

// doneLocked records that the response is complete (END_STREAM sent).
func (s *stream) doneLocked() {
	c := s.c
	s.rs = rsDone
	s.endLocal = true
	c.resets.give(1)
	if s.endRemote {
		c.closeStreamLocked(s, -1)
	}
	s.cond.Broadcast() // a Read waiting for a tunnel that will not come
}

// invalidLocked resets the stream for a response the engine should not have written.
func (s *stream) invalidLocked() error {
	s.c.resetStreamLocked(s, http2.ErrCodeInternal, errRespInvalid)
	return errRespInvalid
}

// writableLocked reports why the stream cannot take a Write now, if it cannot.
func (s *stream) writableLocked() error {
	switch {
	case s.closed:
		return net.ErrClosed
	case s.err != nil:
		return s.err
	case s.rs == rsDone:
		return errRespDone
	case s.protoClosed:
		return errStreamClosed
	case expired(s.wdl):
		return os.ErrDeadlineExceeded
	}
	return nil
}

// waitBufferLocked waits until the write buffer has room for a frame.
func (s *stream) waitBufferLocked() error {
	c := s.c
	for {
		if err := s.writableLocked(); err != nil {
			return err
		}
		if len(c.wbuf) < writeBufferLimit {
			return nil
		}
		c.blockLocked(s)
		s.cond.Wait()
	}
}

// sendHeadersLocked sends a header block: :status (status 0: a trailer block, without it) and the
// fields but the hop-by-hop ones. A tunnel's 200 also drops the upgrade's own fields.
func (s *stream) sendHeadersLocked(status int, fields []h1.Field, end, tunnel bool) error {
	if err := s.waitBufferLocked(); err != nil {
		return err
	}
	c := s.c
	start := c.beginHeadersLocked()
	if status != 0 {
		c.wbuf = appendStatus(c.wbuf, status)
	}
	for i := range fields {
		f := &fields[i]
		if dropField(f, tunnel) {
			continue
		}
		if f.ID == h1.ContentLength && (status == 204 || status == 304 || status > 0 && status < 200) {
			// No body and no length: clients (Go's) read a length on such an answer as a body
			// that did not come. nginx drops it too.
			continue
		}
		c.wbuf, c.scratch = appendField(c.wbuf, c.scratch, f.Name, f.Value)
	}
	c.endHeadersLocked(start, s.id, end)
	return nil
}

// dropField reports the fields HTTP/2 does not carry (RFC 9113 §8.2.2): the connection-specific ones
// and those Connection names. Trailer and Proxy-* are end to end here.
func dropField(f *h1.Field, tunnel bool) bool {
	switch f.ID {
	case h1.Connection, h1.KeepAlive, h1.TransferEncoding, h1.Upgrade, h1.TE:
		return true
	case h1.ProxyField:
		return h1.EqualFold(f.Name, "proxy-connection")
	case h1.Trailer:
		return false
	}
	if f.Hop {
		return true
	}
	return tunnel && h1.EqualFold(f.Name, "sec-websocket-accept")
}

// sendDataLocked sends p as DATA frames as flow control and the write buffer allow, END_STREAM on
// the last one when end is set. It returns how much of p it sent.
func (s *stream) sendDataLocked(p []byte, end bool) (int, error) {
	c := s.c
	sent := 0
	for {
		if err := s.writableLocked(); err != nil {
			return sent, err
		}
		if len(p) == 0 {
			if end {
				c.wbuf = appendData(c.wbuf, s.id, nil, true)
				c.wakeWriterLocked()
			}
			return sent, nil
		}
		if len(c.wbuf) >= writeBufferLimit {
			c.blockLocked(s)
			s.cond.Wait()
			continue
		}
		w := int(min(int64(len(p)), int64(c.peerMaxFrame), s.sendWin, c.sendWin))
		if w <= 0 {
			if c.sendWin <= 0 {
				c.blockLocked(s)
			}
			s.cond.Wait()
			continue
		}
		last := w == len(p)
		c.wbuf = appendData(c.wbuf, s.id, p[:w], end && last)
		s.sendWin -= int64(w)
		c.sendWin -= int64(w)
		c.junk.give(1) // for a WINDOW_UPDATE the client may answer this with
		sent += w
		p = p[w:]
		c.wakeWriterLocked()
		if last {
			return sent, nil
		}
	}
}
