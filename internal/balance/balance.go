// Package balance picks the backend of a pool that a request goes to: the balancing policies
// (round-robin, smooth weighted round-robin, weighted least-connections, weighted random,
// power-of-two-choices over peak-EWMA latency, consistent hashing with ring or Maglev tables and
// bounded loads), sticky sessions signed with an HMAC, slow start and the retry budget.
//
// A Pool holds an immutable backend set behind an atomic pointer; Pick reads it without locks or
// allocations, and SetBackends swaps in a new one while Picks go on.
package balance

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// Policy and hash algorithm names, as written in the configuration.
const (
	PolicyP2CEWMA            = "p2c_ewma"
	PolicyRoundRobin         = "round_robin"
	PolicyWeightedRoundRobin = "weighted_round_robin"
	PolicyLeastConn          = "least_conn"
	PolicyRandom             = "random"
	PolicyConsistentHash     = "consistent_hash"
	HashAlgorithmMaglev      = "maglev"
	HashAlgorithmRing        = "ring"
)

// Defaults and limits.
const (
	defaultLoadFactor  = 1.25
	defaultRetryBudget = 0.2
	defaultMinRetries  = 3
	minStickySecret    = 16
)

// Config is a pool's balancing configuration. The zero value balances with p2c_ewma, without
// sticky sessions or slow start, and with the default retry budget.
type Config struct {
	// Policy is the balancing algorithm: "p2c_ewma" (the default when empty), "round_robin",
	// "weighted_round_robin", "least_conn", "random" or "consistent_hash".
	Policy string
	// Hash configures consistent_hash; ignored by the other policies.
	Hash HashConfig
	// Sticky enables sticky sessions on top of any policy; nil disables them.
	Sticky *StickyConfig
	// SlowStart is how long a backend that was added (by SetBackends) or came back (recovered
	// from an active check or an ejection) takes to ramp its share linearly from 10% to 100% of
	// its weight. 0 disables slow start.
	SlowStart time.Duration
	// RetryBudget is the share of requests that may be retries, over the last 10 seconds: 0.2 lets
	// retries add 20% to the load. 0 means the default, 0.2; otherwise in (0, 1].
	RetryBudget float64
	// MinRetries is how many retries per second are allowed whatever the ratio, so that a quiet
	// pool can still retry. 0 means the default, 3; a negative value allows none beyond the ratio.
	MinRetries int
}

// HashConfig configures consistent hashing.
type HashConfig struct {
	// Key is what is hashed: "client_ip" (the default when empty), "header", "cookie" or "path".
	Key string
	// Name is the header or cookie name, for Key "header" and "cookie".
	Name string
	// Algorithm is "maglev" (the default when empty: a 65537-entry lookup table, even spread,
	// O(1) lookups) or "ring" (a hash ring with 128 virtual nodes per unit of weight).
	Algorithm string
	// LoadFactor is c of "consistent hashing with bounded loads" (Mirrokni, Thorup, Zadimoghaddam
	// 2018): a backend takes a request only while its in-flight count stays under
	// ceil(c × (total in-flight + 1) × its share of the weight); beyond, the request walks on to the
	// next backend of the table. 0 means the default, 1.25; otherwise at least 1; +Inf disables the
	// bound.
	LoadFactor float64
}

// StickyConfig configures sticky sessions: a cookie names the backend that served the client,
// signed so that a client cannot choose a backend by forging it.
type StickyConfig struct {
	// Cookie is the cookie's name (an RFC 6265 token). Required.
	Cookie string
	// Secret keys the HMAC-SHA256 that signs the cookie; at least 16 bytes. Pools that share a
	// secret accept each other's cookies, and a reload that keeps it keeps the sessions.
	Secret []byte
	// MaxAge is the cookie's lifetime, rounded up to whole seconds; 0 makes a session cookie.
	MaxAge time.Duration
	// Secure adds the Secure attribute, for pools served over HTTPS only.
	Secure bool
}

// KeyKind is what the engine extracts into Request.Key for consistent hashing.
type KeyKind uint8

// Hash keys.
const (
	// KeyNone: the policy needs no key.
	KeyNone KeyKind = iota
	// KeyClientIP: the pool hashes Request.ClientIP itself; Request.Key is not read.
	KeyClientIP
	// KeyHeader: Request.Key is the value of the header named by HashKey's name.
	KeyHeader
	// KeyCookie: Request.Key is the value of the cookie named by HashKey's name.
	KeyCookie
	// KeyPath: Request.Key is the request's path, without the query.
	KeyPath
)

// String returns the configuration name of k.
func (k KeyKind) String() string {
	switch k {
	case KeyClientIP:
		return "client_ip"
	case KeyHeader:
		return "header"
	case KeyCookie:
		return "cookie"
	case KeyPath:
		return "path"
	}
	return "none"
}

// Request is what a Pick needs to know about a request. The engine keeps one per request and
// reuses it across retries.
type Request struct {
	// ClientIP is the client's address, hashed for the client_ip key.
	ClientIP netip.Addr
	// Key is the hash key's value, filled by the engine when HashKey returns KeyHeader, KeyCookie
	// or KeyPath. Empty when the request has none: the pick is then weighted-random.
	Key []byte
	// Sticky is the value of the sticky cookie when the client sent one; nil otherwise.
	Sticky []byte
	// Tried lists the backends already tried for this request; they are never picked again.
	Tried []*upstream.Backend
	// Now, when not 0, is the time of the pick in Unix nanoseconds, saving Pick a read of the
	// pool's clock when the engine already has one. Refresh it before a retry.
	Now int64
}

