package explain

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/balance"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/service"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// maxLiveInFlight caps the in-flight count taken over from live state (it only feeds bounded
// load and least_conn, where beyond this nothing changes).
const maxLiveInFlight = 1 << 16

// upstreamReport is what explain says about the upstream a request is forwarded to.
type upstreamReport struct {
	svc     *service.Service
	policy  []string // "name: text" lines about the upstream's settings
	rows    []backendRow
	live    bool     // rows carry live in-flight counts
	choice  []string // how the backend is chosen, one line each
	summary string   // the tail of the one-line answer, after `upstream "name"`
}

// backendRow is one backend in the table.
type backendRow struct {
	addr     string
	weight   int
	share    float64 // of the requests (or keys) now, among the backends that can take one
	inFlight int64
	can      bool
	note     string // why it cannot take the request, or a remark when it can
}

// analyse works out which backends of svc can take the request now, and which one it goes to
// when that is known in advance (a consistent hash, a sticky cookie, a single candidate).
func analyse(svc *service.Service, u *config.Upstream, req *h1.Request, rr *router.Request, q Query) *upstreamReport {
	if u == nil { // the service was built from the same config: not expected
		u = &config.Upstream{Name: svc.Name}
	}
	now := q.Now()
	rep := &upstreamReport{svc: svc, policy: policyLines(u, req)}
	pick := balance.Request{ClientIP: rr.ClientIP, Now: now.UnixNano()}
	kind, keyName := svc.Pool.HashKey()
	switch kind {
	case balance.KeyHeader:
		// h1.Request.Header wants the name in lower case (h1.EqualFold).
		pick.Key = req.Header(strings.ToLower(keyName))
	case balance.KeyCookie:
		pick.Key = req.Cookie(keyName)
	case balance.KeyPath:
		pick.Key = rr.NormalizedPath()
	}
	hashed := kind == balance.KeyClientIP || kind != balance.KeyNone && len(pick.Key) > 0
	// Where the hash points with every backend up and idle: before live state is applied.
	var home *upstream.Backend
	if hashed {
		home, _ = svc.Pool.Pick(&pick)
	}
	state := rep.applyLive(q, now)
	rep.judgeAll(u, state, now)

	// Which one.
	var c []string
	named, stickyNamed := stickyLines(&c, svc, u, req, &pick, rep.rows)
	chosen, _ := svc.Pool.Pick(&pick)
	can := rep.candidates()
	switch {
	case chosen == nil:
		c = append(c, "no backend can take it now: gatehouse answers 503 Service Unavailable at once")
		rep.summary = ": no backend can take it → 503 Service Unavailable"
	case stickyNamed && chosen == named:
		c = append(c, fmt.Sprintf("→ %s, named by the sticky cookie", chosen.Addr))
		rep.summary = fmt.Sprintf("→ %s (sticky cookie)", chosen.Addr)
	case hashed:
		c = append(c, hashLines(kind, keyName, pick.Key, rr, home, chosen, rowOf(rep.rows, home))...)
		rep.summary = fmt.Sprintf("→ %s (consistent hash of the %s)", chosen.Addr, keyWords(kind, keyName))
	case can == 1:
		c = append(c, fmt.Sprintf("→ %s, the only backend that can take it", chosen.Addr))
		rep.summary = fmt.Sprintf("→ %s (the only backend that can take it)", chosen.Addr)
	default:
		if kind != balance.KeyNone {
			c = append(c, fmt.Sprintf("the request has no %s to hash: it is placed at random, by weight", keyWords(kind, keyName)))
		}
		c = append(c, fmt.Sprintf("→ one of the %d backends that can take it, chosen for each request by %s", can, svc.Pool.Policy()))
		rep.summary = fmt.Sprintf("(%d of %d backends can take it)", can, len(rep.rows))
	}
	known := chosen != nil && (can == 1 || hashed || stickyNamed && chosen == named)
	if chosen != nil && u.Sticky != nil && !(stickyNamed && chosen == named) {
		c = append(c, fmt.Sprintf("the response sets cookie %s naming the backend chosen, so that the client's next requests go there too", u.Sticky.Cookie))
	}
	if known {
		if l := limitNote(u, chosen.State.InFlight()); l != "" {
			c = append(c, l)
		}
	}
	rep.choice = c
	return rep
}

