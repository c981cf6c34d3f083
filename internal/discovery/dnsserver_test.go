package discovery

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// serverMode is how testDNS answers.
type serverMode int

const (
	modeAnswer   serverMode = iota // answer from the records
	modeServfail                   // SERVFAIL to every query
	modeDrop                       // read queries, never answer
)

// testDNS is a tiny authoritative DNS server on 127.0.0.1 (UDP and TCP on the same port) whose
// records a test changes while it runs.
type testDNS struct {
	t    *testing.T
	udp  net.PacketConn
	tcp  net.Listener
	addr string
	done chan struct{} // closed when the test ends
	wg   sync.WaitGroup

	mu           sync.Mutex
	records      map[string][]netip.Addr // lower-case FQDN → addresses (A and AAAA)
	cnames       map[string]string       // lower-case FQDN → target FQDN
	mode         serverMode
	servfailType dnsmessage.Type // in modeAnswer, SERVFAIL queries of this type (0: none)
	noChase      bool            // answer a CNAME without its target's records
	dropFirst    int             // drop this many more UDP queries before answering
	bogusFirst   bool            // send a reply with the wrong ID before each real one
	duplicate    bool            // repeat every address record in answers
	udpQueries   int
	tcpQueries   int
}

// startDNS starts a testDNS, stopped when the test ends.
func startDNS(t *testing.T) *testDNS {
	t.Helper()
	s := &testDNS{t: t, done: make(chan struct{}), records: map[string][]netip.Addr{}, cnames: map[string]string{}}
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err != nil {
			udp.Close()
			if attempt < 10 {
				continue // the TCP port is taken; try another
			}
			t.Fatal(err)
		}
		s.udp, s.tcp, s.addr = udp, tcp, udp.LocalAddr().String()
		break
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(func() {
		close(s.done)
		s.udp.Close()
		s.tcp.Close()
		s.wg.Wait()
	})
	return s
}

// set replaces the records of name with addrs (IPv4 become A, IPv6 AAAA); none deletes name.
func (s *testDNS) set(name string, addrs ...string) {
	s.t.Helper()
	var list []netip.Addr
	for _, a := range addrs {
		list = append(list, netip.MustParseAddr(a))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(list) == 0 {
		delete(s.records, fqdnLower(name))
		return
	}
	s.records[fqdnLower(name)] = list
}

// setCNAME makes name an alias of target.
func (s *testDNS) setCNAME(name, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cnames[fqdnLower(name)] = fqdnLower(target)
}

// with runs f with the server's state locked, to change its mode and options.
func (s *testDNS) with(f func(s *testDNS)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// queries returns how many UDP and TCP queries the server has read.
func (s *testDNS) queries() (udp, tcp int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udpQueries, s.tcpQueries
}

func fqdnLower(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

func (s *testDNS) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.udpQueries++
		drop := s.mode == modeDrop || s.dropFirst > 0
		if s.dropFirst > 0 {
			s.dropFirst--
		}
		bogus := s.bogusFirst
		s.mu.Unlock()
		if drop {
			continue
		}
		resp, id, err := s.answer(buf[:n], 512)
		if err != nil {
			s.t.Errorf("test dns server: %v", err)
			continue
		}
		if bogus {
			wrong := append([]byte(nil), resp...)
			binary.BigEndian.PutUint16(wrong, id+1)
			// The wrong reply says "no such host": a client that took it would fail.
			wrong[3] = wrong[3]&^0x0f | byte(dnsmessage.RCodeNameError)
			_, _ = s.udp.WriteTo(wrong, from)
		}
		_, _ = s.udp.WriteTo(resp, from)
	}
}

func (s *testDNS) serveTCP() {
	defer s.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		conns.Go(func() {
			defer c.Close()
			stop := make(chan struct{})
			defer close(stop)
			go func() { // close the connection when the server stops
				select {
				case <-stop:
				case <-s.done:
					c.Close()
				}
			}()
			for {
				var lenb [2]byte
				if _, err := io.ReadFull(c, lenb[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(lenb[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				s.mu.Lock()
				s.tcpQueries++
				drop := s.mode == modeDrop
				s.mu.Unlock()
				if drop {
					continue
				}
				resp, _, err := s.answer(msg, 65535)
				if err != nil {
					s.t.Errorf("test dns server: %v", err)
					return
				}
				out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
				if _, err := c.Write(append(out, resp...)); err != nil {
					return
				}
			}
		})
	}
}

// answer builds the reply to query; a reply larger than limit bytes is truncated (TC set, no
// records), as a UDP server without EDNS does at 512.
func (s *testDNS) answer(query []byte, limit int) ([]byte, uint16, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, 0, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	rcode, answers := s.lookupLocked(q)
	s.mu.Unlock()

	hdr := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RCode: rcode}
	msg := dnsmessage.Message{Header: hdr, Questions: []dnsmessage.Question{q}, Answers: answers}
	out, err := msg.Pack()
	if err != nil {
		return nil, 0, err
	}
	if len(out) > limit {
		hdr.Truncated = true
		msg = dnsmessage.Message{Header: hdr, Questions: []dnsmessage.Question{q}}
		if out, err = msg.Pack(); err != nil {
			return nil, 0, err
		}
	}
	return out, h.ID, nil
}

// lookupLocked returns the rcode and answer records for q.
func (s *testDNS) lookupLocked(q dnsmessage.Question) (dnsmessage.RCode, []dnsmessage.Resource) {
	if s.mode == modeServfail || (s.servfailType != 0 && q.Type == s.servfailType) {
		return dnsmessage.RCodeServerFailure, nil
	}
	var answers []dnsmessage.Resource
	name := strings.ToLower(q.Name.String())
	owner := q.Name
	for hops := 0; hops < 16; hops++ {
		target, ok := s.cnames[name]
		if !ok {
			break
		}
		answers = append(answers, dnsmessage.Resource{
			Header: dnsmessage.ResourceHeader{Name: owner, Type: dnsmessage.TypeCNAME, Class: dnsmessage.ClassINET, TTL: 1},
			Body:   &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(target)},
		})
		if s.noChase {
			return dnsmessage.RCodeSuccess, answers
		}
		name, owner = target, dnsmessage.MustNewName(target)
	}
	addrs, ok := s.records[name]
	if !ok && len(answers) == 0 {
		return dnsmessage.RCodeNameError, nil
	}
	for _, a := range addrs {
		hdr := dnsmessage.ResourceHeader{Name: owner, Class: dnsmessage.ClassINET, TTL: 1}
		var body dnsmessage.ResourceBody
		switch {
		case a.Is4() && q.Type == dnsmessage.TypeA:
			hdr.Type, body = dnsmessage.TypeA, &dnsmessage.AResource{A: a.As4()}
		case a.Is6() && q.Type == dnsmessage.TypeAAAA:
			hdr.Type, body = dnsmessage.TypeAAAA, &dnsmessage.AAAAResource{AAAA: a.As16()}
		default:
			continue
		}
		answers = append(answers, dnsmessage.Resource{Header: hdr, Body: body})
		if s.duplicate {
			answers = append(answers, dnsmessage.Resource{Header: hdr, Body: body})
		}
	}
	return dnsmessage.RCodeSuccess, answers
}
