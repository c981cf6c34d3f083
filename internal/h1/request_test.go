package h1

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// crlf builds a message head: every line ends in CRLF and an empty line ends the head.
func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

// wantErr fails unless err is exactly want (the same shared *Error) with want's status.
func wantErr(t *testing.T, err error, want *Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != want.Status {
		t.Fatalf("err = %v: status is not %d", err, want.Status)
	}
}

// fieldSnap and reqSnap are comparable copies of what ParseRequest produced, so that two parses can be
// compared with reflect.DeepEqual.
type fieldSnap struct {
	Name, Value, Line string
	ID                FieldID
	Hop               bool
}

type reqSnap struct {
	Method, Target, Path, Host string
	HostNil                    bool
	Minor                      uint8
	Fields                     []fieldSnap
	ContentLength              int64
	Chunked, KeepAlive         bool
	Upgrade, ExpectContinue    bool
	HeadLen                    int
}

func snapFields(fs []Field) []fieldSnap {
	out := make([]fieldSnap, 0, len(fs))
	for _, f := range fs {
		out = append(out, fieldSnap{string(f.Name), string(f.Value), string(f.Line), f.ID, f.Hop})
	}
	return out
}

func snapRequest(r *Request) reqSnap {
	return reqSnap{
		Method: string(r.Method), Target: string(r.Target), Path: string(r.Path), Host: string(r.Host),
		HostNil: r.Host == nil, Minor: r.Minor, Fields: snapFields(r.Fields),
		ContentLength: r.ContentLength, Chunked: r.Chunked, KeepAlive: r.KeepAlive, Upgrade: r.Upgrade,
		ExpectContinue: r.ExpectContinue, HeadLen: r.HeadLen,
	}
}

// hopNames lists the names of the fields marked Hop, comma-separated, in order.
func hopNames(fs []Field) string {
	var names []string
	for _, f := range fs {
		if f.Hop {
			names = append(names, string(f.Name))
		}
	}
	return strings.Join(names, ",")
}

func TestParseRequestAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		lim     *Limits
		method  string
		target  string // "" means the same as path
		path    string
		host    string
		minor   uint8
		cl      int64
		chunked bool
		keep    bool
		upgrade bool
		expect  bool
		headLen int // 0 means len(in)
		fields  int
		hop     string // names of the fields marked Hop, in order
	}{
		{name: "minimal 1.1", in: crlf("GET / HTTP/1.1", "Host: example.com"),
			method: "GET", path: "/", host: "example.com", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "1.0 without host", in: "GET /x HTTP/1.0\r\n\r\n",
			method: "GET", path: "/x", minor: 0, cl: -1, keep: false, fields: 0},
		{name: "1.0 keep-alive", in: crlf("GET / HTTP/1.0", "Connection: keep-alive"),
			method: "GET", path: "/", minor: 0, cl: -1, keep: true, fields: 1, hop: "Connection"},
		{name: "1.0 keep-alive and close", in: crlf("GET / HTTP/1.0", "Connection: keep-alive, close"),
			method: "GET", path: "/", minor: 0, cl: -1, keep: false, fields: 1, hop: "Connection"},
		{name: "1.1 close", in: crlf("GET / HTTP/1.1", "Host: h", "Connection: close"),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: false, fields: 2, hop: "Connection"},
		{name: "1.1 close mixed case in a list", in: crlf("GET / HTTP/1.1", "Host: h", "connection: Keep-Alive ,\tCLOSE"),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: false, fields: 2, hop: "connection"},
		{name: "close in a second connection field", in: crlf("GET / HTTP/1.1", "Host: h", "Connection: x-a", "Connection: close", "X-A: 1"),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: false, fields: 4, hop: "Connection,Connection,X-A"},
		{name: "absolute-form sets host from authority", in: crlf("GET http://example.com:8080/a?b=c HTTP/1.1", "Host: other"),
			method: "GET", target: "http://example.com:8080/a?b=c", path: "/a?b=c", host: "example.com:8080", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "absolute-form https upper-case scheme", in: crlf("GET HTTPS://Example.COM/ HTTP/1.1", "Host: x"),
			method: "GET", target: "HTTPS://Example.COM/", path: "/", host: "Example.COM", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "absolute-form without path", in: crlf("GET http://h HTTP/1.1", "Host: h"),
			method: "GET", target: "http://h", path: "", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "absolute-form query without path", in: crlf("GET http://h?q=1 HTTP/1.1", "Host: h"),
			method: "GET", target: "http://h?q=1", path: "?q=1", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "absolute-form empty port", in: crlf("GET http://h:/ HTTP/1.1", "Host: h"),
			method: "GET", target: "http://h:/", path: "/", host: "h:", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "absolute-form percent-encoded reg-name", in: crlf("GET http://ex%41mple/ HTTP/1.1", "Host: h"),
			method: "GET", target: "http://ex%41mple/", path: "/", host: "ex%41mple", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "absolute-form 1.0 without host field", in: "GET http://h.example/p HTTP/1.0\r\n\r\n",
			method: "GET", target: "http://h.example/p", path: "/p", host: "h.example", minor: 0, cl: -1, fields: 0},
		{name: "options asterisk", in: crlf("OPTIONS * HTTP/1.1", "Host: h"),
			method: "OPTIONS", path: "*", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "options absolute-form", in: crlf("OPTIONS http://h HTTP/1.1", "Host: h"),
			method: "OPTIONS", target: "http://h", path: "", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "every allowed target character", in: crlf("GET /azAZ09-._~!$&'()*+,;=:@/?%25/a?b HTTP/1.1", "Host: h"),
			method: "GET", path: "/azAZ09-._~!$&'()*+,;=:@/?%25/a?b", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "double slash origin-form", in: crlf("GET //x/y HTTP/1.1", "Host: h"),
			method: "GET", path: "//x/y", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "extension methods are tokens", in: crlf("M-SEARCH / HTTP/1.1", "Host: h"),
			method: "M-SEARCH", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "lower-case method is a token", in: crlf("get / HTTP/1.1", "Host: h"),
			method: "get", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "every tchar in the method", in: crlf("!#$%&'*+-.^_`|~09azAZ / HTTP/1.1", "Host: h"),
			method: "!#$%&'*+-.^_`|~09azAZ", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "content-length", in: crlf("POST /u HTTP/1.1", "Host: h", "Content-Length: 5") + "hello",
			method: "POST", path: "/u", host: "h", minor: 1, cl: 5, keep: true, fields: 2, headLen: len(crlf("POST /u HTTP/1.1", "Host: h", "Content-Length: 5"))},
		{name: "content-length leading OWS", in: crlf("POST / HTTP/1.1", "Host: h", "Content-Length:  \t5\t "),
			method: "POST", path: "/", host: "h", minor: 1, cl: 5, keep: true, fields: 2},
		{name: "content-length no space after colon", in: crlf("POST / HTTP/1.1", "Host: h", "Content-Length:5"),
			method: "POST", path: "/", host: "h", minor: 1, cl: 5, keep: true, fields: 2},
		{name: "content-length identical list", in: crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5, 5"),
			method: "POST", path: "/", host: "h", minor: 1, cl: 5, keep: true, fields: 2},
		{name: "content-length identical repeats", in: crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5", "content-length: 5"),
			method: "POST", path: "/", host: "h", minor: 1, cl: 5, keep: true, fields: 3},
		{name: "content-length same decimal value with leading zeros", in: crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 007", "Content-Length: 7"),
			method: "POST", path: "/", host: "h", minor: 1, cl: 7, keep: true, fields: 3},
		{name: "content-length zero", in: crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 0"),
			method: "POST", path: "/", host: "h", minor: 1, cl: 0, keep: true, fields: 2},
		{name: "content-length 18 digits", in: crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 999999999999999999"),
			method: "POST", path: "/", host: "h", minor: 1, cl: 999999999999999999, keep: true, fields: 2},
		{name: "content-length on 1.0", in: crlf("POST / HTTP/1.0", "Content-Length: 3"),
			method: "POST", path: "/", minor: 0, cl: 3, fields: 1},
		{name: "chunked", in: crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked"),
			method: "POST", path: "/", host: "h", minor: 1, cl: -1, chunked: true, keep: true, fields: 2},
		{name: "chunked after a tab", in: crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding:\tchunked"),
			method: "POST", path: "/", host: "h", minor: 1, cl: -1, chunked: true, keep: true, fields: 2},
		{name: "chunked upper case", in: crlf("POST / HTTP/1.1", "Host: h", "transfer-encoding: CHUNKED"),
			method: "POST", path: "/", host: "h", minor: 1, cl: -1, chunked: true, keep: true, fields: 2},
		{name: "chunked with empty list elements", in: crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: , chunked ,"),
			method: "POST", path: "/", host: "h", minor: 1, cl: -1, chunked: true, keep: true, fields: 2},
		{name: "expect 100-continue", in: crlf("PUT / HTTP/1.1", "Host: h", "Expect: 100-continue", "Content-Length: 1"),
			method: "PUT", path: "/", host: "h", minor: 1, cl: 1, keep: true, expect: true, fields: 3},
		{name: "expect is case-insensitive", in: crlf("PUT / HTTP/1.1", "Host: h", "Expect:  100-Continue "),
			method: "PUT", path: "/", host: "h", minor: 1, cl: -1, keep: true, expect: true, fields: 2},
		{name: "expect on 1.0 is ignored", in: crlf("PUT / HTTP/1.0", "Expect: 100-continue"),
			method: "PUT", path: "/", minor: 0, cl: -1, expect: false, fields: 1},
		{name: "websocket upgrade", in: crlf("GET /ws HTTP/1.1", "Host: h", "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13"),
			method: "GET", path: "/ws", host: "h", minor: 1, cl: -1, keep: true, upgrade: true, fields: 4, hop: "Connection,Upgrade"},
		{name: "upgrade field without connection token", in: crlf("GET / HTTP/1.1", "Host: h", "Upgrade: websocket"),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 2, hop: "Upgrade"},
		{name: "connection upgrade without upgrade field", in: crlf("GET / HTTP/1.1", "Host: h", "Connection: upgrade"),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 2, hop: "Connection"},
		{name: "upgrade on 1.0 is ignored", in: crlf("GET / HTTP/1.0", "Connection: upgrade", "Upgrade: websocket"),
			method: "GET", path: "/", minor: 0, cl: -1, fields: 2, hop: "Connection,Upgrade"},
		{name: "connection names fields to drop", in: crlf("GET / HTTP/1.1", "Host: h", "Connection: X-Foo, keep-alive", "X-Foo: 1", "X-Bar: 2", "x-foo: 3"),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 5, hop: "Connection,X-Foo,x-foo"},
		{name: "connection cannot drop host or framing fields", in: crlf("POST / HTTP/1.1", "Host: h", "Connection: Host, Content-Length, Transfer-Encoding", "Content-Length: 2"),
			method: "POST", path: "/", host: "h", minor: 1, cl: 2, keep: true, fields: 3, hop: "Connection"},
		{name: "hop-by-hop fields", in: crlf("GET / HTTP/1.1", "Host: h", "Keep-Alive: timeout=5", "TE: trailers", "Trailer: X",
			"Proxy-Connection: keep-alive", "Proxy-Authorization: Basic eA==", "X-Proxy-Id: 1", "Proxy-: 1", "Upgrade: h2c"),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 9,
			hop: "Keep-Alive,TE,Trailer,Proxy-Connection,Proxy-Authorization,Upgrade"},
		{name: "four leading empty lines", in: "\r\n\r\n\r\n\r\n" + crlf("GET / HTTP/1.1", "Host: h"),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "obs-text in a value", in: crlf("GET / HTTP/1.1", "Host: h", "X-Name: caf\xc3\xa9 \xff"),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 2},
		{name: "empty values", in: crlf("GET / HTTP/1.1", "Host: h", "X-A:", "X-B:  \t "),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 3},
		{name: "empty host on 1.1", in: crlf("GET / HTTP/1.1", "Host:"),
			method: "GET", path: "/", host: "", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "absolute-form IPv6 literal", in: crlf("GET http://[::1]:8080/x?y HTTP/1.1", "Host: [::1]:8080"),
			method: "GET", target: "http://[::1]:8080/x?y", path: "/x?y", host: "[::1]:8080", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "escapes: valid in the path, anything in the query", in: crlf("GET /a%2Fb%c3%A9?q=%zz% HTTP/1.1", "Host: h"),
			method: "GET", path: "/a%2Fb%c3%A9?q=%zz%", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "characters browsers send unencoded", in: crlf("GET /a|b^c[d]{e}<f>`g\"h?q[]=1&r=\\s HTTP/1.1", "Host: h"),
			method: "GET", path: "/a|b^c[d]{e}<f>`g\"h?q[]=1&r=\\s", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "host with port", in: crlf("GET / HTTP/1.1", "Host: example.com:65535"),
			method: "GET", path: "/", host: "example.com:65535", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "host ipv4", in: crlf("GET / HTTP/1.1", "Host: 127.0.0.1:80"),
			method: "GET", path: "/", host: "127.0.0.1:80", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "host ipv6 literal", in: crlf("GET / HTTP/1.1", "Host: [2001:db8::1]:8443"),
			method: "GET", path: "/", host: "[2001:db8::1]:8443", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "host percent-encoded and sub-delims", in: crlf("GET / HTTP/1.1", "Host: a%2Db!$&'()*+,;=~_.-"),
			method: "GET", path: "/", host: "a%2Db!$&'()*+,;=~_.-", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "host value trimmed", in: crlf("GET / HTTP/1.1", "Host:\t h \t"),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "bytes after the head are not consumed", in: crlf("GET / HTTP/1.1", "Host: h") + "GET /next HTTP/1.1\r\n",
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 1, headLen: len(crlf("GET / HTTP/1.1", "Host: h"))},
		{name: "exactly the default field count", in: crlf(append([]string{"GET / HTTP/1.1", "Host: h"}, repeatLines("X-F: v", 99)...)...),
			method: "GET", path: "/", host: "h", minor: 1, cl: -1, keep: true, fields: 100},
		{name: "exactly the default request line", in: crlf(requestLine(8<<10), "Host: h"),
			method: "GET", path: requestLine(8 << 10)[4 : 8<<10-9], host: "h", minor: 1, cl: -1, keep: true, fields: 1},
		{name: "exactly the limits", in: crlf(requestLine(32), "Host: h", "X: 1", "X: 12345678"), lim: &Limits{MaxRequestLine: 32, MaxHeaderBytes: 64, MaxHeaderCount: 3},
			method: "GET", path: requestLine(32)[4:23], host: "h", minor: 1, cl: -1, keep: true, fields: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r Request
			if err := ParseRequest([]byte(tt.in), &r, tt.lim); err != nil {
				t.Fatalf("ParseRequest(%q) = %v", tt.in, err)
			}
			headLen := tt.headLen
			if headLen == 0 {
				headLen = len(tt.in)
			}
			target := tt.target
			if target == "" {
				target = tt.path
			}
			got := fmt.Sprintf("method=%q target=%q path=%q host=%q minor=%d cl=%d chunked=%v keep=%v upgrade=%v expect=%v headLen=%d fields=%d hop=%q",
				r.Method, r.Target, r.Path, r.Host, r.Minor, r.ContentLength, r.Chunked, r.KeepAlive, r.Upgrade, r.ExpectContinue, r.HeadLen, len(r.Fields), hopNames(r.Fields))
			want := fmt.Sprintf("method=%q target=%q path=%q host=%q minor=%d cl=%d chunked=%v keep=%v upgrade=%v expect=%v headLen=%d fields=%d hop=%q",
				tt.method, target, tt.path, tt.host, tt.minor, tt.cl, tt.chunked, tt.keep, tt.upgrade, tt.expect, headLen, tt.fields, tt.hop)
			if got != want {
				t.Fatalf("ParseRequest(%q)\n got %s\nwant %s", tt.in, got, want)
			}
		})
	}
}

