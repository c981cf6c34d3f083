package h2

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strconv"

	"golang.org/x/net/http2/hpack"
)

// bodyMode is how a synthesized request's body reaches the engine.
type bodyMode uint8

const (
	bodyNone    bodyMode = iota // no body: Read returns io.EOF after the head
	bodyLength                  // Content-Length bytes, passed raw
	bodyChunked                 // DATA chunk-encoded, request trailers as the trailer section
	bodyTunnel                  // extended CONNECT: raw bytes both ways once the engine answered 101
)

// reqInfo is what the engine's stream needs to know of a request besides its synthesized head.
type reqInfo struct {
	mode       bodyMode
	length     int64 // the declared content-length, -1 when there is none
	head       bool  // a HEAD request: the response has no body whatever its fields say
	extConnect bool  // an extended CONNECT (RFC 8441) for the websocket protocol
}

// requestError is why a request is refused before the engine sees it. status 0 is a malformed
// request (RFC 9113 §8.1.1): a stream error PROTOCOL_ERROR. Otherwise the status is answered.
type requestError struct {
	status int
	reason string
}

func (e *requestError) Error() string { return "h2: " + e.reason }

// The reasons a request is refused. The malformed ones are stream errors of type PROTOCOL_ERROR.
var (
	errPseudoUnknown    = &requestError{0, "unknown, response or misplaced pseudo-header field"}
	errPseudoMissing    = &requestError{0, "missing or empty required pseudo-header field"}
	errPseudoForbidden  = &requestError{0, ":scheme or :path in a CONNECT request"}
	errMethod           = &requestError{0, "invalid :method"}
	errPath             = &requestError{0, "invalid :path"}
	errScheme           = &requestError{0, "invalid :scheme"}
	errAuthority        = &requestError{0, "invalid :authority"}
	errHostMismatch     = &requestError{0, "host differs from :authority"}
	errFieldName        = &requestError{0, "invalid field name (uppercase or not a token)"}
	errFieldValue       = &requestError{0, "invalid field value (control character or surrounding whitespace)"}
	errConnectionField  = &requestError{0, "connection-specific field"}
	errTE               = &requestError{0, `te other than "trailers"`}
	errContentLength    = &requestError{0, "invalid or conflicting content-length"}
	errLengthMismatch   = &requestError{0, "content-length differs from the DATA received"}
	errTrailerPseudo    = &requestError{0, "pseudo-header field in trailers"}
	errTrailerNotEnded  = &requestError{0, "trailers without END_STREAM"}
	errTooManyFields    = &requestError{431, "too many header fields"}
	errHeaderListSize   = &requestError{431, "header list larger than SETTINGS_MAX_HEADER_LIST_SIZE"}
	errProtocolNotKnown = &requestError{501, "extended CONNECT for a protocol other than websocket"}
)

