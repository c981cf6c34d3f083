package balance

import (
	"fmt"
	"math"
	"net/netip"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// XXH64 reference values (seed 0), as published with xxHash and produced by cespare/xxhash.
func TestHash64(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want uint64
	}{
		{name: "empty", in: "", want: 0xef46db3751d8e999},
		{name: "a", in: "a", want: 0xd24ec4f1a98c6e5b},
		{name: "abc", in: "abc", want: 0x44bc2cf5ad770999},
		{name: "9 bytes", in: "gatehouse", want: 0x70cd280697d78909},
		{name: "36 bytes, stripes", in: "0123456789abcdef0123456789abcdef0123", want: 0xc4255ba3d1af5461},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := hash64([]byte(tt.in), 0); got != tt.want {
				t.Fatalf("hash64(%q) = %#x, want %#x", tt.in, got, tt.want)
			}
		})
	}
}

func hashPool(t testing.TB, algo string, bs []*upstream.Backend) *Pool {
	t.Helper()
	return mustPool(t, Config{Policy: PolicyConsistentHash, Hash: HashConfig{Key: "header", Name: "X-User", Algorithm: algo}}, bs, newClock())
}

// owners maps each of n keys to the address of the backend it picks.
func owners(t testing.TB, p *Pool, n int) []string {
	t.Helper()
	out := make([]string, n)
	var r Request
	buf := make([]byte, 0, 32)
	for k := range out {
		buf = fmt.Appendf(buf[:0], "user-%d", k)
		r.Key = buf
		be, o := p.Pick(&r)
		if o != Picked {
			t.Fatalf("Pick: %v", o)
		}
		out[k] = be.Addr
	}
	return out
}

// Adding or removing one backend of n moves about 1/n of the keys, and keys whose backend did not
// change mostly stay where they were.
func TestConsistentHashMovesFewKeys(t *testing.T) {
	t.Parallel()
	const keys = 100_000
	for _, algo := range []string{HashAlgorithmMaglev, HashAlgorithmRing} {
		t.Run(algo, func(t *testing.T) {
			t.Parallel()
			const n = 10
			bs := backends(make([]int, n+1)...) // weight 0 counts as 1
			before := owners(t, hashPool(t, algo, bs[:n]), keys)

			t.Run("add", func(t *testing.T) {
				after := owners(t, hashPool(t, algo, bs), keys)
				moved, elsewhere := 0, 0
				for k := range before {
					if before[k] != after[k] {
						moved++
						if after[k] != bs[n].Addr {
							elsewhere++ // moved between two old backends
						}
					}
				}
				t.Logf("moved %d keys (%d between unchanged backends)", moved, elsewhere)
				if limit := 1.3 * keys / (n + 1); float64(moved) > limit {
					t.Errorf("adding 1 backend to %d moved %d keys, want ≤ %.0f", n, moved, limit)
				}
				if moved < keys/(n+1)/2 {
					t.Errorf("the new backend took only %d keys", moved)
				}
				if float64(elsewhere) > 0.02*keys {
					t.Errorf("%d keys moved between backends that did not change", elsewhere)
				}
			})
			t.Run("remove", func(t *testing.T) {
				gone := bs[3].Addr
				rest := append(append([]*upstream.Backend{}, bs[:3]...), bs[4:n]...)
				after := owners(t, hashPool(t, algo, rest), keys)
				moved, stayed, kept := 0, 0, 0
				for k := range before {
					if before[k] != after[k] {
						moved++
					}
					if before[k] != gone {
						kept++
						if before[k] == after[k] {
							stayed++
						}
					}
				}
				t.Logf("moved %d keys; %d of %d on the remaining backends stayed", moved, stayed, kept)
				if limit := 1.3 * keys / n; float64(moved) > limit {
					t.Errorf("removing 1 backend of %d moved %d keys, want ≤ %.0f", n, moved, limit)
				}
				if float64(stayed) < 0.98*float64(kept) {
					t.Errorf("only %d of %d keys on the remaining backends stayed", stayed, kept)
				}
			})
		})
	}
}

// Keys spread over backends in proportion to weight.
func TestConsistentHashSpread(t *testing.T) {
	t.Parallel()
	const keys = 100_000
	tests := []struct {
		algo string
		tol  float64
	}{
		{algo: HashAlgorithmMaglev, tol: 0.05},
		{algo: HashAlgorithmRing, tol: 0.25}, // 128 points per weight: a few % of spread per point set
	}
	for _, tt := range tests {
		t.Run(tt.algo, func(t *testing.T) {
			t.Parallel()
			bs := backends(1, 1, 2, 4)
			got := owners(t, hashPool(t, tt.algo, bs), keys)
			counts := make([]int, len(bs))
			for _, a := range got {
				for i, be := range bs {
					if be.Addr == a {
						counts[i]++
					}
				}
			}
			t.Logf("keys per backend %v", counts)
			checkShares(t, counts, floats(1, 1, 2, 4), tt.tol)
		})
	}
}

