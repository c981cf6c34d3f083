package tlsterm

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
)

// Identity is the verified client certificate of a connection: its subject as an RFC 2253 string
// ("CN=alice,O=Ops", most specific first) and the SHA-256 of its DER in lower-case hex without
// separators. ok is false when the client sent no certificate, or sent one that was not verified
// (a Config that does not verify client certificates). Resumed sessions carry the identity of
// the handshake that made them.
func Identity(cs *tls.ConnectionState) (subject, fingerprint string, ok bool) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", "", false
	}
	leaf := cs.VerifiedChains[0][0]
	sum := sha256.Sum256(leaf.Raw)
	return leaf.Subject.String(), hex.EncodeToString(sum[:]), true
}