// synthesize appends to dst the HTTP/1.1 request head equivalent to a decoded HTTP/2 request header
// block (RFC 9113 §8.3: pseudo-header fields first, as the Framer guarantees), validating it as it
// goes. endStream says END_STREAM came with the block: the request has no body. maxFields bounds the
// regular fields. The head is "METHOD SP path SP HTTP/1.1", Host from :authority (or the host field),
// every other field as received (cookies joined, RFC 9113 §8.2.3), then the framing the body needs.
// It never writes CR or LF inside a line: every value is checked first.
func synthesize(dst []byte, fields []hpack.HeaderField, endStream bool, maxFields int) ([]byte, reqInfo, error) {
	info := reqInfo{length: -1}
	start := len(dst)
	var method, scheme, path, authority, protocol string
	var hasMethod, hasScheme, hasPath, hasAuthority, hasProtocol bool
	i := 0
	for ; i < len(fields) && len(fields[i].Name) > 0 && fields[i].Name[0] == ':'; i++ {
		f := &fields[i]
		var seen *bool
		switch f.Name {
		case ":method":
			method, seen = f.Value, &hasMethod
		case ":scheme":
			scheme, seen = f.Value, &hasScheme
		case ":path":
			path, seen = f.Value, &hasPath
		case ":authority":
			authority, seen = f.Value, &hasAuthority
		case ":protocol":
			protocol, seen = f.Value, &hasProtocol
		default:
			return dst, info, errPseudoUnknown
		}
		if *seen {
			return dst, info, errPseudoUnknown // duplicated
		}
		*seen = true
	}
	regular := fields[i:]
	if !hasMethod || !validMethod(method) {
		return dst, info, errMethod
	}
	connect := method == "CONNECT"
	switch {
	case connect && hasProtocol: // RFC 8441 §4: :scheme, :path and :authority all required
		if !hasScheme || !hasPath || !hasAuthority {
			return dst, info, errPseudoMissing
		}
		if !asciiEqualFold(protocol, "websocket") {
			return dst, info, errProtocolNotKnown
		}
		info.extConnect = true
	case hasProtocol:
		return dst, info, errPseudoUnknown // :protocol is only for CONNECT
	case connect: // RFC 9113 §8.5: :authority only
		if hasScheme || hasPath {
			return dst, info, errPseudoForbidden
		}
		if !hasAuthority || authority == "" {
			return dst, info, errPseudoMissing
		}
	default:
		if !hasScheme || !hasPath || path == "" {
			return dst, info, errPseudoMissing
		}
	}
	if hasScheme && !validScheme(scheme) {
		return dst, info, errScheme
	}
	if hasPath && !validPath(path, method) {
		return dst, info, errPath
	}
	if hasAuthority && !validAuthority(authority) {
		return dst, info, errAuthority
	}

	// The regular fields: validate, count, find host, content-length and cookies.
	host, hasHost := "", false
	cookies := 0
	for j := range regular {
		f := &regular[j]
		if !validFieldName(f.Name) {
			if len(f.Name) > 0 && f.Name[0] == ':' {
				return dst, info, errPseudoUnknown // a pseudo-header field after a regular one
			}
			return dst, info, errFieldName
		}
		if !validFieldValue(f.Value) {
			return dst, info, errFieldValue
		}
		switch f.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return dst, info, errConnectionField
		case "te":
			if !asciiEqualFold(f.Value, "trailers") {
				return dst, info, errTE
			}
		case "host":
			if hasHost && f.Value != host {
				return dst, info, errHostMismatch
			}
			host, hasHost = f.Value, true
		case "content-length":
			n, ok := parseLength(f.Value)
			if !ok || info.length >= 0 && n != info.length {
				return dst, info, errContentLength
			}
			info.length = n
		case "cookie":
			cookies++
		}
	}
	if hasAuthority && hasHost && host != authority {
		return dst, info, errHostMismatch // RFC 9113 §8.3.1
	}
	if !hasAuthority && hasHost {
		if connect || !validAuthority(host) {
			return dst, info, errAuthority
		}
		authority, hasAuthority = host, true
	}

	// Framing.
	switch {
	case info.extConnect:
		info.mode = bodyTunnel
		info.length = -1
	case connect:
		info.mode = bodyNone
	case info.length > 0:
		if endStream {
			return dst, info, errLengthMismatch // END_STREAM with the head: no DATA will come
		}
		info.mode = bodyLength
	case info.length == 0 || endStream:
		info.mode = bodyNone
	default:
		info.mode = bodyChunked
	}
	info.head = method == "HEAD"

	// The request line and Host.
	switch {
	case info.extConnect:
		dst = append(dst, "GET "...)
		dst = append(dst, path...)
	case connect:
		dst = append(dst, "CONNECT "...)
		dst = append(dst, authority...)
	default:
		dst = append(dst, method...)
		dst = append(dst, ' ')
		dst = append(dst, path...)
	}
	dst = append(dst, " HTTP/1.1\r\n"...)
	if hasAuthority {
		dst = append(dst, "Host: "...)
		dst = append(dst, authority...)
		dst = append(dst, "\r\n"...)
	}
	if info.extConnect {
		dst = append(dst, "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: "...)
		dst = appendWebSocketKey(dst)
		dst = append(dst, "\r\n"...)
	}

	// The regular fields, in order; the first cookie field carries them all.
	for j := range regular {
		f := &regular[j]
		switch f.Name {
		case "host", "content-length":
			continue // written above / below
		case "te":
			dst = append(dst, "TE: trailers\r\n"...)
			continue
		case "sec-websocket-key":
			if info.extConnect {
				continue // ours replaces it
			}
		case "cookie":
			if cookies < 0 {
				continue // already joined into the first one
			}
			dst = append(dst, "cookie: "...)
			sep := false
			for k := j; k < len(regular); k++ {
				if regular[k].Name == "cookie" {
					if sep {
						dst = append(dst, "; "...)
					}
					dst = append(dst, regular[k].Value...)
					sep = true
				}
			}
			dst = append(dst, "\r\n"...)
			cookies = -1
			continue
		}
		dst = append(dst, f.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, f.Value...)
		dst = append(dst, "\r\n"...)
	}
	switch {
	case info.mode == bodyLength || info.length == 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, info.length, 10)
		dst = append(dst, "\r\n"...)
	case info.mode == bodyChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case info.mode == bodyNone && !connect && carriesBody(method):
		dst = append(dst, "Content-Length: 0\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	// The engine bounds the fields of the head it parses, this one: count them as it will, so that
	// a request over the limit is answered here and one within it is not refused there. They are
	// the lines after the request line, less the blank line that ends the head (no value or path
	// holds a line feed: both were validated).
	if bytes.Count(dst[start:], lf)-2 > maxFields {
		return dst, info, errTooManyFields
	}
	return dst, info, nil
}

