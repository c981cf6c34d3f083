package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fuzzLimits are small limits, so that the fuzzer reaches the limit checks and their boundaries.
var fuzzLimits = &Limits{MaxRequestLine: 40, MaxHeaderBytes: 120, MaxHeaderCount: 4}

// requestSeeds are real requests from browsers, command-line clients and load generators, and the
// classic request smuggling and parser-confusion cases.
var requestSeeds = []string{
	wrkRequest,
	browserRequest,
	crlf("GET / HTTP/1.1", "Host: example.com", "User-Agent: curl/8.5.0", "Accept: */*"),
	crlf("POST /api/v1/items HTTP/1.1", "Host: api.example.com", "User-Agent: curl/8.5.0", "Accept: */*",
		"Content-Type: application/json", "Content-Length: 13") + `{"name":"x"}` + "\n",
	crlf("PUT /upload HTTP/1.1", "Host: h", "User-Agent: curl/8.5.0", "Transfer-Encoding: chunked", "Expect: 100-continue") +
		"5\r\nhello\r\n0\r\n\r\n",
	crlf("GET /index.html HTTP/1.0", "User-Agent: ApacheBench/2.3", "Host: localhost", "Accept: */*"),
	crlf("GET /get HTTP/1.1", "Host: httpbin.org", "User-Agent: python-requests/2.31.0", "Accept-Encoding: gzip, deflate",
		"Accept: */*", "Connection: keep-alive"),
	crlf("GET / HTTP/1.1", "Host: localhost:8080", "User-Agent: Go-http-client/1.1", "Accept-Encoding: gzip"),
	crlf("GET /chat HTTP/1.1", "Host: server.example.com", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Origin: http://example.com", "Sec-WebSocket-Protocol: chat, superchat",
		"Sec-WebSocket-Version: 13"),
	crlf("GET / HTTP/1.1", "Host: h", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"),
	crlf("GET /style.css HTTP/1.1", "Host: www.example.org", "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0",
		"Accept: text/css,*/*;q=0.1", "Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate, br", "Referer: https://www.example.org/",
		"Connection: keep-alive", "Sec-Fetch-Dest: style", "Sec-Fetch-Mode: no-cors", "Sec-Fetch-Site: same-origin", "If-Modified-Since: Tue, 14 May 2024 08:00:00 GMT",
		"If-None-Match: \"abc123\"", "Pragma: no-cache", "Cache-Control: no-cache"),
	crlf("POST /form HTTP/1.1", "Host: h", "Content-Type: application/x-www-form-urlencoded", "Content-Length: 7", "Pragma: no-cache") + "a=1&b=2",
	crlf("GET http://proxy.example:3128/x?y=z HTTP/1.1", "Host: proxy.example:3128", "Proxy-Connection: keep-alive", "Proxy-Authorization: Basic dTpw"),
	crlf("OPTIONS * HTTP/1.1", "Host: h"),
	crlf("HEAD / HTTP/1.1", "Host: h", "Connection: close"),
	crlf("DELETE /items/1 HTTP/1.1", "Host: h", "Content-Length: 0"),
	crlf("GET / HTTP/1.1", "Host: h", "X-Forwarded-For: 1.2.3.4, 5.6.7.8", "X-Forwarded-Proto: https", "Forwarded: for=1.2.3.4;proto=https",
		"X-Request-ID: 0af7651916cd43dd8448eb211c80319c", "Connection: x-forwarded-for"),
	crlf("GET / HTTP/1.1", "Host: h", "TE: trailers", "Trailer: X-Checksum", "Keep-Alive: timeout=5"),
	"\r\n\r\n" + crlf("GET / HTTP/1.1", "Host: h"),
	crlf("GET / HTTP/1.1", "Host: h") + crlf("GET /2 HTTP/1.1", "Host: h"),
	crlf("GET / HTTP/1.1", "Host: [::1]:8080"),
	crlf("GET /%E2%82%AC?q=a+b&r=%20 HTTP/1.1", "Host: h", "Cookie: a=b; c=d", "X-Utf8: caf\xc3\xa9"),
	// Smuggling and confusion.
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 13", "Transfer-Encoding: chunked") + "0\r\n\r\nSMUGGLED",
	crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", "Content-Length: 4") + "5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
	crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding : chunked") + "0\r\n\r\n",
	crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding:\tchunked") + "0\r\n\r\n",
	crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: xchunked") + "0\r\n\r\n",
	crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked, chunked") + "0\r\n\r\n",
	crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", "Transfer-Encoding: x"),
	crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", "Transfer-encoding: cow"),
	crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding:\x0bchunked"),
	crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: \"chunked\""),
	crlf("POST / HTTP/1.1", "Host: h", "Transfer-Encoding: chunked,"),
	crlf("POST / HTTP/1.1", "Host: h", "X: y", " Transfer-Encoding: chunked"),
	crlf("POST / HTTP/1.1", "Host: h", "X: y\nTransfer-Encoding: chunked"),
	crlf("POST / HTTP/1.0", "Transfer-Encoding: chunked"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5", "Content-Length: 6"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5", "Content-Length: 5"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5, 5"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5, 6"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5,"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 05", "Content-Length: 5"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: +5"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: -1"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 0x10"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length:  5"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 18446744073709551621"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 9223372036854775807"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length\x00: 5"),
	crlf("POST / HTTP/1.1", "Host: h", "Content-Length: 5\r"),
	crlf("GET / HTTP/1.1", "Host: a", "Host: b"),
	crlf("GET / HTTP/1.1", "Host: a", "host: a"),
	crlf("GET http://a/ HTTP/1.1", "Host: b"),
	crlf("GET http://u@a/ HTTP/1.1", "Host: a"),
	crlf("GET / HTTP/1.1", "Host: a\rX: b"),
	crlf("GET / HTTP/1.1", "X-Bare-CR: a\rb", "Host: h"),
	"GET / HTTP/1.1\nHost: h\n\n",
	"GET / HTTP/1.1\r\nHost: h\n\r\n",
	crlf("GET /a b HTTP/1.1", "Host: h"),
	crlf("GET /a#frag HTTP/1.1", "Host: h"),
	crlf("GET / HTTP/2.0", "Host: h"),
	crlf("GET / HTTP/1.2", "Host: h"),
	crlf("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"),
	crlf("GET * HTTP/1.1", "Host: h"),
	crlf("GET / HTTP/1.1", "Host: h", "Expect: 100-continue, x"),
	crlf("GET / HTTP/1.1", "Host: h", "Connection: close, x-a", "X-A: 1"),
	crlf("GET / HTTP/1.0", "Connection: keep-alive"),
	requestLine(40) + "\r\nHost: h\r\n\r\n",
	requestLine(41) + "\r\nHost: h\r\n\r\n",
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkRequest(t, in, nil)
		checkRequest(t, in, fuzzLimits)
	})
}

