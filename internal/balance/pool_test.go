package balance

import (
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// Backups serve only when no primary can take the request (down, ejected or tried); Tried is
// honoured; Unavailable and Exhausted are told apart. Every policy must agree.
func TestPickTiers(t *testing.T) {
	t.Parallel()
	const (
		p0, p1, p2, b0, b1 = 0, 1, 2, 3, 4
	)
	tests := []struct {
		name  string
		down  []int // active check down
		eject []int // ejected by outlier detection
		tried []int
		want  []int // the backends that may be picked; empty: none
		out   Outcome
	}{
		{name: "primaries only", want: []int{p0, p1, p2}, out: Picked},
		{name: "one primary down", down: []int{p1}, want: []int{p0, p2}, out: Picked},
		{name: "one primary ejected", eject: []int{p0}, want: []int{p1, p2}, out: Picked},
		{name: "tried primaries skipped", tried: []int{p0, p2}, want: []int{p1}, out: Picked},
		// Regression: a request whose every primary failed (refused its connection, say) got 502
		// while a backup was up; with two primaries and one backup, the default
		// max_ejected_percent never let outlier detection eject both, so the backup never served.
		{name: "primaries all tried: backups", tried: []int{p0, p1, p2}, want: []int{b0, b1}, out: Picked},
		{name: "primaries tried or down: backups", down: []int{p0}, eject: []int{p1}, tried: []int{p2}, want: []int{b0, b1}, out: Picked},
		{name: "primaries and backups all tried", tried: []int{p0, p1, p2, b0, b1}, out: Exhausted},
		{name: "primaries tried, backups tried or down", tried: []int{p0, p1, p2, b1}, down: []int{b0}, out: Exhausted},
		{name: "primaries all unavailable: backups", down: []int{p0, p1}, eject: []int{p2}, want: []int{b0, b1}, out: Picked},
		{name: "backups: tried skipped", down: []int{p0, p1, p2}, tried: []int{b1}, want: []int{b0}, out: Picked},
		{name: "backups all tried", down: []int{p0, p1, p2}, tried: []int{b0, b1}, out: Exhausted},
		{name: "everything unavailable", down: []int{p0, p1, p2, b0}, eject: []int{b1}, out: Unavailable},
		{name: "everything unavailable and tried", down: []int{p0, p1, p2, b0, b1}, tried: []int{p0, b0}, out: Unavailable},
	}
	for _, policy := range allPolicies() {
		for _, tt := range tests {
			t.Run(policy+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				clk := newClock()
				now := clk.nano()
				bs := backends(1, 2, 3, 1, 2)
				bs[b0].Backup, bs[b1].Backup = true, true
				for _, i := range tt.down {
					bs[i].State.SetActive(false, now)
				}
				for _, i := range tt.eject {
					bs[i].State.Eject(now + int64(time.Minute))
				}
				p := mustPool(t, Config{Policy: policy}, bs, clk)
				r := &Request{}
				for _, i := range tt.tried {
					r.Tried = append(r.Tried, bs[i])
				}
				allowed := map[*upstream.Backend]bool{}
				for _, i := range tt.want {
					allowed[bs[i]] = true
				}
				seen := map[*upstream.Backend]bool{}
				for k := range 300 {
					r.Key = append(r.Key[:0], byte(k), byte(k>>8)) // hash: many keys
					be, out := p.Pick(r)
					if out != tt.out {
						t.Fatalf("outcome %v, want %v", out, tt.out)
					}
					if (be != nil) != (out == Picked) {
						t.Fatalf("backend %v with outcome %v", be, out)
					}
					if be != nil && !allowed[be] {
						t.Fatalf("picked %s, want one of %v", be.Addr, tt.want)
					}
					seen[be] = true
				}
				if tt.out == Picked && len(seen) != len(tt.want) {
					t.Errorf("picked %d distinct backends, want all %d allowed", len(seen), len(tt.want))
				}
			})
		}
	}
}