var lf = []byte{'\n'}

// checkTrailers validates a request's trailing header block and appends it to dst as an HTTP/1.1
// trailer section without its final empty line.
func checkTrailers(dst []byte, fields []hpack.HeaderField, maxFields int) ([]byte, error) {
	if len(fields) > maxFields {
		return dst, errTooManyFields
	}
	for i := range fields {
		f := &fields[i]
		if len(f.Name) > 0 && f.Name[0] == ':' {
			return dst, errTrailerPseudo
		}
		if !validFieldName(f.Name) {
			return dst, errFieldName
		}
		if !validFieldValue(f.Value) {
			return dst, errFieldValue
		}
		switch f.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te":
			return dst, errConnectionField
		}
	}
	for i := range fields {
		f := &fields[i]
		dst = append(dst, f.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, f.Value...)
		dst = append(dst, "\r\n"...)
	}
	return dst, nil
}

// carriesBody reports whether a request of this method normally has a body: such a request without
// one is sent with Content-Length: 0 (RFC 9110 §8.6).
func carriesBody(method string) bool {
	return method == "POST" || method == "PUT" || method == "PATCH"
}

// appendWebSocketKey appends a fresh Sec-WebSocket-Key: 16 random bytes, base64 (RFC 6455 §4.1).
func appendWebSocketKey(dst []byte) []byte {
	var key [16]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.StdEncoding.AppendEncode(dst, key[:])
}

// parseLength parses a content-length value: 1 to 18 digits.
func parseLength(v string) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// tchar reports the RFC 9110 token characters.
var tchar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b != 0 && containsByte("!#$%&'*+-.^_`|~", b)
	}
	return t
}()

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// validMethod reports whether m is a token.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !tchar[m[i]] {
			return false
		}
	}
	return true
}

// validFieldName reports whether n is a lower-case token (RFC 9113 §8.2.1).
func validFieldName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !tchar[c] || c >= 'A' && c <= 'Z' {
			return false
		}
	}
	return true
}

// validFieldValue reports whether v is a field value HTTP/2 allows (RFC 9113 §8.2.1): no NUL, CR or
// LF, nor any other control but HTAB, and no whitespace at either end.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	if n := len(v); n > 0 && (v[0] == ' ' || v[0] == '\t' || v[n-1] == ' ' || v[n-1] == '\t') {
		return false
	}
	return true
}

// validScheme reports whether s is a URI scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// validPath reports whether p can stand as an origin-form request-target: it starts with '/' (or is
// "*" for OPTIONS) and holds no space or control character. The engine checks the rest.
func validPath(p, method string) bool {
	if p == "*" {
		return method == "OPTIONS"
	}
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// validAuthority reports whether a is an authority without userinfo (RFC 9113 §8.3.1) and without
// spaces or controls. The engine checks the host syntax.
func validAuthority(a string) bool {
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= ' ' || c >= 0x7f || c == '@' || c == '/' || c == '?' || c == '#' {
			return false
		}
	}
	return true
}

// asciiEqualFold reports whether s equals the lower-case string t, ignoring ASCII case.
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}