// requestErrors are every error ParseRequest may return.
var requestErrors = []*Error{ErrRequestLine, ErrMethod, ErrTarget, ErrVersion, ErrVersionUnsupported, ErrConnect,
	ErrLineEnding, ErrFieldName, ErrFieldValue, ErrObsFold, ErrHost, ErrContentLength, ErrTransferEncoding,
	ErrTECoding, ErrTEOnHTTP10, ErrCLAndTE, ErrConnectionField, ErrExpect, ErrRequestLineTooLong,
	ErrHeaderTooLarge, ErrTooManyFields}

func isRequestError(err error) bool {
	for _, e := range requestErrors {
		if err == e {
			return true
		}
	}
	return false
}

// leadingEmptyLines returns how many bytes of empty lines ParseRequest skips at the start of b.
func leadingEmptyLines(b []byte) int {
	skip := 0
	for skip < 2*maxLeadingCRLF && len(b) >= skip+2 && b[skip] == '\r' && b[skip+1] == '\n' {
		skip += 2
	}
	return skip
}

func checkRequest(t *testing.T, in []byte, lim *Limits) {
	var r Request
	err := ParseRequest(in, &r, lim)
	if err != nil && !isRequestError(err) {
		t.Fatalf("ParseRequest returned %#v, not one of the Err* values", err)
	}
	complete := err == nil && r.HeadLen > 0
	if complete {
		checkAcceptedRequest(t, in, &r, lim)
	}

	// Fed in pieces with the same Request, the outcome is the same as all at once: in many small pieces,
	// and in two pieces split at each place where the parser's state matters (around every line end, the
	// request-line limit and the head limit).
	outcomes := func(fed *Request, fedErr error, how string) {
		switch {
		case fedErr == err:
		default:
			t.Fatalf("limits %+v: fed %s: %v; all at once: %v", lim, how, fedErr, err)
		}
		if fedErr == nil && complete != (fed.HeadLen > 0) {
			t.Fatalf("fed %s: HeadLen %d, all at once %d", how, fed.HeadLen, r.HeadLen)
		}
		if complete && fedErr == nil {
			if got, want := snapRequest(fed), snapRequest(&r); !reflect.DeepEqual(got, want) {
				t.Fatalf("fed %s:\n%+v\nall at once:\n%+v", how, got, want)
			}
		}
	}
	fed, fedErr, _ := feedRequest(t, in, lim, 1+len(in)/128)
	outcomes(fed, fedErr, "in pieces")
	for _, c := range splitPoints(in, leadingEmptyLines(in), lim) {
		fed, fedErr, _ := feedRequestAt(t, in, lim, []int{c, len(in)})
		outcomes(fed, fedErr, "split at "+strconv.Itoa(c))
	}
}

