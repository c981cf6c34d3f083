// Package dnstest is a small authoritative DNS server for tests: it listens on 127.0.0.1, UDP and
// TCP on the same port, and answers A, AAAA and CNAME questions from records that the test changes
// while it runs. It can also misbehave on purpose (SERVFAIL, silence, replies with the wrong ID,
// duplicate records) so that a client's error paths can be tested over real sockets.
//
// Every record is served with a TTL of one second. A UDP reply larger than 512 bytes is truncated
// (TC set, no records), as a server without EDNS does, so that a client must retry over TCP.
package dnstest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Mode is how a Server answers.
type Mode int

const (
	// Answer answers from the records (the default).
	Answer Mode = iota
	// ServFail answers SERVFAIL to every query.
	ServFail
	// Drop reads queries and never answers them.
	Drop
)

// UDPLimit is the largest UDP reply the server sends (RFC 1035 without EDNS); larger replies are
// truncated.
const UDPLimit = 512

// maxChase bounds the CNAME chain the server follows in one answer, so that a loop ends.
const maxChase = 16

// Server is a DNS server whose records and behaviour may be changed at any time, concurrently
// with the queries it serves. Build one with Start (listening) or NewServer (not listening, for
// building answers with Answer alone).
type Server struct {
	tb   testing.TB // nil for a server made by NewServer
	udp  net.PacketConn
	tcp  net.Listener
	addr string
	done chan struct{} // closed when the server stops
	wg   sync.WaitGroup

	mu           sync.Mutex
	records      map[string][]netip.Addr // lower-case FQDN → addresses (A and AAAA); nil: NODATA
	cnames       map[string]string       // lower-case FQDN → target FQDN
	mode         Mode
	servfailType dnsmessage.Type // in Answer mode, SERVFAIL to questions of this type (0: none)
	noChase      bool            // answer a CNAME without its target's records
	dropUDP      int             // drop this many more UDP queries before answering
	bogusFirst   bool            // send a reply with the wrong ID before each real UDP one
	duplicate    bool            // repeat every address record in answers
	udpQueries   int
	tcpQueries   int
}

// NewServer returns a server that does not listen: its records and Answer work, for building
// replies (a fuzz target's seed corpus, say) without sockets.
func NewServer() *Server {
	return &Server{done: make(chan struct{}), records: map[string][]netip.Addr{}, cnames: map[string]string{}}
}

// Start returns a server listening on 127.0.0.1 (UDP and TCP on one port), stopped when the test
// ends. It fails the test when it cannot listen.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer()
	s.tb = tb
	var err error
	// The UDP port may be taken for TCP by another process: try a few.
	for range 10 {
		if s.udp, s.tcp, err = listenPair(); err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatalf("dnstest: %v", err)
	}
	s.addr = s.udp.LocalAddr().String()
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	tb.Cleanup(s.stop)
	return s
}

// listenPair opens a UDP socket on a free port of 127.0.0.1 and a TCP listener on the same port.
func listenPair() (net.PacketConn, net.Listener, error) {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listen udp: %w", err)
	}
	tcp, err := net.Listen("tcp", udp.LocalAddr().String())
	if err != nil {
		udp.Close()
		return nil, nil, fmt.Errorf("listen tcp on the udp port: %w", err)
	}
	return udp, tcp, nil
}

// stop closes the sockets and waits for the serving goroutines.
func (s *Server) stop() {
	close(s.done)
	s.udp.Close()
	s.tcp.Close()
	s.wg.Wait()
}

// Addr is the server's "127.0.0.1:port", for UDP and TCP alike; "" for a server made by
// NewServer.
func (s *Server) Addr() string { return s.addr }

// Set replaces the address records of name (case-insensitive, with or without the final dot) by
// addrs: IPv4 addresses become A records, IPv6 ones AAAA. With no addrs the name is deleted (its
// queries get NXDOMAIN). It panics on an address that does not parse, as a test's typo should.
func (s *Server) Set(name string, addrs ...string) {
	list := make([]netip.Addr, 0, len(addrs))
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

// SetNoData makes name exist without address records: its queries get an empty success (NODATA).
func (s *Server) SetNoData(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[fqdnLower(name)] = nil
}

// SetCNAME makes name an alias of target; an empty target removes the alias.
func (s *Server) SetCNAME(name, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if target == "" {
		delete(s.cnames, fqdnLower(name))
		return
	}
	s.cnames[fqdnLower(name)] = fqdnLower(target)
}

// SetMode sets how the server answers from now on.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// SetServFailType makes the server answer SERVFAIL to questions of type t (dnsmessage.TypeAAAA,
// say) and answer the others normally; 0 turns it off.
func (s *Server) SetServFailType(t dnsmessage.Type) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfailType = t
}

