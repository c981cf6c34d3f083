package balance

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// Pool balances requests over a set of backends. Pick, HashKey, StickyCookie, StickyFor,
// AppendSetCookie, AllowRetry and CountRequest are safe for concurrent use, lock-free and
// allocation-free; SetBackends may run concurrently with them.
type Pool struct {
	name  string
	cfg   settings
	clock func() time.Time
	rng   func() uint64
	cur   atomic.Pointer[set]
	mu    sync.Mutex // serialises SetBackends
	retry retryBudget
}

// set is an immutable backend set with the policy state built for it.
type set struct {
	all     []*upstream.Backend // in the order given
	primary tier
	backup  tier
	sticky  *stickySet // nil without sticky sessions
}

// NewPool returns a pool named name (for logs and metrics) balancing over backends with cfg. clock
// tells the time for health, ejection, slow start, latency and the retry budget. The backends
// given do not start a slow start: they are the pool's first set.
func NewPool(name string, cfg Config, backends []*upstream.Backend, clock func() time.Time) (*Pool, error) {
	return newPool(name, cfg, backends, clock, rand.Uint64)
}

// newPool is NewPool with the random source: tests pass a seeded one.
func newPool(name string, cfg Config, backends []*upstream.Backend, clock func() time.Time, rng func() uint64) (*Pool, error) {
	s, err := parseConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("pool %q: %w", name, err)
	}
	for i, be := range backends {
		if be == nil {
			return nil, fmt.Errorf("pool %q: backend %d is nil", name, i)
		}
	}
	p := &Pool{name: name, cfg: s, clock: clock, rng: rng}
	p.retry.ratio = s.retryBudget
	p.retry.floor = float64(s.minRetries * retryWindow)
	p.cur.Store(p.build(backends, nil))
	return p, nil
}

// Name is the pool's name.
func (p *Pool) Name() string { return p.name }

// Backends returns the current backends, primaries and backups, in the order last given. The slice
// is shared: do not modify it.
func (p *Pool) Backends() []*upstream.Backend { return p.cur.Load().all }

// SetBackends replaces the backend set, for DNS discovery or a reload; Picks running concurrently
// see the old set or the new one, never a mix. Round-robin positions carry over. With slow start, a
// backend whose address was not in the previous set starts its ramp now. The pool keeps its own
// copy of bs; nil entries are dropped.
func (p *Pool) SetBackends(bs []*upstream.Backend) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.cur.Load()
	if p.cfg.slowStart > 0 {
		known := make(map[string]bool, len(old.all))
		for _, be := range old.all {
			known[be.Addr] = true
		}
		now := p.clock().UnixNano()
		for _, be := range bs {
			if be != nil && !known[be.Addr] {
				be.State.StartRamp(now)
			}
		}
	}
	p.cur.Store(p.build(bs, old))
}

// build makes the immutable set for bs, carrying policy state over from old (nil at first).
func (p *Pool) build(bs []*upstream.Backend, old *set) *set {
	s := &set{all: make([]*upstream.Backend, 0, len(bs))}
	var prim, back []*upstream.Backend
	for _, be := range bs {
		if be == nil {
			continue
		}
		s.all = append(s.all, be)
		if be.Backup {
			back = append(back, be)
		} else {
			prim = append(prim, be)
		}
	}
	s.primary = newTier(prim, p.cfg.slowStart, p.rng)
	s.backup = newTier(back, p.cfg.slowStart, p.rng)
	var oldPrim, oldBack policy
	if old != nil {
		oldPrim, oldBack = old.primary.pol, old.backup.pol
	}
	s.primary.pol = p.newPolicy(&s.primary, oldPrim)
	s.backup.pol = p.newPolicy(&s.backup, oldBack)
	if p.cfg.sticky != nil {
		s.sticky = newStickySet(p.cfg.sticky, s.all)
	}
	return s
}