// splitPoints returns where to split in for a two-piece parse: around the first 64 line ends and the
// limits.
func splitPoints(in []byte, skip int, lim *Limits) []int {
	var pts []int
	add := func(p int) {
		if p > 0 && p < len(in) {
			pts = append(pts, p)
		}
	}
	for i, lines := 0, 0; i < len(in) && lines < 64; i++ {
		if in[i] == '\n' {
			add(i - 1)
			add(i)
			add(i + 1)
			lines++
		}
	}
	for _, l := range []int{lim.requestLine(), lim.headerBytes()} {
		for d := -1; d <= 2; d++ {
			add(skip + l + d)
		}
	}
	return pts
}

func checkAcceptedRequest(t *testing.T, in []byte, r *Request, lim *Limits) {
	if r.HeadLen > len(in) {
		t.Fatalf("HeadLen %d > len %d", r.HeadLen, len(in))
	}
	head := in[:r.HeadLen]
	skip := leadingEmptyLines(in)
	if !bytes.HasSuffix(head, []byte("\r\n\r\n")) || bytes.Count(head[skip:], []byte("\r\n\r\n")) != 1 {
		t.Fatalf("head %q does not end at its first empty line", head)
	}
	if !ValidToken(r.Method) || r.Minor > 1 || len(r.Target) == 0 || !bytes.HasSuffix(r.Target, r.Path) {
		t.Fatalf("method %q target %q path %q minor %d", r.Method, r.Target, r.Path, r.Minor)
	}
	for _, c := range r.Target {
		if !isTargetByte(c) {
			t.Fatalf("target %q has %q", r.Target, c)
		}
	}
	if string(r.Method) == "CONNECT" || string(r.Target) == "*" && string(r.Method) != "OPTIONS" {
		t.Fatalf("%s %s accepted", r.Method, r.Target)
	}
	if !validHost(r.Host) || bytes.IndexByte(r.Host, '@') >= 0 {
		t.Fatalf("host %q", r.Host)
	}
	if len(r.Fields) > lim.headerCount() || r.HeadLen-skip > lim.headerBytes() ||
		bytes.IndexByte(head[skip:], '\n')-1 > lim.requestLine() {
		t.Fatalf("limits %+v exceeded: %d fields, %d bytes", lim, len(r.Fields), r.HeadLen)
	}
	if r.Chunked && (r.ContentLength != -1 || r.Minor != 1) {
		t.Fatalf("chunked with content-length %d on 1.%d", r.ContentLength, r.Minor)
	}
	if r.Upgrade && r.Minor != 1 || r.ExpectContinue && r.Minor != 1 {
		t.Fatalf("1.0 with Upgrade or ExpectContinue")
	}
	hosts := 0
	for _, f := range r.Fields {
		if !ValidToken(f.Name) || !ValidValue(f.Value) || len(trimOWS(f.Value)) != len(f.Value) ||
			f.ID != classify(f.Name) || !within(head, f.Line) || !bytes.HasPrefix(f.Line, f.Name) {
			t.Fatalf("bad field %+v", f)
		}
		if f.ID.hopByHop() && !f.Hop || f.ID.framing() && f.Hop {
			t.Fatalf("field %q Hop %v", f.Name, f.Hop)
		}
		if f.ID == Host {
			hosts++
		}
	}
	if hosts > 1 || hosts == 0 && r.Minor == 1 {
		t.Fatalf("%d Host fields on 1.%d", hosts, r.Minor)
	}

	// Parsing the same bytes again gives the same result: with a new Request, with a reused one, and
	// from a copy of the head alone (so nothing after the head was looked at).
	want := snapRequest(r)
	var again Request
	if err := ParseRequest(in, &again, lim); err != nil || !reflect.DeepEqual(snapRequest(&again), want) {
		t.Fatalf("second parse differs: %v", err)
	}
	reused := Request{Fields: make([]Field, 0, 1)}
	if err := ParseRequest([]byte(crlf("POST http://other/ HTTP/1.1", "Host: other", "Transfer-Encoding: chunked", "Connection: upgrade", "Upgrade: x", "Expect: 100-continue")), &reused, nil); err != nil {
		t.Fatal(err)
	}
	reused.Reset()
	if err := ParseRequest(in, &reused, lim); err != nil || !reflect.DeepEqual(snapRequest(&reused), want) {
		t.Fatalf("parse with a reused Request differs: %v\n%+v\n%+v", err, snapRequest(&reused), want)
	}
	headOnly := append([]byte(nil), head...)
	var fromHead Request
	if err := ParseRequest(headOnly, &fromHead, lim); err != nil || !reflect.DeepEqual(snapRequest(&fromHead), want) {
		t.Fatalf("parse of the head alone differs: %v", err)
	}

	// A proper prefix of the head is never a whole head.
	prefixes := splitPoints(in[:r.HeadLen], skip, lim)
	for k := 0; k < r.HeadLen; k += 1 + r.HeadLen/128 {
		prefixes = append(prefixes, k)
	}
	for _, k := range prefixes {
		var p Request
		if err := ParseRequest(in[:k], &p, lim); err == nil && p.HeadLen != 0 {
			t.Fatalf("prefix of %d bytes accepted with HeadLen %d; the whole head is %d", k, p.HeadLen, r.HeadLen)
		}
	}
}

