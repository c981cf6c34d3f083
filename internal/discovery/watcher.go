// Package discovery turns a backend given by host name into the set of addresses the name has in
// DNS, and keeps that set current: every A and AAAA record is a backend, re-resolved on an
// interval, so that backends are added and removed without a reload.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for the zero fields of Config.
const (
	// DefaultInterval is how often a host name is resolved again.
	DefaultInterval = 30 * time.Second
	// DefaultTimeout bounds one lookup.
	DefaultTimeout = 5 * time.Second
)

// ErrClosed is returned by Watch after Close.
var ErrClosed = errors.New("discovery: watcher closed")

// Config tunes a Watcher. The zero value is usable.
type Config struct {
	// Interval is how often each host is resolved again. Each wait is jittered by up to ±10% so
	// that many watchers do not fire together. Zero or negative means DefaultInterval (30s).
	Interval time.Duration
	// Timeout bounds one lookup (the A and the AAAA queries run side by side within it). Zero or
	// negative means DefaultTimeout (5s).
	Timeout time.Duration
	// Family selects the records that become backends: "ip4" (A), "ip6" (AAAA) or "ip" (both).
	// Empty means "ip".
	Family string
}

// Validate reports a Family that is not one of "", "ip", "ip4", "ip6".
func (c Config) Validate() error {
	switch c.Family {
	case "", "ip", "ip4", "ip6":
		return nil
	}
	return fmt.Errorf("discovery: family %q is not valid: want \"ip4\", \"ip6\" or \"ip\"", c.Family)
}

// families is the networks to look up, one per record type.
func (c Config) families() []string {
	switch c.Family {
	case "ip4":
		return []string{"ip4"}
	case "ip6":
		return []string{"ip6"}
	}
	return []string{"ip4", "ip6"}
}

// Watcher keeps the addresses of host names current. It is safe for concurrent use; Close stops
// all of its watches.
type Watcher struct {
	res  Resolver
	cfg  Config
	logf func(string, ...any)

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per background watch

	mu     sync.Mutex
	closed bool
}

// NewWatcher returns a Watcher that resolves names with res. Zero fields of cfg take their
// defaults; an invalid Family is reported by Watch (see Config.Validate). logf receives one line
// when a host's lookups start failing and one when they recover; it may be nil.
func NewWatcher(res Resolver, cfg Config, logf func(string, ...any)) *Watcher {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Family == "" {
		cfg.Family = "ip"
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Watcher{res: res, cfg: cfg, logf: logf, ctx: ctx, cancel: cancel}
}

// watch is the state of one watched host, owned by its goroutine after Watch returns.
type watch struct {
	host, port string
	families   []string
	last       [][]netip.Addr // last good answer per family
	cur        []string       // the set last reported
	failing    bool           // a failure streak has been logged and has not ended
}

// Watch resolves host now, synchronously, and returns its addresses as a sorted list of
// "ip:port" ("[ipv6]:port") without duplicates. It then resolves host again every Interval in the
// background and calls onChange with the new sorted list whenever the set changes; onChange is
// called from one goroutine per host, never concurrently for the same host, and never after Close
// returns. It must not call Close.
//
// A failed lookup or an empty answer keeps the last known set. When only one of the A and AAAA
// lookups fails, that family keeps its last known addresses and the other is updated.
//
// If the first lookup fails or finds no address, Watch returns the error and does not watch host.
// A host that is an IP literal ("10.0.0.1", "::1", "[::1]") is returned as is and not watched.
// port is a decimal port number.
func (w *Watcher) Watch(host, port string, onChange func(addrs []string)) ([]string, error) {
	if err := w.cfg.Validate(); err != nil {
		return nil, err
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return nil, fmt.Errorf("discovery: port %q of %s is not a number from 1 to 65535", port, host)
	}
	if host == "" {
		return nil, errors.New("discovery: empty host name")
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		return []string{net.JoinHostPort(ip.String(), port)}, nil
	}
	if w.isClosed() {
		return nil, ErrClosed
	}

	st := &watch{host: host, port: port, families: w.cfg.families()}
	st.last = make([][]netip.Addr, len(st.families))
	addrs, err := w.resolve(w.ctx, st)
	if addrs == nil {
		if w.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("discovery: resolve %s: %w", host, err)
	}
	if err != nil {
		w.logf("discovery: %s: lookup failed, using the %d backends found: %v", host, len(addrs), err)
		st.failing = true
	}
	st.cur = st.format(addrs)
	first := slices.Clone(st.cur) // st belongs to the goroutine once it starts

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, ErrClosed
	}
	w.wg.Add(1)
	w.mu.Unlock()
	go w.loop(st, onChange)
	return first, nil
}

