package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// resolver asks s alone, over UDP and (after a truncated reply) TCP, as the standard library's
// pure Go resolver does.
func resolver(s *Server) *net.Resolver {
	var d net.Dialer
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, s.Addr())
	}}
}

func sorted(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.Unmap().String()
	}
	slices.Sort(out)
	return out
}

// The standard library's resolver, a client we did not write, reads what the server says.
func TestServerWithNetResolver(t *testing.T) {
	many := make([]string, 60) // 60 A records do not fit in 512 bytes: truncated, then TCP
	for i := range many {
		many[i] = fmt.Sprintf("10.9.0.%d", i+1)
	}
	tests := []struct {
		name     string
		setup    func(s *Server)
		host     string
		network  string
		want     []string // sorted
		notFound bool
		wantErr  bool
		wantTCP  bool
	}{
		{name: "A", host: "web.test", network: "ip4", want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "AAAA", host: "web.test", network: "ip6", want: []string{"2001:db8::1"}},
		{name: "case insensitive", host: "WEB.test.", network: "ip4", want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "cname chased", setup: func(s *Server) { s.SetCNAME("alias.test", "web.test") }, host: "alias.test", network: "ip4", want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "nxdomain", host: "missing.test", network: "ip4", notFound: true},
		{name: "deleted", setup: func(s *Server) { s.Set("web.test") }, host: "web.test", network: "ip4", notFound: true},
		{name: "nodata", setup: func(s *Server) { s.SetNoData("empty.test") }, host: "empty.test", network: "ip4", notFound: true},
		{name: "servfail", setup: func(s *Server) { s.SetMode(ServFail) }, host: "web.test", network: "ip4", wantErr: true},
		{name: "servfail on one type", setup: func(s *Server) { s.SetServFailType(dnsmessage.TypeAAAA) }, host: "web.test", network: "ip4", want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "truncated then tcp", setup: func(s *Server) { s.Set("many.test", many...) }, host: "many.test", network: "ip4", want: sortedStrings(many), wantTCP: true},
		{name: "changed at run time", setup: func(s *Server) { s.Set("web.test", "10.0.0.3") }, host: "web.test", network: "ip4", want: []string{"10.0.0.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := Start(t)
			s.Set("web.test", "10.0.0.2", "10.0.0.1", "2001:db8::1")
			if tt.setup != nil {
				tt.setup(s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := resolver(s).LookupNetIP(ctx, tt.network, tt.host)
			var dnsErr *net.DNSError
			switch {
			case tt.notFound:
				if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
					t.Fatalf("got %v, %v; want not found", got, err)
				}
			case tt.wantErr:
				if err == nil || errors.As(err, &dnsErr) && dnsErr.IsNotFound {
					t.Fatalf("got %v, %v; want an error other than not found", got, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if g := sorted(got); !slices.Equal(g, tt.want) {
					t.Fatalf("got %v, want %v", g, tt.want)
				}
			}
			udp, tcp := s.Queries()
			if udp == 0 || (tcp > 0) != tt.wantTCP {
				t.Errorf("queries: udp %d, tcp %d; want udp, and tcp: %v", udp, tcp, tt.wantTCP)
			}
		})
	}
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func query(t testing.TB, id uint16, name string, qtype dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: qtype, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// Answer without sockets: the records, flags and options as a client sees them.
func TestAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(s *Server)
		qname     string
		qtype     dnsmessage.Type
		limit     int
		rcode     dnsmessage.RCode
		truncated bool
		want      []string // answer records, as "TYPE value"
	}{
		{name: "A", qname: "web.test.", qtype: dnsmessage.TypeA, want: []string{"A 10.0.0.1"}},
		{name: "AAAA", qname: "web.test.", qtype: dnsmessage.TypeAAAA, want: []string{"AAAA 2001:db8::1"}},
		{name: "duplicate", setup: func(s *Server) { s.SetDuplicate(true) }, qname: "web.test.", qtype: dnsmessage.TypeA, want: []string{"A 10.0.0.1", "A 10.0.0.1"}},
		{name: "cname chased", setup: func(s *Server) { s.SetCNAME("a.test", "web.test") }, qname: "a.test.", qtype: dnsmessage.TypeA, want: []string{"CNAME web.test.", "A 10.0.0.1"}},
		{name: "cname not chased", setup: func(s *Server) { s.SetCNAME("a.test", "web.test"); s.SetNoChase(true) }, qname: "a.test.", qtype: dnsmessage.TypeA, want: []string{"CNAME web.test."}},
		{name: "cname removed", setup: func(s *Server) { s.SetCNAME("a.test", "web.test"); s.SetCNAME("a.test", "") }, qname: "a.test.", qtype: dnsmessage.TypeA, rcode: dnsmessage.RCodeNameError},
		{name: "cname loop ends", setup: func(s *Server) { s.SetCNAME("a.test", "b.test"); s.SetCNAME("b.test", "a.test") }, qname: "a.test.", qtype: dnsmessage.TypeA, want: slices.Repeat([]string{"CNAME b.test.", "CNAME a.test."}, maxChase/2)},
		{name: "nxdomain", qname: "no.test.", qtype: dnsmessage.TypeA, rcode: dnsmessage.RCodeNameError},
		{name: "nodata", setup: func(s *Server) { s.SetNoData("web.test") }, qname: "web.test.", qtype: dnsmessage.TypeA},
		{name: "servfail", setup: func(s *Server) { s.SetMode(ServFail) }, qname: "web.test.", qtype: dnsmessage.TypeA, rcode: dnsmessage.RCodeServerFailure},
		{name: "truncated", qname: "web.test.", qtype: dnsmessage.TypeA, limit: 40, truncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer()
			s.Set("web.test", "10.0.0.1", "2001:db8::1")
			if tt.setup != nil {
				tt.setup(s)
			}
			limit := tt.limit
			if limit == 0 {
				limit = UDPLimit
			}
			resp, err := s.Answer(query(t, 42, tt.qname, tt.qtype), limit)
			if err != nil {
				t.Fatal(err)
			}
			var m dnsmessage.Message
			if err := m.Unpack(resp); err != nil {
				t.Fatal(err)
			}
			if m.ID != 42 || !m.Response || !m.Authoritative || m.RCode != tt.rcode || m.Truncated != tt.truncated {
				t.Fatalf("header %+v; want id 42, response, authoritative, rcode %v, truncated %v", m.Header, tt.rcode, tt.truncated)
			}
			var got []string
			for _, r := range m.Answers {
				switch b := r.Body.(type) {
				case *dnsmessage.AResource:
					got = append(got, "A "+netip.AddrFrom4(b.A).String())
				case *dnsmessage.AAAAResource:
					got = append(got, "AAAA "+netip.AddrFrom16(b.AAAA).String())
				case *dnsmessage.CNAMEResource:
					got = append(got, "CNAME "+b.CNAME.String())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("answers %q, want %q", got, tt.want)
			}
		})
	}
}

// The transport's tricks: dropped queries, a bogus reply first, silence.
func TestServerTransport(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Set("web.test", "10.0.0.1")
	c, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func(wait time.Duration) (*dnsmessage.Message, error) {
		buf := make([]byte, 1024)
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		var m dnsmessage.Message
		return &m, m.Unpack(buf[:n])
	}
	isTimeout := func(err error) bool {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}

	s.DropUDP(1)
	c.Write(query(t, 1, "web.test.", dnsmessage.TypeA))
	c.Write(query(t, 2, "web.test.", dnsmessage.TypeA))
	m, err := read(10 * time.Second)
	if err != nil || m.ID != 2 {
		t.Fatalf("after a dropped query: %+v, %v; want the reply to id 2", m, err)
	}

	s.SetBogusFirst(true)
	c.Write(query(t, 3, "web.test.", dnsmessage.TypeA))
	if m, err = read(10 * time.Second); err != nil || m.ID != 4 || m.RCode != dnsmessage.RCodeNameError {
		t.Fatalf("bogus reply: %+v, %v; want id 4, NXDOMAIN", m, err)
	}
	if m, err = read(10 * time.Second); err != nil || m.ID != 3 || len(m.Answers) != 1 {
		t.Fatalf("real reply: %+v, %v; want id 3 with one answer", m, err)
	}
	s.SetBogusFirst(false)

	s.SetMode(Drop)
	c.Write(query(t, 5, "web.test.", dnsmessage.TypeA))
	if m, err = read(50 * time.Millisecond); !isTimeout(err) {
		t.Fatalf("in Drop mode: %+v, %v; want no reply", m, err)
	}
	s.SetMode(Answer)
	c.Write(query(t, 6, "web.test.", dnsmessage.TypeA))
	// The reply to 5 never comes; 6 is answered.
	if m, err = read(10 * time.Second); err != nil || m.ID != 6 {
		t.Fatalf("back in Answer mode: %+v, %v; want the reply to id 6", m, err)
	}
	if udp, tcp := s.Queries(); udp != 5 || tcp != 0 { // ids 1, 2, 3, 5 and 6
		t.Errorf("queries: udp %d, tcp %d; want 5, 0", udp, tcp)
	}
}

// FuzzAnswer: any bytes as a query: Answer fails or returns a reply that parses, with the query's
// ID and within the limit.
func FuzzAnswer(f *testing.F) {
	for _, name := range []string{"web.test.", "alias.test.", "loop.test.", "missing.test."} {
		for _, qt := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA, dnsmessage.TypeMX} {
			f.Add(query(f, 9, name, qt), uint16(UDPLimit))
		}
	}
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint16(512)) // no question
	s := NewServer()
	s.Set("web.test", "10.0.0.1", "2001:db8::1")
	s.SetCNAME("alias.test", "web.test")
	s.SetCNAME("loop.test", "loop.test")
	f.Fuzz(func(t *testing.T, q []byte, limit uint16) {
		resp, err := s.Answer(q, int(limit))
		if err != nil {
			return
		}
		var m dnsmessage.Message
		if err := m.Unpack(resp); err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if len(resp) > int(limit) && !m.Truncated {
			t.Fatalf("reply of %d bytes over the limit %d, not truncated", len(resp), limit)
		}
		var p dnsmessage.Parser
		h, _ := p.Start(q)
		if m.ID != h.ID || !m.Response {
			t.Fatalf("reply id %d response %v; want id %d, response", m.ID, m.Response, h.ID)
		}
	})
}