// responseSeeds are responses from common servers, and malformed ones.
var responseSeeds = []string{
	typicalResponse,
	"HTTP/1.1 100 Continue\r\n\r\n",
	crlf("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
	"HTTP/1.1 204 No Content\r\n\r\n",
	crlf("HTTP/1.1 304 Not Modified", "ETag: \"x\"", "Content-Length: 10"),
	crlf("HTTP/1.0 200 OK", "Connection: keep-alive", "Content-Length: 2") + "ok",
	crlf("HTTP/1.0 200 OK", "Server: SimpleHTTP/0.6 Python/3.12.3") + "body until close",
	crlf("HTTP/1.1 200 OK", "Server: nginx/1.25.4", "Content-Type: text/html", "Transfer-Encoding: chunked", "Connection: keep-alive") + "5\r\nhello\r\n0\r\n\r\n",
	crlf("HTTP/1.1 301 Moved Permanently", "Location: https://example.com/", "Content-Length: 0"),
	"HTTP/1.1 200\r\n\r\n",
	"HTTP/1.1 200 \r\n\r\n",
	"HTTP/1.1 600 X\r\n\r\n",
	"HTTP/1.1 20 OK\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	crlf("HTTP/1.1 200 OK", "Content-Length: 5", "Transfer-Encoding: chunked"),
	crlf("HTTP/1.1 200 OK", "Transfer-Encoding: gzip"),
	crlf("HTTP/1.1 200 OK", "Content-Length: 5", "Content-Length: 6"),
	crlf("HTTP/1.1 200 OK", "X: a\rb"),
	crlf("HTTP/1.1 200 OK", "X: a", " b"),
	crlf("HTTP/1.0 200 OK", "Transfer-Encoding: chunked"),
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, lim := range []*Limits{nil, fuzzLimits} {
			checkResponse(t, in, lim)
		}
	})
}

