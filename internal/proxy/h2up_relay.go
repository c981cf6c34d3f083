package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// relay sends an HTTP/2 backend's answer to the client: the head through the engine's response
// rewriting, then the body as it comes, each read written at once, then the trailers.
func (x *h2call) relay(isHead bool, minor uint8) outcome {
	c, a, resp := x.c, x.a, x.resp
	x.head.Fields = make([]h1.Field, 0, len(resp.Header)+4)
	if err := parseH2Head(resp, &x.head, &c.h.opts.Limits); err != nil {
		c.h.opts.Errorf("backend %s: response head cannot be passed on: %v", x.be.Addr, err)
		a.status, a.broken = 502, true
		return failed
	}
	// The length the transport checks the body against (0 for a HEADERS frame that ended the
	// stream), not the field's, which may be absent.
	x.head.ContentLength = resp.ContentLength
	c.resp = &x.head
	frame := frameLength
	switch {
	case x.head.Bodyless(isHead):
		frame = frameNone
	case resp.ContentLength < 0 || resp.Trailer != nil:
		frame = frameChunked
		if minor == 0 {
			frame = frameClose
		}
	}
	keep := c.req.KeepAlive && frame != frameClose && !c.h.draining.Load()
	c.status = resp.StatusCode
	head := c.appendResponseHead(c.headBuf(), frame, keep)
	*c.head = head
	if !c.writeClient(head) {
		c.status = 499
		return aborted
	}
	if frame == frameNone || frame == frameLength && resp.ContentLength == 0 {
		a.keep = keep
		return done
	}
	if !x.relayBody(frame == frameChunked) {
		return aborted
	}
	if frame == frameChunked && !x.writeTrailers() {
		return aborted
	}
	a.keep = keep
	return done
}

// errEmptyHead describes a head that did not parse whole, or nothing.
func errEmptyHead(headLen int) error {
	if headLen == 0 {
		return errors.New("incomplete head")
	}
	return nil
}

// parseH2Head reads an HTTP/2 answer's status and fields into head as the HTTP/1.1 head the engine
// rewrites for the client: written out (fields sorted by name: HTTP/2 keeps no order between
// fields), then parsed with the engine's own parser and limits. Its slices point into a buffer of
// its own.
func parseH2Head(resp *http.Response, head *h1.Response, lim *h1.Limits) error {
	b := append(make([]byte, 0, 256), "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(resp.StatusCode), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(resp.StatusCode)...)
	b = append(b, "\r\n"...)
	b, err := appendH2Fields(b, resp.Header)
	if err != nil {
		return err
	}
	b = append(b, "\r\n"...)
	if err := h1.ParseResponse(b, head, lim); err != nil || head.HeadLen != len(b) {
		return errors.Join(err, errEmptyHead(head.HeadLen))
	}
	return nil
}

// appendH2Fields writes h's fields as CRLF-ended field lines, sorted by name. A name or value that
// an HTTP/1.1 field line cannot carry is an error (the HTTP/2 transport refuses them already; this
// is what keeps a value from ever splitting a head).
func appendH2Fields(b []byte, h http.Header) ([]byte, error) {
	keys := make([]string, 0, len(h))
	for k := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return b, fmt.Errorf("invalid field name %q", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if !httpguts.ValidHeaderFieldValue(v) {
				return b, fmt.Errorf("invalid value of field %s", k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	return b, nil
}

// chunkRoom is the space kept before the data of each read for its chunk size line: the hex size
// of a copy buffer's worth and CRLF.
const chunkRoom = 8

// relayBody copies the response body to the client, one write per read, chunk-encoded when chunk
// is set. It reports false when the client connection must close: the body failed on the
// backend's side (the client has a truncated answer) or the client went away.
func (x *h2call) relayBody(chunk bool) bool {
	c := x.c
	buf := copyBufs.get(copyBufferSize)
	defer copyBufs.put(buf)
	data := (*buf)[:cap(*buf)]
	room := data[chunkRoom : len(data)-2] // the CRLF after a chunk goes at the end
	for {
		n, rerr := x.readBody(room)
		if n > 0 {
			out := data[chunkRoom : chunkRoom+n]
			if chunk {
				var size [chunkRoom]byte
				line := appendChunkHeader(size[:0], n)
				start := chunkRoom - len(line)
				copy(data[start:], line)
				data[chunkRoom+n], data[chunkRoom+n+1] = '\r', '\n'
				out = data[start : chunkRoom+n+2]
			}
			if !c.writeClient(out) {
				c.status = 499
				return false
			}
		}
		if rerr == io.EOF {
			return true
		}
		if rerr != nil {
			x.bodyFailed(rerr)
			return false
		}
	}
}

// readBody reads the response body within the upstream body idle timeout.
func (x *h2call) readBody(p []byte) (int, error) {
	d := x.c.h.opts.Timeouts.UpstreamBodyIdle
	x.mu.Lock()
	if x.idle == nil {
		x.idle = time.AfterFunc(d, func() { x.fire(whyIdle) })
	} else {
		x.idle.Reset(d)
	}
	x.mu.Unlock()
	n, err := x.resp.Body.Read(p)
	x.idle.Stop()
	return n, err
}

// bodyFailed records why the response body ended early, after its head went to the client.
func (x *h2call) bodyFailed(err error) {
	c := x.c
	if _, ok := x.clientFailed(true); ok {
		return // the request body failed on the client's side, which reset the stream
	}
	switch x.reason() {
	case whyClient:
		c.status = 499
	case whyIdle:
		c.h.opts.Errorf("backend %s: response body idle for %v", x.be.Addr, c.h.opts.Timeouts.UpstreamBodyIdle)
	default:
		c.h.opts.Errorf("backend %s: response body: %v", x.be.Addr, err)
	}
}

// writeTrailers ends a chunked body: the last chunk and the backend's trailers, less the fields a
// trailer may not carry and those the route removes. Trailers that cannot be written as HTTP/1.1
// fields are dropped, and said so.
func (x *h2call) writeTrailers() bool {
	c := x.c
	b := append(c.headBuf(), "0\r\n"...)
	if len(x.resp.Trailer) > 0 {
		raw, err := appendH2Fields(nil, x.resp.Trailer)
		raw = append(raw, "\r\n"...)
		var fields []h1.Field
		n := 0
		if err == nil {
			fields, n, err = h1.ParseTrailers(raw, make([]h1.Field, 0, len(x.resp.Trailer)), &c.h.opts.Limits)
		}
		if err != nil || n == 0 {
			c.h.opts.Errorf("backend %s: trailers cannot be passed on: %v", x.be.Addr, errors.Join(err, errEmptyHead(n)))
		} else {
			rules := pipe{drops: &c.route.Response}
			for i := range fields {
				if rules.forwardTrailer(&fields[i]) {
					b = append(b, fields[i].Line...)
					b = append(b, "\r\n"...)
				}
			}
		}
	}
	b = append(b, "\r\n"...)
	*c.head = b
	if !c.writeClient(b) {
		c.status = 499
		return false
	}
	return true
}