// An ejection ends by itself: the backend is picked again once its time has passed.
func TestEjectionEnds(t *testing.T) {
	t.Parallel()
	clk := newClock()
	bs := backends(1)
	p := mustPool(t, Config{}, bs, clk)
	bs[0].State.Eject(clk.nano() + int64(30*time.Second))
	if _, out := p.Pick(&Request{}); out != Unavailable {
		t.Fatalf("ejected lone backend: %v", out)
	}
	clk.add(30 * time.Second)
	if be, out := p.Pick(&Request{}); out != Picked || be != bs[0] {
		t.Fatalf("after the ejection: %v", out)
	}
}

func TestEmptyPool(t *testing.T) {
	t.Parallel()
	for _, policy := range allPolicies() {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			p := mustPool(t, Config{Policy: policy}, nil, newClock())
			if be, out := p.Pick(&Request{Key: []byte("k")}); be != nil || out != Unavailable {
				t.Fatalf("empty pool: %v %v", be, out)
			}
			bs := backends(1, 1)
			p.SetBackends(bs)
			if be, out := p.Pick(&Request{Key: []byte("k")}); be == nil || out != Picked {
				t.Fatalf("after SetBackends: %v %v", be, out)
			}
			if got := p.Backends(); len(got) != 2 || got[0] != bs[0] || got[1] != bs[1] {
				t.Fatalf("Backends() = %v", got)
			}
		})
	}
}

// SetBackends swaps the set while Picks run (go test -race): every pick comes from the old set or
// the new one.
func TestSetBackendsConcurrent(t *testing.T) {
	t.Parallel()
	const (
		pickers = 4
		minPick = 300 // each picker picks at least this often
		minSwap = 6   // and until the set was swapped this often
	)
	cfgs := []Config{
		{Policy: PolicyP2CEWMA}, {Policy: PolicyRoundRobin}, {Policy: PolicyWeightedRoundRobin},
		{Policy: PolicyLeastConn}, {Policy: PolicyRandom},
		{Policy: PolicyConsistentHash, Hash: HashConfig{Key: "path"}},
		{Policy: PolicyConsistentHash, Hash: HashConfig{Key: "path", Algorithm: HashAlgorithmRing}},
	}
	for _, cfg := range cfgs {
		t.Run(cfg.Policy+cfg.Hash.Algorithm, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			a := backends(1, 2, 3)
			b := backends(2, 2, 1, 1, 4) // 10.0.0.1-3 again as other Backend values, and two more
			b[4].Backup = true
			valid := map[*upstream.Backend]bool{}
			for _, be := range append(append([]*upstream.Backend{}, a...), b...) {
				valid[be] = true
			}
			cfg.SlowStart = time.Second
			cfg.Sticky = &StickyConfig{Cookie: "gh", Secret: []byte("0123456789abcdef")}
			p, err := NewPool("race", cfg, a, clk.now)
			if err != nil {
				t.Fatal(err)
			}
			cookie := p.AppendSetCookie(nil, a[1])
			cookie = cookie[len("gh=") : len("gh=")+stickyValueLen]
			var swaps, bad atomic.Int64
			var wg sync.WaitGroup
			for g := range pickers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := &Request{Key: []byte{byte(g)}}
					if g == 0 {
						r.Sticky = cookie
					}
					for n := 0; n < minPick || swaps.Load() < minSwap; n++ {
						be, out := p.Pick(r)
						if out != Picked || !valid[be] {
							bad.Add(1)
							continue
						}
						be.State.Begin()
						be.State.ObserveLatency(time.Millisecond, clk.nano())
						be.State.End()
						p.StickyFor(r, be)
						p.CountRequest()
						p.AllowRetry()
						if n%64 == 0 {
							runtime.Gosched() // let the swapper in
						}
					}
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			for k := 0; ; k++ {
				select {
				case <-done:
					if n := bad.Load(); n != 0 {
						t.Fatalf("%d picks outside the sets", n)
					}
					return
				default:
				}
				if k%2 == 0 {
					p.SetBackends(b)
				} else {
					p.SetBackends(a)
				}
				swaps.Add(1)
				clk.add(10 * time.Millisecond)
				_ = p.AppendSetCookie(nil, a[0])
			}
		})
	}
}

