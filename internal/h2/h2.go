// Package h2 is gatehouse's HTTP/2 server side. It speaks HTTP/2 (RFC 9113) to a client and presents
// each request stream to the HTTP/1.1 engine as a virtual connection (a net.Conn) that carries exactly
// one request, so that routing, balancing, retries, limits, metrics and logs apply to HTTP/2 unchanged:
//
//	client ──HTTP/2──▶ Conn ──one stream──▶ stream (net.Conn) ──HTTP/1.1──▶ Options.Serve (the engine)
//
// A stream's Read returns an HTTP/1.1 request synthesized from the decoded header block (request.go),
// then the request body: raw under Content-Length, chunk-encoded otherwise, with request trailers as
// the chunked trailer section. Its Write parses the engine's HTTP/1.1 response with internal/h1 and
// sends HEADERS, DATA and trailing HEADERS (response.go). Extended CONNECT (RFC 8441) becomes an
// HTTP/1.1 WebSocket upgrade; after a 101 the stream is a byte tunnel both ways.
//
// Goroutines: the goroutine that calls Serve reads and handles frames (read.go, headers.go); one
// writer goroutine per connection flushes a shared buffer that every stream appends encoded frames
// to under the connection's mutex (write.go), so many streams' frames leave in one write; handler
// goroutines run Options.Serve, one request at a time each, and wait for the next request when
// done (see worker in conn.go). All connection and stream state is guarded by the one connection
// mutex.
//
// Defences (defence.go): running handlers are capped at MaxConcurrentStreams and a token bucket
// bounds client stream resets (rapid reset, CVE-2023-44487); header blocks are bounded in decoded
// size and in wire bytes (HPACK bombs, CONTINUATION floods, CVE-2023-45288); frames that cost work
// but carry none (PING, SETTINGS, PRIORITY, empty DATA, ...) are rate limited; control frames
// queued for a client that does not read are capped. Each ends the connection with GOAWAY
// ENHANCE_YOUR_CALM.
package h2

import (
	"net"
	"time"
)

// ClientPreface is the 24-byte connection preface every HTTP/2 client sends first (RFC 9113 §3.4).
const ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Options configure a Conn. Zero fields take the defaults given; Serve is required.
type Options struct {
	// MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS: the most request streams open at once.
	// It also caps the running Serve callbacks (those of streams the client reset included). Default
	// 128, nginx's.
	MaxConcurrentStreams uint32
	// MaxHeaderListSize bounds a decoded header block in bytes, counted as RFC 9113 does (name +
	// value + 32 per field); it is advertised as SETTINGS_MAX_HEADER_LIST_SIZE. A larger request is
	// answered 431. Default 32 KiB.
	MaxHeaderListSize uint32
	// MaxHeaderCount bounds the fields of a request as the engine sees them: the HTTP/1.1 head
	// synthesised from it, with Host (from :authority) and the framing field, cookie crumbs joined
	// into one field (and the fields of its trailers); more is answered 431. Default 100.
	MaxHeaderCount int
	// StreamWindow is the receive window of each stream in bytes (SETTINGS_INITIAL_WINDOW_SIZE): the
	// most request body buffered per stream before the engine reads it. Default 64 KiB, nginx's body
	// preread size: worst-case buffered memory per connection is MaxConcurrentStreams × StreamWindow
	// (8 MiB at the defaults), and one upload stream runs at up to StreamWindow per round trip
	// (1.3 MB/s at 50 ms). Raise it for fast uploads over long paths. At least 65535.
	StreamWindow uint32
	// ConnWindow is the connection's receive window in bytes. It is replenished as DATA arrives, not
	// as the engine reads it, so that one stalled stream cannot block the others; the stream windows
	// bound memory. Default 1 MiB, at least 65535.
	ConnWindow uint32
	// IdleTimeout closes the connection (GOAWAY NO_ERROR) when no stream has been open this long.
	// Default 60s.
	IdleTimeout time.Duration
	// PrefaceTimeout bounds the wait for the client preface and its first SETTINGS frame. Default 10s.
	PrefaceTimeout time.Duration
	// WriteTimeout bounds a blocked write to the client socket; a client that stops reading is
	// disconnected after it. Default 30s.
	WriteTimeout time.Duration
	// Logf reports protocol errors worth a log line: connection errors and defences tripped, never a
	// line per request. Default: none.
	Logf func(format string, args ...any)
	// Serve runs one request: it is called on a handler goroutine with the stream as a net.Conn, must
	// read the request and write one HTTP/1.1 response, and should Close the stream before it
	// returns (a stream not closed is closed when Serve returns). Required.
	Serve func(vc net.Conn)

	// workerLinger is how long an idle handler goroutine that no stream needed is kept (tests
	// shorten it). Default defaultWorkerLinger.
	workerLinger time.Duration
}

// Defaults, and the bounds some options are clamped to.
const (
	defaultMaxConcurrentStreams = 128
	defaultMaxHeaderListSize    = 32 << 10
	defaultMaxHeaderCount       = 100
	defaultStreamWindow         = 64 << 10
	defaultConnWindow           = 1 << 20
	defaultIdleTimeout          = 60 * time.Second
	defaultPrefaceTimeout       = 10 * time.Second
	defaultWriteTimeout         = 30 * time.Second
	defaultWorkerLinger         = time.Second

	initialWindow = 65535     // every flow-control window before SETTINGS change it (RFC 9113 §6.9.2)
	maxWindow     = 1<<31 - 1 // the largest flow-control window
)

// withDefaults returns o with every zero field defaulted and every field clamped to what the
// protocol allows.
func (o *Options) withDefaults() Options {
	r := *o
	if r.MaxConcurrentStreams == 0 {
		r.MaxConcurrentStreams = defaultMaxConcurrentStreams
	}
	if r.MaxHeaderListSize == 0 {
		r.MaxHeaderListSize = defaultMaxHeaderListSize
	}
	if r.MaxHeaderCount <= 0 {
		r.MaxHeaderCount = defaultMaxHeaderCount
	}
	if r.StreamWindow == 0 {
		r.StreamWindow = defaultStreamWindow
	}
	r.StreamWindow = min(max(r.StreamWindow, initialWindow), maxWindow)
	if r.ConnWindow == 0 {
		r.ConnWindow = defaultConnWindow
	}
	r.ConnWindow = min(max(r.ConnWindow, initialWindow), maxWindow)
	if r.IdleTimeout <= 0 {
		r.IdleTimeout = defaultIdleTimeout
	}
	if r.PrefaceTimeout <= 0 {
		r.PrefaceTimeout = defaultPrefaceTimeout
	}
	if r.WriteTimeout <= 0 {
		r.WriteTimeout = defaultWriteTimeout
	}
	if r.workerLinger <= 0 {
		r.workerLinger = defaultWorkerLinger
	}
	if r.Logf == nil {
		r.Logf = func(string, ...any) {}
	}
	return r
}
