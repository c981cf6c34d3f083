package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/gatehouse-proxy/gatehouse/internal/dnstest"
)

const testInterval = 20 * time.Millisecond

// logRecorder collects logf lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

// count returns how many lines contain s.
func (r *logRecorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// changes records onChange calls.
type changes chan []string

func newChanges() changes { return make(changes, 1000) }

func (c changes) onChange(addrs []string) { c <- addrs }

// next waits for the next onChange call and checks its list.
func (c changes) next(t *testing.T, want ...string) {
	t.Helper()
	select {
	case got := <-c:
		if !slices.Equal(got, want) {
			t.Fatalf("onChange(%q), want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no onChange, want %q", want)
	}
}

// none checks that onChange has not been called.
func (c changes) none(t *testing.T) {
	t.Helper()
	select {
	case got := <-c:
		t.Fatalf("unexpected onChange(%q)", got)
	default:
	}
}

// newWatcher returns a Watcher over s, closed when the test ends.
func newWatcher(t *testing.T, s *dnstest.Server, cfg Config, logf func(string, ...any)) *Watcher {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = testInterval
	}
	w := NewWatcher(NewResolver(s.Addr()), cfg, logf)
	t.Cleanup(w.Close)
	return w
}

// waitQueries waits until s has read n more queries than it had when called, so that the
// watcher has gone through several rounds.
func waitQueries(t *testing.T, s *dnstest.Server, n int) {
	t.Helper()
	u0, t0 := s.Queries()
	waitFor(t, fmt.Sprintf("%d more queries", n), func() bool {
		u, tc := s.Queries()
		return u+tc-u0-t0 >= n
	})
}

func TestWatchInitialSet(t *testing.T) {
	tests := []struct {
		name      string
		family    string
		records   []string
		duplicate bool
		want      []string
	}{
		{name: "A records in address order", records: []string{"10.0.0.10", "10.0.0.9", "10.0.0.1"}, want: []string{"10.0.0.1:80", "10.0.0.9:80", "10.0.0.10:80"}},
		{name: "A and AAAA, IPv6 bracketed", records: []string{"2001:db8::1", "10.0.0.1"}, want: []string{"10.0.0.1:80", "[2001:db8::1]:80"}},
		{name: "ip family is both", family: "ip", records: []string{"2001:db8::1", "10.0.0.1"}, want: []string{"10.0.0.1:80", "[2001:db8::1]:80"}},
		{name: "ip4 only", family: "ip4", records: []string{"2001:db8::1", "10.0.0.1"}, want: []string{"10.0.0.1:80"}},
		{name: "ip6 only", family: "ip6", records: []string{"2001:db8::2", "10.0.0.1", "2001:db8::1"}, want: []string{"[2001:db8::1]:80", "[2001:db8::2]:80"}},
		{name: "AAAA only with both families", records: []string{"2001:db8::1"}, want: []string{"[2001:db8::1]:80"}},
		{name: "duplicates removed", duplicate: true, records: []string{"10.0.0.2", "10.0.0.1", "2001:db8::1"}, want: []string{"10.0.0.1:80", "10.0.0.2:80", "[2001:db8::1]:80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			s.Set("web.test", tt.records...)
			s.SetDuplicate(tt.duplicate)
			w := newWatcher(t, s, Config{Family: tt.family}, t.Logf)
			got, err := w.Watch("web.test", "80", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Watch = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWatchFollowsChanges(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("web.test", "10.0.0.1", "10.0.0.2")
	ch := newChanges()
	w := newWatcher(t, s, Config{}, t.Logf)
	got, err := w.Watch("web.test", "8080", ch.onChange)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.1:8080", "10.0.0.2:8080"}; !slices.Equal(got, want) {
		t.Fatalf("Watch = %q, want %q", got, want)
	}

	s.Set("web.test", "10.0.0.1", "10.0.0.2", "10.0.0.3")
	ch.next(t, "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080")

	s.Set("web.test", "10.0.0.3")
	ch.next(t, "10.0.0.3:8080")

	s.Set("web.test", "10.0.0.3", "2001:db8::7")
	ch.next(t, "10.0.0.3:8080", "[2001:db8::7]:8080")

	s.Set("web.test", "2001:db8::7")
	ch.next(t, "[2001:db8::7]:8080")

	waitQueries(t, s, 6) // several rounds with the same answer: no call
	ch.none(t)
}

// Each host is watched on its own.
func TestWatchSeveralHosts(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("a.test", "10.0.0.1")
	s.Set("b.test", "10.0.1.1")
	cha, chb := newChanges(), newChanges()
	w := newWatcher(t, s, Config{Family: "ip4"}, t.Logf)
	if _, err := w.Watch("a.test", "80", cha.onChange); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Watch("b.test", "81", chb.onChange); err != nil {
		t.Fatal(err)
	}
	s.Set("b.test", "10.0.1.2")
	chb.next(t, "10.0.1.2:81")
	s.Set("a.test", "10.0.0.2")
	cha.next(t, "10.0.0.2:80")
	chb.none(t)
}

func TestWatchKeepsLastSetOnFailure(t *testing.T) {
	tests := []struct {
		name  string
		fail  func(s *dnstest.Server)
		heal  func(s *dnstest.Server)
		match string // in the failure log line
	}{
		{
			name:  "servfail",
			fail:  func(s *dnstest.Server) { s.SetMode(dnstest.ServFail) },
			heal:  func(s *dnstest.Server) { s.SetMode(dnstest.Answer) },
			match: "SERVFAIL",
		},
		{
			name:  "no answer",
			fail:  func(s *dnstest.Server) { s.SetMode(dnstest.Drop) },
			heal:  func(s *dnstest.Server) { s.SetMode(dnstest.Answer) },
			match: "deadline exceeded",
		},
		{
			name:  "nxdomain",
			fail:  func(s *dnstest.Server) { s.Set("web.test") },
			heal:  func(s *dnstest.Server) {},
			match: "empty answer",
		},
		{
			name:  "no records of either type",
			fail:  func(s *dnstest.Server) { s.SetNoData("web.test") }, // NODATA
			heal:  func(s *dnstest.Server) {},
			match: "empty answer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			s.Set("web.test", "10.0.0.1", "2001:db8::1")
			ch := newChanges()
			var logs logRecorder
			w := newWatcher(t, s, Config{Timeout: 100 * time.Millisecond}, logs.logf)
			if _, err := w.Watch("web.test", "80", ch.onChange); err != nil {
				t.Fatal(err)
			}

			tt.fail(s)
			waitQueries(t, s, 8) // at least three failed rounds
			ch.none(t)
			if n := logs.count("lookup failed"); n != 1 {
				t.Fatalf("%d failure lines, want 1 per streak: %q", n, logs.lines)
			}
			if n := logs.count(tt.match); n != 1 {
				t.Errorf("failure line does not say %q: %q", tt.match, logs.lines)
			}

			tt.heal(s)
			s.Set("web.test", "10.0.0.2", "2001:db8::1")
			ch.next(t, "10.0.0.2:80", "[2001:db8::1]:80")
			waitFor(t, "the recovery line", func() bool { return logs.count("recovered") == 1 })

			tt.fail(s) // a second streak is logged again
			waitFor(t, "the second failure line", func() bool { return logs.count("lookup failed") == 2 })
			ch.none(t)
		})
	}
}

// When only the AAAA lookup fails, the IPv6 backends are kept and the IPv4 ones still follow DNS.
func TestWatchPartialFailure(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("web.test", "10.0.0.1", "2001:db8::1")
	ch := newChanges()
	var logs logRecorder
	w := newWatcher(t, s, Config{}, logs.logf)
	if _, err := w.Watch("web.test", "80", ch.onChange); err != nil {
		t.Fatal(err)
	}
	s.SetServFailType(dnsmessage.TypeAAAA)
	s.Set("web.test", "10.0.0.2", "2001:db8::2")
	ch.next(t, "10.0.0.2:80", "[2001:db8::1]:80")
	waitQueries(t, s, 6)
	if n := logs.count("lookup failed"); n != 1 {
		t.Fatalf("%d failure lines, want 1: %q", n, logs.lines)
	}
	s.SetServFailType(0)
	ch.next(t, "10.0.0.2:80", "[2001:db8::2]:80")
	waitFor(t, "the recovery line", func() bool { return logs.count("recovered") == 1 })
}

func TestWatchFirstLookupFails(t *testing.T) {
	tests := []struct {
		name     string
		family   string
		setup    func(s *dnstest.Server)
		notFound bool
	}{
		{name: "servfail", setup: func(s *dnstest.Server) { s.SetMode(dnstest.ServFail) }},
		{name: "no answer", setup: func(s *dnstest.Server) { s.SetMode(dnstest.Drop) }},
		{name: "nxdomain", setup: func(s *dnstest.Server) { s.Set("web.test") }, notFound: true},
		{name: "no record of the family", family: "ip6", setup: func(s *dnstest.Server) { s.Set("web.test", "10.0.0.1") }, notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			s.Set("web.test", "10.0.0.1")
			tt.setup(s)
			var calls atomic.Int32
			w := newWatcher(t, s, Config{Family: tt.family, Timeout: 100 * time.Millisecond}, t.Logf)
			got, err := w.Watch("web.test", "80", func([]string) { calls.Add(1) })
			if err == nil || got != nil {
				t.Fatalf("Watch = %q, %v; want an error", got, err)
			}
			if !strings.Contains(err.Error(), "web.test") {
				t.Errorf("error %q does not name the host", err)
			}
			var dnsErr *net.DNSError
			if isNF := errors.As(err, &dnsErr) && dnsErr.IsNotFound; isNF != tt.notFound {
				t.Errorf("error %v: not found = %v, want %v", err, isNF, tt.notFound)
			}
			// Not watched: no lookup follows, even once the name resolves.
			u0, t0 := s.Queries()
			s.SetMode(dnstest.Answer)
			s.Set("web.test", "10.0.0.1")
			time.Sleep(10 * testInterval)
			// A query of the failed lookup may still be on its way to the server: one per family.
			if u, tc := s.Queries(); u+tc > u0+t0+2 {
				t.Errorf("%d queries after a failed Watch, want none", u+tc-u0-t0)
			}
			if calls.Load() != 0 {
				t.Errorf("onChange called %d times", calls.Load())
			}
		})
	}
}

func TestWatchIPLiteral(t *testing.T) {
	tests := []struct{ name, host, want string }{
		{name: "ipv4", host: "192.0.2.1", want: "192.0.2.1:80"},
		{name: "ipv6", host: "2001:db8::1", want: "[2001:db8::1]:80"},
		{name: "ipv6 bracketed", host: "[::1]", want: "[::1]:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			w := newWatcher(t, s, Config{Family: "ip4"}, t.Logf)
			got, err := w.Watch(tt.host, "80", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, []string{tt.want}) {
				t.Fatalf("Watch = %q, want [%q]", got, tt.want)
			}
			time.Sleep(5 * testInterval)
			if u, tc := s.Queries(); u+tc != 0 {
				t.Fatalf("%d queries for an IP literal, want none", u+tc)
			}
		})
	}
}

func TestWatchInvalid(t *testing.T) {
	tests := []struct{ name, family, host, port string }{
		{name: "unknown family", family: "ipv4", host: "web.test", port: "80"},
		{name: "empty port", host: "web.test", port: ""},
		{name: "port zero", host: "web.test", port: "0"},
		{name: "port too large", host: "web.test", port: "65536"},
		{name: "named port", host: "web.test", port: "http"},
		{name: "empty host", host: "", port: "80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			s.Set("web.test", "10.0.0.1")
			w := newWatcher(t, s, Config{Family: tt.family}, t.Logf)
			if got, err := w.Watch(tt.host, tt.port, nil); err == nil {
				t.Fatalf("Watch(%q, %q) = %q, want an error", tt.host, tt.port, got)
			}
			if u, tc := s.Queries(); u+tc != 0 {
				t.Errorf("%d queries, want none", u+tc)
			}
		})
	}
}

func TestWatchClose(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("a.test", "10.0.0.1")
	s.Set("b.test", "10.0.0.2")
	var closed atomic.Bool
	var late atomic.Int32
	onChange := func([]string) {
		if closed.Load() {
			late.Add(1)
		}
	}
	w := NewWatcher(NewResolver(s.Addr()), Config{Interval: testInterval, Family: "ip4"}, t.Logf)
	for _, h := range []string{"a.test", "b.test"} {
		if _, err := w.Watch(h, "80", onChange); err != nil {
			t.Fatal(err)
		}
	}
	waitQueries(t, s, 6)
	w.Close()
	closed.Store(true)
	u0, t0 := s.Queries()

	s.Set("a.test", "10.0.0.3") // a live watch would report this
	time.Sleep(10 * testInterval)
	// A query sent just before Close may be read by the server just after: one per host.
	if u, tc := s.Queries(); u+tc > u0+t0+2 {
		t.Fatalf("%d queries after Close, want none", u+tc-u0-t0)
	}
	if late.Load() != 0 {
		t.Fatalf("onChange called %d times after Close", late.Load())
	}
	if _, err := w.Watch("a.test", "80", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Watch after Close: %v, want ErrClosed", err)
	}
	w.Close() // a second Close is harmless
}

// Close ends a first lookup in progress.
func TestWatchCloseDuringFirstLookup(t *testing.T) {
	s := dnstest.Start(t)
	s.SetMode(dnstest.Drop)
	w := NewWatcher(NewResolver(s.Addr()), Config{Interval: testInterval, Timeout: time.Minute}, t.Logf)
	done := make(chan error, 1)
	go func() {
		_, err := w.Watch("web.test", "80", nil)
		done <- err
	}()
	waitQueries(t, s, 1)
	w.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Watch = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after Close")
	}
}

