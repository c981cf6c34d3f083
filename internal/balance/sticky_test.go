package balance

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// testSecret keys the sticky cookies of the tests.
const testSecret = "correct horse battery staple"

func stickyPool(t testing.TB, bs []*upstream.Backend, secret string, clk *fakeClock) *Pool {
	t.Helper()
	return mustPool(t, Config{Policy: PolicyRoundRobin, Sticky: &StickyConfig{Cookie: "gh_srv", Secret: []byte(secret)}}, bs, clk)
}

// cookieValue is the value AppendSetCookie gives be.
func cookieValue(t testing.TB, p *Pool, be *upstream.Backend) []byte {
	t.Helper()
	v := p.AppendSetCookie(nil, be)
	name, rest, ok := bytes.Cut(v, []byte("="))
	if !ok || string(name) != p.StickyCookie() {
		t.Fatalf("Set-Cookie %q", v)
	}
	val, _, _ := bytes.Cut(rest, []byte(";"))
	return val
}

func TestStickyCookieFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  StickyConfig
		want string // with V for the value
	}{
		{name: "session", cfg: StickyConfig{Cookie: "gh_srv"}, want: "gh_srv=V; Path=/; HttpOnly; SameSite=Lax"},
		{name: "max age rounded up", cfg: StickyConfig{Cookie: "srv", MaxAge: time.Hour + time.Millisecond}, want: "srv=V; Path=/; HttpOnly; SameSite=Lax; Max-Age=3601"},
		{name: "secure", cfg: StickyConfig{Cookie: "srv", MaxAge: time.Minute, Secure: true}, want: "srv=V; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Secret = []byte(testSecret)
			bs := backends(1, 1)
			p := mustPool(t, Config{Sticky: &cfg}, bs, newClock())
			v := cookieValue(t, p, bs[0])
			if len(v) != stickyValueLen || v[stickyIDLen] != '.' || strings.ContainsAny(string(v), "+/=;, \"") {
				t.Fatalf("value %q", v)
			}
			if got, want := string(p.AppendSetCookie([]byte("x"), bs[0])), "x"+strings.Replace(tt.want, "V", string(v), 1); got != want {
				t.Fatalf("Set-Cookie %q, want %q", got, want)
			}
			if bytes.Equal(v, cookieValue(t, p, bs[1])) {
				t.Fatal("two backends share a cookie value")
			}
		})
	}
}

// A valid cookie pins its backend, and survives a pool rebuilt from the same addresses and secret
// (a reload, or another gateway of the fleet).
func TestStickyPinsAndSurvivesReload(t *testing.T) {
	t.Parallel()
	clk := newClock()
	bs := backends(1, 1, 1, 1)
	p := stickyPool(t, bs, testSecret, clk)
	r := &Request{}
	if p.StickyFor(r, bs[2]) {
		t.Fatal("StickyFor without a cookie")
	}
	r.Sticky = cookieValue(t, p, bs[2])
	for range 20 {
		if be, _ := p.Pick(r); be != bs[2] {
			t.Fatalf("cookie for %s picked %s", bs[2].Addr, be.Addr)
		}
	}
	if !p.StickyFor(r, bs[2]) || p.StickyFor(r, bs[1]) {
		t.Fatal("StickyFor disagrees with the cookie")
	}

	reloaded := backends(1, 1, 1, 1, 1) // new Backend values, same addresses, one more, other order
	reloaded[0], reloaded[2] = reloaded[2], reloaded[0]
	q := stickyPool(t, reloaded, testSecret, newClock())
	for range 20 {
		if be, _ := q.Pick(r); be.Addr != bs[2].Addr {
			t.Fatalf("after the reload the cookie picked %s, want %s", be.Addr, bs[2].Addr)
		}
	}
	if !q.StickyFor(r, reloaded[0]) {
		t.Fatal("after the reload StickyFor is false")
	}
}

