package metrics

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// durationBounds are the upper bounds of the latency histogram's buckets (the +Inf bucket is
// implicit): from half a millisecond, where a proxied request on a local network lands, to ten
// seconds, past which only slow backends and long polls go. Read-only.
var durationBounds = [...]time.Duration{
	500 * time.Microsecond,
	1 * time.Millisecond,
	2500 * time.Microsecond,
	5 * time.Millisecond,
	10 * time.Millisecond,
	25 * time.Millisecond,
	50 * time.Millisecond,
	100 * time.Millisecond,
	250 * time.Millisecond,
	500 * time.Millisecond,
	1 * time.Second,
	2500 * time.Millisecond,
	5 * time.Second,
	10 * time.Second,
}

// numClasses is the number of status classes counted: 1xx to 5xx, and "other" for a status
// outside 100-599 (0 when no status was set).
const numClasses = 6

// classLabels are the values of the code label, by class index.
var classLabels = [numClasses]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// classOf maps a status to its class index.
func classOf(status int) int {
	c := status/100 - 1
	if status < 100 || c > 4 {
		return numClasses - 1
	}
	return c
}

// maxCached caps the backends a Route remembers by pointer. A route reaches it only when reloads
// replace its Backend objects faster than Retain clears them; past it, requests to backends not
// remembered take the mutex path.
const maxCached = 32

// series counts one (route, backend) pair's requests by status class.
type series struct {
	addr  string // the backend label; "" for local answers
	codes [numClasses]atomic.Uint64
}

// cached is an entry of a Route's copy-on-write backend list.
type cached struct {
	be *upstream.Backend
	s  *series
}

// histogram is a fixed-bucket latency histogram. Its count is the total of its buckets, so a
// scrape never sees a count that disagrees with them.
type histogram struct {
	buckets [len(durationBounds) + 1]atomic.Uint64 // non-cumulative; the last is +Inf
	sum     atomic.Uint64                          // float64 bits, seconds
}

func (h *histogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(durationBounds) && d > durationBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	s := d.Seconds()
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+s)) {
			return
		}
	}
}

// Route holds one route's request counters. The Registry keeps one per route name for the whole
// process, so its counters continue across reloads. Resolve it once per route when building the
// config (Registry.Route) and call Observe at the end of each request.
type Route struct {
	name     string
	dur      histogram
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	local    series                   // answers without a backend
	cache    atomic.Pointer[[]cached] // backends by pointer; replaced, never modified

	mu     sync.Mutex
	byAddr map[string]*series // every backend series, by address; guarded by mu
}

func newRoute(name string) *Route {
	return &Route{name: name, byAddr: make(map[string]*series)}
}

// Name is the route's name, the value of its route label.
func (rt *Route) Name() string { return rt.name }

// Observe counts one finished request: be is the backend that answered, nil for an answer
// gatehouse made itself (no route, fixed response, redirect; counted with backend=""); status is
// the status sent to the client (its class is counted: 1xx to 5xx, "other" outside 100-599); dur
// is the time from the start of the request to its end; bytesIn and bytesOut are the bytes read
// from and written to the client for it, heads included (negative values count as 0).
//
// Observe allocates nothing and takes no lock once be has been seen on this route: the first
// request to a Backend object takes a mutex to find its series by address, so that a Backend
// recreated by a reload continues the series of the one it replaced.
func (rt *Route) Observe(be *upstream.Backend, status int, dur time.Duration, bytesIn, bytesOut int64) {
	s := &rt.local
	if be != nil {
		s = rt.series(be)
	}
	s.codes[classOf(status)].Add(1)
	rt.dur.observe(dur)
	rt.bytesIn.Add(uint64(max(bytesIn, 0)))
	rt.bytesOut.Add(uint64(max(bytesOut, 0)))
}

// series returns be's series: by a scan of the cache, else under the mutex by address.
func (rt *Route) series(be *upstream.Backend) *series {
	if c := rt.cache.Load(); c != nil {
		for i := range *c {
			if (*c)[i].be == be {
				return (*c)[i].s
			}
		}
	}
	return rt.slowSeries(be)
}

func (rt *Route) slowSeries(be *upstream.Backend) *series {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var old []cached
	if c := rt.cache.Load(); c != nil {
		old = *c
		for i := range old {
			if old[i].be == be {
				return old[i].s
			}
		}
	}
	s := rt.byAddr[be.Addr]
	if s == nil {
		s = &series{addr: be.Addr}
		rt.byAddr[be.Addr] = s
	}
	if len(old) < maxCached {
		next := make([]cached, len(old), len(old)+1)
		copy(next, old)
		next = append(next, cached{be: be, s: s})
		rt.cache.Store(&next)
	}
	return s
}

// retain forgets the series of backend addresses not in keep and every remembered Backend
// pointer, so that Backend objects of an old config can be collected. Live backends find their
// series again by address on their next request.
func (rt *Route) retain(keep []*upstream.Backend) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.cache.Store(nil)
	for addr := range rt.byAddr {
		found := false
		for _, be := range keep {
			if be != nil && be.Addr == addr {
				found = true
				break
			}
		}
		if !found {
			delete(rt.byAddr, addr)
		}
	}
}

// snapshot returns the route's series, local first.
func (rt *Route) snapshot() []*series {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := make([]*series, 0, len(rt.byAddr)+1)
	out = append(out, &rt.local)
	for _, s := range rt.byAddr {
		out = append(out, s)
	}
	return out
}