func repeatLines(line string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = line
	}
	return out
}

// requestLine returns "GET /aaa… HTTP/1.1" exactly n bytes long (n ≥ 14).
func requestLine(n int) string {
	return "GET /" + strings.Repeat("a", n-14) + " HTTP/1.1"
}

func TestParseRequestFieldDetails(t *testing.T) {
	t.Parallel()
	in := crlf("GET / HTTP/1.1", "Host: h", "X-Spaces: \t a \t b \t ", "Content-Length:5", "x-forwarded-for: 1.2.3.4", "X-Request-ID: abc", "Forwarded: for=x")
	buf := []byte(in)
	var r Request
	if err := ParseRequest(buf, &r, nil); err != nil {
		t.Fatal(err)
	}
	want := []fieldSnap{
		{"Host", "h", "Host: h", Host, false},
		{"X-Spaces", "a \t b", "X-Spaces: \t a \t b \t ", Other, false},
		{"Content-Length", "5", "Content-Length:5", ContentLength, false},
		{"x-forwarded-for", "1.2.3.4", "x-forwarded-for: 1.2.3.4", XForwardedFor, false},
		{"X-Request-ID", "abc", "X-Request-ID: abc", XRequestID, false},
		{"Forwarded", "for=x", "Forwarded: for=x", Forwarded, false},
	}
	if got := snapFields(r.Fields); !reflect.DeepEqual(got, want) {
		t.Fatalf("fields\n got %+v\nwant %+v", got, want)
	}
	// Name, Value and Line point into the input, not into copies.
	for _, f := range r.Fields {
		if !within(buf, f.Line) || !within(f.Line, f.Name) || !within(f.Line, f.Value) {
			t.Fatalf("field %q does not point into the buffer", f.Line)
		}
	}
}

// within reports whether sub is a sub-slice of b's memory.
func within(b, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	for i := range b {
		if &b[i] == &sub[0] {
			return i+len(sub) <= len(b)
		}
	}
	return false
}