// A fleet agrees: pools built from the same addresses in another order, with other Backend values,
// map keys identically.
func TestConsistentHashDeterministic(t *testing.T) {
	t.Parallel()
	for _, algo := range []string{HashAlgorithmMaglev, HashAlgorithmRing} {
		t.Run(algo, func(t *testing.T) {
			t.Parallel()
			a := backends(1, 2, 1, 1, 3)
			b := backends(1, 2, 1, 1, 3)
			b[0], b[4], b[1] = b[4], b[1], b[0]
			x, y := owners(t, hashPool(t, algo, a), 10_000), owners(t, hashPool(t, algo, b), 10_000)
			for k := range x {
				if x[k] != y[k] {
					t.Fatalf("key %d: %s in one process, %s in another", k, x[k], y[k])
				}
			}
		})
	}
}

// A hot key hammering one backend: bounded loads keep every backend's in-flight count within
// ceil(c × average) while requests pile up (Begin without End).
func TestBoundedLoad(t *testing.T) {
	t.Parallel()
	const c = 1.25
	for _, algo := range []string{HashAlgorithmMaglev, HashAlgorithmRing} {
		t.Run(algo, func(t *testing.T) {
			t.Parallel()
			bs := backends(1, 1, 1, 1, 1, 1, 1, 1)
			p := mustPool(t, Config{Policy: PolicyConsistentHash, Hash: HashConfig{Key: "path", Algorithm: algo, LoadFactor: c}}, bs, newClock())
			hot := &Request{Key: []byte("/hot/item")}
			owner, _ := p.Pick(hot)
			cold := &Request{}
			for k := range 2000 {
				r := hot
				if k%10 == 9 { // some other keys too
					cold.Key = fmt.Appendf(cold.Key[:0], "/cold/%d", k)
					r = cold
				}
				be, o := p.Pick(r)
				if o != Picked {
					t.Fatalf("Pick: %v", o)
				}
				be.State.Begin()
				total := int64(k + 1)
				limit := int64(math.Ceil(c * float64(total) / float64(len(bs))))
				for _, b := range bs {
					if n := b.State.InFlight(); n > limit {
						t.Fatalf("after %d requests %s holds %d in flight, cap %d", total, b.Addr, n, limit)
					}
				}
			}
			if n, want := owner.State.InFlight(), int64(math.Ceil(c*2000/8))-1; n < want {
				t.Errorf("hot key's owner holds %d in flight, want its cap (≥ %d)", n, want)
			}
		})
	}
}

// Unbounded (c = +Inf): the key's backend takes everything.
func TestUnboundedHash(t *testing.T) {
	t.Parallel()
	bs := backends(1, 1, 1)
	p := mustPool(t, Config{Policy: PolicyConsistentHash, Hash: HashConfig{Key: "cookie", Name: "sid", LoadFactor: math.Inf(1)}}, bs, newClock())
	r := &Request{Key: []byte("abc")}
	owner, _ := p.Pick(r)
	for range 100 {
		be, _ := p.Pick(r)
		if be != owner {
			t.Fatal("unbounded hash moved a key")
		}
		be.State.Begin()
	}
	owner.State.SetActive(false, 0)
	if be, _ := p.Pick(r); be == owner || be == nil {
		t.Fatal("a down owner was not skipped")
	}
}

// The client_ip key hashes Request.ClientIP; IPv4 and its IPv4-mapped IPv6 form agree.
func TestHashClientIP(t *testing.T) {
	t.Parallel()
	bs := backends(1, 1, 1, 1, 1, 1)
	p := mustPool(t, Config{Policy: PolicyConsistentHash}, bs, newClock())
	if k, name := p.HashKey(); k != KeyClientIP || name != "" {
		t.Fatalf("HashKey() = %v %q", k, name)
	}
	seen := map[*upstream.Backend]bool{}
	for i := range 64 {
		ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		a, _ := p.Pick(&Request{ClientIP: ip})
		b, _ := p.Pick(&Request{ClientIP: netip.AddrFrom16(ip.As16())})
		c, _ := p.Pick(&Request{ClientIP: ip, Key: []byte("ignored")})
		if a != b || a != c {
			t.Fatalf("%v: %s, %s, %s", ip, a.Addr, b.Addr, c.Addr)
		}
		seen[a] = true
	}
	if len(seen) < 4 {
		t.Fatalf("64 addresses went to %d backends", len(seen))
	}
}
