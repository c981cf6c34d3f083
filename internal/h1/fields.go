package h1

// FieldID names the header fields that the engine treats specially; every other field is Other.
type FieldID uint8

// The fields the engine knows by name.
const (
	Other FieldID = iota
	Host
	ContentLength
	TransferEncoding
	Connection
	KeepAlive
	ProxyField // any Proxy-* field, e.g. Proxy-Connection, Proxy-Authorization
	TE
	Trailer
	Upgrade
	Expect
	XForwardedFor
	XForwardedProto
	XForwardedHost
	Forwarded
	XRequestID
)

// Field is one header field. Name and Value point into the connection's read buffer and are valid
// until the next request is read.
type Field struct {
	Name  []byte
	Value []byte
	// Line is the whole field line without its CRLF, for forwarding the field unchanged.
	Line []byte
	ID   FieldID
	// Hop is set for fields that must not be forwarded: the hop-by-hop fields and those named by
	// Connection.
	Hop bool
}

// classify returns the FieldID of a field name.
func classify(n []byte) FieldID {
	switch len(n) {
	case 2:
		if EqualFold(n, "te") {
			return TE
		}
	case 4:
		if EqualFold(n, "host") {
			return Host
		}
	case 6:
		if EqualFold(n, "expect") {
			return Expect
		}
	case 7:
		if EqualFold(n, "trailer") {
			return Trailer
		}
		if EqualFold(n, "upgrade") {
			return Upgrade
		}
	case 9:
		if EqualFold(n, "forwarded") {
			return Forwarded
		}
	case 10:
		if EqualFold(n, "connection") {
			return Connection
		}
		if EqualFold(n, "keep-alive") {
			return KeepAlive
		}
	case 12:
		if EqualFold(n, "x-request-id") {
			return XRequestID
		}
	case 14:
		if EqualFold(n, "content-length") {
			return ContentLength
		}
	case 15:
		if EqualFold(n, "x-forwarded-for") {
			return XForwardedFor
		}
	case 16:
		if EqualFold(n, "x-forwarded-host") {
			return XForwardedHost
		}
	case 17:
		if EqualFold(n, "transfer-encoding") {
			return TransferEncoding
		}
		if EqualFold(n, "x-forwarded-proto") {
			return XForwardedProto
		}
	}
	if len(n) > 6 && EqualFold(n[:6], "proxy-") {
		return ProxyField
	}
	return Other
}

// hopByHop reports whether a field of this id is never forwarded as is.
func (id FieldID) hopByHop() bool {
	switch id {
	case Connection, KeepAlive, ProxyField, TE, Trailer, Upgrade:
		return true
	}
	return false
}

// framing reports whether the field decides message framing or routing, so that a Connection header
// can never make the proxy drop it.
func (id FieldID) framing() bool {
	return id == Host || id == ContentLength || id == TransferEncoding
}

// maxConnTokens bounds the field names a Connection header may list; more is treated as malformed.
const maxConnTokens = 16

// markHop sets Hop on the hop-by-hop fields and on every field that a Connection field names, except
// Host and the framing fields. It reports false when the Connection fields are not a valid token list.
// upgrade reports whether Connection lists "upgrade"; close whether it lists "close"; keepAlive whether
// it lists "keep-alive".
func markHop(fields []Field) (upgrade, close, keepAlive, ok bool) {
	var names [maxConnTokens][]byte
	n := 0
	for i := range fields {
		f := &fields[i]
		if f.ID.hopByHop() {
			f.Hop = true
		}
		if f.ID != Connection {
			continue
		}
		ok := eachToken(f.Value, func(t []byte) bool {
			switch {
			case EqualFold(t, "close"):
				close = true
			case EqualFold(t, "keep-alive"):
				keepAlive = true
			case EqualFold(t, "upgrade"):
				upgrade = true
			default:
				if n == maxConnTokens {
					return false
				}
				names[n] = t
				n++
			}
			return true
		})
		if !ok {
			return false, false, false, false
		}
	}
	for _, name := range names[:n] {
		for i := range fields {
			f := &fields[i]
			if !f.ID.framing() && foldEqual(f.Name, name) {
				f.Hop = true
			}
		}
	}
	return upgrade, close, keepAlive, true
}

// foldEqual reports whether a and b are equal ignoring ASCII case.
func foldEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// eachToken calls fn for every element of a comma-separated token list (RFC 9110 §5.6.1), skipping
// empty elements. It reports false if an element is not a token or fn returns false.
func eachToken(v []byte, fn func([]byte) bool) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		t := trimOWS(v[:i])
		if len(t) > 0 {
			if !ValidToken(t) || !fn(t) {
				return false
			}
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return true
}
