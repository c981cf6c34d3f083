package proxy

import (
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// tunnel relays the 101 answer and then bytes both ways until both sides are done. The tunnel
// closes when neither side has sent anything for the upstream body idle timeout. Tunnels are long
// and few, so they use plain connection deadlines rather than the watchdog.
func (c *conn) tunnel(uc *upstream.Conn) outcome {
	resp := c.resp
	b := c.headBuf()
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\n"...)
	for i := range resp.Fields {
		f := &resp.Fields[i]
		if f.Hop && f.ID != h1.Upgrade {
			continue
		}
		b = append(b, f.Line...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Connection: upgrade\r\n\r\n"...)
	uc.In.Consume(resp.HeadLen)
	b = append(b, uc.In.Buffered()...)
	uc.In.Consume(uc.In.Len())
	*c.head = b
	if !c.writeClient(b) {
		uc.Close()
		return aborted
	}
	c.releaseHead()
	idle := c.h.opts.Timeouts.UpstreamBodyIdle
	if c.in.Len() > 0 {
		_ = uc.SetWriteDeadline(time.Now().Add(idle))
		_, err := uc.Write(c.in.Buffered())
		c.in.Consume(c.in.Len())
		if err != nil {
			uc.Close()
			return aborted
		}
	}
	c.dl.Clear()
	uc.DL.Clear()
	var t tunnelState
	t.last.Store(time.Now().UnixNano())
	done := make(chan int64, 1)
	go func() { done <- pump(uc.Conn, c.nc, idle, &t) }()
	c.bytesOut += pump(c.nc, uc.Conn, idle, &t)
	c.bytesIn += <-done
	uc.Close()
	return aborted // the client connection is spent
}

// tunnelState is shared by a tunnel's two directions.
type tunnelState struct {
	last    atomic.Int64 // Unix nanoseconds of the last bytes either way
	stopped atomic.Bool  // one direction ended the tunnel: the other must not wait on
}

// pump copies src to dst until src ends, then half-closes dst so that the other direction can
// finish (a dst that cannot half-close, such as an HTTP/2 stream, ends the tunnel). It gives up
// when both directions have been quiet for idle.
func pump(dst, src net.Conn, idle time.Duration, t *tunnelState) int64 {
	last := &t.last
	buf := make([]byte, 16<<10)
	var total int64
	for {
		_ = src.SetReadDeadline(time.Now().Add(idle))
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			_ = dst.SetWriteDeadline(time.Now().Add(idle))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
			total += int64(n)
		}
		if err == nil {
			continue
		}
		if isTimeout(err) && !t.stopped.Load() && time.Since(time.Unix(0, last.Load())) < idle {
			continue // this side is quiet, the other is not
		}
		if err == io.EOF {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
				return total
			}
		}
		break
	}
	// An error or both sides idle: end both directions.
	t.stopped.Store(true)
	_ = dst.SetDeadline(time.Unix(1, 0))
	_ = src.SetDeadline(time.Unix(1, 0))
	return total
}