// newPolicy builds the configured policy's state for t.
func (p *Pool) newPolicy(t *tier, prev policy) policy {
	switch p.cfg.kind {
	case kindRoundRobin:
		return newRoundRobin(prev)
	case kindWRR:
		return newWeightedRoundRobin(t, prev)
	case kindLeastConn:
		return leastConn{}
	case kindRandom:
		return weightedRandom{}
	case kindHash:
		return newConsistentHash(t, &p.cfg)
	}
	return p2cEWMA{}
}

// Pick chooses the backend for r among those available now and not in r.Tried: primaries first,
// backups only when no primary can take r, each being down, ejected or already tried for r (so
// that a request whose every primary refused its connection is still served by a backup, as
// nginx's backup servers do). A valid sticky cookie naming an eligible backend wins over the
// policy. Outcome says why no backend was returned: Unavailable when none is available, Exhausted
// when every available one was tried.
func (p *Pool) Pick(r *Request) (*upstream.Backend, Outcome) {
	now := r.Now
	if now == 0 {
		now = p.clock().UnixNano()
	}
	s := p.cur.Load()
	if s.sticky != nil && len(r.Sticky) != 0 {
		if i := s.sticky.lookup(r.Sticky); i >= 0 {
			be := s.all[i]
			if be.State.Available(now) && !tried(r, be) && (!be.Backup || !s.primary.anyAvailable(now)) {
				return be, Picked
			}
		}
	}
	if i := s.primary.pick(r, now); i >= 0 {
		return s.primary.bs[i], Picked
	}
	if i := s.backup.pick(r, now); i >= 0 {
		return s.backup.bs[i], Picked
	}
	if s.primary.anyAvailable(now) || s.backup.anyAvailable(now) {
		return nil, Exhausted
	}
	return nil, Unavailable
}

// HashKey tells what the engine must extract into Request.Key: the kind, and for KeyHeader and
// KeyCookie the header or cookie name. KeyNone for policies other than consistent_hash; for
// KeyClientIP the pool reads Request.ClientIP.
func (p *Pool) HashKey() (kind KeyKind, name string) { return p.cfg.keyKind, p.cfg.keyName }

// StickyCookie is the sticky cookie's name, "" without sticky sessions. The engine copies its value
// into Request.Sticky.
func (p *Pool) StickyCookie() string {
	if p.cfg.sticky == nil {
		return ""
	}
	return p.cfg.sticky.Cookie
}

// StickyFor reports whether r's sticky cookie is valid and already names be, so that the response
// needs no Set-Cookie. Always false without sticky sessions.
func (p *Pool) StickyFor(r *Request, be *upstream.Backend) bool {
	s := p.cur.Load()
	if s.sticky == nil || len(r.Sticky) == 0 {
		return false
	}
	i := s.sticky.lookup(r.Sticky)
	return i >= 0 && s.all[i] == be
}

// AppendSetCookie appends to dst the value of a Set-Cookie field naming be:
// "name=value; Path=/; HttpOnly; SameSite=Lax[; Secure][; Max-Age=N]". It appends nothing without
// sticky sessions.
func (p *Pool) AppendSetCookie(dst []byte, be *upstream.Backend) []byte {
	s := p.cur.Load()
	if s.sticky == nil {
		return dst
	}
	return s.sticky.appendSetCookie(dst, be)
}

// CountRequest counts one client request routed to the pool, for the retry budget. Retries are not
// counted here.
func (p *Pool) CountRequest() { p.retry.request(p.second()) }

// AllowRetry reports whether the retry budget allows one more retry, and counts it if so: retries
// over the last 10 seconds may reach max(MinRetries × 10, RetryBudget × requests).
func (p *Pool) AllowRetry() bool { return p.retry.allow(p.second()) }

func (p *Pool) second() uint32 { return uint32(p.clock().Unix()) }

// Policy is the name of the pool's balancing policy ("p2c_ewma", "consistent_hash", ...).
func (p *Pool) Policy() string {
	switch p.cfg.kind {
	case kindRoundRobin:
		return PolicyRoundRobin
	case kindWRR:
		return PolicyWeightedRoundRobin
	case kindLeastConn:
		return PolicyLeastConn
	case kindRandom:
		return PolicyRandom
	case kindHash:
		return PolicyConsistentHash
	}
	return PolicyP2CEWMA
}
