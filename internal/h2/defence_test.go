package h2

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestRapidReset pins CVE-2023-44487: a client that opens and resets streams in a loop, while the
// handlers of the reset streams keep running (a slow backend), gets no more handlers than
// MaxConcurrentStreams and is disconnected with ENHANCE_YOUR_CALM.
func TestRapidReset(t *testing.T) {
	release := make(chan struct{})
	var running, maxRunning, started atomic.Int32
	serve := func(vc net.Conn) {
		defer vc.Close()
		started.Add(1)
		n := running.Add(1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		<-release // a backend that takes its time and never touches vc
		running.Add(-1)
	}
	srv := startServer(t, Options{Serve: serve, MaxConcurrentStreams: 8}, nil)
	defer close(release)
	c := dialRaw(t, srv.addr)
	c.handshake()
	go func() {
		for range 5000 {
			id := c.next
			c.next += 2
			if c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndStream: true, EndHeaders: true,
				BlockFragment: c.block(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a")}) != nil {
				return
			}
			if c.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
		}
	}()
	if code := c.expectGoAway(); code != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY %v", code)
	}
	c.expectClosed()
	if maxRunning.Load() > 8 || started.Load() > 8 {
		t.Fatalf("%d handlers started, %d at once; want at most 8", started.Load(), maxRunning.Load())
	}
}

// TestHeaderBlockFloods pins CVE-2023-45288 and HPACK bombs: a header block that goes on past the
// limits ends the connection without being read forever; a small block that expands past
// MaxHeaderListSize through the dynamic table is answered 431 and the connection goes on.
func TestHeaderBlockFloods(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	start := func(c *rawClient) []byte {
		return c.block(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "a")
	}
	tests := []struct {
		name string
		frag func(c *rawClient, i int) []byte
		want http2.ErrCode
	}{
		{"empty continuations", func(*rawClient, int) []byte { return nil }, http2.ErrCodeEnhanceYourCalm},
		{"fields past the limit", func(c *rawClient, i int) []byte {
			return c.block("x-"+strings.Repeat("a", i%50), strings.Repeat("v", 1000))
		}, http2.ErrCodeProtocol},
		{"one endless literal", func(c *rawClient, i int) []byte {
			if i == 0 {
				return []byte{0x00, 0x01, 'x', 0x7f, 0xff, 0xff, 0xff, 0x07} // a 16 MiB value follows
			}
			return bytes.Repeat([]byte("v"), 16000)
		}, http2.ErrCodeCompression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, srv.addr)
			c.handshake()
			c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: start(c), EndHeaders: false})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 1<<20; i++ { // far more than any limit; stops when the server closes
					if c.fr.WriteContinuation(1, false, tt.frag(c, i)) != nil {
						return
					}
				}
			}()
			if code := c.expectGoAway(); code != tt.want {
				t.Errorf("GOAWAY %v, want %v", code, tt.want)
			}
			c.expectClosed()
			c.nc.Close()
			wg.Wait()
		})
	}

	t.Run("hpack bomb", func(t *testing.T) {
		c := dialRaw(t, srv.addr)
		c.handshake()
		big := strings.Repeat("b", 4000)
		// Static-table pseudo-header fields only, so that the one dynamic entry is the bomb.
		kv := []string{":method", "GET", ":scheme", "http", ":path", "/"}
		for range 20 {
			kv = append(kv, "x-bomb", big) // after the first, one byte each: an index into the table
		}
		block := c.block(kv...)
		if len(block) > 4200 {
			t.Fatalf("block %d bytes: the encoder did not index", len(block))
		}
		c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true, EndStream: true})
		small := c.block(kv...) // the field is in both tables now: about 30 bytes
		if len(small) > 40 {
			t.Fatalf("block %d bytes", len(small))
		}
		c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: small, EndHeaders: true, EndStream: true})
		c.next = 5
		ok := c.get("/x")
		res, ga := c.collect(1, 3, ok)
		if ga != nil || res[1].status != "431" || res[3].status != "431" || res[ok].status != "404" {
			t.Fatalf("GOAWAY %v; %+v %+v %+v", ga, res[1], res[3], res[ok])
		}
	})
}

// TestFrameFloods: frames that cost work but carry no request, sent in a loop, end with
// ENHANCE_YOUR_CALM.
func TestFrameFloods(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	tests := []struct {
		name  string
		setup func(c *rawClient)
		frame func(c *rawClient) error
	}{
		{"settings", nil, func(c *rawClient) error { return c.fr.WriteSettings() }},
		{"ping", nil, func(c *rawClient) error { return c.fr.WritePing(false, [8]byte{1}) }},
		{"priority", nil, func(c *rawClient) error {
			return c.fr.WritePriority(1, http2.PriorityParam{StreamDep: 3, Weight: 1})
		}},
		{"empty data", func(c *rawClient) {
			c.request(false, ":method", "POST", ":scheme", "http", ":path", "/hold", ":authority", "a")
		}, func(c *rawClient) error { return c.fr.WriteData(1, false, nil) }},
		{"unknown frames", nil, func(c *rawClient) error { return c.fr.WriteRawFrame(0x42, 0, 0, []byte("x")) }},
		{"small window updates", nil, func(c *rawClient) error { return c.fr.WriteWindowUpdate(0, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, srv.addr)
			c.handshake()
			if tt.setup != nil {
				tt.setup(c)
			}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 100000 {
					if tt.frame(c) != nil {
						return
					}
				}
			}()
			if code := c.expectGoAway(); code != http2.ErrCodeEnhanceYourCalm {
				t.Errorf("GOAWAY %v", code)
			}
			c.expectClosed()
			c.nc.Close()
			wg.Wait()
		})
	}
}

// TestHPACKTableSize: a client that shrinks its decoder table gets a table size update first.
func TestHPACKTableSize(t *testing.T) {
	e := newTestEngine()
	srv := startServer(t, Options{Serve: e.serve}, nil)
	c := dialRaw(t, srv.addr)
	c.handshake(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
	c.fr.ReadMetaHeaders = nil // read the raw block
	id := c.get("/x")
	for {
		f := c.read()
		if hf, ok := f.(*http2.HeadersFrame); ok && hf.StreamID == id {
			if b := hf.HeaderBlockFragment(); len(b) == 0 || b[0] != 0x20 {
				t.Fatalf("block %x does not start with a size update to 0", b)
			}
			d := hpack.NewDecoder(0, nil)
			fields, err := d.DecodeFull(hf.HeaderBlockFragment())
			if err != nil || len(fields) == 0 || fields[0].Value != "404" {
				t.Fatalf("%v %v", fields, err)
			}
			return
		}
	}
}
