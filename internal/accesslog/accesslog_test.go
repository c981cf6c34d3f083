package accesslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// memWriter is an io.Writer safe for concurrent use that records every Write call.
type memWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *memWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *memWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *memWriter) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Len()
}

// line is the decoded form of one log line.
type line struct {
	Time       string  `json:"time"`
	Client     string  `json:"client"`
	Method     string  `json:"method"`
	Host       string  `json:"host"`
	Path       string  `json:"path"`
	Status     int     `json:"status"`
	BytesIn    int64   `json:"bytes_in"`
	BytesOut   int64   `json:"bytes_out"`
	DurationMS float64 `json:"duration_ms"`
	Upstream   string  `json:"upstream"`
	RequestID  string  `json:"request_id"`
	Route      string  `json:"route"`
}

// decodeLines checks that out is a sequence of '\n'-terminated, valid JSON objects with exactly
// the expected keys and decodes them.
func decodeLines(t *testing.T, out string) []line {
	t.Helper()
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end in newline: %q", out)
	}
	raw := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	lines := make([]line, 0, len(raw))
	for i, r := range raw {
		if !json.Valid([]byte(r)) {
			t.Fatalf("line %d is not valid JSON: %q", i, r)
		}
		if !utf8.ValidString(r) {
			t.Fatalf("line %d is not valid UTF-8: %q", i, r)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r), &keys); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if len(keys) != 12 {
			t.Fatalf("line %d has %d keys, want 12: %q", i, len(keys), r)
		}
		var l line
		dec := json.NewDecoder(strings.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %d: %v: %q", i, err, r)
		}
		lines = append(lines, l)
	}
	return lines
}

func sampleEntry() *Entry {
	return &Entry{
		Time:      time.Date(2024, 5, 1, 14, 0, 0, 123456789, time.FixedZone("CEST", 2*3600)),
		Client:    []byte("192.0.2.10:51234"),
		Method:    []byte("GET"),
		Host:      []byte("www.example.com"),
		Path:      []byte("/static/app.js?v=3"),
		Status:    200,
		BytesIn:   412,
		BytesOut:  18230,
		Duration:  12345678 * time.Nanosecond,
		Upstream:  []byte("10.0.0.7:8080"),
		RequestID: []byte("0123456789abcdef0000000000000001"),
		Route:     []byte("static"),
	}
}

func TestLogLine(t *testing.T) {
	w := &memWriter{}
	l := New(w, time.Hour)
	l.Log(sampleEntry())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2024-05-01T12:00:00.123Z","client":"192.0.2.10:51234","method":"GET",` +
		`"host":"www.example.com","path":"/static/app.js?v=3","status":200,"bytes_in":412,` +
		`"bytes_out":18230,"duration_ms":12.346,"upstream":"10.0.0.7:8080",` +
		`"request_id":"0123456789abcdef0000000000000001","route":"static"}` + "\n"
	if got := w.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	got := decodeLines(t, w.String())
	wantLine := line{
		Time: "2024-05-01T12:00:00.123Z", Client: "192.0.2.10:51234", Method: "GET",
		Host: "www.example.com", Path: "/static/app.js?v=3", Status: 200, BytesIn: 412,
		BytesOut: 18230, DurationMS: 12.346, Upstream: "10.0.0.7:8080",
		RequestID: "0123456789abcdef0000000000000001", Route: "static",
	}
	if len(got) != 1 || got[0] != wantLine {
		t.Fatalf("decoded %+v, want %+v", got, wantLine)
	}
	ts, err := time.Parse(time.RFC3339, got[0].Time)
	if err != nil {
		t.Fatalf("time not RFC 3339: %v", err)
	}
	if !ts.Equal(sampleEntry().Time.Truncate(time.Millisecond)) {
		t.Fatalf("time %v, want %v", ts, sampleEntry().Time)
	}
}

func TestLogEmptyAndZero(t *testing.T) {
	w := &memWriter{}
	l := New(w, time.Hour)
	l.Log(&Entry{})
	l.Log(nil) // ignored
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := decodeLines(t, w.String())
	if len(got) != 1 {
		t.Fatalf("got %d lines, want 1", len(got))
	}
	want := line{Time: "0001-01-01T00:00:00.000Z"}
	if got[0] != want {
		t.Fatalf("got %+v, want %+v", got[0], want)
	}
	if !strings.Contains(w.String(), `"duration_ms":0.000,`) {
		t.Fatalf("duration not formatted with 3 decimals: %s", w.String())
	}
}