func checkResponse(t *testing.T, in []byte, lim *Limits) {
	var r Response
	err := ParseResponse(in, &r, lim)
	if err != nil {
		want502(t, err)
	}
	complete := err == nil && r.HeadLen > 0
	if complete {
		if r.HeadLen > len(in) || !bytes.HasSuffix(in[:r.HeadLen], []byte("\r\n\r\n")) || r.Status < 100 || r.Status > 599 ||
			r.Minor > 1 || r.Chunked && (r.ContentLength != -1 || r.Minor != 1) || len(r.Fields) > lim.headerCount() || r.HeadLen > lim.headerBytes() {
			t.Fatalf("accepted %+v", snapResponse(&r))
		}
		for _, f := range r.Fields {
			if f.ID.hopByHop() && !f.Hop || f.ID.framing() && f.Hop || !ValidToken(f.Name) || !ValidValue(f.Value) {
				t.Fatalf("field %+v", f)
			}
		}
		var again Response
		if err := ParseResponse(append([]byte(nil), in[:r.HeadLen]...), &again, lim); err != nil ||
			!reflect.DeepEqual(snapResponse(&again), snapResponse(&r)) {
			t.Fatalf("second parse differs: %v", err)
		}
		for k := 0; k < r.HeadLen; k += 1 + r.HeadLen/128 {
			var p Response
			if err := ParseResponse(in[:k], &p, lim); err == nil && p.HeadLen != 0 {
				t.Fatalf("prefix of %d bytes accepted with HeadLen %d; the whole head is %d", k, p.HeadLen, r.HeadLen)
			}
		}
	}

	// Fed in pieces with the same Response: the same outcome.
	var fed Response
	var fedErr error
	for k := 0; ; k += 1 + len(in)/128 {
		k = min(k, len(in))
		if fedErr = ParseResponse(in[:k], &fed, lim); fedErr != nil || fed.HeadLen > 0 || k == len(in) {
			break
		}
	}
	if (fedErr == nil) != (err == nil) || fed.HeadLen != r.HeadLen {
		t.Fatalf("fed in pieces: %v, HeadLen %d; all at once: %v, HeadLen %d", fedErr, fed.HeadLen, err, r.HeadLen)
	}
	if complete && !reflect.DeepEqual(snapResponse(&fed), snapResponse(&r)) {
		t.Fatalf("fed in pieces:\n%+v\nall at once:\n%+v", snapResponse(&fed), snapResponse(&r))
	}

	if !complete || lim != nil {
		return
	}
	// Against net/http, when both accept: status, version, and framing for a response that has a body.
	// net/http accepts more (status codes above 599, TE on HTTP/1.0 which it ignores, CL+TE which it
	// resolves for TE), so only agreement is checked, not rejection.
	hr, herr := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), nil)
	if herr != nil {
		return
	}
	if hr.StatusCode != r.Status || hr.ProtoMinor != int(r.Minor) {
		t.Fatalf("net/http: %d 1.%d; we: %d 1.%d", hr.StatusCode, hr.ProtoMinor, r.Status, r.Minor)
	}
	if r.Bodyless(false) {
		return
	}
	if r.Chunked != (len(hr.TransferEncoding) > 0) || r.ContentLength >= 0 && hr.ContentLength != r.ContentLength {
		t.Fatalf("net/http: TE %q CL %d; we: chunked %v CL %d", hr.TransferEncoding, hr.ContentLength, r.Chunked, r.ContentLength)
	}
}