// The Watcher works with *net.Resolver, whose LookupNetIP returns A records as IPv4-mapped IPv6
// addresses.
func TestWatchWithNetResolver(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("web.gatehouse.test", "10.0.0.1", "2001:db8::1")
	var d net.Dialer
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, s.Addr())
	}}
	ch := newChanges()
	w := NewWatcher(res, Config{Interval: testInterval}, t.Logf)
	t.Cleanup(w.Close)
	got, err := w.Watch("web.gatehouse.test.", "80", ch.onChange)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.1:80", "[2001:db8::1]:80"}; !slices.Equal(got, want) {
		t.Fatalf("Watch = %q, want %q", got, want)
	}
	s.Set("web.gatehouse.test", "10.0.0.2")
	ch.next(t, "10.0.0.2:80")
}

func TestFilterFamily(t *testing.T) {
	in := []netip.Addr{
		netip.MustParseAddr("10.0.0.1"),
		netip.MustParseAddr("::ffff:10.0.0.2"),
		netip.MustParseAddr("2001:db8::1"),
		{},
	}
	tests := []struct {
		name, family string
		want         []string
	}{
		{name: "ip4 unmaps", family: "ip4", want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "ip6", family: "ip6", want: []string{"2001:db8::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sortedStrings(filterFamily(in, tt.family)); !slices.Equal(got, tt.want) {
				t.Fatalf("filterFamily(%s) = %q, want %q", tt.family, got, tt.want)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
	}{
		{name: "default", interval: DefaultInterval},
		{name: "short", interval: testInterval},
		{name: "too short to jitter", interval: 5 * time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWatcher(nil, Config{Interval: tt.interval}, nil)
			lo, hi := tt.interval-tt.interval/10, tt.interval+tt.interval/10
			seen := map[time.Duration]bool{}
			for range 1000 {
				d := w.jitter()
				if d < lo || d > hi {
					t.Fatalf("jitter() = %v, want within [%v, %v]", d, lo, hi)
				}
				seen[d] = true
			}
			if tt.interval/10 > 0 && len(seen) < 100 {
				t.Fatalf("only %d distinct waits in 1000: not jittered", len(seen))
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	w := NewWatcher(nil, Config{Interval: -1}, nil)
	if w.cfg.Interval != DefaultInterval || w.cfg.Timeout != DefaultTimeout || w.cfg.Family != "ip" {
		t.Fatalf("defaults = %+v", w.cfg)
	}
	w.logf("no panic with a nil logf")
}
