package upstream

import (
	"sync/atomic"
	"time"
)

// Pool is a named group of backends balanced round-robin.
type Pool struct {
	Name     string
	Backends []*Backend

	next  atomic.Uint32
	clock func() time.Time
}

// NewPool returns a pool over backends.
func NewPool(name string, backends []*Backend, clock func() time.Time) *Pool {
	return &Pool{Name: name, Backends: backends, clock: clock}
}

// Pick returns the next backend in round-robin order that is up and not in tried (a bit per backend
// index). With a single backend, that backend is always returned unless tried, as nginx does: there
// is nothing better to send to. It returns nil when no backend is left; allDown then tells whether it
// is because every untried backend is marked down.
func (p *Pool) Pick(tried uint64) (b *Backend, idx int, allDown bool) {
	n := len(p.Backends)
	if n == 1 {
		if tried&1 != 0 {
			return nil, -1, false
		}
		return p.Backends[0], 0, false
	}
	start := int(p.next.Add(1)-1) % n
	var now int64
	down := false
	for i := 0; i < n; i++ {
		j := (start + i) % n
		if j < 64 && tried&(1<<j) != 0 {
			continue
		}
		be := p.Backends[j]
		if be.downUntil.Load() != 0 {
			if now == 0 {
				now = p.clock().UnixNano()
			}
			if be.Down(now) {
				down = true
				continue
			}
		}
		return be, j, false
	}
	return nil, -1, down
}

// Reap closes idle connections past their timeout on every backend.
func (p *Pool) Reap() {
	for _, b := range p.Backends {
		b.Reap()
	}
}

// Close closes every idle connection.
func (p *Pool) Close() {
	for _, b := range p.Backends {
		b.CloseIdle()
	}
}