// SetNoChase makes the server answer a CNAME without the records of its target, so that the
// client must ask for the target itself.
func (s *Server) SetNoChase(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noChase = on
}

// DropUDP makes the server ignore the next n UDP queries (as a lost packet would), then answer.
func (s *Server) DropUDP(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropUDP = n
}

// SetBogusFirst makes the server send, before each UDP reply, a reply with the wrong ID that says
// NXDOMAIN: a client that accepts it fails.
func (s *Server) SetBogusFirst(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bogusFirst = on
}

// SetDuplicate makes the server repeat every address record in its answers.
func (s *Server) SetDuplicate(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.duplicate = on
}

// Queries returns how many UDP and TCP queries the server has read, answered or not.
func (s *Server) Queries() (udp, tcp int) {
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

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.udpQueries++
		drop := s.mode == Drop || s.dropUDP > 0
		if s.dropUDP > 0 {
			s.dropUDP--
		}
		bogus := s.bogusFirst
		s.mu.Unlock()
		if drop {
			continue
		}
		resp, err := s.Answer(buf[:n], UDPLimit)
		if err != nil {
			s.tb.Errorf("dnstest: udp query from %v: %v", from, err)
			continue
		}
		if bogus {
			wrong := append([]byte(nil), resp...)
			binary.BigEndian.PutUint16(wrong, binary.BigEndian.Uint16(resp)+1)
			wrong[3] = wrong[3]&^0x0f | byte(dnsmessage.RCodeNameError)
			_, _ = s.udp.WriteTo(wrong, from)
		}
		_, _ = s.udp.WriteTo(resp, from)
	}
}

func (s *Server) serveTCP() {
	defer s.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		conns.Go(func() { s.serveConn(c) })
	}
}

// serveConn answers the length-prefixed queries of one TCP connection until it closes or the
// server stops.
func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
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
		drop := s.mode == Drop
		s.mu.Unlock()
		if drop {
			continue
		}
		resp, err := s.Answer(msg, 65535)
		if err != nil {
			s.tb.Errorf("dnstest: tcp query: %v", err)
			return
		}
		out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(resp)), uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// errNoQuestion is Answer's error for a message without a question.
var errNoQuestion = errors.New("dnstest: query has no question")

// Answer builds the server's reply to query, as it would send it: the records of the question's
// name (following CNAMEs), SERVFAIL in ServFail mode, NXDOMAIN for an unknown name. A reply
// larger than limit bytes is truncated: TC set, no records. Answer does not count queries nor
// apply Drop, DropUDP or SetBogusFirst, which belong to the transport. It fails on a query that
// does not parse.
func (s *Server) Answer(query []byte, limit int) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, fmt.Errorf("dnstest: parse query: %w", err)
	}
	q, err := p.Question()
	if errors.Is(err, dnsmessage.ErrSectionDone) {
		return nil, errNoQuestion
	}
	if err != nil {
		return nil, fmt.Errorf("dnstest: parse question: %w", err)
	}
	s.mu.Lock()
	rcode, answers := s.lookupLocked(q)
	s.mu.Unlock()

	hdr := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RCode: rcode}
	msg := dnsmessage.Message{Header: hdr, Questions: []dnsmessage.Question{q}, Answers: answers}
	out, err := msg.Pack()
	if err != nil {
		return nil, fmt.Errorf("dnstest: pack reply: %w", err)
	}
	if len(out) > limit {
		hdr.Truncated = true
		msg = dnsmessage.Message{Header: hdr, Questions: []dnsmessage.Question{q}}
		if out, err = msg.Pack(); err != nil {
			return nil, fmt.Errorf("dnstest: pack truncated reply: %w", err)
		}
	}
	return out, nil
}

// lookupLocked returns the rcode and answer records for q. The caller holds s.mu.
func (s *Server) lookupLocked(q dnsmessage.Question) (dnsmessage.RCode, []dnsmessage.Resource) {
	if s.mode == ServFail || (s.servfailType != 0 && q.Type == s.servfailType) {
		return dnsmessage.RCodeServerFailure, nil
	}
	var answers []dnsmessage.Resource
	name := strings.ToLower(q.Name.String())
	owner := q.Name
	for range maxChase {
		target, ok := s.cnames[name]
		if !ok {
			break
		}
		tn, err := dnsmessage.NewName(target)
		if err != nil {
			return dnsmessage.RCodeServerFailure, nil
		}
		answers = append(answers, dnsmessage.Resource{
			Header: dnsmessage.ResourceHeader{Name: owner, Type: dnsmessage.TypeCNAME, Class: dnsmessage.ClassINET, TTL: 1},
			Body:   &dnsmessage.CNAMEResource{CNAME: tn},
		})
		if s.noChase {
			return dnsmessage.RCodeSuccess, answers
		}
		name, owner = target, tn
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
