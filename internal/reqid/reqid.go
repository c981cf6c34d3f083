// Package reqid generates and validates request IDs.
//
// A generated ID is 32 lowercase hex digits: a random 64-bit prefix chosen once per Generator
// (so IDs from different processes or restarts do not collide in practice), followed by a 64-bit
// counter that is incremented for every ID. Generating an ID is one atomic add and a hex encode;
// it does not allocate when the destination slice has room.
package reqid

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync/atomic"
)

// Len is the length in bytes of every ID produced by Generator.Append.
const Len = 32

// MaxLen is the longest incoming request ID that Valid accepts.
const MaxLen = 128

// hexDigits is the lowercase hex alphabet used for encoding.
const hexDigits = "0123456789abcdef"

// Generator produces unique request IDs. It is safe for concurrent use. A Generator must be
// created with New and must not be copied after first use.
type Generator struct {
	prefix  uint64
	counter atomic.Uint64
}

// New returns a Generator whose 64-bit prefix is read from crypto/rand.
func New() (*Generator, error) {
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("reqid: read random prefix: %w", err)
	}
	return &Generator{prefix: binary.BigEndian.Uint64(seed[:])}, nil
}

// Append appends a new unique ID (Len bytes of lowercase hex) to dst and returns the extended
// slice. It does not allocate when cap(dst)-len(dst) >= Len.
func (g *Generator) Append(dst []byte) []byte {
	n := g.counter.Add(1) - 1
	var b [Len]byte
	putHex64(b[:16], g.prefix)
	putHex64(b[16:], n)
	return append(dst, b[:]...)
}

// putHex64 writes v into b[:16] as exactly 16 lowercase hex digits.
func putHex64(b []byte, v uint64) {
	_ = b[15]
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
}

// Valid reports whether b is acceptable as a request ID received from a client or another
// proxy, to be passed through and logged as is: 1 to MaxLen bytes, each visible ASCII
// (0x21-0x7E) other than '"' and '\\', so the value needs no escaping inside a JSON string or a
// header.
func Valid(b []byte) bool {
	if len(b) == 0 || len(b) > MaxLen {
		return false
	}
	for _, c := range b {
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
