package balance

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// A sticky cookie's value is "<id>.<mac>": id is the base64url of the first 6 bytes of
// SHA-256(stickyIDContext, address) — public, but the same in every process and across reloads —
// and mac the base64url of the first 12 bytes of HMAC-SHA256(secret, id), which only a holder of
// the secret can compute. 96 bits of MAC make forging by trial hopeless.
const (
	stickyIDContext = "gatehouse sticky backend id v1\x00"
	stickyIDBytes   = 6
	stickyMACBytes  = 12
	stickyIDLen     = stickyIDBytes * 4 / 3  // 8
	stickyMACLen    = stickyMACBytes * 4 / 3 // 16
	stickyValueLen  = stickyIDLen + 1 + stickyMACLen
)

// stickySet holds the expected cookie value of each backend of a set, so that checking a request
// is a map lookup by the (public) id and a constant-time compare of the whole value.
type stickySet struct {
	cfg    *StickyConfig
	byID   map[string]int32            // id → index in set.all (the first, for a duplicate address)
	byBE   map[*upstream.Backend]int32 // backend → index in set.all
	values [][]byte                    // index → cookie value
}

func newStickySet(cfg *StickyConfig, all []*upstream.Backend) *stickySet {
	s := &stickySet{
		cfg:    cfg,
		byID:   make(map[string]int32, len(all)),
		byBE:   make(map[*upstream.Backend]int32, len(all)),
		values: make([][]byte, len(all)),
	}
	for i, be := range all {
		v := stickyValue(cfg.Secret, be.Addr)
		s.values[i] = v
		if _, dup := s.byID[string(v[:stickyIDLen])]; !dup {
			s.byID[string(v[:stickyIDLen])] = int32(i)
		}
		if _, dup := s.byBE[be]; !dup {
			s.byBE[be] = int32(i)
		}
	}
	return s
}

// stickyValue computes the cookie value naming addr.
func stickyValue(secret []byte, addr string) []byte {
	d := sha256.New()
	d.Write([]byte(stickyIDContext))
	d.Write([]byte(addr))
	var sum [sha256.Size]byte
	id := base64.RawURLEncoding.AppendEncode(make([]byte, 0, stickyValueLen), d.Sum(sum[:0])[:stickyIDBytes])
	m := hmac.New(sha256.New, secret)
	m.Write(id)
	v := append(id, '.')
	return base64.RawURLEncoding.AppendEncode(v, m.Sum(sum[:0])[:stickyMACBytes])
}

// lookup returns the index in set.all of the backend v names, or -1 when v is not a valid cookie
// value of this set.
func (s *stickySet) lookup(v []byte) int {
	if len(v) != stickyValueLen || v[stickyIDLen] != '.' {
		return -1
	}
	i, ok := s.byID[string(v[:stickyIDLen])]
	if !ok || subtle.ConstantTimeCompare(v, s.values[i]) != 1 {
		return -1
	}
	return int(i)
}

// appendSetCookie appends the Set-Cookie value naming be.
func (s *stickySet) appendSetCookie(dst []byte, be *upstream.Backend) []byte {
	dst = append(dst, s.cfg.Cookie...)
	dst = append(dst, '=')
	if i, ok := s.byBE[be]; ok {
		dst = append(dst, s.values[i]...)
	} else {
		// be left the set between the pick and now: compute its value (allocates).
		dst = append(dst, stickyValue(s.cfg.Secret, be.Addr)...)
	}
	dst = append(dst, "; Path=/; HttpOnly; SameSite=Lax"...)
	if s.cfg.Secure {
		dst = append(dst, "; Secure"...)
	}
	if s.cfg.MaxAge > 0 {
		dst = append(dst, "; Max-Age="...)
		dst = strconv.AppendInt(dst, int64((s.cfg.MaxAge+time.Second-1)/time.Second), 10)
	}
	return dst
}
