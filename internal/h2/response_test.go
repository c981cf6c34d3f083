package h2

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// nopConn is a net.Conn that is never read or written: the Conn around it is driven directly.
type nopConn struct{ net.Conn }

func (nopConn) Close() error                     { return nil }
func (nopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (nopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }

// translate feeds engine output to a fresh stream in pieces of the given sizes and returns the
// frames it queued, and the first Write error.
func translate(t testing.TB, out []byte, sizes []int, head, ext bool) ([]byte, error) {
	c := NewConn(nopConn{}, nil, &Options{Serve: func(net.Conn) {}})
	c.mu.Lock()
	c.wbuf = c.wbuf[:0] // drop the server preface
	s := c.newStreamLocked(1)
	s.info = reqInfo{head: head, extConnect: ext, length: -1}
	if ext {
		s.info.mode = bodyTunnel
	}
	s.endRemote = true
	c.streams[1], c.active, c.maxClientID = s, 1, 1
	s.sendWin, c.sendWin = maxWindow, maxWindow
	c.mu.Unlock()
	var frames []byte
	var werr error
	for i := 0; len(out) > 0; i++ {
		n := len(out)
		if i < len(sizes) && sizes[i] > 0 && sizes[i] < n {
			n = sizes[i]
		}
		_, err := s.Write(out[:n])
		out = out[n:]
		c.mu.Lock()
		frames = append(frames, c.wbuf...)
		c.wbuf = c.wbuf[:0]
		c.mu.Unlock()
		if err != nil {
			werr = err
			break
		}
	}
	s.Close()
	c.mu.Lock()
	frames = append(frames, c.wbuf...)
	c.mu.Unlock()
	return frames, werr
}

// frameSummary decodes frames into a readable line per frame, checking that they are well formed.
func frameSummary(t testing.TB, b []byte) []string {
	fr := http2.NewFramer(nil, bytes.NewReader(b))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var out []string
	ended := false
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("frame %d: %v", len(out), err)
		}
		if ended {
			if _, ok := f.(*http2.RSTStreamFrame); !ok {
				t.Fatalf("frame after END_STREAM: %v", f)
			}
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			line := "HEADERS " + fieldsString(f.Fields)
			if f.StreamEnded() {
				line += " END"
				ended = true
			}
			out = append(out, line)
		case *http2.DataFrame:
			line := "DATA " + string(f.Data())
			if f.StreamEnded() {
				line += " END"
				ended = true
			}
			out = append(out, line)
		case *http2.RSTStreamFrame:
			out = append(out, "RST "+f.ErrCode.String())
		default:
			t.Fatalf("unexpected frame %v", f)
		}
	}
}

// TestTranslate checks the frames made of engine responses, written whole and a byte at a time.
func TestTranslate(t *testing.T) {
	tests := []struct {
		name      string
		out       string
		head, ext bool
		want      string
		err       error
	}{
		{name: "length", out: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\nX-A: b\r\n\r\nhello",
			want: "HEADERS :status=200;content-length=5;content-type=text/plain;x-a=b;|DATA hello END"},
		{name: "hop-by-hop dropped", out: "HTTP/1.1 200 OK\r\nConnection: close, x-hop\r\nKeep-Alive: 1\r\nX-Hop: 1\r\nProxy-Connection: x\r\nTrailer: t\r\nContent-Length: 0\r\n\r\n",
			want: "HEADERS :status=200;trailer=t;content-length=0; END"},
		{name: "status not in the table", out: "HTTP/1.1 418 Teapot\r\nContent-Length: 0\r\n\r\n",
			want: "HEADERS :status=418;content-length=0; END"},
		{name: "chunked with trailers", out: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nGrpc-Status: 0\r\nContent-Length: 9\r\n\r\n",
			want: "HEADERS :status=200;|DATA abc|DATA de|HEADERS grpc-status=0; END"},
		{name: "chunked ending at once", out: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			want: "HEADERS :status=200;|DATA abc END"},
		{name: "informational", out: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
			want: "HEADERS :status=103;link=</a>;|HEADERS :status=204; END"},
		{name: "head", head: true, out: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
			want: "HEADERS :status=200;content-length=10; END"},
		{name: "close delimited", out: "HTTP/1.1 200 OK\r\n\r\nall of it",
			want: "HEADERS :status=200;|DATA all of it|DATA  END"},
		{name: "tunnel", ext: true, out: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\nSec-WebSocket-Protocol: chat\r\n\r\nframes",
			want: "HEADERS :status=200;sec-websocket-protocol=chat;|DATA frames|DATA  END"},
		{name: "101 without extended CONNECT", out: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
			want: "RST INTERNAL_ERROR", err: errRespInvalid},
		{name: "bytes after the end", out: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
			want: "HEADERS :status=200;content-length=2;|DATA ok END", err: errRespDone},
		{name: "unfinished body", out: "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nshort",
			want: "HEADERS :status=200;content-length=20;|DATA short|RST INTERNAL_ERROR"},
		{name: "garbage", out: "HTTP/1.1 2000 OK\r\n\r\n", want: "RST INTERNAL_ERROR", err: errRespInvalid},
		{name: "bad chunk", out: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
			want: "HEADERS :status=200;|RST INTERNAL_ERROR", err: errRespInvalid},
		{name: "nothing", out: "", want: "RST INTERNAL_ERROR"},
	}
	for _, tt := range tests {
		for _, split := range []bool{false, true} {
			name := tt.name
			if split {
				name += " byte by byte"
			}
			t.Run(name, func(t *testing.T) {
				var sizes []int
				if split {
					sizes = make([]int, len(tt.out))
					for i := range sizes {
						sizes[i] = 1
					}
				}
				frames, err := translate(t, []byte(tt.out), sizes, tt.head, tt.ext)
				if !errors.Is(err, tt.err) {
					t.Errorf("error %v, want %v", err, tt.err)
				}
				got := strings.Join(frameSummary(t, frames), "|")
				if split {
					// Byte by byte, DATA comes a byte a frame: compare with the data joined.
					got = joinData(frameSummary(t, frames))
				}
				want := tt.want
				if split {
					want = joinData(strings.Split(tt.want, "|"))
				}
				if got != want {
					t.Errorf("got  %s\nwant %s", got, want)
				}
			})
		}
	}
}

// joinData merges consecutive DATA lines, so that splits of the body do not matter.
func joinData(lines []string) string {
	var out []string
	for _, l := range lines {
		if n := len(out); n > 0 && strings.HasPrefix(l, "DATA ") && strings.HasPrefix(out[n-1], "DATA ") && !strings.HasSuffix(out[n-1], " END") {
			out[n-1] += l[5:]
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "|")
}

// FuzzTranslate: any engine output, in any pieces, makes well-formed frames and no panic; nothing
// follows END_STREAM.
func FuzzTranslate(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), []byte{3, 7}, false, false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx: y\r\n\r\n"), []byte{1, 1, 1}, false, false)
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 NM\r\nETag: x\r\n\r\n"), []byte{}, true, false)
	f.Add([]byte("HTTP/1.1 101 S\r\nUpgrade: websocket\r\n\r\nraw bytes"), []byte{20}, false, true)
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\nclose delimited"), []byte{5}, false, false)
	f.Fuzz(func(t *testing.T, out, cuts []byte, head, ext bool) {
		sizes := make([]int, len(cuts))
		for i, c := range cuts {
			sizes[i] = int(c)
		}
		frames, _ := translate(t, out, sizes, head, ext)
		frameSummary(t, frames)
	})
}
