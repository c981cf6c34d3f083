package h2

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"golang.org/x/net/http2/hpack"
)

// TestSynthesize checks the HTTP/1.1 heads made of valid requests.
func TestSynthesize(t *testing.T) {
	get := []string{":method", "GET", ":scheme", "https", ":path", "/a?b=c", ":authority", "example.com"}
	post := []string{":method", "POST", ":scheme", "https", ":path", "/p", ":authority", "example.com"}
	tests := []struct {
		name   string
		fields []string
		end    bool
		want   string
		mode   bodyMode
	}{
		{"get", get, true, "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n", bodyNone},
		{"get fields", append(get[:8:8], "accept", "*/*", "x-a", "1"), true,
			"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\naccept: */*\r\nx-a: 1\r\n\r\n", bodyNone},
		{"cookies joined", append(get[:8:8], "cookie", "a=1", "x", "y", "cookie", "b=2", "cookie", "c=3"), true,
			"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\ncookie: a=1; b=2; c=3\r\nx: y\r\n\r\n", bodyNone},
		{"host field as authority", []string{":method", "GET", ":scheme", "http", ":path", "/", "host", "h.example:8080"}, true,
			"GET / HTTP/1.1\r\nHost: h.example:8080\r\n\r\n", bodyNone},
		{"host equal to authority", append(get[:8:8], "host", "example.com"), true,
			"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n", bodyNone},
		{"no authority", []string{":method", "GET", ":scheme", "http", ":path", "/"}, true,
			"GET / HTTP/1.1\r\n\r\n", bodyNone},
		{"te trailers", append(get[:8:8], "te", "trailers"), true,
			"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nTE: trailers\r\n\r\n", bodyNone},
		{"post without body", post, true,
			"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n", bodyNone},
		{"post with length", append(post[:8:8], "content-length", "12"), false,
			"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 12\r\n\r\n", bodyLength},
		{"post length zero, data may follow", append(post[:8:8], "content-length", "0"), false,
			"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n", bodyNone},
		{"post repeated equal lengths", append(post[:8:8], "content-length", "3", "content-length", "3"), false,
			"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\n", bodyLength},
		{"post streaming", append(post[:8:8], "content-type", "application/grpc", "te", "trailers"), false,
			"POST /p HTTP/1.1\r\nHost: example.com\r\ncontent-type: application/grpc\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n\r\n", bodyChunked},
		{"get with body", get, false,
			"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n", bodyChunked},
		{"options star", []string{":method", "OPTIONS", ":scheme", "http", ":path", "*", ":authority", "a"}, true,
			"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", bodyNone},
		{"connect", []string{":method", "CONNECT", ":authority", "example.com:443"}, false,
			"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", bodyNone},
		{"obs-text value", append(get[:8:8], "x", "caf\xc3\xa9\tb"), true,
			"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nx: caf\xc3\xa9\tb\r\n\r\n", bodyNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, info, err := synthesize(nil, hf(tt.fields...), tt.end, 100)
			if err != nil {
				t.Fatal(err)
			}
			if string(head) != tt.want || info.mode != tt.mode {
				t.Errorf("got %q mode %d\nwant %q mode %d", head, info.mode, tt.want, tt.mode)
			}
		})
	}
}

// TestSynthesizeExtendedConnect: an RFC 8441 websocket CONNECT becomes an HTTP/1.1 upgrade with a
// fresh key each time.
func TestSynthesizeExtendedConnect(t *testing.T) {
	fields := hf(":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/chat",
		":authority", "example.com", "sec-websocket-version", "13", "sec-websocket-protocol", "chat",
		"sec-websocket-key", "client-sent", "origin", "https://example.com")
	re := regexp.MustCompile("^GET /chat HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Key: ([A-Za-z0-9+/=]{24})\r\nsec-websocket-version: 13\r\nsec-websocket-protocol: chat\r\n" +
		"origin: https://example.com\r\n\r\n$")
	keys := map[string]bool{}
	for range 3 {
		head, info, err := synthesize(nil, fields, false, 100)
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindStringSubmatch(string(head))
		if m == nil || info.mode != bodyTunnel || !info.extConnect {
			t.Fatalf("got %q, mode %d", head, info.mode)
		}
		if k, err := base64.StdEncoding.DecodeString(m[1]); err != nil || len(k) != 16 {
			t.Errorf("key %q: %v", m[1], err)
		}
		keys[m[1]] = true
		var req h1.Request
		if err := h1.ParseRequest(head, &req, nil); err != nil || !req.Upgrade {
			t.Errorf("engine parse: %v, upgrade %v", err, req.Upgrade)
		}
	}
	if len(keys) != 3 {
		t.Errorf("keys repeat: %v", keys)
	}
}