var chunkSeeds = []string{
	"0\r\n", "5\r\nhello\r\n", "1f40\r\n", "FFFF;name=value\r\n", "a;n=\"q v\"\r\n", "5 ; a = \"x\\\"y\" ; b\r\n",
	"fffffffffffffff\r\n", "1000000000000000\r\n", "0x5\r\n", "\r\n", "5\n", "5;\r\n", "5;a=\"\r\n", "-1\r\n",
	"5\r;x\r\n", "5;a \r\n", "5;a=b \r\n", "5 \r\n",
}

// chunkLineRE is RFC 9112 §7.1 chunk-size [ chunk-ext ] CRLF, with at most 15 hex digits, applied to a
// line in which every byte from 0x80 up has been replaced by U+0080 (regexp works on runes).
var chunkLineRE = regexp.MustCompile(`^[0-9A-Fa-f]{1,15}` +
	`(?:[ \t]*;[ \t]*` + tokenRE + `(?:[ \t]*=[ \t]*(?:` + tokenRE + `|"(?:[\t !#-\[\]-~\x{80}]|\\[\t -~\x{80}])*"))?)*\r\n$`)

const tokenRE = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"

func runesOf(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x80 {
			sb.WriteRune(0x80)
		} else {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

func FuzzChunkLine(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		size, n, err := ParseChunkLine(in)
		eol := bytes.IndexByte(in, '\n')
		if eol < 0 {
			// Incomplete: an error only once more than MaxChunkLine bytes are buffered.
			if n != 0 || size != 0 || (err != nil) != (len(in) > MaxChunkLine) || err != nil && err != ErrChunkSize {
				t.Fatalf("no LF: %d, %d, %v", size, n, err)
			}
			return
		}
		line := in[:eol+1]
		want := eol <= MaxChunkLine && chunkLineRE.MatchString(runesOf(line))
		if (err == nil) != want {
			t.Fatalf("ParseChunkLine(%q) = %d, %d, %v; the grammar says accepted=%v", line, size, n, err, want)
		}
		if err != nil {
			if err != ErrChunkSize || n != 0 || size != 0 {
				t.Fatalf("error %v with %d, %d", err, size, n)
			}
			return
		}
		digits := 0
		for digits < len(line) && classes[line[digits]]&clsHex != 0 {
			digits++
		}
		wantSize, perr := strconv.ParseInt(string(line[:digits]), 16, 64)
		if perr != nil || size != wantSize || n != len(line) {
			t.Fatalf("ParseChunkLine(%q) = %d, %d; want %d, %d", line, size, n, wantSize, len(line))
		}
		for k := 0; k < len(line); k++ {
			if s, m, e := ParseChunkLine(line[:k]); s != 0 || m != 0 || e != nil {
				t.Fatalf("prefix %q: %d, %d, %v; want more bytes needed", line[:k], s, m, e)
			}
		}
	})
}

func FuzzParseTrailers(f *testing.F) {
	for _, s := range []string{"\r\n", "X-Sum: 1\r\n\r\n", "Content-Length: 5\r\nHost: x\r\nConnection: y\r\n\r\n", "X: 1\n\r\n", "X: a\r\n b\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fields, n, err := ParseTrailers(in, nil, fuzzLimits)
		if err != nil {
			if err != ErrTrailer || n != 0 {
				t.Fatalf("%d, %v", n, err)
			}
			return
		}
		if n == 0 {
			return
		}
		sec := in[:n]
		if n > len(in) || !(n == 2 && string(sec) == "\r\n" || bytes.HasSuffix(sec, []byte("\r\n\r\n"))) ||
			len(fields) != bytes.Count(sec, []byte("\r\n"))-1 || n > fuzzLimits.headerBytes() {
			t.Fatalf("section %q, %d fields", sec, len(fields))
		}
		for _, f := range fields {
			if (f.ID.framing() || f.ID.hopByHop() || f.ID == Expect) != f.Hop || !ValidToken(f.Name) || !ValidValue(f.Value) {
				t.Fatalf("field %+v", f)
			}
		}
	})
}

