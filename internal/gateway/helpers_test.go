package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/internal/watchdog"
)

// waitFor polls cond until it holds; it fails the test when it still does not after a deadline
// far beyond what it needs, so that a broken behaviour fails instead of hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newGateway returns a Gateway closed when the test ends.
func newGateway(t *testing.T) *Gateway {
	t.Helper()
	wd := watchdog.New(10*time.Millisecond, time.Now)
	g, err := New(Options{Watchdog: wd, Clock: time.Now, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.Close()
		wd.Close()
	})
	return g
}

// parseConfig parses a config, as a reload reads the file again: every call gives a new *Config.
func parseConfig(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(src), "g.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, src)
	}
	return cfg
}

// apply applies cfg and fails the test on error.
func apply(t *testing.T, g *Gateway, cfg *config.Config) *Graph {
	t.Helper()
	gr, err := g.Apply(cfg)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return gr
}

// byAddr maps a service's backends by address.
func byAddrOf(t *testing.T, gr *Graph, name string) map[string]*upstream.Backend {
	t.Helper()
	svc := gr.Services[name]
	if svc == nil {
		t.Fatalf("no service %q in the graph", name)
	}
	out := map[string]*upstream.Backend{}
	for _, be := range svc.Backends() {
		out[be.Addr] = be
	}
	return out
}

// server is an HTTP backend that counts health probes (GET /hz) and tracks its connections.
type server struct {
	*httptest.Server
	Addr   string
	probes atomic.Int64

	mu     sync.Mutex
	states map[net.Conn]http.ConnState
}

func startServer(t *testing.T) *server {
	t.Helper()
	s := &server{states: map[net.Conn]http.ConnState{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hz" {
			s.probes.Add(1)
		}
		w.Write([]byte("ok"))
	}))
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		s.mu.Lock()
		s.states[c] = st
		s.mu.Unlock()
	}
	s.Start()
	s.Addr = s.Listener.Addr().String()
	t.Cleanup(s.Close)
	return s
}

// open is the number of the server's connections that the client has not closed.
func (s *server) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.states {
		if st != http.StateClosed && st != http.StateHijacked {
			n++
		}
	}
	return n
}

// pool opens a connection to be (served by s) and puts it in be's idle pool, as a finished
// request does; it returns once s has seen the connection.
func pool(t *testing.T, be *upstream.Backend, s *server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := be.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	be.Put(c)
	if be.Idle() != 1 {
		t.Fatalf("%s: %d idle connections after Put, want 1", be.Addr, be.Idle())
	}
	waitFor(t, "the server to see the pooled connection", func() bool { return s.open() == 1 })
}

// closedUDP is a loopback UDP address nothing listens on: a resolver there fails at once.
func closedUDP(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// testDNS is a tiny authoritative DNS server on loopback UDP that answers A queries from records
// a test changes while it runs, and counts the queries.
type testDNS struct {
	pc      net.PacketConn
	Addr    string
	queries atomic.Int64

	mu      sync.Mutex
	records map[string][]netip.Addr // lower-case FQDN → IPv4 addresses
}

func startDNS(t *testing.T) *testDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testDNS{pc: pc, Addr: pc.LocalAddr().String(), records: map[string][]netip.Addr{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serve()
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return s
}

// set gives name the IPv4 addresses addrs; none makes it unknown (NXDOMAIN).
func (s *testDNS) set(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	s.records[strings.ToLower(name)+"."] = as
}

func (s *testDNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		s.queries.Add(1)
		s.mu.Lock()
		addrs, known := s.records[strings.ToLower(q.Name.String())]
		addrs = slices.Clone(addrs)
		s.mu.Unlock()
		m := dnsmessage.Message{
			Header:    dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true},
			Questions: []dnsmessage.Question{q},
		}
		if !known || len(addrs) == 0 {
			m.Header.RCode = dnsmessage.RCodeNameError
		}
		for _, a := range addrs {
			if q.Type == dnsmessage.TypeA && a.Is4() {
				m.Answers = append(m.Answers, dnsmessage.Resource{
					Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 1},
					Body:   &dnsmessage.AResource{A: a.As4()},
				})
			}
		}
		out, err := m.Pack()
		if err != nil {
			panic(fmt.Sprintf("testDNS: %v", err))
		}
		s.pc.WriteTo(out, from)
	}
}

// blockedIn reports whether some goroutine waits for a sync.Mutex inside a function whose name
// contains fn.
func blockedIn(fn string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[sync.Mutex.Lock") && strings.Contains(g, fn) {
			return true
		}
	}
	return false
}