// TestSynthesizeRejects is every RFC 9113 §8.2/§8.3 rule (and ours) a request can break.
func TestSynthesizeRejects(t *testing.T) {
	base := []string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "a.example"}
	with := func(kv ...string) []string { return append(base[:8:8], kv...) }
	many := base[:8:8]
	for range 101 {
		many = append(many, "x", "y")
	}
	tests := []struct {
		name   string
		fields []string
		end    bool
		want   *requestError
	}{
		{"uppercase name", with("X-Foo", "1"), true, errFieldName},
		{"name not a token", with("a b", "1"), true, errFieldName},
		{"empty name", with("", "1"), true, errFieldName},
		{"connection", with("connection", "close"), true, errConnectionField},
		{"keep-alive", with("keep-alive", "5"), true, errConnectionField},
		{"proxy-connection", with("proxy-connection", "x"), true, errConnectionField},
		{"transfer-encoding", with("transfer-encoding", "chunked"), true, errConnectionField},
		{"upgrade", with("upgrade", "websocket"), true, errConnectionField},
		{"te gzip", with("te", "gzip"), true, errTE},
		{"te trailers and gzip", with("te", "trailers, gzip"), true, errTE},
		{"value with CR", with("x", "a\rb"), true, errFieldValue},
		{"value with LF", with("x", "a\nb"), true, errFieldValue},
		{"value with NUL", with("x", "a\x00b"), true, errFieldValue},
		{"value with DEL", with("x", "a\x7fb"), true, errFieldValue},
		{"value leading space", with("x", " a"), true, errFieldValue},
		{"value trailing tab", with("x", "a\t"), true, errFieldValue},
		{"pseudo after regular", with("x", "1", ":foo", "bar"), true, errPseudoUnknown},
		{"unknown pseudo", []string{":method", "GET", ":scheme", "https", ":path", "/", ":foo", "x"}, true, errPseudoUnknown},
		{"status in request", []string{":status", "200", ":method", "GET", ":scheme", "https", ":path", "/"}, true, errPseudoUnknown},
		{"duplicate path", []string{":method", "GET", ":scheme", "https", ":path", "/", ":path", "/"}, true, errPseudoUnknown},
		{"duplicate method", []string{":method", "GET", ":method", "GET", ":scheme", "https", ":path", "/"}, true, errPseudoUnknown},
		{"missing method", []string{":scheme", "https", ":path", "/"}, true, errMethod},
		{"missing scheme", []string{":method", "GET", ":path", "/"}, true, errPseudoMissing},
		{"missing path", []string{":method", "GET", ":scheme", "https"}, true, errPseudoMissing},
		{"empty path", []string{":method", "GET", ":scheme", "https", ":path", ""}, true, errPseudoMissing},
		{"method not a token", []string{":method", "G T", ":scheme", "https", ":path", "/"}, true, errMethod},
		{"relative path", []string{":method", "GET", ":scheme", "https", ":path", "a"}, true, errPath},
		{"path with space", []string{":method", "GET", ":scheme", "https", ":path", "/a b"}, true, errPath},
		{"star path for GET", []string{":method", "GET", ":scheme", "https", ":path", "*"}, true, errPath},
		{"bad scheme", []string{":method", "GET", ":scheme", "1http", ":path", "/"}, true, errScheme},
		{"authority with userinfo", []string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "u@a"}, true, errAuthority},
		{"host differs", with("host", "b.example"), true, errHostMismatch},
		{"hosts differ", []string{":method", "GET", ":scheme", "https", ":path", "/", "host", "a", "host", "b"}, true, errHostMismatch},
		{"content-length not digits", with("content-length", "1x"), false, errContentLength},
		{"content-length negative", with("content-length", "-1"), false, errContentLength},
		{"content-lengths conflict", with("content-length", "1", "content-length", "2"), false, errContentLength},
		{"content-length with END_STREAM", with("content-length", "5"), true, errLengthMismatch},
		{"connect with path", []string{":method", "CONNECT", ":authority", "a:443", ":path", "/"}, true, errPseudoForbidden},
		{"connect without authority", []string{":method", "CONNECT"}, true, errPseudoMissing},
		{"protocol without connect", with(":protocol", "websocket"), true, errPseudoUnknown},
		{"extended connect without path", []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":authority", "a"}, false, errPseudoMissing},
		{"extended connect other protocol", []string{":method", "CONNECT", ":protocol", "foo", ":scheme", "https", ":path", "/", ":authority", "a"}, false, errProtocolNotKnown},
		{"too many fields", many, true, errTooManyFields},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := synthesize(nil, hf(tt.fields...), tt.end, 100)
			if err != tt.want {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSynthesizeFieldLimit: the limit counts the fields of the HTTP/1.1 head the engine parses
// (Host from :authority and the framing line included), as the engine's own limit does; cookies
// joined into one line count once.
func TestSynthesizeFieldLimit(t *testing.T) {
	get := []string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "a.example"}
	post := []string{":method", "POST", ":scheme", "https", ":path", "/", ":authority", "a.example"}
	fields := func(base []string, n int, name string) []string {
		kv := base[:len(base):len(base)]
		for i := range n {
			kv = append(kv, name, strconv.Itoa(i))
		}
		return kv
	}
	const limit = 10
	tests := []struct {
		name   string
		fields []string
		end    bool
		ok     bool
	}{
		{"GET: Host and 9 fields", fields(get, 9, "x"), true, true},
		{"GET: Host and 10 fields", fields(get, 10, "x"), true, false},
		{"POST: Host, 8 fields and framing", fields(post, 8, "x"), false, true},
		{"POST: Host, 9 fields and framing", fields(post, 9, "x"), false, false},
		{"bodiless POST: Content-Length 0 counts", fields(post, 9, "x"), true, false},
		{"12 cookie crumbs make one line", fields(get, 12, "cookie"), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head, _, err := synthesize(nil, hf(tt.fields...), tt.end, limit)
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && err != errTooManyFields {
				t.Fatalf("got %v, want %v", err, errTooManyFields)
			}
			if !tt.ok {
				return
			}
			// The engine's parser with the same limit takes the head.
			var req h1.Request
			if err := h1.ParseRequest(head, &req, &h1.Limits{MaxRequestLine: 8192, MaxHeaderBytes: 8192, MaxHeaderCount: limit}); err != nil || req.HeadLen != len(head) {
				t.Fatalf("engine parse of %q: %v", head, err)
			}
		})
	}
}

