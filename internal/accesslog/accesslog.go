// Package accesslog writes the JSON-lines access log.
//
// Log formats one line per request with hand-written append-style JSON into a pooled scratch
// buffer, then appends it to a shared in-memory buffer under a mutex. One background goroutine
// per Logger writes the shared buffer to the destination every flush interval, or sooner once it
// holds more than FlushSize bytes. Log never writes to the destination itself, so a slow or
// failing destination does not slow requests down: failed writes are counted and their lines
// dropped, and when the destination falls so far behind that MaxPending bytes are waiting, new
// lines are dropped and counted until it catches up.
//
// A line looks like (on one line):
//
//	{"time":"2024-05-01T12:00:00.123Z","client":"192.0.2.1:50000","method":"GET",
//	"host":"example.com","path":"/","status":200,"bytes_in":78,"bytes_out":1234,
//	"duration_ms":1.234,"upstream":"10.0.0.1:8080","request_id":"...","route":"web"}
package accesslog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// FlushSize is the number of buffered bytes past which the background goroutine is woken to
// write them out without waiting for the flush interval.
const FlushSize = 32 << 10

// MaxPending is the most bytes held in memory waiting for the destination; a line that would
// take the pending bytes past it is dropped (see Dropped). A Logger holds at most two buffers of
// about this size: the one being filled and the one being written.
const MaxPending = 4 << 20

// DefaultFlushEvery is the flush interval used when New is given 0 or a negative interval.
const DefaultFlushEvery = 100 * time.Millisecond

// closeTimeout bounds how long Close waits for the final write, so a destination that blocks
// forever cannot hang shutdown.
const closeTimeout = 5 * time.Second

// scratchCap is the initial capacity of a pooled scratch buffer; typical lines fit.
const scratchCap = 1024

// maxPooledScratch is the largest scratch buffer returned to the pool, so one huge line does not
// pin a huge buffer forever.
const maxPooledScratch = 64 << 10

// timeLayout is RFC 3339 with milliseconds; with a UTC time it ends in "Z".
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// hexDigits is the lowercase hex alphabet used for \u00XX escapes.
const hexDigits = "0123456789abcdef"

// plain has, for each byte value, 1 if the byte is copied into a JSON string as is without
// further checks: ASCII 0x20-0x7F other than '"' and '\\'. Control bytes, '"', '\\' and every
// byte >= 0x80 (which needs UTF-8 validation) have 0.
const plain = "" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x01\x01\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x01\x01\x01" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// Entry is one request to log. Byte slices are only read during Log and may be reused by the
// caller as soon as Log returns.
type Entry struct {
	// Time is when the request head was read. It is logged in UTC with millisecond precision.
	Time time.Time
	// Client is the client's "ip:port".
	Client []byte
	// Method is the request method.
	Method []byte
	// Host is the request's host.
	Host []byte
	// Path is the request-target as received; it may contain any bytes 0x21-0xFF.
	Path []byte
	// Status is the response status code sent to the client.
	Status int
	// BytesIn counts request bytes read from the client (head and body).
	BytesIn int64
	// BytesOut counts response bytes written to the client (head and body).
	BytesOut int64
	// Duration is how long the request took, logged as milliseconds with 3 decimals.
	Duration time.Duration
	// Upstream is the backend "host:port"; empty when no backend was used.
	Upstream []byte
	// RequestID is the request's ID.
	RequestID []byte
	// Route is the name of the matched route; may be empty.
	Route []byte
}

// Logger writes access log lines to an io.Writer. It is safe for concurrent use. A nil *Logger
// is valid and discards everything, so "logging off" needs no checks at call sites.
type Logger struct {
	w io.Writer

	mu     sync.Mutex
	buf    []byte // formatted lines waiting to be written; guarded by mu
	closed bool   // guarded by mu

	kick    chan struct{} // wakes the flusher early; capacity 1
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the flusher has exited
	once    sync.Once
	lastErr error // error of the final flush; written by the flusher before done is closed

	scratch sync.Pool // of *[]byte

	writeErrors atomic.Uint64
	dropped     atomic.Uint64
}

// New returns a Logger that writes to w and starts its background flusher, which writes
// buffered lines every flushEvery (DefaultFlushEvery if flushEvery <= 0). Call Close to flush and
// stop it. Only the flusher ever calls w.Write, so w need not be safe for concurrent use.
func New(w io.Writer, flushEvery time.Duration) *Logger {
	if flushEvery <= 0 {
		flushEvery = DefaultFlushEvery
	}
	l := &Logger{
		w:    w,
		buf:  make([]byte, 0, 2*FlushSize),
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	l.scratch.New = func() any {
		b := make([]byte, 0, scratchCap)
		return &b
	}
	go l.run(flushEvery)
	return l
}

// Log formats e as one JSON line and queues it for writing. It does not allocate in steady state
// and never waits on the destination. Log on a nil Logger, with a nil e, or after Close does
// nothing.
func (l *Logger) Log(e *Entry) {
	if l == nil || e == nil {
		return
	}
	bp := l.scratch.Get().(*[]byte)
	line := appendEntry((*bp)[:0], e)

	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
	case len(l.buf)+len(line) > MaxPending:
		l.mu.Unlock()
		l.dropped.Add(1)
	default:
		l.buf = append(l.buf, line...)
		full := len(l.buf) > FlushSize
		l.mu.Unlock()
		if full {
			select {
			case l.kick <- struct{}{}:
			default: // a flush is already requested
			}
		}
	}

	if cap(line) <= maxPooledScratch {
		*bp = line
		l.scratch.Put(bp)
	}
}