// applyLive asks the running gatehouse at q.Live for the state of the upstream's backends and
// copies it into the explanation's own backends (health, ejection, requests in flight). It
// returns the live state by address, nil when there is none, and says where it came from.
func (rep *upstreamReport) applyLive(q Query, now time.Time) map[string]*liveBackend {
	const label = "state:      "
	if q.Live == "" {
		rep.policy = append(rep.policy, label+"not asked of a running gatehouse: every backend is taken as up")
		return nil
	}
	live, err := fetchLive(q.Client, q.Live)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL is ours, not news
	}
	name := rep.svc.Name
	switch {
	case err != nil:
		rep.policy = append(rep.policy, fmt.Sprintf(label+"unknown: no gatehouse answered at %s (%v): every backend is taken as up", q.Live, err))
		return nil
	case live[name] == nil:
		rep.policy = append(rep.policy, fmt.Sprintf(label+"the gatehouse at %s has no upstream %q (it runs another config): every backend is taken as up", q.Live, name))
		return nil
	}
	state := live[name]
	rep.live = true
	rep.policy = append(rep.policy, fmt.Sprintf(label+"as the gatehouse at %s sees it now", q.Live))
	ns := now.UnixNano()
	for _, be := range rep.svc.Backends() {
		lb := state[be.Addr]
		if lb == nil {
			continue
		}
		be.State.SetActive(lb.ActiveUp, ns)
		if lb.EjectedUntil != nil && lb.EjectedUntil.After(now) {
			be.State.Eject(lb.EjectedUntil.UnixNano())
		}
		for range min(max(lb.InFlight, 0), maxLiveInFlight) {
			be.State.Begin()
		}
	}
	return state
}

// judgeAll fills the table: for each backend, whether it can take the request now and its share.
func (rep *upstreamReport) judgeAll(u *config.Upstream, state map[string]*liveBackend, now time.Time) {
	bs := rep.svc.Backends()
	primaryUp := false
	for _, be := range bs {
		primaryUp = primaryUp || !be.Backup && be.State.Available(now.UnixNano())
	}
	equal := rep.svc.Pool.Policy() == balance.PolicyRoundRobin
	var sum float64
	for _, be := range bs {
		r := backendRow{addr: be.Addr, weight: be.Weight, inFlight: be.State.InFlight()}
		lb := state[be.Addr]
		r.can, r.note = judge(be, lb, u, primaryUp, now)
		if rep.live && lb == nil {
			r.note = join(r.note, "not in the running gatehouse's state: taken as up")
		}
		if r.can {
			r.share = weightOf(be, equal)
			sum += r.share
		}
		rep.rows = append(rep.rows, r)
	}
	for i := range rep.rows {
		if rep.rows[i].can {
			rep.rows[i].share /= sum
		}
	}
}

// judge says whether be can take a request now, and why not or with what remark.
func judge(be *upstream.Backend, lb *liveBackend, u *config.Upstream, primaryUp bool, now time.Time) (bool, string) {
	ns := now.UnixNano()
	switch {
	case !be.State.ActiveUp():
		why := "down: the active health check fails"
		if lb != nil && lb.LastError != "" {
			why += ": " + lb.LastError
		}
		return false, why
	case be.State.Ejected(ns):
		left := time.Duration(be.State.EjectedUntil() - ns).Round(time.Second)
		if left < time.Second {
			return false, "ejected by passive checks for under a second more"
		}
		return false, "ejected by passive checks for another " + dur(left)
	case be.Backup && primaryUp:
		return false, "backup: used only when no primary can take requests"
	case be.Backup:
		return true, join("backup, in use: no primary can take requests", limitNote(u, be.State.InFlight()))
	}
	return true, limitNote(u, be.State.InFlight())
}

