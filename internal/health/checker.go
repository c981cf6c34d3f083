package health

import (
	"cmp"
	"context"
	"crypto/tls"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// Checker probes the backends of one pool. Each backend has its own probe goroutine; the first
// probe of each comes at a random point of the first interval, so that a hundred backends added at
// once are not probed at once.
//
// A backend starts up, so that a cold start does not answer 503 while the first probes run, unless
// its State already says down (a backend kept across a reload keeps its verdict). Verdict changes
// go to the backend's State.SetActive and to the log.
type Checker struct {
	cfg    Config
	logf   func(string, ...any)
	clock  func() time.Time
	client *http.Client
	dialer net.Dialer
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	targets map[string]*target // by address
	closed  bool
}

// Status is one backend's health as the active check sees it, for the admin API.
type Status struct {
	// Addr is the backend's host:port.
	Addr string
	// Up is the verdict: true when the backend may get requests as far as the active check goes.
	Up bool
	// Successes is the number of passed probes in a row; 0 after a failed one.
	Successes int
	// Failures is the number of failed probes in a row; 0 after a passed one.
	Failures int
	// Checks is the number of probes so far.
	Checks uint64
	// LastCheck is when the last probe started; zero before the first.
	LastCheck time.Time
	// LastError is why the last probe failed; empty when it passed.
	LastError string
	// LastDuration is how long the last probe took.
	LastDuration time.Duration
}

// target is one probed backend.
type target struct {
	addr   string
	url    string
	client *http.Client
	cancel context.CancelFunc

	mu      sync.Mutex // guards what follows
	be      *upstream.Backend
	removed bool // no longer watched: verdicts are not applied any more
	st      Status
}

// New returns a checker with the given config (defaults applied; validate it first with
// Config.Validate). logf receives one line per verdict change; nil discards them. clock gives the
// time of verdicts and of Status.LastCheck; nil means time.Now. Probe timers run on real time.
func New(cfg Config, logf func(string, ...any), clock func() time.Time) *Checker {
	cfg = cfg.WithDefaults()
	// An unvalidated config must not stop the checker: negative values get the defaults too.
	if cfg.Interval < 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout < 0 {
		cfg.Timeout = DefaultTimeout
	}
	cfg.Rise, cfg.Fall = max(cfg.Rise, 1), max(cfg.Fall, 1)
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if clock == nil {
		clock = time.Now
	}
	c := &Checker{cfg: cfg, logf: logf, clock: clock, targets: make(map[string]*target)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.dialer = net.Dialer{Timeout: cfg.Timeout}
	c.client = c.newClient(nil)
	return c
}

// newClient returns the HTTP client of probes, over TLS with tc when tc is set.
func (c *Checker) newClient(tc *tls.Config) *http.Client {
	return &http.Client{
		// A fresh connection per probe: keep-alives would hide a backend that stopped accepting
		// connections, and a probe every few seconds gains nothing from reuse.
		Transport: &http.Transport{
			Proxy:                  nil, // never through HTTP_PROXY: the probe must reach the backend itself
			DialContext:            c.dialer.DialContext,
			TLSClientConfig:        tc,
			DisableKeepAlives:      true,
			DisableCompression:     true,
			MaxResponseHeaderBytes: MaxBody,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Watch sets the backends to probe, by address: it starts probing new addresses, stops probing
// those that are gone, and keeps the counters and verdict of the others. A backend given under a
// known address as a new *Backend (a rebuilt pool) takes over the verdict at once. Watch does not
// change the State of a backend it stops probing: a caller that keeps such a backend without a
// check should mark it up. It does nothing after Close.
func (c *Checker) Watch(bs []*upstream.Backend) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	now := c.clock().UnixNano()
	seen := make(map[string]bool, len(bs))
	for _, b := range bs {
		if seen[b.Addr] {
			continue
		}
		seen[b.Addr] = true
		if t := c.targets[b.Addr]; t != nil {
			t.mu.Lock()
			if t.be != b {
				t.be = b
				b.State.SetActive(t.st.Up, now)
			}
			t.mu.Unlock()
			continue
		}
		t := c.newTarget(b)
		t.st = Status{Addr: b.Addr, Up: b.State.ActiveUp()}
		ctx, cancel := context.WithCancel(c.ctx)
		t.cancel = cancel
		c.targets[b.Addr] = t
		c.wg.Add(1)
		go c.run(ctx, t, rand.N(c.cfg.Interval))
	}
	for addr, t := range c.targets {
		if !seen[addr] {
			t.stop()
			delete(c.targets, addr)
		}
	}
}

// newTarget returns the probe state of b: the URL and the client that reach it as the engine does.
// An https backend is probed over TLS (same roots, server name and client certificate); an
// HTTP/2 backend, and any backend of a grpc check, over HTTP/2 (h2 by ALPN, or h2c).
func (c *Checker) newTarget(b *upstream.Backend) *target {
	path := c.cfg.Path
	if c.cfg.Type == "grpc" {
		path = GRPCHealthPath
	}
	t := &target{addr: b.Addr, url: "http://" + b.Addr + path, be: b, client: c.client}
	tc := b.TLSConfig()
	if tc != nil {
		t.url = "https://" + b.Addr + path
	}
	switch {
	case b.HTTP2() || c.cfg.Type == "grpc":
		t.client = c.newH2Client(tc)
	case tc != nil:
		t.client = c.newClient(tc)
	}
	return t
}

// Status reports every watched backend, ordered by address.
func (c *Checker) Status() []Status {
	c.mu.Lock()
	out := make([]Status, 0, len(c.targets))
	for _, t := range c.targets {
		t.mu.Lock()
		out = append(out, t.st)
		t.mu.Unlock()
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Addr, b.Addr) })
	return out
}

// Close stops every probe, in flight ones included, and returns once their goroutines have exited.
// Backends keep their last verdict. Calling it again does nothing.
func (c *Checker) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.cancel()
		for _, t := range c.targets {
			t.stop()
		}
	}
	c.mu.Unlock()
	c.wg.Wait()
	c.client.CloseIdleConnections()
}