func TestParseRequestErrors(t *testing.T) {
	t.Parallel()
	small := &Limits{MaxRequestLine: 32, MaxHeaderBytes: 64, MaxHeaderCount: 3}
	tests := []struct {
		name string
		in   string
		lim  *Limits
		want *Error
	}{
		// Request line.
		{"method with @", crlf("G@T / HTTP/1.1", "Host: h"), nil, ErrMethod},
		{"method with NUL", crlf("\x00GET / HTTP/1.1", "Host: h"), nil, ErrMethod},
		{"method with obs-text", crlf("G\xc3\x89T / HTTP/1.1", "Host: h"), nil, ErrMethod},
		{"method with slash", crlf("GET/ / HTTP/1.1", "Host: h"), nil, ErrMethod},
		{"method with tab separator", crlf("GET\t/ HTTP/1.1", "Host: h"), nil, ErrMethod},
		{"method with bare CR", crlf("GE\rT / HTTP/1.1", "Host: h"), nil, ErrMethod},
		{"empty method", crlf(" / HTTP/1.1", "Host: h"), nil, ErrRequestLine},
		{"method only", crlf("GET", "Host: h"), nil, ErrRequestLine},
		{"no version", crlf("GET /", "Host: h"), nil, ErrRequestLine},
		{"two spaces before target", crlf("GET  / HTTP/1.1", "Host: h"), nil, ErrRequestLine},
		{"empty request line", "\r\n\r\n\r\n\r\n\r\n" + crlf("GET / HTTP/1.1", "Host: h"), nil, ErrRequestLine},
		// A space inside the target makes the rest of the line the version: still a 400.
		{"space inside target", crlf("GET /a b HTTP/1.1", "Host: h"), nil, ErrVersion},
		{"trailing space after version", crlf("GET / HTTP/1.1 ", "Host: h"), nil, ErrVersion},
		{"target with bare CR", crlf("GET /\r HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"target with fragment", crlf("GET /a#b HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"malformed escape in the path", crlf("GET /%zz HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"truncated escape in the path", crlf("GET /a%4 HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"escape cut by the query", crlf("GET /a%4?x HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"malformed escape in an absolute-form path", crlf("GET http://h/%g0 HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"target with backslash in the path", crlf("GET /a\\b HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"absolute-form with backslash in the path", crlf("GET http://h/a\\b HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"target with NUL", crlf("GET /a\x00 HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"target with tab", crlf("GET /a\tb HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"target with DEL", crlf("GET /a\x7f HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"target with UTF-8", crlf("GET /caf\xc3\xa9 HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"target with 0xff", crlf("GET /\xff HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"brackets in an authority that is no IP literal", crlf("GET http://h[x]/ HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"authority with port over 65535", crlf("GET http://h:65536/ HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"host with port over 65535", crlf("GET / HTTP/1.1", "Host: h:99999"), nil, ErrHost},
		{"asterisk with GET", crlf("GET * HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"asterisk with M-SEARCH", crlf("M-SEARCH * HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"asterisk followed by more", crlf("OPTIONS */x HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"relative target", crlf("GET a/b HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"query-only target", crlf("GET ?a HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"unknown scheme", crlf("GET ftp://h/ HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"scheme without authority", crlf("GET http:/x HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"scheme only", crlf("GET http:// HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"empty authority", crlf("GET http:///x HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"empty authority before query", crlf("GET https://?x HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"userinfo", crlf("GET http://user@h/ HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"userinfo with password", crlf("GET http://user:pw@h/ HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"authority with bad port", crlf("GET http://h:8o/ HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"authority with 6-digit port", crlf("GET http://h:123456/ HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"authority with bad percent", crlf("GET http://h%zz/ HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"authority with truncated percent", crlf("GET http://h%4/ HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"authority port only", crlf("GET http://:80/ HTTP/1.1", "Host: h"), nil, ErrTarget},
		{"connect", crlf("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"), nil, ErrConnect},
		{"connect origin-form", crlf("CONNECT /rpc HTTP/1.1", "Host: h"), nil, ErrConnect},
		{"connect on 1.0", "CONNECT h:443 HTTP/1.0\r\n\r\n", nil, ErrConnect},
		// Versions.
		{"http/2.0", crlf("GET / HTTP/2.0", "Host: h"), nil, ErrVersionUnsupported},
		{"http/0.9", crlf("GET / HTTP/0.9", "Host: h"), nil, ErrVersionUnsupported},
		{"http/1.2", crlf("GET / HTTP/1.2", "Host: h"), nil, ErrVersionUnsupported},
		{"http/3.0", crlf("GET / HTTP/3.0", "Host: h"), nil, ErrVersionUnsupported},
		{"prior knowledge h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", nil, ErrVersionUnsupported},
		{"lower-case version", crlf("GET / http/1.1", "Host: h"), nil, ErrVersion},
		{"version without minor", crlf("GET / HTTP/1", "Host: h"), nil, ErrVersion},
		{"version HTTP/2", crlf("GET / HTTP/2", "Host: h"), nil, ErrVersion},
		{"two-digit major", crlf("GET / HTTP/11.1", "Host: h"), nil, ErrVersion},
		{"two-digit minor", crlf("GET / HTTP/1.10", "Host: h"), nil, ErrVersion},
		{"version letters", crlf("GET / HTTP/a.b", "Host: h"), nil, ErrVersion},
		{"HTTPS version", crlf("GET / HTTPS/1.1", "Host: h"), nil, ErrVersion},
		{"version with NUL", crlf("GET / HTTP/1.1\x00", "Host: h"), nil, ErrVersion},
		{"version with bare CR", "GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", nil, ErrVersion},
		// Line endings.
		{"bare LF after request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", nil, ErrLineEnding},
		{"bare LF after a field", "GET / HTTP/1.1\r\nHost: h\n\r\n", nil, ErrLineEnding},
		{"bare LF ends the head", "GET / HTTP/1.1\r\nHost: h\r\n\n", nil, ErrLineEnding},
		{"bare LF inside a value", "GET / HTTP/1.1\r\nX: a\nb\r\nHost: h\r\n\r\n", nil, ErrLineEnding},
		{"leading bare LF", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", nil, ErrLineEnding},
		{"leading CRLF then bare LF", "\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", nil, ErrLineEnding},
		{"LF only", "GET / HTTP/1.1\nHost: h\n\n", nil, ErrLineEnding},
		// Host.
		{"missing host on 1.1", crlf("GET / HTTP/1.1", "X: y"), nil, ErrHost},
		{"missing host on 1.1 with absolute-form", crlf("GET http://h/ HTTP/1.1", "X: y"), nil, ErrHost},
		{"host twice", crlf("GET / HTTP/1.1", "Host: a", "Host: b"), nil, ErrHost},
		{"host twice same value", crlf("GET / HTTP/1.1", "Host: a", "host: a"), nil, ErrHost},
		{"host twice on 1.0", crlf("GET / HTTP/1.0", "Host: a", "Host: a"), nil, ErrHost},
		{"host twice with absolute-form", crlf("GET http://h/ HTTP/1.1", "Host: h", "Host: h"), nil, ErrHost},
		{"host with a space", crlf("GET / HTTP/1.1", "Host: a b"), nil, ErrHost},
		{"host as a list", crlf("GET / HTTP/1.1", "Host: a, b"), nil, ErrHost},
		{"host with a path", crlf("GET / HTTP/1.1", "Host: a/b"), nil, ErrHost},
		{"host with userinfo", crlf("GET / HTTP/1.1", "Host: u@a"), nil, ErrHost},
		{"host with bad port", crlf("GET / HTTP/1.1", "Host: a:b"), nil, ErrHost},
		{"host with 6-digit port", crlf("GET / HTTP/1.1", "Host: a:100000"), nil, ErrHost},
		{"host port only", crlf("GET / HTTP/1.1", "Host: :80"), nil, ErrHost},
		{"host with two ports", crlf("GET / HTTP/1.1", "Host: a:1:2"), nil, ErrHost},
		{"host unterminated ip-literal", crlf("GET / HTTP/1.1", "Host: [::1"), nil, ErrHost},
		{"host empty ip-literal", crlf("GET / HTTP/1.1", "Host: []"), nil, ErrHost},
		{"host ip-literal junk after", crlf("GET / HTTP/1.1", "Host: [::1]x"), nil, ErrHost},
		{"host ip-future", crlf("GET / HTTP/1.1", "Host: [v1.x]"), nil, ErrHost},
		{"host bad percent", crlf("GET / HTTP/1.1", "Host: a%g0"), nil, ErrHost},
		{"host with obs-text", crlf("GET / HTTP/1.1", "Host: caf\xc3\xa9"), nil, ErrHost},
		// Field names.
		{"space before colon", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding : chunked"), nil, ErrFieldName},
		{"tab before colon", crlf("GET / HTTP/1.1", "Host\t: h"), nil, ErrFieldName},
		{"space inside name", crlf("GET / HTTP/1.1", "Host: h", "X Y: z"), nil, ErrFieldName},
		{"empty name", crlf("GET / HTTP/1.1", "Host: h", ": z"), nil, ErrFieldName},
		{"no colon", crlf("GET / HTTP/1.1", "Host: h", "X-Y"), nil, ErrFieldName},
		{"NUL in name", crlf("GET / HTTP/1.1", "Host: h", "X\x00Y: z"), nil, ErrFieldName},
		{"NUL in content-length name", crlf("POST / HTTP/1.1", "Host: h", "Content-Length\x00: 5"), nil, ErrFieldName},
		{"bare CR in name", crlf("GET / HTTP/1.1", "Host: h", "X\rY: z"), nil, ErrFieldName},
		{"obs-text in name", crlf("GET / HTTP/1.1", "Host: h", "X\xe9: z"), nil, ErrFieldName},
		{"separator in name", crlf("GET / HTTP/1.1", "Host: h", "X(Y): z"), nil, ErrFieldName},
		// Field values.
		{"NUL in value", crlf("GET / HTTP/1.1", "Host: h", "X: a\x00b"), nil, ErrFieldValue},
		{"bare CR in value", crlf("GET / HTTP/1.1", "Host: h", "X: a\rb"), nil, ErrFieldValue},
		{"bare CR at end of value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\r\n\r\n", nil, ErrFieldValue},
		{"vertical tab in value", crlf("GET / HTTP/1.1", "Host: h", "X: a\x0bb"), nil, ErrFieldValue},
		{"vertical tab before chunked", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding:\x0bchunked"), nil, ErrFieldValue},
		{"form feed before chunked", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: \x0cchunked"), nil, ErrFieldValue},
		{"DEL in value", crlf("GET / HTTP/1.1", "Host: h", "X: a\x7f"), nil, ErrFieldValue},
		{"escape in value", crlf("GET / HTTP/1.1", "Host: h", "X: \x1b[31m"), nil, ErrFieldValue},
		{"CTL in host value", crlf("GET / HTTP/1.1", "Host: h\x01"), nil, ErrFieldValue},
		// Line folding.
		{"obs-fold with space", crlf("GET / HTTP/1.1", "Host: h", "X: a", " b"), nil, ErrObsFold},
		{"obs-fold with tab", crlf("GET / HTTP/1.1", "Host: h", "X: a", "\tb"), nil, ErrObsFold},
		{"whitespace before first field", crlf("GET / HTTP/1.1", " Host: h"), nil, ErrObsFold},
		{"folded transfer-encoding", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding:", " chunked"), nil, ErrObsFold},
		// Content-Length.
		{"content-length plus sign", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: +5"), nil, ErrContentLength},
		{"content-length negative", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: -1"), nil, ErrContentLength},
		{"content-length hex", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 0x10"), nil, ErrContentLength},
		{"content-length exponent", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 1e3"), nil, ErrContentLength},
		{"content-length letters", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: abc"), nil, ErrContentLength},
		{"content-length empty", crlf("POST / HTTP/1.1", "Host: h", "Content-Length:"), nil, ErrContentLength},
		{"content-length blank", crlf("POST / HTTP/1.1", "Host: h", "Content-Length:  "), nil, ErrContentLength},
		{"content-length inner space", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 1 2"), nil, ErrContentLength},
		{"content-length underscore", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 1_0"), nil, ErrContentLength},
		{"content-length list with different values", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5, 6"), nil, ErrContentLength},
		{"content-length repeated different values", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5", "Content-Length: 6"), nil, ErrContentLength},
		{"content-length repeated zero and value", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 0", "Content-Length: 10"), nil, ErrContentLength},
		{"content-length list leading empty element", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: , 5"), nil, ErrContentLength},
		{"content-length list inner empty element", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5,,5"), nil, ErrContentLength},
		{"content-length 19 digits", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 9223372036854775807"), nil, ErrContentLength},
		{"content-length overflow", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 99999999999999999999999999"), nil, ErrContentLength},
		{"content-length overflow wraps to small", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 18446744073709551621"), nil, ErrContentLength},
		{"content-length quoted", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: \"5\""), nil, ErrContentLength},
		// Transfer-Encoding.
		{"te and cl", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", "Content-Length: 5"), nil, ErrCLAndTE},
		{"cl and te", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5", "Transfer-Encoding: chunked"), nil, ErrCLAndTE},
		{"cl zero and te", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 0", "Transfer-Encoding: chunked"), nil, ErrCLAndTE},
		{"xchunked", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: xchunked"), nil, ErrTECoding},
		{"chunked-false", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked-false"), nil, ErrTECoding},
		{"gzip", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: gzip"), nil, ErrTECoding},
		{"identity", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: identity"), nil, ErrTECoding},
		{"gzip then chunked", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: gzip, chunked"), nil, ErrTECoding},
		{"chunked then gzip", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked, gzip"), nil, ErrTECoding},
		{"chunked then cow field", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", "Transfer-encoding: cow"), nil, ErrTECoding},
		{"chunked twice in a list", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked, chunked"), nil, ErrTransferEncoding},
		{"chunked twice in fields", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), nil, ErrTransferEncoding},
		{"te empty", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding:"), nil, ErrTransferEncoding},
		{"te commas only", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: , ,"), nil, ErrTransferEncoding},
		{"te quoted", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: \"chunked\""), nil, ErrTransferEncoding},
		{"te with parameter", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked;q=1"), nil, ErrTransferEncoding},
		{"te with inner space", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chun ked"), nil, ErrTransferEncoding},
		{"te on 1.0", crlf("POST / HTTP/1.0", "Transfer-Encoding: chunked"), nil, ErrTEOnHTTP10},
		{"te and cl on 1.0", crlf("POST / HTTP/1.0", "Transfer-Encoding: chunked", "Content-Length: 5"), nil, ErrTEOnHTTP10},
		// Expect and Connection.
		{"expect unknown", crlf("PUT / HTTP/1.1", "Host: h", "Expect: 200-ok"), nil, ErrExpect},
		{"expect list", crlf("PUT / HTTP/1.1", "Host: h", "Expect: 100-continue, foo"), nil, ErrExpect},
		{"expect empty", crlf("PUT / HTTP/1.1", "Host: h", "Expect:"), nil, ErrExpect},
		{"expect unknown on 1.0", crlf("PUT / HTTP/1.0", "Expect: x"), nil, ErrExpect},
		{"connection not a token list", crlf("GET / HTTP/1.1", "Host: h", "Connection: a b"), nil, ErrConnectionField},
		{"connection with a slash", crlf("GET / HTTP/1.1", "Host: h", "Connection: close/1"), nil, ErrConnectionField},
		{"connection too many names", crlf("GET / HTTP/1.1", "Host: h", "Connection: a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"), nil, ErrConnectionField},
		// Limits.
		{"request line too long", crlf(requestLine(33), "Host: h"), small, ErrRequestLineTooLong},
		{"request line too long, incomplete", requestLine(33), small, ErrRequestLineTooLong},
		{"request line too long, no newline at all", "GET /" + strings.Repeat("a", 40), small, ErrRequestLineTooLong},
		{"default request line too long", crlf(requestLine(8<<10+1), "Host: h"), nil, ErrRequestLineTooLong},
		{"head too large", crlf(requestLine(32), "Host: h", "X: 1", "X: 123456789"), small, ErrHeaderTooLarge},
		{"head too large, incomplete", requestLine(32) + "\r\nHost: h\r\nX: " + strings.Repeat("v", 30), small, ErrHeaderTooLarge},
		{"default head too large", crlf("GET / HTTP/1.1", "Host: h", "X: "+strings.Repeat("v", 32<<10)), nil, ErrHeaderTooLarge},
		{"too many fields", crlf("GET / HTTP/1.1", "Host: h", "X: 1", "X: 1", "X: 1"), small, ErrTooManyFields},
		{"default too many fields", crlf(append([]string{"GET / HTTP/1.1", "Host: h"}, repeatLines("X: v", 100)...)...), nil, ErrTooManyFields},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r Request
			err := ParseRequest([]byte(tt.in), &r, tt.lim)
			wantErr(t, err, tt.want)
		})
	}
}

// TestLimitCasesAreOnTheBoundary guards the arithmetic of the limit cases above: the accepted ones are
// exactly at the limits and the rejected ones one byte or one field over.
func TestLimitCasesAreOnTheBoundary(t *testing.T) {
	t.Parallel()
	if n := len(requestLine(32)); n != 32 {
		t.Errorf("requestLine(32) is %d bytes", n)
	}
	if n := len(crlf(requestLine(32), "Host: h", "X: 1", "X: 12345678")); n != 64 {
		t.Errorf("the head at the limit is %d bytes, want 64", n)
	}
	if n := len(crlf(requestLine(32), "Host: h", "X: 1", "X: 123456789")); n != 65 {
		t.Errorf("the head over the limit is %d bytes, want 65", n)
	}
}

// TestParseRequestErrorCodes pins the status of every request error, since the engine answers with it.
func TestParseRequestErrorCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    *Error
		status int
	}{
		{ErrRequestLine, 400}, {ErrMethod, 400}, {ErrTarget, 400}, {ErrVersion, 400},
		{ErrVersionUnsupported, 505}, {ErrConnect, 501}, {ErrLineEnding, 400}, {ErrFieldName, 400},
		{ErrFieldValue, 400}, {ErrObsFold, 400}, {ErrHost, 400}, {ErrContentLength, 400},
		{ErrTransferEncoding, 400}, {ErrTECoding, 501}, {ErrTEOnHTTP10, 400}, {ErrCLAndTE, 400},
		{ErrConnectionField, 400}, {ErrExpect, 417}, {ErrRequestLineTooLong, 414},
		{ErrHeaderTooLarge, 431}, {ErrTooManyFields, 431}, {ErrStatusLine, 502}, {ErrChunkSize, 400},
		{ErrChunkData, 400}, {ErrTrailer, 400}, {ErrBodyTooLarge, 413},
	}
	for _, tt := range tests {
		t.Run(tt.err.Reason, func(t *testing.T) {
			t.Parallel()
			if tt.err.Status != tt.status {
				t.Fatalf("%v: status %d, want %d", tt.err, tt.err.Status, tt.status)
			}
			if msg := tt.err.Error(); !strings.Contains(msg, tt.err.Reason) || !strings.Contains(msg, fmt.Sprint(tt.status)) {
				t.Fatalf("Error() = %q", msg)
			}
		})
	}
}

// isTargetByte is the request-target alphabet from the rules: RFC 3986 unreserved, sub-delims, ":@/?%".
// isTargetByte is the rule for a request-target's path: visible ASCII but '#' and '\\'.
func isTargetByte(c byte) bool { return c > 0x20 && c < 0x7f && c != '#' && c != '\\' }

// isHostByte is RFC 3986's rule for an authority: unreserved, sub-delims, ":@/?%" (the last four
// then rejected by the host grammar) and nothing else.
func isHostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-._~!$&'()*+,;=:@/?%", c) >= 0
}

func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// TestParseRequestEveryByte puts each of the 256 byte values in the method, the target, a field name, a
// field value and the Host value, and checks that exactly the bytes the rules allow are accepted.
func TestParseRequestEveryByte(t *testing.T) {
	t.Parallel()
	type place struct {
		name  string
		build func(c string) string
		skip  string // bytes that change the message's structure, tested elsewhere
		ok    func(c byte) bool
		want  func(c byte) *Error
	}
	places := []place{
		{"method", func(c string) string { return crlf("G"+c+"T / HTTP/1.1", "Host: h") }, " \n",
			isTchar, func(byte) *Error { return ErrMethod }},
		// "bb" after the byte makes '%' a valid escape; malformed escapes are tested on their own.
		{"target", func(c string) string { return crlf("GET /a"+c+"bb HTTP/1.1", "Host: h") }, " \n",
			isTargetByte, func(byte) *Error { return ErrTarget }},
		{"field name", func(c string) string { return crlf("GET / HTTP/1.1", "Host: h", "X"+c+"Y: z") }, ":\n",
			isTchar, func(byte) *Error { return ErrFieldName }},
		{"field value", func(c string) string { return crlf("GET / HTTP/1.1", "Host: h", "X: a"+c+"b") }, "\n",
			func(c byte) bool { return c >= 0x20 && c != 0x7f || c == '\t' }, func(byte) *Error { return ErrFieldValue }},
		{"host", func(c string) string { return crlf("GET / HTTP/1.1", "Host: a"+c+"bb") }, "\n",
			func(c byte) bool { return isHostByte(c) && !strings.ContainsRune(":@/?", rune(c)) },
			func(c byte) *Error {
				if c < 0x20 && c != '\t' || c == 0x7f {
					return ErrFieldValue
				}
				return ErrHost
			}},
	}
	for _, p := range places {
		for c := 0; c < 256; c++ {
			b := byte(c)
			if strings.IndexByte(p.skip, b) >= 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s %#02x", p.name, c), func(t *testing.T) {
				t.Parallel()
				in := p.build(string([]byte{b}))
				var r Request
				err := ParseRequest([]byte(in), &r, nil)
				if p.ok(b) {
					if err != nil || r.HeadLen != len(in) {
						t.Fatalf("ParseRequest(%q) = %v, HeadLen %d; want accepted", in, err, r.HeadLen)
					}
					return
				}
				wantErr(t, err, p.want(b))
			})
		}
	}
}

// TestParseRequestIncomplete checks that every proper prefix of a valid request asks for more bytes.
func TestParseRequestIncomplete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"a CR", "\r"},
		{"a CRLF", "\r\n"},
		{"CRLF CR", "\r\n\r"},
		{"four CRLFs and a CR", "\r\n\r\n\r\n\r\n\r"},
		{"partial method", "GE"},
		{"partial request line", "GET / HTTP/1.1"},
		{"request line and CR", "GET / HTTP/1.1\r"},
		{"request line", "GET / HTTP/1.1\r\n"},
		{"one field", "GET / HTTP/1.1\r\nHost: h\r\n"},
		{"final CR", "GET / HTTP/1.1\r\nHost: h\r\n\r"},
		{"invalid request line, head incomplete", "G@T / HTTP/1.1\r\n"},
		{"invalid field, head incomplete", "GET / HTTP/1.1\r\nX\x00: y\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r Request
			if err := ParseRequest([]byte(tt.in), &r, nil); err != nil || r.HeadLen != 0 {
				t.Fatalf("ParseRequest(%q) = %v, HeadLen %d; want more bytes needed", tt.in, err, r.HeadLen)
			}
		})
	}
}

var incrementalRequests = []struct {
	name string
	in   string
}{
	{"curl", crlf("GET /index.html HTTP/1.1", "Host: www.example.com", "User-Agent: curl/8.5.0", "Accept: */*")},
	{"leading empty lines", "\r\n\r\n" + crlf("GET / HTTP/1.1", "Host: h")},
	{"four leading empty lines", "\r\n\r\n\r\n\r\n" + crlf("GET / HTTP/1.1", "Host: h")},
	{"absolute-form", crlf("GET http://example.com/a?b HTTP/1.1", "Host: example.com", "Connection: close")},
	{"chunked upload", crlf("POST /upload HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", "Expect: 100-continue") + "5\r\nhello\r\n0\r\n\r\n"},
	{"websocket", crlf("GET /chat HTTP/1.1", "Host: server.example.com", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")},
	{"1.0 keep-alive", crlf("GET / HTTP/1.0", "Connection: keep-alive")},
	{"browser", browserRequest},
	{"error in a field", crlf("GET / HTTP/1.1", "Host: h", "X\x00: y")},
	{"error in request line", crlf("G@T / HTTP/1.1", "Host: h")},
	{"bare LF", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n"},
	{"cl and te", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 1", "Transfer-Encoding: chunked")},
}

// feedRequest gives ParseRequest longer and longer prefixes of in (step bytes more each time) with the
// same Request, as a connection does, and returns the first result that is not "more bytes needed".
// work counts the bytes the calls had to look at.
func feedRequest(t testing.TB, in []byte, lim *Limits, step int) (r *Request, err error, work int) {
	t.Helper()
	var cuts []int
	for k := 0; k < len(in); k += step {
		cuts = append(cuts, k)
	}
	return feedRequestAt(t, in, lim, append(cuts, len(in)))
}

// feedRequestAt is feedRequest with the prefix lengths given, in increasing order. It checks that between
// calls the Request remembers the start of the line it has not finished, so that no byte of a finished
// line is looked at again.
func feedRequestAt(t testing.TB, in []byte, lim *Limits, cuts []int) (r *Request, err error, work int) {
	t.Helper()
	r = new(Request)
	for _, k := range cuts {
		b := in[:k]
		work += k - r.scan
		err = ParseRequest(b, r, lim)
		if err != nil || r.HeadLen > 0 {
			return r, err, work
		}
		// The scan offset is relative to the bytes after the skipped empty lines, and is where the
		// unfinished line starts.
		skip := 0
		for skip < 8 && len(b) >= skip+2 && b[skip] == '\r' && b[skip+1] == '\n' {
			skip += 2
		}
		if want := bytes.LastIndexByte(b[skip:], '\n') + 1; r.scan != want {
			t.Fatalf("after %d bytes the scan offset is %d, want %d (the start of the unfinished line)", k, r.scan, want)
		}
	}
	return r, nil, work
}

func TestParseRequestByteByByte(t *testing.T) {
	t.Parallel()
	for _, tt := range incrementalRequests {
		for _, step := range []int{1, 2, 3, 7, 64} {
			t.Run(fmt.Sprintf("%s step %d", tt.name, step), func(t *testing.T) {
				t.Parallel()
				var whole Request
				wholeErr := ParseRequest([]byte(tt.in), &whole, nil)
				r, err, _ := feedRequest(t, []byte(tt.in), nil, step)
				if err != wholeErr {
					t.Fatalf("fed in pieces: %v; all at once: %v", err, wholeErr)
				}
				if err == nil {
					if got, want := snapRequest(r), snapRequest(&whole); !reflect.DeepEqual(got, want) {
						t.Fatalf("fed in pieces:\n%+v\nall at once:\n%+v", got, want)
					}
				}
			})
		}
	}
}

// TestParseRequestManyCalls feeds a large head one byte at a time: thousands of calls. The work the calls
// do must stay proportional to the head's length times its longest line, not to its length squared,
// because each call resumes at the unfinished line.
func TestParseRequestManyCalls(t *testing.T) {
	t.Parallel()
	lines := []string{"GET /" + strings.Repeat("p", 100) + " HTTP/1.1", "Host: h"}
	for i := 0; i < 95; i++ {
		lines = append(lines, fmt.Sprintf("X-Field-%03d: %s", i, strings.Repeat("v", 60)))
	}
	in := []byte(crlf(lines...))
	r, err, work := feedRequest(t, in, nil, 1)
	if err != nil || r.HeadLen != len(in) || len(r.Fields) != 96 {
		t.Fatalf("err %v, HeadLen %d of %d, %d fields", err, r.HeadLen, len(in), len(r.Fields))
	}
	longest := 0
	for _, l := range lines {
		longest = max(longest, len(l)+2)
	}
	if bound := len(in) * longest; work > bound {
		t.Fatalf("the calls looked at %d bytes for a %d-byte head; want at most %d", work, len(in), bound)
	}
	t.Logf("%d bytes, %d calls, %d bytes looked at (quadratic would be %d)", len(in), len(in), work, len(in)*len(in)/2)
}

func TestParseRequestPipelined(t *testing.T) {
	t.Parallel()
	first := crlf("POST /a HTTP/1.1", "Host: h", "Content-Length: 5")
	second := crlf("GET /b HTTP/1.1", "Host: h2", "Connection: close")
	third := "\r\n" + crlf("HEAD /c HTTP/1.1", "Host: h3") // a CRLF after a body is skipped
	buf := []byte(first + "hello" + second + third)

	r := Request{Fields: make([]Field, 0, 4)}
	var got []string
	off := 0
	for off < len(buf) {
		r.Reset()
		if err := ParseRequest(buf[off:], &r, nil); err != nil || r.HeadLen == 0 {
			t.Fatalf("at %d: %v, HeadLen %d", off, err, r.HeadLen)
		}
		got = append(got, fmt.Sprintf("%s %s %s %d %v", r.Method, r.Path, r.Host, r.HeadLen, r.KeepAlive))
		off += r.HeadLen
		if r.ContentLength > 0 {
			off += int(r.ContentLength)
		}
	}
	want := []string{
		fmt.Sprintf("POST /a h %d true", len(first)),
		fmt.Sprintf("GET /b h2 %d false", len(second)),
		fmt.Sprintf("HEAD /c h3 %d true", len(third)),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestParseRequestReuse parses different requests with one Request, Reset in between as the engine does,
// and checks that nothing leaks from one request into the next.
func TestParseRequestReuse(t *testing.T) {
	t.Parallel()
	ins := []string{
		crlf("POST http://abs.example/x HTTP/1.1", "Host: abs.example", "Transfer-Encoding: chunked", "Expect: 100-continue", "Connection: upgrade, x-a", "Upgrade: foo", "X-A: 1"),
		crlf("GET /plain HTTP/1.1", "Host: plain.example", "X-A: 1"),
		"GET / HTTP/1.0\r\n\r\n",
		crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked"),
	}
	r := Request{Fields: make([]Field, 0, 2)}
	for i, in := range ins {
		r.Reset()
		if err := ParseRequest([]byte(in), &r, nil); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		var fresh Request
		if err := ParseRequest([]byte(in), &fresh, nil); err != nil {
			t.Fatal(err)
		}
		if got, want := snapRequest(&r), snapRequest(&fresh); !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d on a reused Request:\n%+v\nwant\n%+v", i, got, want)
		}
	}
}

func TestRequestHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         string
		body, idem bool
	}{
		{"get", crlf("GET / HTTP/1.1", "Host: h"), false, true},
		{"head", crlf("HEAD / HTTP/1.1", "Host: h"), false, true},
		{"put", crlf("PUT / HTTP/1.1", "Host: h", "Content-Length: 1"), true, true},
		{"delete", crlf("DELETE / HTTP/1.1", "Host: h"), false, true},
		{"options", crlf("OPTIONS * HTTP/1.1", "Host: h"), false, true},
		{"trace", crlf("TRACE / HTTP/1.1", "Host: h"), false, true},
		{"post empty", crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 0"), false, false},
		{"post chunked", crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked"), true, false},
		{"patch", crlf("PATCH / HTTP/1.1", "Host: h", "Content-Length: 2"), true, false},
		{"lower-case get is not GET", crlf("get / HTTP/1.1", "Host: h"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r Request
			if err := ParseRequest([]byte(tt.in), &r, nil); err != nil {
				t.Fatal(err)
			}
			if r.HasBody() != tt.body || r.Idempotent() != tt.idem || !r.IsMethod(string(r.Method)) || r.IsMethod("X") {
				t.Fatalf("HasBody %v Idempotent %v, want %v %v", r.HasBody(), r.Idempotent(), tt.body, tt.idem)
			}
		})
	}
	r := Request{Fields: make([]Field, 3, 8), HeadLen: 9, scan: 4, Chunked: true}
	r.Reset()
	if len(r.Fields) != 0 || cap(r.Fields) != 8 || r.HeadLen != 0 || r.scan != 0 || r.Chunked {
		t.Fatalf("Reset left %+v", r)
	}
}

func TestParseRequestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, in := range []string{wrkRequest, browserRequest, crlf("POST http://h/x HTTP/1.1", "Host: h", "Connection: x-a, close", "X-A: 1", "Transfer-Encoding: chunked")} {
		b := []byte(in)
		r := Request{Fields: make([]Field, 0, 32)}
		allocs := testing.AllocsPerRun(100, func() {
			r.Reset()
			if err := ParseRequest(b, &r, nil); err != nil || r.HeadLen != len(b) {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("ParseRequest(%.20q…) allocates %v times", in, allocs)
		}
	}
}

// The tests below are regression tests for bugs these tests found in the non-test code (since fixed).

// TestBugRequestLineAtLimitSplitAfterCR: a request line exactly Limits.MaxRequestLine bytes long was
// accepted when it arrived whole, but answered 414 when a read ended between its CR and its LF:
// ParseRequest checked "no LF yet and len(head) > MaxRequestLine", which counted the CR as part of the line.
func TestBugRequestLineAtLimitSplitAfterCR(t *testing.T) {
	t.Parallel()
	lim := &Limits{MaxRequestLine: 32}
	line := requestLine(32)
	in := []byte(crlf(line, "Host: h"))

	var whole Request
	if err := ParseRequest(in, &whole, lim); err != nil {
		t.Fatalf("all at once: %v", err)
	}
	var r Request
	if err := ParseRequest(in[:len(line)+1], &r, lim); err != nil || r.HeadLen != 0 {
		t.Fatalf("ParseRequest(request line + CR) = %v, HeadLen %d; want more bytes needed", err, r.HeadLen)
	}
	if err := ParseRequest(in, &r, lim); err != nil || r.HeadLen != len(in) {
		t.Fatalf("then the whole head: %v, HeadLen %d", err, r.HeadLen)
	}
}

// TestBugContentLengthTrailingEmptyElement: parseContentLength rejected an empty list element at the
// start (", 5") or in the middle ("5,,5") but silently accepted one at the end ("5,", "5, 5 ,"): the loop
// stopped when nothing followed the last comma. For a strict proxy, rejecting all of them is the
// consistent choice (net/http rejects all three).
func TestBugContentLengthTrailingEmptyElement(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"5,", "5, 5 ,", "5 , "} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			var r Request
			err := ParseRequest([]byte(crlf("POST / HTTP/1.1", "Host: h", "Content-Length: "+v)), &r, nil)
			wantErr(t, err, ErrContentLength)
		})
	}
}

// TestBugRequestLineBareLFStatusDependsOnSplit: a request line one byte over MaxRequestLine that ends
// in a bare LF. All at once, ParseRequest checks "eol > MaxRequestLine+1", which assumes a CR before the
// LF, so the line passes and scanHead answers 400 (bare LF). When a read ends before the LF, the 41 bytes
// without CR are over the limit: 414. The status must not depend on how the network split the bytes;
// 414 is the one both paths can give (count the CR only when it is there). Found by FuzzParseRequest
// (testdata/fuzz/FuzzParseRequest/756de51c18da19d0).
func TestBugRequestLineBareLFStatusDependsOnSplit(t *testing.T) {
	t.Parallel()
	lim := &Limits{MaxRequestLine: 40}
	line := requestLine(41)
	in := []byte(line + "\nHost: h\r\n\r\n")
	for _, split := range []int{0, len(line), len(line) + 1} {
		t.Run(fmt.Sprint(split), func(t *testing.T) {
			t.Parallel()
			var r Request
			err := ParseRequest(in[:split], &r, lim)
			if err == nil {
				err = ParseRequest(in, &r, lim)
			}
			wantErr(t, err, ErrRequestLineTooLong)
		})
	}
}

// TestBugHeadBareLFBeyondLimitStatusDependsOnSplit: a field line that ends in a bare LF beyond
// MaxHeaderBytes. All at once, scanHead checks the CR before the size and answers 400; when a read ends
// before the LF, the size limit is reached first: 431. Checking "j+1 > max" before the CR makes both 431.
func TestBugHeadBareLFBeyondLimitStatusDependsOnSplit(t *testing.T) {
	t.Parallel()
	lim := &Limits{MaxHeaderBytes: 64}
	in := []byte("GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("v", 60) + "\n\r\n")
	for _, split := range []int{0, 65} {
		t.Run(fmt.Sprint(split), func(t *testing.T) {
			t.Parallel()
			var r Request
			err := ParseRequest(in[:split], &r, lim)
			if err == nil {
				err = ParseRequest(in, &r, lim)
			}
			wantErr(t, err, ErrHeaderTooLarge)
		})
	}
}