// limitNote warns when a backend has its most requests in flight (limits.max_connections).
func limitNote(u *config.Upstream, inFlight int64) string {
	l := u.Limits
	if l.MaxConnections <= 0 || inFlight < int64(l.MaxConnections) {
		return ""
	}
	if l.QueueSize <= 0 {
		return fmt.Sprintf("full: %d in flight, limits.max_connections is %d; a request sent there gets 503", inFlight, l.MaxConnections)
	}
	return fmt.Sprintf("full: %d in flight, limits.max_connections is %d; a request sent there waits in its queue (%d places) up to %s, then gets 503",
		inFlight, l.MaxConnections, l.QueueSize, dur(time.Duration(l.QueueTimeout)))
}

// stickyLines explains the sticky cookie, and returns the backend a valid cookie names.
func stickyLines(c *[]string, svc *service.Service, u *config.Upstream, req *h1.Request, pick *balance.Request,
	rows []backendRow) (*upstream.Backend, bool) {
	name := svc.Pool.StickyCookie()
	if name == "" {
		return nil, false
	}
	pick.Sticky = req.Cookie(name)
	if pick.Sticky == nil {
		*c = append(*c, fmt.Sprintf("no %s cookie (sticky sessions): the balancer chooses", name))
		return nil, false
	}
	for i, be := range svc.Backends() {
		if !svc.Pool.StickyFor(pick, be) {
			continue
		}
		if !rows[i].can {
			*c = append(*c, fmt.Sprintf("cookie %s names %s, which cannot take it now (%s): the balancer chooses another", name, be.Addr, rows[i].note))
		}
		return be, true
	}
	if u.Sticky != nil && u.Sticky.Secret == "" {
		*c = append(*c, fmt.Sprintf("cookie %s cannot be checked here: sticky.secret is not set, so each gatehouse process signs with a random secret of its own; the balancer's choice is shown", name))
	} else {
		*c = append(*c, fmt.Sprintf("cookie %s is not valid for this upstream (forged, signed with another secret, or naming a backend no longer in it): it is ignored and the balancer chooses", name))
	}
	return nil, false
}

// hashLines explains a consistent-hash choice: where the key points, and why the request goes
// elsewhere when it does.
func hashLines(kind balance.KeyKind, keyName string, key []byte, rr *router.Request, home, chosen *upstream.Backend, homeRow *backendRow) []string {
	var k string
	switch kind {
	case balance.KeyClientIP:
		k = "client IP " + rr.ClientIP.String()
	case balance.KeyPath:
		k = "path " + strconv.Quote(string(key))
	default:
		k = fmt.Sprintf("%s %s", keyWords(kind, keyName), strconv.Quote(string(key)))
	}
	switch {
	case home == nil || home == chosen:
		return []string{fmt.Sprintf("→ %s: the consistent hash of the %s points there", chosen.Addr, k)}
	case homeRow != nil && !homeRow.can:
		return []string{
			fmt.Sprintf("the consistent hash of the %s points at %s, which cannot take it now (%s)", k, home.Addr, homeRow.note),
			fmt.Sprintf("→ %s, the next backend in the table that can", chosen.Addr),
		}
	}
	return []string{
		fmt.Sprintf("the consistent hash of the %s points at %s, which has its full share of the requests in flight (bounded load)", k, home.Addr),
		fmt.Sprintf("→ %s, the next backend in the table under its bound", chosen.Addr),
	}
}

func rowOf(rows []backendRow, be *upstream.Backend) *backendRow {
	if be == nil {
		return nil
	}
	for i := range rows {
		if rows[i].addr == be.Addr {
			return &rows[i]
		}
	}
	return nil
}