// Outcome tells why Pick returned the backend it did, or none.
type Outcome uint8

// Pick outcomes.
const (
	// Picked: a backend was picked.
	Picked Outcome = iota
	// Unavailable: no backend of the pool is available (all health-down or ejected, or the pool
	// is empty); the engine answers 503.
	Unavailable
	// Exhausted: backends are available but every one was already tried; the engine answers 502
	// with the last attempt's error.
	Exhausted
)

// String names o.
func (o Outcome) String() string {
	switch o {
	case Picked:
		return "picked"
	case Unavailable:
		return "unavailable"
	case Exhausted:
		return "exhausted"
	}
	return "unknown"
}

// ErrConfig is wrapped by every error NewPool returns for an invalid Config.
var ErrConfig = errors.New("invalid balancing config")

// kind is a parsed policy name.
type kind uint8

const (
	kindP2C kind = iota
	kindRoundRobin
	kindWRR
	kindLeastConn
	kindRandom
	kindHash
)

// settings is a Config checked and with its defaults filled in.
type settings struct {
	kind        kind
	keyKind     KeyKind
	keyName     string
	maglev      bool
	loadFactor  float64
	sticky      *StickyConfig
	slowStart   time.Duration
	retryBudget float64
	minRetries  int
}

// parseConfig validates cfg and fills its defaults.
func parseConfig(cfg Config) (settings, error) {
	var s settings
	switch cfg.Policy {
	case "", PolicyP2CEWMA:
		s.kind = kindP2C
	case PolicyRoundRobin:
		s.kind = kindRoundRobin
	case PolicyWeightedRoundRobin:
		s.kind = kindWRR
	case PolicyLeastConn:
		s.kind = kindLeastConn
	case PolicyRandom:
		s.kind = kindRandom
	case PolicyConsistentHash:
		s.kind = kindHash
	default:
		return s, fmt.Errorf("%w: policy %q: want one of p2c_ewma, round_robin, weighted_round_robin, least_conn, random, consistent_hash", ErrConfig, cfg.Policy)
	}
	if s.kind == kindHash {
		h := cfg.Hash
		switch h.Key {
		case "", "client_ip":
			s.keyKind = KeyClientIP
		case "header":
			s.keyKind = KeyHeader
		case "cookie":
			s.keyKind = KeyCookie
		case "path":
			s.keyKind = KeyPath
		default:
			return s, fmt.Errorf("%w: hash.key %q: want client_ip, header, cookie or path", ErrConfig, h.Key)
		}
		if (s.keyKind == KeyHeader || s.keyKind == KeyCookie) && h.Name == "" {
			return s, fmt.Errorf("%w: hash.name: required with hash.key %s", ErrConfig, h.Key)
		}
		if s.keyKind == KeyHeader || s.keyKind == KeyCookie {
			s.keyName = h.Name
		}
		switch h.Algorithm {
		case "", HashAlgorithmMaglev:
			s.maglev = true
		case HashAlgorithmRing:
		default:
			return s, fmt.Errorf("%w: hash.algorithm %q: want maglev or ring", ErrConfig, h.Algorithm)
		}
		s.loadFactor = h.LoadFactor
		switch {
		case s.loadFactor == 0:
			s.loadFactor = defaultLoadFactor
		case math.IsNaN(s.loadFactor) || s.loadFactor < 1:
			return s, fmt.Errorf("%w: hash.load_factor %v: want at least 1 (or 0 for the default %v)", ErrConfig, h.LoadFactor, defaultLoadFactor)
		}
	}
	if st := cfg.Sticky; st != nil {
		if !h1.IsToken(st.Cookie) {
			return s, fmt.Errorf("%w: sticky.cookie %q: want a cookie name (letters, digits and !#$%%&'*+-.^_`|~)", ErrConfig, st.Cookie)
		}
		if len(st.Secret) < minStickySecret {
			return s, fmt.Errorf("%w: sticky.secret: %d bytes, want at least %d", ErrConfig, len(st.Secret), minStickySecret)
		}
		if st.MaxAge < 0 {
			return s, fmt.Errorf("%w: sticky.max_age %v: want 0 (session cookie) or more", ErrConfig, st.MaxAge)
		}
		c := *st
		c.Secret = append([]byte(nil), st.Secret...)
		s.sticky = &c
	}
	if cfg.SlowStart < 0 {
		return s, fmt.Errorf("%w: slow_start %v: want 0 (off) or more", ErrConfig, cfg.SlowStart)
	}
	s.slowStart = cfg.SlowStart
	switch {
	case cfg.RetryBudget == 0:
		s.retryBudget = defaultRetryBudget
	case math.IsNaN(cfg.RetryBudget) || cfg.RetryBudget < 0 || cfg.RetryBudget > 1:
		return s, fmt.Errorf("%w: retry_budget %v: want a share in (0, 1], or 0 for the default %v", ErrConfig, cfg.RetryBudget, defaultRetryBudget)
	default:
		s.retryBudget = cfg.RetryBudget
	}
	switch {
	case cfg.MinRetries == 0:
		s.minRetries = defaultMinRetries
	case cfg.MinRetries < 0:
		s.minRetries = 0
	default:
		s.minRetries = cfg.MinRetries
	}
	return s, nil
}