// FuzzRequestVsNetHTTP compares ParseRequest with net/http's http.ReadRequest.
//
// When both accept, they must agree on the method, the request-target, the version, Host, the head's
// length, Content-Length, chunked-ness, keep-alive and every header field's values. net/http's Header
// differs from the field list in known ways, which the comparison undoes:
//   - it merges fields with the same name (case-insensitively) into one key: values are compared per
//     canonical key, in order;
//   - ReadRequest deletes Host from Header (it is compared through Request.Host, which for an
//     absolute-form target is the target's authority, as ours);
//   - it deletes Transfer-Encoding, and collapses repeated identical Content-Length fields into one:
//     those two are compared through Chunked and ContentLength instead;
//   - it adds "Cache-Control: no-cache" for "Pragma: no-cache" when there is no Cache-Control.
//
// net/http accepts much that we reject (bare LF, obs-fold, CL with TE, TE on HTTP/1.0, a missing Host,
// any Host, CONNECT, HTTP/1.2, targets with '#', '"' and the like…): we are stricter on purpose, so a
// rejection by us alone is never a failure. We accept a few things net/http rejects, all on purpose:
// leading empty lines, targets whose %-escapes net/url refuses ("%zz"), a Content-Length list of
// identical values ("5, 5") or repeats of the same decimal value written differently ("05" and "5"),
// and empty list elements around "chunked" (RFC 9110 §5.6.1).
//
// The reverse check: when net/http rejects the head because of its framing (Content-Length or
// Transfer-Encoding) or because Host is repeated, we must reject it too, unless one of the deliberate
// differences above explains it.
func FuzzRequestVsNetHTTP(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Request
		err := ParseRequest(in, &r, nil)
		if err == nil && r.HeadLen == 0 {
			return // incomplete for us; net/http would stop at the end of the input
		}
		src := bytes.NewReader(in)
		br := bufio.NewReader(src)
		hr, herr := http.ReadRequest(br)
		if herr != nil {
			if err == nil {
				checkNetHTTPRejection(t, in, &r, herr)
			}
			return
		}
		if err != nil {
			return // we are stricter
		}

		if hr.Method != string(r.Method) || hr.RequestURI != string(r.Target) || hr.ProtoMajor != 1 || hr.ProtoMinor != int(r.Minor) {
			t.Fatalf("request line: net/http %q %q %d.%d; we %q %q 1.%d", hr.Method, hr.RequestURI, hr.ProtoMajor, hr.ProtoMinor, r.Method, r.Target, r.Minor)
		}
		if hr.Host != string(r.Host) {
			t.Fatalf("host: net/http %q; we %q", hr.Host, r.Host)
		}
		if consumed := len(in) - br.Buffered() - src.Len(); consumed != r.HeadLen {
			t.Fatalf("head length: net/http %d; we %d", consumed, r.HeadLen)
		}
		chunked := len(hr.TransferEncoding) == 1 && hr.TransferEncoding[0] == "chunked"
		if chunked != r.Chunked || len(hr.TransferEncoding) > 1 {
			t.Fatalf("chunked: net/http %q; we %v", hr.TransferEncoding, r.Chunked)
		}
		switch {
		case r.Chunked:
			if hr.ContentLength != -1 {
				t.Fatalf("chunked, but net/http Content-Length %d", hr.ContentLength)
			}
		case r.ContentLength >= 0:
			if hr.ContentLength != r.ContentLength {
				t.Fatalf("content-length: net/http %d; we %d", hr.ContentLength, r.ContentLength)
			}
		default:
			if hr.ContentLength != 0 {
				t.Fatalf("no body for us, net/http Content-Length %d", hr.ContentLength)
			}
		}
		if hr.Close == r.KeepAlive {
			t.Fatalf("keep-alive: net/http Close %v; we KeepAlive %v", hr.Close, r.KeepAlive)
		}

		ours := map[string][]string{}
		for _, f := range r.Fields {
			if f.ID == ContentLength || f.ID == TransferEncoding || f.ID == Host {
				continue
			}
			k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
			ours[k] = append(ours[k], string(f.Value))
		}
		if p := ours["Pragma"]; len(p) > 0 && p[0] == "no-cache" && ours["Cache-Control"] == nil {
			ours["Cache-Control"] = []string{"no-cache"}
		}
		theirs := map[string][]string{}
		for k, v := range hr.Header {
			if k != "Content-Length" && k != "Transfer-Encoding" && k != "Host" {
				theirs[k] = v
			}
		}
		if !reflect.DeepEqual(ours, theirs) {
			t.Fatalf("fields:\nnet/http %q\nwe       %q", theirs, ours)
		}
		// And the count: net/http's values are our fields less Host, Transfer-Encoding and the repeats of
		// Content-Length, plus the Cache-Control it may add.
		want := len(r.Fields)
		cls := 0
		for _, f := range r.Fields {
			switch f.ID {
			case TransferEncoding, Host:
				want--
			case ContentLength:
				cls++
			}
		}
		want -= max(cls-1, 0)
		if len(ours["Cache-Control"]) > 0 && !hasField(r.Fields, "Cache-Control") {
			want++
		}
		if got := countValues(hr.Header); got != want {
			t.Fatalf("net/http has %d field values, we expect %d from our %d fields", got, want, len(r.Fields))
		}
	})
}

