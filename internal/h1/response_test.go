package h1

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type respSnap struct {
	Minor         uint8
	Status        int
	Reason        string
	Fields        []fieldSnap
	ContentLength int64
	Chunked       bool
	KeepAlive     bool
	HeadLen       int
}

func snapResponse(r *Response) respSnap {
	return respSnap{r.Minor, r.Status, string(r.Reason), snapFields(r.Fields), r.ContentLength, r.Chunked, r.KeepAlive, r.HeadLen}
}

// want502 fails unless err is an *Error with Status 502, as every response error must be.
func want502(t testing.TB, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != 502 {
		t.Fatalf("err = %v, want a 502 *Error", err)
	}
	return e
}

func TestParseResponseAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		minor    uint8
		status   int
		reason   string
		cl       int64
		chunked  bool
		keep     bool
		bodyless bool // for a GET
		headLen  int  // 0 means len(in)
		fields   int
		hop      string
	}{
		{name: "200 with content-length", in: crlf("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Type: text/plain") + "hello",
			minor: 1, status: 200, reason: "OK", cl: 5, keep: true, fields: 2, headLen: len(crlf("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Type: text/plain"))},
		{name: "100 continue", in: "HTTP/1.1 100 Continue\r\n\r\n",
			minor: 1, status: 100, reason: "Continue", cl: -1, keep: true, bodyless: true},
		{name: "103 early hints", in: crlf("HTTP/1.1 103 Early Hints", "Link: </style.css>; rel=preload; as=style"),
			minor: 1, status: 103, reason: "Early Hints", cl: -1, keep: true, bodyless: true, fields: 1},
		{name: "101 switching protocols", in: crlf("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
			minor: 1, status: 101, reason: "Switching Protocols", cl: -1, keep: true, bodyless: true, fields: 3, hop: "Upgrade,Connection"},
		{name: "204", in: "HTTP/1.1 204 No Content\r\n\r\n",
			minor: 1, status: 204, reason: "No Content", cl: -1, keep: true, bodyless: true},
		{name: "304 with content-length", in: crlf("HTTP/1.1 304 Not Modified", "ETag: \"x\"", "Content-Length: 100"),
			minor: 1, status: 304, reason: "Not Modified", cl: 100, keep: true, bodyless: true, fields: 2},
		{name: "1.0 without keep-alive", in: crlf("HTTP/1.0 200 OK", "Content-Length: 0"),
			minor: 0, status: 200, reason: "OK", cl: 0, keep: false, fields: 1},
		{name: "1.0 keep-alive", in: crlf("HTTP/1.0 200 OK", "Connection: keep-alive", "Keep-Alive: timeout=5, max=100", "Content-Length: 2"),
			minor: 0, status: 200, reason: "OK", cl: 2, keep: true, fields: 3, hop: "Connection,Keep-Alive"},
		{name: "1.1 close", in: crlf("HTTP/1.1 200 OK", "Connection: close"),
			minor: 1, status: 200, reason: "OK", cl: -1, keep: false, fields: 1, hop: "Connection"},
		{name: "missing reason without SP", in: "HTTP/1.1 200\r\n\r\n",
			minor: 1, status: 200, reason: "", cl: -1, keep: true},
		{name: "missing reason with SP", in: "HTTP/1.1 200 \r\n\r\n",
			minor: 1, status: 200, reason: "", cl: -1, keep: true},
		{name: "reason with spaces, tabs and obs-text", in: "HTTP/1.1 404 Not\tFound \xe9 \r\n\r\n",
			minor: 1, status: 404, reason: "Not\tFound \xe9 ", cl: -1, keep: true},
		{name: "599 and 100 are the bounds", in: "HTTP/1.1 599 X\r\n\r\n",
			minor: 1, status: 599, reason: "X", cl: -1, keep: true},
		{name: "chunked", in: crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Trailer: X-Sum"),
			minor: 1, status: 200, reason: "OK", cl: -1, chunked: true, keep: true, fields: 2, hop: "Trailer"},
		{name: "content-length identical list", in: crlf("HTTP/1.1 200 OK", "Content-Length: 3, 3", "Content-Length: 3"),
			minor: 1, status: 200, reason: "OK", cl: 3, keep: true, fields: 2},
		{name: "connection names fields", in: crlf("HTTP/1.1 200 OK", "Connection: x-internal", "X-Internal: 1", "Content-Length: 0"),
			minor: 1, status: 200, reason: "OK", cl: 0, keep: true, fields: 3, hop: "Connection,X-Internal"},
		{name: "connection cannot drop framing", in: crlf("HTTP/1.1 200 OK", "Connection: content-length, transfer-encoding", "Content-Length: 0"),
			minor: 1, status: 200, reason: "OK", cl: 0, keep: true, fields: 2, hop: "Connection"},
		{name: "500", in: crlf("HTTP/1.1 500 Internal Server Error", "Content-Length: 0"),
			minor: 1, status: 500, reason: "Internal Server Error", cl: 0, keep: true, fields: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r Response
			if err := ParseResponse([]byte(tt.in), &r, nil); err != nil {
				t.Fatalf("ParseResponse(%q) = %v", tt.in, err)
			}
			headLen := tt.headLen
			if headLen == 0 {
				headLen = len(tt.in)
			}
			got := fmt.Sprintf("minor=%d status=%d reason=%q cl=%d chunked=%v keep=%v bodyless=%v headLen=%d fields=%d hop=%q",
				r.Minor, r.Status, r.Reason, r.ContentLength, r.Chunked, r.KeepAlive, r.Bodyless(false), r.HeadLen, len(r.Fields), hopNames(r.Fields))
			want := fmt.Sprintf("minor=%d status=%d reason=%q cl=%d chunked=%v keep=%v bodyless=%v headLen=%d fields=%d hop=%q",
				tt.minor, tt.status, tt.reason, tt.cl, tt.chunked, tt.keep, tt.bodyless, headLen, tt.fields, tt.hop)
			if got != want {
				t.Fatalf("ParseResponse(%q)\n got %s\nwant %s", tt.in, got, want)
			}
			if !r.Bodyless(true) {
				t.Fatal("a response to HEAD is always bodyless")
			}
		})
	}
}

func TestParseResponseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         string
		lim        *Limits
		statusLine bool // the error is ErrStatusLine itself
	}{
		{"status 600", "HTTP/1.1 600 X\r\n\r\n", nil, true},
		{"status 099", "HTTP/1.1 099 X\r\n\r\n", nil, true},
		{"status 000", "HTTP/1.1 000 X\r\n\r\n", nil, true},
		{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", nil, true},
		{"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", nil, true},
		{"status with sign", "HTTP/1.1 +20 OK\r\n\r\n", nil, true},
		{"status letters", "HTTP/1.1 2oo OK\r\n\r\n", nil, true},
		{"status only two digits and no reason", "HTTP/1.1 20\r\n\r\n", nil, true},
		{"tab before reason", "HTTP/1.1 200\tOK\r\n\r\n", nil, true},
		{"two spaces before status", "HTTP/1.1  200 OK\r\n\r\n", nil, true},
		{"http/1.2", "HTTP/1.2 200 OK\r\n\r\n", nil, true},
		{"http/2", "HTTP/2 200 OK\r\n\r\n", nil, true},
		{"http/2.0", "HTTP/2.0 200 OK\r\n\r\n", nil, true},
		{"lower-case version", "http/1.1 200 OK\r\n\r\n", nil, true},
		{"no version", "200 OK\r\n\r\n", nil, true},
		{"empty status line", "\r\n\r\n", nil, true},
		{"http/0.9 body", "<html>hello</html>\r\n\r\n", nil, true},
		{"bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n", nil, true},
		{"NUL in reason", "HTTP/1.1 200 O\x00K\r\n\r\n", nil, true},
		{"DEL in reason", "HTTP/1.1 200 OK\x7f\r\n\r\n", nil, true},
		{"bare LF after status line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", nil, false},
		{"bare LF ends the head", "HTTP/1.1 200 OK\r\n\n", nil, false},
		{"bare CR in value", crlf("HTTP/1.1 200 OK", "X: a\rb"), nil, false},
		{"NUL in value", crlf("HTTP/1.1 200 OK", "X: a\x00b"), nil, false},
		{"space before colon", crlf("HTTP/1.1 200 OK", "Content-Length : 5"), nil, false},
		{"no colon", crlf("HTTP/1.1 200 OK", "Garbage"), nil, false},
		{"obs-fold", crlf("HTTP/1.1 200 OK", "X: a", " b"), nil, false},
		{"whitespace before first field", crlf("HTTP/1.1 200 OK", " X: a"), nil, false},
		{"bad content-length", crlf("HTTP/1.1 200 OK", "Content-Length: abc"), nil, false},
		{"negative content-length", crlf("HTTP/1.1 200 OK", "Content-Length: -1"), nil, false},
		{"content-length overflow", crlf("HTTP/1.1 200 OK", "Content-Length: 99999999999999999999"), nil, false},
		{"conflicting content-length", crlf("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 6"), nil, false},
		{"conflicting content-length list", crlf("HTTP/1.1 200 OK", "Content-Length: 5, 6"), nil, false},
		{"cl and te", crlf("HTTP/1.1 200 OK", "Content-Length: 5", "Transfer-Encoding: chunked"), nil, false},
		{"te and cl", crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 5"), nil, false},
		{"te gzip", crlf("HTTP/1.1 200 OK", "Transfer-Encoding: gzip"), nil, false},
		{"te gzip chunked", crlf("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked"), nil, false},
		{"te chunked twice", crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, chunked"), nil, false},
		{"te empty", crlf("HTTP/1.1 200 OK", "Transfer-Encoding:"), nil, false},
		{"te on 1.0", crlf("HTTP/1.0 200 OK", "Transfer-Encoding: chunked"), nil, false},
		{"bad connection", crlf("HTTP/1.1 200 OK", "Connection: a b"), nil, false},
		{"head too large", crlf("HTTP/1.1 200 OK", "X: "+strings.Repeat("v", 100)), &Limits{MaxHeaderBytes: 64}, false},
		{"head too large, incomplete", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("v", 100), &Limits{MaxHeaderBytes: 64}, false},
		{"too many fields", crlf("HTTP/1.1 200 OK", "A: 1", "B: 2", "C: 3"), &Limits{MaxHeaderCount: 2}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r Response
			err := ParseResponse([]byte(tt.in), &r, tt.lim)
			want502(t, err)
			if tt.statusLine && !errors.Is(err, ErrStatusLine) {
				t.Fatalf("err = %v, want ErrStatusLine", err)
			}
			if r.HeadLen != 0 {
				t.Fatalf("HeadLen %d set on error", r.HeadLen)
			}
		})
	}
}

// TestParseResponseEveryStatus checks every three-digit code: 100 to 599 are accepted, others are not.
func TestParseResponseEveryStatus(t *testing.T) {
	t.Parallel()
	for code := 0; code <= 999; code++ {
		in := fmt.Sprintf("HTTP/1.1 %03d R\r\n\r\n", code)
		var r Response
		err := ParseResponse([]byte(in), &r, nil)
		if code >= 100 && code <= 599 {
			if err != nil || r.Status != code {
				t.Errorf("%q: %v, status %d", in, err, r.Status)
			}
		} else if !errors.Is(err, ErrStatusLine) {
			t.Errorf("%q: %v, want ErrStatusLine", in, err)
		}
	}
}

func TestParseResponseIncremental(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"typical", typicalResponse},
		{"chunked", crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\n\r\n"},
		{"100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"},
		{"bad status", "HTTP/1.1 600 X\r\nA: b\r\n\r\n"},
		{"bare LF", "HTTP/1.1 200 OK\r\nA: b\n\r\n"},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 5} {
			t.Run(fmt.Sprintf("%s step %d", tt.name, step), func(t *testing.T) {
				t.Parallel()
				in := []byte(tt.in)
				var whole Response
				wholeErr := ParseResponse(in, &whole, nil)
				var r Response
				var err error
				for k := 0; ; k += step {
					k = min(k, len(in))
					if err = ParseResponse(in[:k], &r, nil); err != nil || r.HeadLen > 0 {
						break
					}
					if k == len(in) {
						t.Fatal("never complete")
					}
				}
				if (err == nil) != (wholeErr == nil) {
					t.Fatalf("fed in pieces: %v; all at once: %v", err, wholeErr)
				}
				if err == nil && !reflect.DeepEqual(snapResponse(&r), snapResponse(&whole)) {
					t.Fatalf("fed in pieces:\n%+v\nall at once:\n%+v", snapResponse(&r), snapResponse(&whole))
				}
			})
		}
	}
}