// keyWords names a hash key: "client IP", "X-User header", "session cookie", "path".
func keyWords(kind balance.KeyKind, name string) string {
	switch kind {
	case balance.KeyHeader:
		return name + " header"
	case balance.KeyCookie:
		return name + " cookie"
	case balance.KeyPath:
		return "path"
	}
	return "client IP"
}

func weightOf(be *upstream.Backend, equal bool) float64 {
	if equal {
		return 1
	}
	return float64(max(be.Weight, 1))
}

// join joins two remarks with "; ", either of which may be empty.
func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// write prints the upstream part of the explanation.
func (rep *upstreamReport) write(w io.Writer) {
	fmt.Fprintf(w, "\nUpstream %q: %s over %s\n", rep.svc.Name, rep.svc.Pool.Policy(), plural(len(rep.rows), "backend"))
	for _, l := range rep.policy {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintln(w)
	head := []string{"backend", "weight", "share", "can take it"}
	if rep.live {
		head = []string{"backend", "weight", "share", "in flight", "can take it"}
	}
	table := [][]string{head}
	for _, r := range rep.rows {
		share, verdict := "-", "no: "+r.note
		if r.can {
			share, verdict = percent(r.share), "yes"
			if r.note != "" {
				verdict += " (" + r.note + ")"
			}
		}
		line := []string{r.addr, strconv.Itoa(r.weight), share, verdict}
		if rep.live {
			line = []string{r.addr, strconv.Itoa(r.weight), share, strconv.FormatInt(r.inFlight, 10), verdict}
		}
		table = append(table, line)
	}
	writeTable(w, table)
	if note := shareNote(rep.svc.Pool.Policy()); note != "" && rep.candidates() > 1 {
		fmt.Fprintf(w, "  (%s)\n", note)
	}
	fmt.Fprintln(w)
	for _, l := range rep.choice {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// candidates is how many backends can take the request.
func (rep *upstreamReport) candidates() int {
	n := 0
	for _, r := range rep.rows {
		if r.can {
			n++
		}
	}
	return n
}

// shareNote says what the share column means for a policy.
func shareNote(policy string) string {
	switch policy {
	case balance.PolicyP2CEWMA:
		return "shares hold while the backends are equally fast and busy; p2c_ewma sends less to a slower or busier one"
	case balance.PolicyLeastConn:
		return "shares hold while the backends are equally busy; least_conn sends less to a busier one"
	case balance.PolicyConsistentHash:
		return "shares are of the hash keys; bounded load moves the excess of a hot key on"
	case balance.PolicyRoundRobin:
		return "round_robin takes turns and ignores weights"
	}
	return ""
}

// writeTable prints rows with the columns padded; numeric columns (2 and 3 of 5, 2 of 4) align
// right. The last column is not padded.
func writeTable(w io.Writer, rows [][]string) {
	n := len(rows[0])
	width := make([]int, n)
	for _, r := range rows {
		for i := 0; i < n-1; i++ {
			width[i] = max(width[i], len(r[i]))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, cell := range r {
			switch {
			case i == n-1:
				b.WriteString(cell)
			case i == 0:
				fmt.Fprintf(&b, "%-*s  ", width[i], cell)
			default:
				fmt.Fprintf(&b, "%*s  ", width[i], cell)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// percent writes a share as "50%" or "33.3%".
func percent(f float64) string {
	s := strconv.FormatFloat(f*100, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}

// plural writes "1 backend", "2 backends", "2 passes", "2 retries".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	switch {
	case strings.HasSuffix(word, "s"):
		return strconv.Itoa(n) + " " + word + "es"
	case strings.HasSuffix(word, "y"):
		return strconv.Itoa(n) + " " + word[:len(word)-1] + "ies"
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// dur writes a duration without zero trailing units: 5m, 1h, 1h30m, 1m30s, 250ms.
func dur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
