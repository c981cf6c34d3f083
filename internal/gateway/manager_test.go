package gateway

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/balance"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// twoUpstreams is a config with upstream a (two backends, active HTTP checks) and upstream b (one
// backend); the %s are a1, a2 and b's addresses, then extra YAML for a's first backend.
const twoUpstreams = `
listeners: [{address: 127.0.0.1:8080}]
routes:
  - {name: ra, match: {path_regex: "^/a"}, upstream: a}
  - {name: rb, upstream: b}
upstreams:
  - name: a
    backends: [{url: "http://%s"%s}, "http://%s"]
    health:
      active: {path: /hz, interval: 20ms, timeout: 20ms, rise: 1, fall: 100}
  - name: b
    backends: ["http://%s"]
`

func twoUpstreamsYAML(a1, a1extra, a2, b string) string {
	return fmt.Sprintf(twoUpstreams, a1, a1extra, a2, b)
}

// TestApplySameConfigKeepsEverything: a reload of an unchanged config keeps every backend (with
// its pooled connections and health), pool and health checker.
func TestApplySameConfigKeepsEverything(t *testing.T) {
	t.Parallel()
	a1, a2, b := startServer(t), startServer(t), startServer(t)
	src := twoUpstreamsYAML(a1.Addr, "", a2.Addr, b.Addr)
	g := newGateway(t)
	gr1 := apply(t, g, parseConfig(t, src))
	checker := gr1.Services["a"].Checker
	before := map[string]map[string]*upstream.Backend{"a": byAddrOf(t, gr1, "a"), "b": byAddrOf(t, gr1, "b")}
	pool(t, before["b"][b.Addr], b)
	until := time.Now().Add(time.Hour).UnixNano()
	before["a"][a2.Addr].State.Eject(until)

	gr2 := apply(t, g, parseConfig(t, src))
	for _, name := range []string{"a", "b"} {
		after := byAddrOf(t, gr2, name)
		if len(after) != len(before[name]) {
			t.Fatalf("%s: %d backends, then %d", name, len(before[name]), len(after))
		}
		for addr, be := range before[name] {
			if after[addr] != be {
				t.Errorf("%s: backend %s was replaced by a reload that changed nothing", name, addr)
			}
		}
		if gr2.Services[name].Pool != gr1.Services[name].Pool {
			t.Errorf("%s: pool replaced", name)
		}
	}
	if c := gr2.Services["a"].Checker; c == nil || c != checker {
		t.Errorf("a: health checker %p, then %p: want the same one", checker, c)
	}
	if be := before["b"][b.Addr]; be.Idle() != 1 || b.open() != 1 {
		t.Errorf("b: %d idle connections, server sees %d open; want the pooled one kept", be.Idle(), b.open())
	}
	if got := before["a"][a2.Addr].State.EjectedUntil(); got != until {
		t.Errorf("a2's ejection lost: until %d, want %d", got, until)
	}
	// The checker still probes the backends it kept.
	n := a1.probes.Load()
	waitFor(t, "a probe of a1 after the reload", func() bool { return a1.probes.Load() > n })
}