// The round-robin position survives SetBackends.
func TestSetBackendsKeepsRotation(t *testing.T) {
	t.Parallel()
	clk := newClock()
	bs := backends(1, 1, 1, 1)
	p := mustPool(t, Config{Policy: PolicyRoundRobin}, bs, clk)
	p.Pick(&Request{})
	p.Pick(&Request{})
	p.SetBackends(bs)
	if be, _ := p.Pick(&Request{}); be != bs[2] {
		t.Fatalf("after SetBackends picked %s, want the third backend", be.Addr)
	}
}

// SetBackends starts a slow start for new addresses only.
func TestSetBackendsRampsNewAddresses(t *testing.T) {
	t.Parallel()
	clk := newClock()
	bs := backends(1, 1, 1)
	p := mustPool(t, Config{SlowStart: time.Minute}, bs[:2], clk)
	if r := bs[0].State.Ramp(clk.nano(), time.Minute); r != 1 {
		t.Fatalf("first set ramped: %v", r)
	}
	same := &upstream.Backend{Addr: bs[0].Addr, Weight: 1} // a reload's new value for an old address
	p.SetBackends([]*upstream.Backend{same, bs[1], bs[2]})
	now := clk.nano()
	if r := same.State.Ramp(now, time.Minute); r != 1 {
		t.Errorf("known address ramped: %v", r)
	}
	if r := bs[2].State.Ramp(now, time.Minute); r != 0.1 {
		t.Errorf("new address: ramp %v, want 0.1", r)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef")
	tests := []struct {
		name     string
		cfg      Config
		err      bool
		key      KeyKind
		keyName  string
		sticky   string
		budget   float64
		minRetry int
	}{
		{name: "zero value", cfg: Config{}, budget: 0.2, minRetry: 3},
		{name: "hash defaults", cfg: Config{Policy: "consistent_hash"}, key: KeyClientIP, budget: 0.2, minRetry: 3},
		{name: "hash header", cfg: Config{Policy: "consistent_hash", Hash: HashConfig{Key: "header", Name: "X-User", Algorithm: "ring", LoadFactor: 2}}, key: KeyHeader, keyName: "X-User", budget: 0.2, minRetry: 3},
		{name: "hash path", cfg: Config{Policy: "consistent_hash", Hash: HashConfig{Key: "path"}}, key: KeyPath, budget: 0.2, minRetry: 3},
		{name: "hash unbounded", cfg: Config{Policy: "consistent_hash", Hash: HashConfig{LoadFactor: math.Inf(1)}}, key: KeyClientIP, budget: 0.2, minRetry: 3},
		{name: "hash settings ignored by others", cfg: Config{Policy: "least_conn", Hash: HashConfig{Key: "bogus"}}, budget: 0.2, minRetry: 3},
		{name: "sticky", cfg: Config{Policy: "round_robin", Sticky: &StickyConfig{Cookie: "gh_srv", Secret: secret}}, sticky: "gh_srv", budget: 0.2, minRetry: 3},
		{name: "retry settings", cfg: Config{RetryBudget: 0.5, MinRetries: 7}, budget: 0.5, minRetry: 7},
		{name: "no minimum retries", cfg: Config{MinRetries: -1}, budget: 0.2, minRetry: 0},
		{name: "unknown policy", cfg: Config{Policy: "fastest"}, err: true},
		{name: "unknown key", cfg: Config{Policy: "consistent_hash", Hash: HashConfig{Key: "query"}}, err: true},
		{name: "header without name", cfg: Config{Policy: "consistent_hash", Hash: HashConfig{Key: "header"}}, err: true},
		{name: "cookie without name", cfg: Config{Policy: "consistent_hash", Hash: HashConfig{Key: "cookie"}}, err: true},
		{name: "unknown algorithm", cfg: Config{Policy: "consistent_hash", Hash: HashConfig{Algorithm: "rendezvous"}}, err: true},
		{name: "load factor below 1", cfg: Config{Policy: "consistent_hash", Hash: HashConfig{LoadFactor: 0.9}}, err: true},
		{name: "load factor NaN", cfg: Config{Policy: "consistent_hash", Hash: HashConfig{LoadFactor: math.NaN()}}, err: true},
		{name: "sticky without cookie", cfg: Config{Sticky: &StickyConfig{Secret: secret}}, err: true},
		{name: "sticky bad cookie name", cfg: Config{Sticky: &StickyConfig{Cookie: "a b", Secret: secret}}, err: true},
		{name: "sticky short secret", cfg: Config{Sticky: &StickyConfig{Cookie: "s", Secret: []byte("short")}}, err: true},
		{name: "sticky negative max age", cfg: Config{Sticky: &StickyConfig{Cookie: "s", Secret: secret, MaxAge: -time.Second}}, err: true},
		{name: "negative slow start", cfg: Config{SlowStart: -time.Second}, err: true},
		{name: "budget above 1", cfg: Config{RetryBudget: 1.5}, err: true},
		{name: "budget negative", cfg: Config{RetryBudget: -0.1}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := NewPool("web", tt.cfg, backends(1), time.Now)
			if tt.err {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("error %v, want one wrapping ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k, name := p.HashKey(); k != tt.key || name != tt.keyName {
				t.Errorf("HashKey() = %v %q, want %v %q", k, name, tt.key, tt.keyName)
			}
			if got := p.StickyCookie(); got != tt.sticky {
				t.Errorf("StickyCookie() = %q, want %q", got, tt.sticky)
			}
			if p.retry.ratio != tt.budget || p.retry.floor != float64(tt.minRetry*retryWindow) {
				t.Errorf("retry budget %v floor %v, want %v and %d", p.retry.ratio, p.retry.floor, tt.budget, tt.minRetry*retryWindow)
			}
			if p.Name() != "web" {
				t.Errorf("Name() = %q", p.Name())
			}
		})
	}
	if _, err := NewPool("web", Config{}, []*upstream.Backend{nil}, time.Now); err == nil {
		t.Error("nil backend accepted")
	}
}

// Pick, sticky checks and the retry budget allocate nothing.
func TestNoAllocs(t *testing.T) {
	for _, policy := range allPolicies() {
		t.Run(policy, func(t *testing.T) {
			clk := newClock()
			bs := backends(1, 2, 3, 1, 2, 3, 1, 2, 3, 1)
			bs[3].State.SetActive(false, clk.nano())
			p, err := NewPool("bench", Config{Policy: policy, SlowStart: time.Minute, Sticky: &StickyConfig{Cookie: "s", Secret: []byte("0123456789abcdef")}}, bs, clk.now)
			if err != nil {
				t.Fatal(err)
			}
			bs[5].State.StartRamp(clk.nano())
			cookie := p.AppendSetCookie(nil, bs[2])[2 : 2+stickyValueLen]
			r := &Request{Key: []byte("user-42"), Tried: []*upstream.Backend{bs[0]}}
			rs := &Request{Sticky: cookie}
			buf := make([]byte, 0, 128)
			allocs := testing.AllocsPerRun(1000, func() {
				be, _ := p.Pick(r)
				be.State.Begin()
				be.State.End()
				be, _ = p.Pick(rs)
				p.StickyFor(rs, be)
				buf = p.AppendSetCookie(buf[:0], be)
				p.CountRequest()
				p.AllowRetry()
			})
			if allocs != 0 {
				t.Fatalf("%v allocs per run", allocs)
			}
		})
	}
}
