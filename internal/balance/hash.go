package balance

import (
	"math"
	"sort"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// consistentHash maps a request's key to a backend through a lookup table (a Maglev table or a
// hash ring's points, in slots) and bounds each backend's load (Mirrokni, Thorup and Zadimoghaddam,
// "Consistent Hashing with Bounded Loads", 2018): from the key's slot it walks on to the first
// eligible backend whose in-flight count is under its cap,
//
//	cap = ceil(c × (total in-flight + 1) × weight × ramp / Σ weight × ramp)
//
// over the tier's available backends. As the caps add up to more than the load, some backend is
// always under its cap. Slow start lowers a ramping backend's cap; the table itself does not
// change, so keys do not move, only the excess spills over. Without the bound (c = +Inf) slow
// start does not apply. A request without a key is placed at random by weight, as Envoy does.
type consistentHash struct {
	key    KeyKind
	c      float64  // load factor; +Inf for no bound
	slots  []int32  // backend index of each table slot or ring point, in walk order
	points []uint64 // ring only: the hash of each point, ascending; nil for Maglev
}

var _ policy = (*consistentHash)(nil)

// ringVnodes is the number of ring points per unit of weight, and maxRingPoints caps their total.
const (
	ringVnodes    = 128
	maxRingPoints = 1 << 18
)

func newConsistentHash(t *tier, s *settings) *consistentHash {
	p := &consistentHash{key: s.keyKind, c: s.loadFactor}
	switch {
	case len(t.bs) == 0: // tier.pick never calls an empty tier's policy
	case s.maglev:
		p.slots = maglevTable(t.bs, t.w)
	default:
		p.points, p.slots = hashRing(t.bs, t.w)
	}
	return p
}

func (p *consistentHash) pick(t *tier, r *Request, now int64) int {
	var h uint64
	switch {
	case p.key == KeyClientIP && r.ClientIP.IsValid():
		a := r.ClientIP.As16()
		h = hash64(a[:], 0)
	case p.key != KeyClientIP && len(r.Key) > 0:
		h = hash64(r.Key, 0)
	default:
		return t.draw(r, now, -1, true)
	}
	pos := p.locate(h)
	n := len(p.slots)
	if math.IsInf(p.c, 1) {
		for k := range n {
			if i := int(p.slots[(pos+k)%n]); t.eligible(i, r, now) {
				return i
			}
		}
		return -1
	}
	var total int64
	var sumW float64
	for i, be := range t.bs {
		if be.State.Available(now) {
			total += max(be.State.InFlight(), 0)
			sumW += t.eff(i, now)
		}
	}
	if sumW == 0 {
		return -1
	}
	scale := p.c * float64(total+1) / sumW
	under, eligible := 0, 0
	for i := range t.bs {
		if t.eligible(i, r, now) {
			eligible++
			if p.under(t, i, scale, now) {
				under++
			}
		}
	}
	if eligible == 0 {
		return -1
	}
	first := -1
	for k := range n {
		i := int(p.slots[(pos+k)%n])
		if !t.eligible(i, r, now) {
			continue
		}
		if under == 0 {
			return i
		}
		if first < 0 {
			first = i
		}
		if p.under(t, i, scale, now) {
			return i
		}
	}
	return first // the loads moved while we walked
}

// under reports whether backend i is under its bounded-load cap.
func (p *consistentHash) under(t *tier, i int, scale float64, now int64) bool {
	return float64(t.bs[i].State.InFlight()) < math.Ceil(scale*t.eff(i, now))
}

// locate is the slot a key hash starts its walk at.
func (p *consistentHash) locate(h uint64) int {
	if p.points == nil {
		return int(h % uint64(len(p.slots)))
	}
	lo, hi := 0, len(p.points)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p.points[m] < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(p.points) {
		return 0
	}
	return lo
}

// byAddr returns the indices of bs sorted by address, so that tables built in different processes
// from the same addresses in a different order are identical.
func byAddr(bs []*upstream.Backend) []int {
	idx := make([]int, len(bs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return bs[idx[a]].Addr < bs[idx[b]].Addr })
	return idx
}