// TestApplyChangedUpstream: changing one upstream's settings rebuilds only the backends that
// changed; each rebuilt backend takes over the health and latency of the one it replaces, and the
// replaced one's pooled connections are closed. The other upstream is untouched.
func TestApplyChangedUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// change rewrites the base config; replaced lists the backends of a rebuilt ("a1", "a2").
		change   func(src string) string
		replaced []string
		poolKept bool
	}{
		{"weight of one backend", func(s string) string { return strings.Replace(s, `"%A1%"}`, `"%A1%", weight: 5}`, 1) },
			[]string{"a1"}, true},
		{"backup role of one backend", func(s string) string { return strings.Replace(s, `"%A1%"}`, `"%A1%", backup: true}`, 1) },
			[]string{"a1"}, true},
		{"connection settings of the upstream", func(s string) string {
			return strings.Replace(s, "  - name: a\n", "  - name: a\n    max_idle_per_backend: 3\n", 1)
		}, []string{"a1", "a2"}, true},
		{"balancing policy", func(s string) string {
			return strings.Replace(s, "  - name: a\n", "  - name: a\n    balance: least_conn\n", 1)
		}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a1, a2, b := startServer(t), startServer(t), startServer(t)
			base := fmt.Sprintf(`
listeners: [{address: 127.0.0.1:8080}]
routes: [{name: ra, match: {path_prefix: /a}, upstream: a}, {name: rb, upstream: b}]
upstreams:
  - name: a
    backends: [{url: "%%A1%%"}, "http://%s"]
  - name: b
    backends: ["http://%s"]
`, a2.Addr, b.Addr)
			sub := func(s string) string { return strings.ReplaceAll(s, "%A1%", "http://"+a1.Addr) }
			g := newGateway(t)
			gr1 := apply(t, g, parseConfig(t, sub(base)))
			old := byAddrOf(t, gr1, "a")
			oldB := byAddrOf(t, gr1, "b")[b.Addr]
			pool(t, old[a1.Addr], a1)
			pool(t, oldB, b)
			until := time.Now().Add(time.Hour).UnixNano()
			old[a1.Addr].State.Eject(until)
			old[a2.Addr].State.ObserveLatency(40*time.Millisecond, time.Now().UnixNano())

			gr2 := apply(t, g, parseConfig(t, sub(tt.change(base))))
			now := byAddrOf(t, gr2, "a")
			for label, addr := range map[string]string{"a1": a1.Addr, "a2": a2.Addr} {
				was, is := old[addr], now[addr]
				if is == nil {
					t.Fatalf("%s is gone", label)
				}
				if slices.Contains(tt.replaced, label) == (was == is) {
					t.Errorf("%s replaced: %v, want %v", label, was != is, slices.Contains(tt.replaced, label))
				}
				// Replaced or not, the server's state is the same.
				if is.State.EjectedUntil() != was.State.EjectedUntil() || is.State.Latency(time.Now().UnixNano()) == 0 && label == "a2" {
					t.Errorf("%s: state not carried over: ejected until %d (was %d), latency %v",
						label, is.State.EjectedUntil(), was.State.EjectedUntil(), is.State.Latency(time.Now().UnixNano()))
				}
			}
			if slices.Contains(tt.replaced, "a1") {
				if n := old[a1.Addr].Idle(); n != 0 {
					t.Errorf("replaced a1 keeps %d idle connections", n)
				}
				waitFor(t, "a1's pooled connection to close", func() bool { return a1.open() == 0 })
			} else if old[a1.Addr].Idle() != 1 {
				t.Errorf("kept a1 lost its pooled connection")
			}
			if (gr2.Services["a"].Pool == gr1.Services["a"].Pool) != tt.poolKept {
				t.Errorf("pool kept: %v, want %v", !tt.poolKept, tt.poolKept)
			}
			if byAddrOf(t, gr2, "b")[b.Addr] != oldB || oldB.Idle() != 1 || b.open() != 1 {
				t.Errorf("upstream b was disturbed by a change to a")
			}
		})
	}
}

// TestApplyRemovedUpstreamIsReleased: an upstream the new config drops has its pooled
// connections closed and its health checks stopped.
func TestApplyRemovedUpstreamIsReleased(t *testing.T) {
	t.Parallel()
	a1, a2, b := startServer(t), startServer(t), startServer(t)
	g := newGateway(t)
	gr := apply(t, g, parseConfig(t, twoUpstreamsYAML(a1.Addr, "", a2.Addr, b.Addr)))
	gone := byAddrOf(t, gr, "a")
	pool(t, gone[a1.Addr], a1)
	waitFor(t, "the first probes", func() bool { return a1.probes.Load() > 0 && a2.probes.Load() > 0 })

	apply(t, g, parseConfig(t, fmt.Sprintf(`
listeners: [{address: 127.0.0.1:8080}]
routes: [{name: rb, upstream: b}]
upstreams: [{name: b, backends: ["http://%s"]}]
`, b.Addr)))
	if n := gone[a1.Addr].Idle(); n != 0 {
		t.Errorf("the removed upstream's backend keeps %d idle connections", n)
	}
	waitFor(t, "the pooled connection to close", func() bool { return a1.open() == 0 })
	if got := g.Services(); len(got) != 1 || got[0].Name != "b" {
		t.Errorf("services after the reload: %v", got)
	}
	// The checker's goroutines are gone when Apply returns; a probe sent just before may still
	// be in the server's hands, so let that settle, then no probe may come any more.
	time.Sleep(50 * time.Millisecond)
	p1, p2 := a1.probes.Load(), a2.probes.Load()
	time.Sleep(200 * time.Millisecond) // ten probe intervals
	if a1.probes.Load() != p1 || a2.probes.Load() != p2 {
		t.Errorf("probes went on after the upstream was removed: a1 %d → %d, a2 %d → %d", p1, a1.probes.Load(), p2, a2.probes.Load())
	}
}

