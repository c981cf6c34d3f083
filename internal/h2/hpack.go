package h2

import (
	"unsafe"

	"golang.org/x/net/http2/hpack"
)

// The response header encoder. Like nginx's, it never inserts into the dynamic table: a field is an
// indexed static entry (":status 200") or a literal without indexing whose name is a static index
// when the static table has it, with Huffman coding when that is shorter (RFC 7541 §6.2.2). It is
// therefore stateless but for table size updates, needs no allocation, can encode straight into the
// connection's write buffer, and a peer's decoder table stays empty. What this gives up is the
// dynamic table's compression of fields repeated across responses (a few dozen bytes per response).

// staticStatus maps the :status values of the static table to their index.
func staticStatus(status int) uint64 {
	switch status {
	case 200:
		return 8
	case 204:
		return 9
	case 206:
		return 10
	case 304:
		return 11
	case 400:
		return 12
	case 404:
		return 13
	case 500:
		return 14
	}
	return 0
}

// staticNames maps the regular field names of the HPACK static table (RFC 7541 Appendix A) to their
// first index. It is never written after initialisation.
var staticNames = map[string]uint64{
	"accept-charset": 15, "accept-encoding": 16, "accept-language": 17, "accept-ranges": 18,
	"accept": 19, "access-control-allow-origin": 20, "age": 21, "allow": 22, "authorization": 23,
	"cache-control": 24, "content-disposition": 25, "content-encoding": 26, "content-language": 27,
	"content-length": 28, "content-location": 29, "content-range": 30, "content-type": 31,
	"cookie": 32, "date": 33, "etag": 34, "expect": 35, "expires": 36, "from": 37, "host": 38,
	"if-match": 39, "if-modified-since": 40, "if-none-match": 41, "if-range": 42,
	"if-unmodified-since": 43, "last-modified": 44, "link": 45, "location": 46, "max-forwards": 47,
	"proxy-authenticate": 48, "proxy-authorization": 49, "range": 50, "referer": 51, "refresh": 52,
	"retry-after": 53, "server": 54, "set-cookie": 55, "strict-transport-security": 56,
	"transfer-encoding": 57, "user-agent": 58, "vary": 59, "via": 60, "www-authenticate": 61,
}

// appendHpackInt appends v as an HPACK integer with an n-bit prefix (RFC 7541 §5.1); first holds the
// bits above the prefix.
func appendHpackInt(dst []byte, n uint8, first byte, v uint64) []byte {
	limit := uint64(1)<<n - 1
	if v < limit {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(limit))
	v -= limit
	for v >= 128 {
		dst = append(dst, byte(v&0x7f|0x80))
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendHpackString appends s as an HPACK string literal, Huffman-coded when that is shorter.
func appendHpackString(dst, s []byte) []byte {
	str := unsafe.String(unsafe.SliceData(s), len(s)) // read during this call only
	if h := hpack.HuffmanEncodeLength(str); h < uint64(len(s)) {
		dst = appendHpackInt(dst, 7, 0x80, h)
		return hpack.AppendHuffmanString(dst, str)
	}
	dst = appendHpackInt(dst, 7, 0, uint64(len(s)))
	return append(dst, s...)
}

// appendStatus appends the :status pseudo-header field.
func appendStatus(dst []byte, status int) []byte {
	if i := staticStatus(status); i != 0 {
		return appendHpackInt(dst, 7, 0x80, i) // indexed
	}
	dst = appendHpackInt(dst, 4, 0, 8) // literal without indexing, name ":status"
	var b [3]byte
	b[0], b[1], b[2] = byte('0'+status/100%10), byte('0'+status/10%10), byte('0'+status%10)
	return appendHpackString(dst, b[:])
}

// appendField appends a regular field, its name lower-cased (through scratch, which it returns
// grown for reuse).
func appendField(dst, scratch, name, value []byte) ([]byte, []byte) {
	scratch = scratch[:0]
	for _, c := range name {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		scratch = append(scratch, c)
	}
	if i, ok := staticNames[string(scratch)]; ok {
		dst = appendHpackInt(dst, 4, 0, i) // literal without indexing, indexed name
	} else {
		dst = append(dst, 0) // literal without indexing, new name
		dst = appendHpackString(dst, scratch)
	}
	return appendHpackString(dst, value), scratch
}

// appendTableSize appends a dynamic table size update (RFC 7541 §6.3).
func appendTableSize(dst []byte, size uint32) []byte {
	return appendHpackInt(dst, 5, 0x20, uint64(size))
}