func TestDurationFormat(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0.000"},
		{time.Nanosecond, "0.000"},
		{500 * time.Microsecond, "0.500"},
		{1499 * time.Microsecond, "1.499"},
		{1500 * time.Microsecond, "1.500"},
		{2 * time.Second, "2000.000"},
		{90 * time.Minute, "5400000.000"},
	}
	for _, tt := range tests {
		b := appendEntry(nil, &Entry{Duration: tt.d})
		if want := `"duration_ms":` + tt.want + `,`; !bytes.Contains(b, []byte(want)) {
			t.Errorf("duration %v: got %s, want %s", tt.d, b, want)
		}
	}
}

// sanitize is the reference for what a logged byte string decodes to: each byte that is not part
// of a valid UTF-8 sequence is replaced by U+FFFD, everything else is kept.
func sanitize(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.WriteString(s[i : i+size])
		}
		i += size
	}
	return sb.String()
}

func TestEscaping(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		encoded string // exact JSON encoding, including quotes
		decoded string
	}{
		{"plain", "/a/b?c=d&e=f", `"/a/b?c=d&e=f"`, "/a/b?c=d&e=f"},
		{"quote", `/a"b`, `"/a\"b"`, `/a"b`},
		{"backslash", `/a\b`, `"/a\\b"`, `/a\b`},
		{"newline", "/a\nb\r\n", `"/a\u000ab\u000d\u000a"`, "/a\nb\r\n"},
		{"nul", "/\x00", `"/\u0000"`, "/\x00"},
		{"tab and esc", "\t\x1b\x1f", `"\u0009\u001b\u001f"`, "\t\x1b\x1f"},
		{"del kept", "/\x7f", "\"/\x7f\"", "/\x7f"},
		{"0xff", "/\xff", `"/\ufffd"`, "/\uFFFD"},
		{"two invalid", "\xff\xfe", `"\ufffd\ufffd"`, "\uFFFD\uFFFD"},
		{"utf8 kept", "/café", "\"/café\"", "/café"},
		{"4-byte utf8 kept", "/😀", "\"/😀\"", "/😀"},
		{"truncated utf8", "/caf\xc3", `"/caf\ufffd"`, "/caf\uFFFD"},
		{"truncated then ascii", "\xc3x", `"\ufffdx"`, "\uFFFDx"},
		{"overlong", "\xc0\xaf", `"\ufffd\ufffd"`, "\uFFFD\uFFFD"},
		{"surrogate", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`, "\uFFFD\uFFFD\uFFFD"},
		{"lone continuation", "a\x80b", `"a\ufffdb"`, "a\uFFFDb"},
		{"json injection", `","status":999,"x":"`, `"\",\"status\":999,\"x\":\""`, `","status":999,"x":"`},
		{"empty", "", `""`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendString(nil, []byte(tt.in)))
			if got != tt.encoded {
				t.Fatalf("appendString(%q) = %s, want %s", tt.in, got, tt.encoded)
			}
			if sanitize(tt.in) != tt.decoded {
				t.Fatalf("test table inconsistent: sanitize(%q) = %q", tt.in, sanitize(tt.in))
			}

			// Through the whole pipeline, in every string field.
			w := &memWriter{}
			l := New(w, time.Hour)
			b := []byte(tt.in)
			l.Log(&Entry{Client: b, Method: b, Host: b, Path: b, Upstream: b, RequestID: b, Route: b})
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			lines := decodeLines(t, w.String())
			if len(lines) != 1 {
				t.Fatalf("got %d lines, want 1: %q", len(lines), w.String())
			}
			d := lines[0]
			for _, f := range []string{d.Client, d.Method, d.Host, d.Path, d.Upstream, d.RequestID, d.Route} {
				if f != tt.decoded {
					t.Fatalf("decoded %q, want %q", f, tt.decoded)
				}
			}
			if lines[0].Status != 0 {
				t.Fatalf("status changed by injection: %d", lines[0].Status)
			}
		})
	}
}

func TestEscapingAllBytes(t *testing.T) {
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
	}
	enc := appendString(nil, all)
	var got string
	if err := json.Unmarshal(enc, &got); err != nil {
		t.Fatalf("invalid JSON %q: %v", enc, err)
	}
	if want := sanitize(string(all)); got != want {
		t.Fatalf("decoded %q, want %q", got, want)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "/", `"\`, "\x00\n\xff", "é", "\xc3", "\xed\xa0\x80", "😀\xf0\x9f"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		enc := appendString([]byte("x"), s)[1:]
		if !utf8.Valid(enc) {
			t.Fatalf("not valid UTF-8: %q", enc)
		}
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", enc, err)
		}
		if want := sanitize(string(s)); got != want {
			t.Fatalf("decoded %q, want %q", got, want)
		}
	})
}