// TestFailedApplyChangesNothing: a config that fails to apply leaves the running services as they
// were: the same pools over the same backends, health checks still running, pooled connections
// kept, and no DNS watcher left behind. Besides its fault, the bad config gives a1 another weight
// (a new backend set for the running pool) and drops upstream b, to show that none of that leaks
// out before the failure.
func TestFailedApplyChangesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		extra  string // upstreams appended to the bad config; DNS and RESOLVER are filled in
		mutate func(c *config.Config)
		want   string // in the error, after "g.yaml:LINE: "
	}{
		{name: "a route does not compile",
			// Validation refuses such a regex: change it after parsing, as only compiling finds
			// some route errors.
			mutate: func(c *config.Config) { c.Routes[0].Match.PathRegex = "(" },
			want:   `routes[0].match.path_regex: "(": `},
		{name: "a backend name does not resolve",
			extra: "  - name: c\n    backends: [http://nowhere.test]\n    resolve: {resolver: \"RESOLVER\", family: ip4}\n",
			want:  "upstreams[1].backends[0]: http://nowhere.test: "},
		{name: "one name resolves, the next does not",
			extra: "  - name: d\n    backends: [http://fine.test]\n    resolve: {resolver: \"DNS\", family: ip4, interval: 10ms}\n" +
				"  - name: c\n    backends: [http://nowhere.test]\n    resolve: {resolver: \"RESOLVER\", family: ip4}\n",
			want: "upstreams[2].backends[0]: http://nowhere.test: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a1, a2, b := startServer(t), startServer(t), startServer(t)
			dns := startDNS(t)
			dns.set("fine.test", "127.0.0.9")
			good := twoUpstreamsYAML(a1.Addr, "", a2.Addr, b.Addr)
			g := newGateway(t)
			gr := apply(t, g, parseConfig(t, good))
			svcs := g.Services()
			checker := gr.Services["a"].Checker
			backends := map[string][]*upstream.Backend{"a": slices.Clone(gr.Services["a"].Backends()), "b": slices.Clone(gr.Services["b"].Backends())}
			pool(t, backends["b"][0], b)

			bad := twoUpstreamsYAML(a1.Addr, ", weight: 5", a2.Addr, b.Addr)
			bad = strings.Replace(bad, "  - name: b\n    backends: [\"http://"+b.Addr+"\"]\n", "", 1)
			bad = strings.Replace(bad, "{name: rb, upstream: b}", "{name: rb, upstream: a}", 1)
			bad += strings.NewReplacer("RESOLVER", closedUDP(t), "DNS", dns.Addr).Replace(tt.extra)
			cfg := parseConfig(t, bad)
			if tt.mutate != nil {
				tt.mutate(cfg)
			}
			_, err := g.Apply(cfg)
			if err == nil || !regexp.MustCompile(`g\.yaml:[0-9]+: `+regexp.QuoteMeta(tt.want)).MatchString(err.Error()) {
				t.Fatalf("Apply of the bad config: %v\nwant an error with g.yaml:LINE: %s", err, tt.want)
			}

			g.mu.Lock()
			watchers := len(g.watchers)
			g.mu.Unlock()
			if watchers != 0 {
				t.Errorf("%d DNS watchers left running by a failed Apply", watchers)
			}
			if got := g.Services(); !slices.Equal(got, svcs) {
				t.Errorf("services changed by a failed Apply: %v, then %v", svcs, got)
			}
			for name, want := range backends {
				if got := gr.Services[name].Backends(); !slices.Equal(got, want) {
					t.Errorf("%s: the running pool was given other backends by a failed Apply", name)
				}
			}
			if c := gr.Services["a"].Checker; c != checker {
				t.Fatalf("a's health checker is %p after a failed Apply, was %p", c, checker)
			}
			n := a1.probes.Load()
			waitFor(t, "a probe after the failed Apply", func() bool { return a1.probes.Load() > n })
			if backends["b"][0].Idle() != 1 || b.open() != 1 {
				t.Errorf("b's pooled connection was closed by a failed Apply")
			}
			// And a good config applies over it as if nothing had happened.
			gr2 := apply(t, g, parseConfig(t, good))
			if !slices.Equal(gr2.Services["b"].Backends(), backends["b"]) || gr2.Services["a"].Checker != checker {
				t.Errorf("the good config after a failed one does not reuse the running backends and checker")
			}
		})
	}
}

