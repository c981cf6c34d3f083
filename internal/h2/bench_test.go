package h2

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// benchBufs are the minimal engine's read buffers.
var benchBufs = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

var benchResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")

// benchServe is a minimal engine: it reads the request head and answers a 2-byte body.
func benchServe(vc net.Conn) {
	bp := benchBufs.Get().(*[]byte)
	buf := *bp
	n := 0
	for {
		k, err := vc.Read(buf[n:])
		n += k
		if bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
			break
		}
		if err != nil || n == len(buf) {
			vc.Close()
			benchBufs.Put(bp)
			return
		}
	}
	vc.Write(benchResponse)
	vc.Close()
	benchBufs.Put(bp)
}

// BenchmarkStream is one request and response through a real Conn over loopback: a raw client
// pipelines GETs, 100 streams in flight on one connection (as h2load -m 100 does). The client's own
// work (frame writing and reading, allocation-free) is included in ns/op.
func BenchmarkStream(b *testing.B) {
	srv := startServer(b, Options{Serve: benchServe}, nil)
	nc, err := net.Dial("tcp", srv.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	var wmu sync.Mutex
	bw := bufio.NewWriterSize(nc, 64<<10)
	fw := http2.NewFramer(bw, nil)
	io.WriteString(bw, ClientPreface)
	fw.WriteSettings()
	fw.WriteSettingsAck()
	fw.WriteWindowUpdate(0, 1<<30)
	bw.Flush()

	// The first block puts :authority into the dynamic table; the next ones index it, as clients do.
	first := []byte{0x82, 0x86, 0x84, 0x41, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't'}
	next := []byte{0x82, 0x86, 0x84, 0xbe}

	const inFlight = 100
	slots := make(chan struct{}, inFlight)
	done := make(chan error, 1)
	go func() { // the reader: counts finished streams
		br := bufio.NewReaderSize(nc, 64<<10)
		var hdr [9]byte
		finished := 0
		for finished < b.N {
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				done <- err
				return
			}
			n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
			if _, err := br.Discard(n); err != nil {
				done <- err
				return
			}
			t, flags := http2.FrameType(hdr[3]), http2.Flags(hdr[4])
			if (t == http2.FrameData || t == http2.FrameHeaders) && flags&http2.FlagDataEndStream != 0 {
				finished++
				<-slots
			}
			if t == http2.FrameRSTStream || t == http2.FrameGoAway {
				done <- io.ErrUnexpectedEOF
				return
			}
		}
		done <- nil
	}()

	b.ReportAllocs()
	b.ResetTimer()
	id := uint32(1)
	for i := 0; i < b.N; i++ {
		select {
		case slots <- struct{}{}:
		default:
			wmu.Lock()
			bw.Flush()
			wmu.Unlock()
			slots <- struct{}{}
		}
		block := next
		if i == 0 {
			block = first
		}
		wmu.Lock()
		fw.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true})
		wmu.Unlock()
		id += 2
	}
	wmu.Lock()
	bw.Flush()
	wmu.Unlock()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