// TestCheckTrailers covers request trailer blocks.
func TestCheckTrailers(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		want   string
		err    error
	}{
		{"fields", []string{"x-sum", "1", "grpc-status", "0"}, "x-sum: 1\r\ngrpc-status: 0\r\n", nil},
		{"pseudo", []string{":path", "/"}, "", errTrailerPseudo},
		{"uppercase", []string{"X", "1"}, "", errFieldName},
		{"bad value", []string{"x", "a\r\n"}, "", errFieldValue},
		{"connection-specific", []string{"te", "trailers"}, "", errConnectionField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkTrailers(nil, hf(tt.fields...), 100)
			if err != tt.err || err == nil && string(got) != tt.want {
				t.Errorf("got %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// FuzzSynthesize: whatever the decoded fields, synthesize does not panic, and a head it makes is
// one HTTP/1.1 head to the engine's parser: the same length (nothing smuggled after it), the same
// method, target and framing. A request the engine refuses is refused with an h1.Error, an answer.
func FuzzSynthesize(f *testing.F) {
	f.Add(":method\x00GET\x00:scheme\x00https\x00:path\x00/\x00:authority\x00a.example\x00cookie\x00a=1\x00cookie\x00b=2", true)
	f.Add(":method\x00POST\x00:scheme\x00http\x00:path\x00/p?x\x00content-length\x0012\x00te\x00trailers", false)
	f.Add(":method\x00POST\x00:scheme\x00http\x00:path\x00/p\x00host\x00h:80\x00x\x00\xc3\xa9", false)
	f.Add(":method\x00CONNECT\x00:protocol\x00websocket\x00:scheme\x00https\x00:path\x00/ws\x00:authority\x00a", false)
	f.Add(":method\x00CONNECT\x00:authority\x00a:443", false)
	f.Add(":method\x00GET\x00:scheme\x00https\x00:path\x00/%zz\x00:authority\x00a b", true)
	f.Fuzz(func(t *testing.T, spec string, end bool) {
		parts := strings.Split(spec, "\x00")
		var fields []hpack.HeaderField
		for i := 0; i+1 < len(parts); i += 2 {
			fields = append(fields, hpack.HeaderField{Name: parts[i], Value: parts[i+1]})
		}
		head, info, err := synthesize(nil, fields, end, 100)
		if err != nil {
			if _, ok := err.(*requestError); !ok {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		var req h1.Request
		perr := h1.ParseRequest(head, &req, &h1.Limits{MaxHeaderBytes: 1 << 20, MaxRequestLine: 1 << 20, MaxHeaderCount: 1000})
		if perr != nil {
			if _, ok := perr.(*h1.Error); !ok || req.HeadLen != 0 && req.HeadLen != len(head) {
				t.Fatalf("engine parse of %q: %v", head, perr)
			}
			return
		}
		if req.HeadLen != len(head) {
			t.Fatalf("engine read %d of %d bytes: %q", req.HeadLen, len(head), head)
		}
		switch info.mode {
		case bodyChunked:
			if !req.Chunked {
				t.Fatalf("chunked body not framed so: %q", head)
			}
		case bodyLength:
			if req.ContentLength != info.length || req.Chunked {
				t.Fatalf("length %d framed as %d: %q", info.length, req.ContentLength, head)
			}
		default:
			if req.HasBody() {
				t.Fatalf("no body framed as one: %q", head)
			}
		}
		if want := fields[0].Value; !info.extConnect && string(req.Method) != want {
			t.Fatalf("method %q, want %q", req.Method, want)
		}
	})
}