// TestStickySecretKeptAcrossApply: without a secret in the config, sticky cookies are signed with
// the gateway's own random secret, which a reload keeps (even one that rebuilds the pool) and
// another gateway (a restart) does not share.
func TestStickySecretKeptAcrossApply(t *testing.T) {
	t.Parallel()
	src := `
listeners: [{address: 127.0.0.1:8080}]
routes: [{name: r, upstream: u}]
upstreams:
  - name: u
    balance: %s
    sticky: {cookie: s}
    backends: [http://10.0.0.1, http://10.0.0.2]
`
	cookie := func(gr *Graph) string {
		p := gr.Services["u"].Pool
		return string(p.AppendSetCookie(nil, gr.Services["u"].Backends()[1]))
	}
	g := newGateway(t)
	gr1 := apply(t, g, parseConfig(t, fmt.Sprintf(src, "p2c_ewma")))
	c1 := cookie(gr1)
	gr2 := apply(t, g, parseConfig(t, fmt.Sprintf(src, "least_conn")))
	if gr2.Services["u"].Pool == gr1.Services["u"].Pool {
		t.Fatal("the pool was not rebuilt: the test does not test the secret")
	}
	if c2 := cookie(gr2); c2 != c1 {
		t.Errorf("cookie after a reload %q, before %q: sessions lost", c2, c1)
	}
	value := strings.SplitN(strings.TrimPrefix(c1, "s="), ";", 2)[0]
	be := gr2.Services["u"].Backends()[1]
	if !gr2.Services["u"].Pool.StickyFor(&balance.Request{Sticky: []byte(value)}, be) {
		t.Errorf("the rebuilt pool does not accept the cookie it was given before the reload")
	}
	other := apply(t, newGateway(t), parseConfig(t, fmt.Sprintf(src, "p2c_ewma")))
	if cookie(other) == c1 {
		t.Errorf("two gateways sign with the same secret: it is not random")
	}
}

const dnsUpstream = `
listeners: [{address: 127.0.0.1:8080}]
routes: [{name: r, match: {path_prefix: /d}, upstream: d}, {name: rs, upstream: s}]
upstreams:
  - name: d
    backends: [http://svc.test:8080]
    resolve: {resolver: "%s", family: ip4, interval: 10ms}
  - name: s
    backends: [http://10.0.0.1]
`

const noDNSUpstream = `
listeners: [{address: 127.0.0.1:8080}]
routes: [{name: rs, upstream: s}]
upstreams:
  - name: s
    backends: [http://10.0.0.1]
`

func addrs(bs []*upstream.Backend) []string {
	var out []string
	for _, be := range bs {
		out = append(out, be.Addr)
	}
	slices.Sort(out)
	return out
}