// A cookie cannot be forged: anything but the exact value is ignored and the policy picks.
func TestStickyForgery(t *testing.T) {
	t.Parallel()
	clk := newClock()
	bs := backends(1, 1, 1)
	p := stickyPool(t, bs, testSecret, clk)
	good := cookieValue(t, p, bs[1])
	other := cookieValue(t, p, bs[0])
	otherSecret := cookieValue(t, stickyPool(t, bs, "another secret of 16+ bytes", clk), bs[1])
	flip := func(i int) []byte {
		v := append([]byte(nil), good...)
		if v[i] == 'A' {
			v[i] = 'B'
		} else {
			v[i] = 'A'
		}
		return v
	}
	tests := []struct {
		name  string
		value []byte
	}{
		{name: "tampered mac", value: flip(len(good) - 1)},
		{name: "tampered id", value: flip(0)},
		{name: "other secret", value: otherSecret},
		{name: "other backend's id with this mac", value: append(append([]byte{}, other[:stickyIDLen]...), good[stickyIDLen:]...)},
		{name: "id only", value: good[:stickyIDLen]},
		{name: "truncated", value: good[:len(good)-1]},
		{name: "extended", value: append(append([]byte{}, good...), 'A')},
		{name: "address", value: []byte(bs[1].Addr)},
		{name: "empty mac", value: append(append([]byte{}, good[:stickyIDLen]...), ".AAAAAAAAAAAAAAAA"...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := stickyPool(t, bs, testSecret, newClock()) // its own round-robin position
			r := &Request{Sticky: tt.value}
			if q.StickyFor(r, bs[1]) || q.StickyFor(r, bs[0]) {
				t.Fatal("StickyFor accepted a forged cookie")
			}
			counts := pickCounts(t, q, bs, r, 300)
			if counts[0] != 100 || counts[1] != 100 || counts[2] != 100 {
				t.Fatalf("forged cookie changed the picks: %v", counts)
			}
		})
	}
}

// A cookie naming an unavailable or tried backend falls back to the policy; one naming a backup is
// honoured only while no primary is available.
func TestStickyFallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		named  int
		setup  func(bs []*upstream.Backend, now int64) []*upstream.Backend // returns Tried
		expect func(t *testing.T, bs []*upstream.Backend, counts []int)
	}{
		{
			name: "named backend ejected", named: 1,
			setup: func(bs []*upstream.Backend, now int64) []*upstream.Backend {
				bs[1].State.Eject(now + int64(time.Minute))
				return nil
			},
			expect: func(t *testing.T, bs []*upstream.Backend, c []int) {
				if c[1] != 0 || c[0] == 0 || c[2] == 0 {
					t.Fatalf("picks %v", c)
				}
			},
		},
		{
			name: "named backend down", named: 0,
			setup: func(bs []*upstream.Backend, now int64) []*upstream.Backend {
				bs[0].State.SetActive(false, now)
				return nil
			},
			expect: func(t *testing.T, bs []*upstream.Backend, c []int) {
				if c[0] != 0 || c[1] == 0 || c[2] == 0 {
					t.Fatalf("picks %v", c)
				}
			},
		},
		{
			name: "named backend tried", named: 2,
			setup: func(bs []*upstream.Backend, now int64) []*upstream.Backend {
				return []*upstream.Backend{bs[2]}
			},
			expect: func(t *testing.T, bs []*upstream.Backend, c []int) {
				if c[2] != 0 || c[0] == 0 || c[1] == 0 {
					t.Fatalf("picks %v", c)
				}
			},
		},
		{
			name: "backup while primaries are up", named: 3,
			setup: func(bs []*upstream.Backend, now int64) []*upstream.Backend { return nil },
			expect: func(t *testing.T, bs []*upstream.Backend, c []int) {
				if c[3] != 0 {
					t.Fatalf("picks %v", c)
				}
			},
		},
		{
			name: "backup while primaries are down", named: 3,
			setup: func(bs []*upstream.Backend, now int64) []*upstream.Backend {
				for _, be := range bs[:3] {
					be.State.SetActive(false, now)
				}
				return nil
			},
			expect: func(t *testing.T, bs []*upstream.Backend, c []int) {
				if c[3] != 300 {
					t.Fatalf("picks %v", c)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			bs := backends(1, 1, 1, 1, 1)
			bs[3].Backup, bs[4].Backup = true, true
			p := stickyPool(t, bs, testSecret, clk)
			r := &Request{Sticky: cookieValue(t, p, bs[tt.named])}
			r.Tried = tt.setup(bs, clk.nano())
			tt.expect(t, bs, pickCounts(t, p, bs, r, 300))
		})
	}
}

// Whatever a client sends, lookup accepts exactly the values the pool issued.
func FuzzStickyLookup(f *testing.F) {
	bs := backends(1, 1, 1)
	p, err := NewPool("fuzz", Config{Sticky: &StickyConfig{Cookie: "s", Secret: []byte(testSecret)}}, bs, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	s := p.cur.Load().sticky
	for _, v := range s.values {
		f.Add(v)
		f.Add(v[:len(v)-1])
	}
	f.Add([]byte("AAAAAAAA.AAAAAAAAAAAAAAAA"))
	f.Add([]byte(""))
	f.Add([]byte("........................."))
	f.Fuzz(func(t *testing.T, v []byte) {
		i := s.lookup(v)
		if i < 0 {
			for _, want := range s.values {
				if bytes.Equal(v, want) {
					t.Fatalf("issued value %q rejected", v)
				}
			}
			return
		}
		if !bytes.Equal(v, s.values[i]) {
			t.Fatalf("%q accepted as backend %d", v, i)
		}
	})
}