// stop ends t's probes; once it returns, no verdict of t reaches its backend.
func (t *target) stop() {
	t.cancel()
	t.mu.Lock()
	t.removed = true
	t.mu.Unlock()
}

// run probes t every interval, after a first delay, until ctx ends.
func (c *Checker) run(ctx context.Context, t *target, first time.Duration) {
	defer c.wg.Done()
	timer := time.NewTimer(first)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		at := c.clock()
		err := c.probe(ctx, t)
		if ctx.Err() != nil {
			return // stopped mid-probe: the failure is ours, not the backend's
		}
		c.record(t, at, time.Since(start), err)
		timer.Reset(max(0, c.cfg.Interval-time.Since(start)))
	}
}

// record folds one probe's outcome into t and applies and logs a verdict change.
func (c *Checker) record(t *target, at time.Time, took time.Duration, err error) {
	t.mu.Lock()
	if t.removed {
		t.mu.Unlock()
		return
	}
	st := &t.st
	st.Checks++
	st.LastCheck, st.LastDuration, st.LastError = at, took, ""
	changed := false
	if err == nil {
		st.Successes++
		st.Failures = 0
		changed = !st.Up && st.Successes >= c.cfg.Rise
	} else {
		st.LastError = err.Error()
		st.Failures++
		st.Successes = 0
		changed = st.Up && st.Failures >= c.cfg.Fall
	}
	if changed {
		st.Up = !st.Up
		t.be.State.SetActive(st.Up, c.clock().UnixNano())
	}
	up := st.Up
	t.mu.Unlock()
	switch {
	case changed && up:
		c.logf("backend %s is up", t.addr)
	case changed:
		c.logf("backend %s is down: %v", t.addr, err)
	}
}