// TestDNSWatcherFollowsThenStops: a backend given by name follows DNS without a reload, and its
// watcher stops asking once a reload drops the upstream.
func TestDNSWatcherFollowsThenStops(t *testing.T) {
	t.Parallel()
	dns := startDNS(t)
	dns.set("svc.test", "127.0.0.2", "127.0.0.3")
	g := newGateway(t)
	gr := apply(t, g, parseConfig(t, fmt.Sprintf(dnsUpstream, dns.Addr)))
	if got := addrs(gr.Services["d"].Backends()); !slices.Equal(got, []string{"127.0.0.2:8080", "127.0.0.3:8080"}) {
		t.Fatalf("backends %v", got)
	}
	kept := gr.Services["d"].Backends()[0]
	dns.set("svc.test", "127.0.0.2", "127.0.0.4")
	waitFor(t, "the DNS change to reach the pool", func() bool {
		return slices.Equal(addrs(gr.Services["d"].Backends()), []string{"127.0.0.2:8080", "127.0.0.4:8080"})
	})
	if gr.Services["d"].Backends()[0] != kept {
		t.Errorf("the backend whose address stayed was replaced")
	}
	// A reload with the same config keeps the watcher: it does not resolve again at once, and the
	// backends are the ones DNS last gave.
	gr2 := apply(t, g, parseConfig(t, fmt.Sprintf(dnsUpstream, dns.Addr)))
	if got := addrs(gr2.Services["d"].Backends()); !slices.Equal(got, []string{"127.0.0.2:8080", "127.0.0.4:8080"}) {
		t.Errorf("after a reload: %v", got)
	}

	apply(t, g, parseConfig(t, noDNSUpstream))
	g.mu.Lock()
	n := len(g.watchers)
	g.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d watchers left after the upstream was removed", n)
	}
	// Closed: no query may come any more (the last one may still be on its way).
	time.Sleep(30 * time.Millisecond)
	q := dns.queries.Load()
	time.Sleep(100 * time.Millisecond) // ten resolve intervals
	if got := dns.queries.Load(); got != q {
		t.Errorf("DNS queries went on after the upstream was removed: %d → %d", q, got)
	}
}

// TestWatcherClosedOutsideTheLock pins that Apply closes the DNS watchers of removed upstreams
// after releasing the gateway's lock: a watcher's change callback waits for that lock, and
// Watcher.Close waits for the callback, so closing under the lock would deadlock. The test lines
// up an Apply that removes the upstream and a callback, both waiting for the lock, Apply first.
func TestWatcherClosedOutsideTheLock(t *testing.T) {
	t.Parallel()
	dns := startDNS(t)
	dns.set("svc.test", "127.0.0.2")
	g := newGateway(t)
	apply(t, g, parseConfig(t, fmt.Sprintf(dnsUpstream, dns.Addr)))
	next := parseConfig(t, noDNSUpstream)

	g.mu.Lock()
	done := make(chan error, 1)
	go func() {
		_, err := g.Apply(next)
		done <- err
	}()
	waitFor(t, "Apply to wait for the lock", func() bool { return blockedIn("(*Gateway).Apply") })
	dns.set("svc.test", "127.0.0.3")
	waitFor(t, "the DNS callback to wait for the lock", func() bool { return blockedIn("(*Gateway).resolvedChanged") })
	g.mu.Unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Apply is stuck: it closes a DNS watcher whose callback waits for the lock Apply holds")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.watchers) != 0 || g.services["d"] != nil {
		t.Errorf("after removing d: %d watchers, service d %v", len(g.watchers), g.services["d"])
	}
}

// TestReloadLoopWithDNS reloads between a config with a DNS-discovered upstream and one without,
// while the name's addresses keep changing, so that watcher callbacks race the reloads.
func TestReloadLoopWithDNS(t *testing.T) {
	t.Parallel()
	dns := startDNS(t)
	dns.set("svc.test", "127.0.0.2")
	g := newGateway(t)
	with, without := fmt.Sprintf(dnsUpstream, dns.Addr), noDNSUpstream
	stop := make(chan struct{})
	flipped := make(chan struct{})
	go func() {
		defer close(flipped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			dns.set("svc.test", fmt.Sprintf("127.0.0.%d", 2+i%3))
			time.Sleep(time.Millisecond)
		}
	}()
	for i := range 20 {
		src := with
		if i%2 == 1 {
			src = without
		}
		apply(t, g, parseConfig(t, src))
	}
	close(stop)
	<-flipped
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.watchers) != 0 {
		t.Errorf("%d watchers after the last reload dropped the upstream", len(g.watchers))
	}
}