// TestParseResponseSequence parses an interim response and then the final one from the same buffer, as
// the engine does for 100-continue, reusing the Response.
func TestParseResponseSequence(t *testing.T) {
	t.Parallel()
	first := "HTTP/1.1 100 Continue\r\n\r\n"
	second := crlf("HTTP/1.1 201 Created", "Location: /x", "Content-Length: 0")
	buf := []byte(first + second)
	r := Response{Fields: make([]Field, 0, 4)}
	if err := ParseResponse(buf, &r, nil); err != nil || r.Status != 100 || r.HeadLen != len(first) {
		t.Fatalf("first: %v, %d, HeadLen %d", err, r.Status, r.HeadLen)
	}
	off := r.HeadLen
	r.Reset()
	if err := ParseResponse(buf[off:], &r, nil); err != nil || r.Status != 201 || r.HeadLen != len(second) || r.ContentLength != 0 || len(r.Fields) != 2 {
		t.Fatalf("second: %v, %+v", err, snapResponse(&r))
	}
}

func TestParseResponseIncompleteIsNotAnError(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "H", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK\r", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\nA: b\r\n\r"} {
		var r Response
		if err := ParseResponse([]byte(in), &r, nil); err != nil || r.HeadLen != 0 {
			t.Errorf("ParseResponse(%q) = %v, HeadLen %d; want more bytes needed", in, err, r.HeadLen)
		}
	}
}

func TestParseResponseZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b := []byte(typicalResponse)
	r := Response{Fields: make([]Field, 0, 32)}
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset()
		if err := ParseResponse(b, &r, nil); err != nil || r.HeadLen != len(b) {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseResponse allocates %v times", allocs)
	}
}