// Close stops every background lookup and waits for the goroutines (and any onChange call in
// progress) to finish. It may be called more than once.
func (w *Watcher) Close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cancel()
	w.wg.Wait()
}

func (w *Watcher) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// loop resolves st.host every jittered Interval until Close.
func (w *Watcher) loop(st *watch, onChange func([]string)) {
	defer w.wg.Done()
	t := time.NewTimer(w.jitter())
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
		addrs, err := w.resolve(w.ctx, st)
		if w.ctx.Err() != nil {
			return // closed mid-lookup: not a DNS failure
		}
		switch {
		case err != nil && !st.failing:
			st.failing = true
			w.logf("discovery: %s: lookup failed, keeping the last known backends (%d): %v", st.host, len(st.cur), err)
		case err == nil && st.failing:
			st.failing = false
			w.logf("discovery: %s: lookup recovered, %d backends", st.host, len(addrs))
		}
		if addrs != nil {
			if next := st.format(addrs); !slices.Equal(next, st.cur) {
				st.cur = next
				if onChange != nil {
					onChange(slices.Clone(next))
				}
			}
		}
		t.Reset(w.jitter())
	}
}

// jitter returns Interval moved by a random amount of up to ±10%.
func (w *Watcher) jitter() time.Duration {
	d := w.cfg.Interval
	j := int64(d / 10)
	if j <= 0 {
		return d
	}
	return d - time.Duration(j) + time.Duration(rand.Int64N(2*j+1))
}

// resolve looks host up in each family side by side and returns the sorted, de-duplicated
// addresses to use, or nil when there is nothing usable (every lookup failed or the answer is
// empty), in which case nothing is remembered. err is non-nil when any lookup failed or the
// answer is empty; a family whose lookup failed contributes its last known addresses.
func (w *Watcher) resolve(ctx context.Context, st *watch) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	fresh := make([][]netip.Addr, len(st.families))
	errs := make([]error, len(st.families))
	var wg sync.WaitGroup
	for i, fam := range st.families {
		wg.Go(func() { fresh[i], errs[i] = w.res.LookupNetIP(ctx, fam, st.host) })
	}
	wg.Wait()

	next := make([][]netip.Addr, len(st.families))
	var failed, notFound []error
	for i, fam := range st.families {
		var dnsErr *net.DNSError
		switch err := errs[i]; {
		case err == nil:
			next[i] = filterFamily(fresh[i], fam)
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			notFound = append(notFound, err) // this family has no records now
		default:
			failed = append(failed, err)
			next[i] = st.last[i]
		}
	}
	var all []netip.Addr
	for _, a := range next {
		all = append(all, a...)
	}
	if len(all) == 0 {
		if len(failed) > 0 {
			return nil, joinErrs(failed)
		}
		if len(notFound) > 0 {
			return nil, fmt.Errorf("empty answer: %w", joinErrs(notFound))
		}
		return nil, errors.New("empty answer")
	}
	st.last = next
	slices.SortFunc(all, netip.Addr.Compare)
	return slices.Compact(all), joinErrs(failed)
}

// joinErrs returns nil, the one error, or an error that wraps them all and reads as one line
// (errors.Join puts newlines between them, which would split a log line).
func joinErrs(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return multiError(errs)
}

// multiError is several errors on one line.
type multiError []error

func (m multiError) Error() string {
	s := make([]string, len(m))
	for i, err := range m {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

func (m multiError) Unwrap() []error { return m }

// filterFamily returns the addresses of addrs that belong to fam, IPv4-mapped IPv6 addresses
// (which *net.Resolver returns for A records) written as IPv4.
func filterFamily(addrs []netip.Addr, fam string) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if a.IsValid() && a.Is4() == (fam == "ip4") {
			out = append(out, a)
		}
	}
	return out
}

// format writes addrs as "ip:port" strings, in order.
func (st *watch) format(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = net.JoinHostPort(a.String(), st.port)
	}
	return out
}