func TestConcurrent(t *testing.T) {
	const goroutines = 8
	const perG = 3000
	w := &memWriter{}
	l := New(w, time.Millisecond) // flush often, concurrently with Log
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := sampleEntry()
			path := make([]byte, 0, 64)
			for i := range perG {
				// Reuse the same slices, as the proxy will: Log must not retain them.
				path = fmt.Appendf(path[:0], "/g%d/n%d?q=\"x\"\n", g, i)
				e.Path = path
				e.Status = g
				e.BytesIn = int64(i)
				l.Log(e)
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := decodeLines(t, w.String())
	if len(lines) != goroutines*perG {
		t.Fatalf("got %d lines, want %d", len(lines), goroutines*perG)
	}
	seen := make(map[string]bool, len(lines))
	for _, ln := range lines {
		want := fmt.Sprintf("/g%d/n%d?q=\"x\"\n", ln.Status, ln.BytesIn)
		if ln.Path != want {
			t.Fatalf("corrupt line: path %q, want %q", ln.Path, want)
		}
		if seen[ln.Path] {
			t.Fatalf("duplicate line %q", ln.Path)
		}
		seen[ln.Path] = true
	}
	if l.WriteErrors() != 0 || l.Dropped() != 0 {
		t.Fatalf("write errors %d, dropped %d", l.WriteErrors(), l.Dropped())
	}
	w.mu.Lock()
	writes := w.writes
	w.mu.Unlock()
	t.Logf("%d lines in %d writes", len(lines), writes)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestFlushByTimer(t *testing.T) {
	w := &memWriter{}
	l := New(w, 20*time.Millisecond)
	defer l.Close()
	l.Log(sampleEntry())
	waitFor(t, "timer flush", 5*time.Second, func() bool { return w.Len() > 0 })
	if got := decodeLines(t, w.String()); len(got) != 1 {
		t.Fatalf("got %d lines, want 1", len(got))
	}
	l.Log(sampleEntry())
	waitFor(t, "second timer flush", 5*time.Second, func() bool { return strings.Count(w.String(), "\n") == 2 })
}

func TestFlushBySize(t *testing.T) {
	w := &memWriter{}
	l := New(w, time.Hour) // the timer never fires during the test
	defer l.Close()
	e := sampleEntry()
	lineLen := len(appendEntry(nil, e))
	below := FlushSize / lineLen // this many lines stay at or under FlushSize
	for range below {
		l.Log(e)
	}
	time.Sleep(50 * time.Millisecond)
	if n := w.Len(); n != 0 {
		t.Fatalf("wrote %d bytes before the buffer exceeded %d", n, FlushSize)
	}
	l.Log(e) // now over FlushSize
	waitFor(t, "size flush", 5*time.Second, func() bool { return w.Len() > 0 })
	if got := decodeLines(t, w.String()); len(got) != below+1 {
		t.Fatalf("got %d lines, want %d", len(got), below+1)
	}
}

func TestNilLogger(t *testing.T) {
	var l *Logger
	l.Log(sampleEntry())
	l.Log(nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.WriteErrors() != 0 || l.Dropped() != 0 {
		t.Fatal("nil logger counters not zero")
	}
}

func TestCloseIdempotentAndLogAfterClose(t *testing.T) {
	w := &memWriter{}
	l := New(w, 0)
	l.Log(sampleEntry())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Log(sampleEntry()) // discarded, must not panic or block
	if got := decodeLines(t, w.String()); len(got) != 1 {
		t.Fatalf("got %d lines, want 1", len(got))
	}
}

// errWriter fails every write.
type errWriter struct{}

var errDiskFull = errors.New("disk full")

func (errWriter) Write([]byte) (int, error) { return 0, errDiskFull }

// shortWriter writes half of every buffer without an error.
type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestWriteErrorsCounted(t *testing.T) {
	for _, tt := range []struct {
		name string
		w    io.Writer
		want error
	}{
		{"error", errWriter{}, errDiskFull},
		{"short", shortWriter{}, io.ErrShortWrite},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Failures in background flushes are counted and logging goes on.
			l := New(tt.w, time.Millisecond)
			l.Log(sampleEntry())
			waitFor(t, "a failed write", 5*time.Second, func() bool { return l.WriteErrors() == 1 })
			l.Log(sampleEntry())
			waitFor(t, "a second failed write", 5*time.Second, func() bool { return l.WriteErrors() == 2 })
			if err := l.Close(); err != nil { // nothing left to write
				t.Fatalf("Close = %v, want nil", err)
			}

			// A failure in the final flush is reported by Close.
			l = New(tt.w, time.Hour)
			l.Log(sampleEntry())
			err := l.Close()
			if !errors.Is(err, tt.want) {
				t.Fatalf("Close = %v, want %v", err, tt.want)
			}
			if n := l.WriteErrors(); n != 1 {
				t.Fatalf("WriteErrors = %d, want 1", n)
			}
		})
	}
}

// blockingWriter blocks every write until release is closed.
type blockingWriter struct {
	release chan struct{}
	w       memWriter
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	return b.w.Write(p)
}

func TestBlockedWriterDoesNotBlockLog(t *testing.T) {
	bw := &blockingWriter{release: make(chan struct{})}
	l := New(bw, time.Millisecond)
	e := sampleEntry()
	lineLen := len(appendEntry(nil, e))
	n := 3 * MaxPending / lineLen // more than the two buffers can hold
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			l.Log(e)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		close(bw.release)
		t.Fatal("Log blocked on a blocked writer")
	}
	if l.Dropped() == 0 {
		t.Fatal("no lines dropped although the writer was blocked")
	}
	close(bw.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := decodeLines(t, bw.w.String())
	if uint64(len(lines))+l.Dropped() != uint64(n) {
		t.Fatalf("written %d + dropped %d != logged %d", len(lines), l.Dropped(), n)
	}
}

func TestOpenOff(t *testing.T) {
	l, c, err := Open("off")
	if err != nil {
		t.Fatal(err)
	}
	if l != nil {
		t.Fatal("off: want nil logger")
	}
	l.Log(sampleEntry())
	if c == nil {
		t.Fatal("off: nil closer")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenStdStreams(t *testing.T) {
	for _, out := range []string{"stdout", "stderr"} {
		t.Run(out, func(t *testing.T) {
			l, c, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			if l == nil || c == nil {
				t.Fatal("nil logger or closer")
			}
			want := os.Stdout
			if out == "stderr" {
				want = os.Stderr
			}
			if l.w != want {
				t.Fatalf("writer is %v, want %v", l.w, want)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := want.Stat(); err != nil {
				t.Fatalf("%s was closed: %v", out, err)
			}
		})
	}
}

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	for i := range 2 { // the second Open appends
		l, c, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		e := sampleEntry()
		e.Status = 200 + i
		l.Log(e)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := decodeLines(t, string(data))
	if len(lines) != 2 || lines[0].Status != 200 || lines[1].Status != 201 {
		t.Fatalf("file has %+v", lines)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o644 != 0 {
		t.Fatalf("mode %v, want at most 0644", perm)
	}
}

func TestOpenErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "no", "such", "dir", "access.log")
	_, _, err := Open(bad)
	if err == nil {
		t.Fatal("want error for a path in a missing directory")
	}
	if !strings.Contains(err.Error(), bad) {
		t.Fatalf("error %q does not name the path", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v does not wrap the cause", err)
	}
	if _, _, err := Open(""); err == nil {
		t.Fatal("want error for empty output")
	}
}

func TestLogNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	l := New(io.Discard, 0)
	defer l.Close()
	e := sampleEntry()
	e.Path = []byte("/caf\xc3\xa9/\xff\"\\\n") // exercise the escaping paths too
	for range 100 {
		l.Log(e)
	}
	if allocs := testing.AllocsPerRun(10000, func() { l.Log(e) }); allocs != 0 {
		t.Fatalf("Log allocated %v times per call, want 0", allocs)
	}
}

func BenchmarkLog(b *testing.B) {
	l := New(io.Discard, 0)
	defer l.Close()
	e := sampleEntry()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
}

func BenchmarkLogParallel(b *testing.B) {
	l := New(io.Discard, 0)
	defer l.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := sampleEntry()
		for pb.Next() {
			l.Log(e)
		}
	})
}

func BenchmarkAppendEntry(b *testing.B) {
	e := sampleEntry()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendEntry(buf[:0], e)
	}
}

func TestPlainTable(t *testing.T) {
	if len(plain) != 256 {
		t.Fatalf("len(plain) = %d", len(plain))
	}
	for c := range 256 {
		want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
		if got := plain[c] == 1; got != want {
			t.Errorf("plain[%#x] = %v, want %v", c, got, want)
		}
		if plain[c] > 1 {
			t.Errorf("plain[%#x] = %d", c, plain[c])
		}
	}
}
