package h2

import (
	"golang.org/x/net/http2"
)

// processHeadersLocked takes a decoded header block: a new request stream, or a stream's trailers.
func (c *Conn) processHeadersLocked(f *headerBlock) *connError {
	id := f.StreamID
	if id%2 == 0 {
		return connErr(http2.ErrCodeProtocol, "HEADERS on a server stream id")
	}
	if s := c.streams[id]; s != nil {
		return c.trailersLocked(s, f)
	}
	if id <= c.maxClientID {
		if c.weReset(id) {
			return nil // trailers sent before the client saw our RST_STREAM
		}
		return connErr(http2.ErrCodeStreamClosed, "HEADERS on a closed stream")
	}
	c.maxClientID = id
	if c.goAwaySent {
		return nil // past our GOAWAY: ignored, the client knows to retry it elsewhere
	}
	if f.HasPriority() && f.Priority.StreamDep == id {
		return c.streamErrorLocked(http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol})
	}
	if c.active >= int(c.opts.MaxConcurrentStreams) {
		// RFC 9113 §5.1.2: over the limit we advertised; REFUSED_STREAM tells the client it may
		// retry the request.
		return c.streamErrorLocked(http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream})
	}
	if f.Truncated {
		return c.localAnswerLocked(id, errHeaderListSize.status, f.StreamEnded())
	}
	s := c.newStreamLocked(id)
	var err error
	s.head, s.info, err = synthesize(s.head[:0], f.Fields, f.StreamEnded(), c.opts.MaxHeaderCount)
	if err != nil {
		c.releaseLocked(s)
		re := err.(*requestError)
		if re.status != 0 {
			return c.localAnswerLocked(id, re.status, f.StreamEnded())
		}
		return c.streamErrorLocked(http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol})
	}
	s.endRemote = f.StreamEnded()
	c.streams[id] = s
	c.active++
	c.junk.give(2)
	c.startHandlerLocked(s)
	return nil
}

// localAnswerLocked answers a request without the engine (431, 501); a request whose body is still
// to come is then ended with RST_STREAM NO_ERROR.
func (c *Conn) localAnswerLocked(id uint32, status int, ended bool) *connError {
	c.appendLocalResponseLocked(id, status)
	if !ended {
		c.sendResetLocked(id, http2.ErrCodeNo)
	}
	if !c.queueControlLocked() {
		return calm("control frames not read")
	}
	return c.resetBudgetLocked()
}

// trailersLocked takes a trailing header block: it must end the stream and carry no pseudo-header
// field (RFC 9113 §8.1). For a chunked body it becomes the trailer section; under Content-Length,
// which has no room for trailers, it is checked and dropped.
func (c *Conn) trailersLocked(s *stream, f *headerBlock) *connError {
	var err error
	switch {
	case s.endRemote:
		c.resetStreamLocked(s, http2.ErrCodeStreamClosed, errStreamClosed)
		return c.resetBudgetLocked()
	case !f.StreamEnded():
		err = errTrailerNotEnded
	case f.Truncated:
		err = errHeaderListSize
	case s.info.mode == bodyChunked:
		s.trailers, err = checkTrailers(s.trailers[:0], f.Fields, c.opts.MaxHeaderCount)
	default:
		_, err = checkTrailers(c.scratch[:0], f.Fields, c.opts.MaxHeaderCount)
	}
	if err != nil {
		c.resetStreamLocked(s, http2.ErrCodeProtocol, errStreamReset)
		return c.resetBudgetLocked()
	}
	return c.endRequestLocked(s)
}