func hasField(fs []Field, name string) bool {
	for _, f := range fs {
		if EqualFold(f.Name, strings.ToLower(name)) {
			return true
		}
	}
	return false
}

func countValues(h http.Header) int {
	n := 0
	for _, v := range h {
		n += len(v)
	}
	return n
}

// netHTTPFramingError reports whether net/http rejected a head because of Content-Length or
// Transfer-Encoding (errors from net/http's transfer.go).
func netHTTPFramingError(err error) bool {
	s := err.Error()
	for _, p := range []string{"bad Content-Length", "invalid empty Content-Length",
		"http: message cannot contain multiple Content-Length headers", "too many transfer encodings",
		"unsupported transfer encoding"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// checkNetHTTPRejection is the reverse check, for a head we accepted and net/http rejected.
func checkNetHTTPRejection(t *testing.T, in []byte, r *Request, herr error) {
	if herr.Error() == "too many Host headers" {
		t.Fatalf("net/http: %v; we accepted %q", herr, in[:r.HeadLen])
	}
	if !netHTTPFramingError(herr) {
		return
	}
	// Which deliberate difference explains it?
	var cls [][]byte
	var tes [][]byte
	for _, f := range r.Fields {
		switch f.ID {
		case ContentLength:
			cls = append(cls, f.Value)
		case TransferEncoding:
			tes = append(tes, f.Value)
		}
	}
	for _, v := range cls {
		for _, el := range bytes.Split(v, []byte(",")) {
			if len(trimOWS(el)) == 0 {
				t.Fatalf("net/http: %v; we accepted Content-Length %q with an empty list element", herr, v)
			}
		}
	}
	for _, v := range cls {
		if bytes.IndexByte(v, ',') >= 0 {
			return // a list of identical values
		}
	}
	switch {
	case len(cls) > 1 && !allEqual(cls):
		return // the same decimal value written differently ("05", "5")
	case len(tes) == 1 && !EqualFold(tes[0], "chunked") && bytes.IndexByte(tes[0], ',') >= 0:
		return // empty list elements around chunked
	}
	t.Fatalf("net/http rejects the framing (%v); we accepted %q", herr, in[:r.HeadLen])
}

func allEqual(vs [][]byte) bool {
	for _, v := range vs[1:] {
		if !bytes.Equal(v, vs[0]) {
			return false
		}
	}
	return true
}