// WriteErrors returns how many writes to the destination have failed (returned an error or wrote
// short). The lines of a failed write are dropped. It returns 0 for a nil Logger.
func (l *Logger) WriteErrors() uint64 {
	if l == nil {
		return 0
	}
	return l.writeErrors.Load()
}

// Dropped returns how many lines were discarded without being written because MaxPending bytes
// were already waiting for a slow destination. It returns 0 for a nil Logger.
func (l *Logger) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Close writes out buffered lines and stops the background flusher. Lines logged afterwards are
// discarded. It waits at most a few seconds for a destination that blocks, and returns an error
// if the final write failed or did not finish in time. Close is idempotent (later calls return
// nil) and safe on a nil Logger. It does not close the destination.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	first := false
	l.once.Do(func() {
		first = true
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.stop)
	})
	if !first {
		return nil
	}
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-l.done:
		if l.lastErr != nil {
			return fmt.Errorf("access log: final flush: %w", l.lastErr)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("access log: final flush did not finish within %v", closeTimeout)
	}
}

// run is the background flusher: the only goroutine that writes to l.w.
func (l *Logger) run(every time.Duration) {
	defer close(l.done)
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	spare := make([]byte, 0, 2*FlushSize) // the buffer being written, swapped with l.buf
	for {
		select {
		case <-ticker.C:
		case <-l.kick:
		case <-l.stop:
			_, l.lastErr = l.flush(spare)
			return
		}
		spare, _ = l.flush(spare)
	}
}

// flush swaps the pending buffer with spare and writes it out without holding the lock. It
// returns the now-empty buffer to reuse as the next spare.
func (l *Logger) flush(spare []byte) ([]byte, error) {
	l.mu.Lock()
	pending := l.buf
	l.buf = spare[:0]
	l.mu.Unlock()
	if len(pending) == 0 {
		return pending, nil
	}
	n, err := l.w.Write(pending)
	if err == nil && n < len(pending) {
		err = io.ErrShortWrite
	}
	if err != nil {
		l.writeErrors.Add(1)
	}
	return pending[:0], err
}

// Open returns a Logger for a configured output: "stdout", "stderr", "off" (nil Logger), or a
// file path, which is opened for appending and created with mode 0644 if missing. The returned
// closer flushes and stops the Logger and then closes the file, if one was opened; it is never
// nil and is safe to call more than once.
func Open(output string) (*Logger, io.Closer, error) {
	switch output {
	case "off":
		return nil, nopCloser{}, nil
	case "stdout":
		l := New(os.Stdout, 0)
		return l, l, nil
	case "stderr":
		l := New(os.Stderr, 0)
		return l, l, nil
	case "":
		return nil, nil, errors.New("access log: empty output (want stdout, stderr, off or a file path)")
	}
	f, err := os.OpenFile(output, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("access log: open %q: %w", output, err)
	}
	l := New(f, 0)
	return l, &fileCloser{l: l, f: f}, nil
}

// nopCloser is the closer returned for "off".
type nopCloser struct{}

// Close does nothing.
func (nopCloser) Close() error { return nil }

// fileCloser closes a file-backed Logger and then its file.
type fileCloser struct {
	l    *Logger
	f    *os.File
	once sync.Once
	err  error
}

// Close flushes and stops the Logger, then closes the file. Later calls return the first result.
func (c *fileCloser) Close() error {
	c.once.Do(func() {
		lerr := c.l.Close()
		ferr := c.f.Close()
		if ferr != nil {
			ferr = fmt.Errorf("access log: close %q: %w", c.f.Name(), ferr)
		}
		c.err = errors.Join(lerr, ferr)
	})
	return c.err
}

// appendEntry appends e as one JSON object followed by '\n'.
func appendEntry(b []byte, e *Entry) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, timeLayout)
	b = append(b, `","client":`...)
	b = appendString(b, e.Client)
	b = append(b, `,"method":`...)
	b = appendString(b, e.Method)
	b = append(b, `,"host":`...)
	b = appendString(b, e.Host)
	b = append(b, `,"path":`...)
	b = appendString(b, e.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, e.BytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, e.BytesOut, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(e.Duration)/float64(time.Millisecond), 'f', 3, 64)
	b = append(b, `,"upstream":`...)
	b = appendString(b, e.Upstream)
	b = append(b, `,"request_id":`...)
	b = appendString(b, e.RequestID)
	b = append(b, `,"route":`...)
	b = appendString(b, e.Route)
	return append(b, "}\n"...)
}

// appendString appends s as a quoted JSON string. '"' and '\\' are backslash-escaped, control
// bytes (< 0x20) become \u00XX, valid UTF-8 is copied as is, and each byte that is not part of a
// valid UTF-8 sequence becomes \ufffd, so the output is always valid JSON and valid UTF-8.
func appendString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0 // start of the run of bytes to copy verbatim
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] != 0 {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		b = append(b, s[start:i]...)
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default: // invalid UTF-8
			b = append(b, `\ufffd`...)
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
