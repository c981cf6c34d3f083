package discovery

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Resolver looks up the addresses of a host name. network is "ip4" (A records), "ip6" (AAAA
// records) or "ip" (both). An answer with no addresses is reported as a *net.DNSError whose
// IsNotFound is true. *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var (
	_ Resolver = (*net.Resolver)(nil)
	_ Resolver = (*dnsClient)(nil)
)

const (
	// defaultRetransmit is how long a UDP query waits for its answer before it is sent again.
	defaultRetransmit = time.Second
	// ednsUDPSize is the UDP payload size advertised with EDNS(0): the size that avoids IP
	// fragmentation on practically every path (DNS flag day 2020).
	ednsUDPSize = 1232
	// maxCNAMEHops bounds how many CNAMEs are followed, in one answer or across queries.
	maxCNAMEHops = 8
)

// NewResolver returns a Resolver that asks the DNS server at addr ("127.0.0.1:53", "[::1]:53";
// the port defaults to 53) over UDP, retrying over TCP when the answer is truncated, or the
// system resolver (a zero *net.Resolver) when addr is "".
//
// The server should be a recursive resolver (the query asks for recursion); CNAMEs are followed
// in the answer and, when the answer stops at a CNAME, by asking for its target. The host is
// taken as fully qualified: /etc/hosts and search domains are not consulted. A UDP query is sent
// again every second without an answer until the caller's context ends. For network "ip" the A
// and AAAA queries run side by side and the lookup fails if either fails (other than with no
// records). An address that cannot be dialled is reported by the first lookup. Errors are
// *net.DNSError, as from *net.Resolver.
func NewResolver(addr string) Resolver {
	if addr == "" {
		return &net.Resolver{}
	}
	return &dnsClient{server: serverAddr(addr), retransmit: defaultRetransmit}
}

// serverAddr adds the default port 53 to addr when it has none.
func serverAddr(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	host := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	return net.JoinHostPort(host, "53")
}

// dnsClient is a stub resolver for one server.
type dnsClient struct {
	server     string        // host:port
	retransmit time.Duration // resend an unanswered UDP query after this long
	dialer     net.Dialer
}

// LookupNetIP implements Resolver.
func (c *dnsClient) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var types []dnsmessage.Type
	switch network {
	case "ip4":
		types = []dnsmessage.Type{dnsmessage.TypeA}
	case "ip6":
		types = []dnsmessage.Type{dnsmessage.TypeAAAA}
	case "ip":
		types = []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA}
	default:
		return nil, fmt.Errorf("discovery: lookup %s: unknown network %q", host, network)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if network == "ip" || (network == "ip4") == ip.Unmap().Is4() {
			return []netip.Addr{ip}, nil
		}
		return nil, c.dnsError(host, errNoSuchHost, false)
	}
	fqdn := host
	if !strings.HasSuffix(fqdn, ".") {
		fqdn += "."
	}
	name, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return nil, c.dnsError(host, fmt.Errorf("invalid name: %w", err), false)
	}

	results := make([][]netip.Addr, len(types))
	errs := make([]error, len(types))
	var wg sync.WaitGroup
	for i, t := range types {
		wg.Go(func() { results[i], errs[i] = c.lookupType(ctx, name, t) })
	}
	wg.Wait()

	var addrs []netip.Addr
	var notFound error
	for i, err := range errs {
		var dnsErr *net.DNSError
		switch {
		case err == nil:
			addrs = append(addrs, results[i]...)
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			notFound = err
		default:
			return nil, err
		}
	}
	if len(addrs) == 0 {
		return nil, notFound
	}
	return addrs, nil
}

var (
	errNoSuchHost  = errors.New("no such host")
	errTooManyHops = errors.New("too many CNAMEs")
)

// dnsError describes a failed lookup the way *net.Resolver does, so that callers can test
// IsNotFound, IsTimeout and IsTemporary on either resolver.
func (c *dnsClient) dnsError(name string, err error, temporary bool) *net.DNSError {
	e := &net.DNSError{Err: err.Error(), Name: name, Server: c.server, UnwrapErr: err}
	var netErr net.Error
	switch {
	case errors.Is(err, errNoSuchHost):
		e.IsNotFound = true
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.IsTimeout = true
		e.IsTemporary = true
	default:
		e.IsTemporary = temporary
	}
	return e
}

// lookupType returns the addresses of type t that name has, following CNAMEs.
func (c *dnsClient) lookupType(ctx context.Context, name dnsmessage.Name, t dnsmessage.Type) ([]netip.Addr, error) {
	target := name
	for range maxCNAMEHops {
		resp, err := c.exchange(ctx, target, t)
		if err != nil {
			return nil, err
		}
		addrs, next, err := answerAddrs(resp.answers, target, t)
		if err != nil {
			return nil, c.dnsError(name.String(), err, false)
		}
		if len(addrs) > 0 {
			return addrs, nil
		}
		if next == "" {
			// NXDOMAIN, or a name without records of this type (NODATA).
			return nil, c.dnsError(name.String(), errNoSuchHost, false)
		}
		if target, err = dnsmessage.NewName(next); err != nil {
			return nil, c.dnsError(name.String(), fmt.Errorf("invalid CNAME target: %w", err), false)
		}
	}
	return nil, c.dnsError(name.String(), errTooManyHops, false)
}

// answerAddrs returns the records of type t in answers that belong to qname or to a name it is
// an alias of. When there are none and the CNAME chain from qname ends at a name the answer says
// nothing more about, next is that name, to be asked for.
func answerAddrs(answers []dnsmessage.Resource, qname dnsmessage.Name, t dnsmessage.Type) (addrs []netip.Addr, next string, err error) {
	chain := map[string]bool{strings.ToLower(qname.String()): true}
	cur := strings.ToLower(qname.String())
	for hops := 0; ; hops++ {
		found := false
		for _, rr := range answers {
			cname, ok := rr.Body.(*dnsmessage.CNAMEResource)
			if !ok || rr.Header.Class != dnsmessage.ClassINET || !strings.EqualFold(rr.Header.Name.String(), cur) {
				continue
			}
			if hops >= maxCNAMEHops {
				return nil, "", errTooManyHops
			}
			cur = strings.ToLower(cname.CNAME.String())
			if chain[cur] {
				return nil, "", errors.New("CNAME loop")
			}
			chain[cur] = true
			found = true
			break
		}
		if !found {
			break
		}
	}
	for _, rr := range answers {
		if rr.Header.Class != dnsmessage.ClassINET || rr.Header.Type != t || !chain[strings.ToLower(rr.Header.Name.String())] {
			continue
		}
		switch b := rr.Body.(type) {
		case *dnsmessage.AResource:
			addrs = append(addrs, netip.AddrFrom4(b.A))
		case *dnsmessage.AAAAResource:
			addrs = append(addrs, netip.AddrFrom16(b.AAAA))
		}
	}
	if len(addrs) == 0 && cur != strings.ToLower(qname.String()) {
		next = cur
	}
	return addrs, next, nil
}

// response is the part of a DNS answer the client uses.
type response struct {
	header  dnsmessage.Header
	answers []dnsmessage.Resource
}

// exchange asks the server for name's records of type t: over UDP, then over TCP if the UDP
// answer was truncated. An answer whose rcode is not NOERROR is an error.
func (c *dnsClient) exchange(ctx context.Context, name dnsmessage.Name, t dnsmessage.Type) (*response, error) {
	q := dnsmessage.Question{Name: name, Type: t, Class: dnsmessage.ClassINET}
	var idb [2]byte
	_, _ = rand.Read(idb[:]) // never fails (crypto/rand since Go 1.24)
	id := binary.BigEndian.Uint16(idb[:])
	query, err := packQuery(id, q)
	if err != nil {
		return nil, c.dnsError(name.String(), fmt.Errorf("packing query: %w", err), false)
	}
	resp, err := c.exchangeUDP(ctx, query, id, q)
	if err == nil && resp.header.Truncated {
		resp, err = c.exchangeTCP(ctx, query, id, q)
	}
	if err != nil {
		return nil, c.dnsError(name.String(), err, true)
	}
	switch resp.header.RCode {
	case dnsmessage.RCodeSuccess:
		return resp, nil
	case dnsmessage.RCodeNameError:
		return nil, c.dnsError(name.String(), errNoSuchHost, false)
	case dnsmessage.RCodeServerFailure:
		return nil, c.dnsError(name.String(), errors.New("server misbehaving (SERVFAIL)"), true)
	default:
		return nil, c.dnsError(name.String(), fmt.Errorf("server answered %v", resp.header.RCode), false)
	}
}

// packQuery builds a recursive query for q with an EDNS(0) record.
func packQuery(id uint16, q dnsmessage.Question) ([]byte, error) {
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	var opt dnsmessage.ResourceHeader
	if err := opt.SetEDNS0(ednsUDPSize, dnsmessage.RCodeSuccess, false); err != nil {
		return nil, err
	}
	if err := b.OPTResource(opt, dnsmessage.OPTResource{}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// parseResponse parses msg if it answers query id for q. A truncated answer is returned with its
// header only.
func parseResponse(msg []byte, id uint16, q dnsmessage.Question) (*response, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return nil, fmt.Errorf("parsing answer: %w", err)
	}
	if !h.Response || h.ID != id {
		return nil, errors.New("answer does not match the query")
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return nil, fmt.Errorf("parsing answer: %w", err)
	}
	if len(qs) != 1 || qs[0].Type != q.Type || qs[0].Class != q.Class || !strings.EqualFold(qs[0].Name.String(), q.Name.String()) {
		return nil, errors.New("answer does not match the query")
	}
	resp := &response{header: h}
	if h.Truncated {
		return resp, nil
	}
	if resp.answers, err = p.AllAnswers(); err != nil {
		return nil, fmt.Errorf("parsing answer: %w", err)
	}
	return resp, nil
}

// interruptOnDone makes conn's blocked reads and writes return when ctx ends. A caller that sets
// a deadline on conn afterwards must check ctx.Err after doing so, or it may undo the interruption.
func interruptOnDone(ctx context.Context, conn net.Conn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

// exchangeUDP sends query over UDP, again every c.retransmit, until an answer that matches it
// arrives or ctx ends. Datagrams that do not match are ignored.
func (c *dnsClient) exchangeUDP(ctx context.Context, query []byte, id uint16, q dnsmessage.Question) (*response, error) {
	conn, err := c.dialer.DialContext(ctx, "udp", c.server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer interruptOnDone(ctx, conn)()
	ctxDeadline, hasDeadline := ctx.Deadline()
	buf := make([]byte, 65535)
	for {
		if _, err := conn.Write(query); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		deadline := time.Now().Add(c.retransmit)
		if hasDeadline && ctxDeadline.Before(deadline) {
			deadline = ctxDeadline
		}
		if err := conn.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for {
			n, err := conn.Read(buf)
			if err != nil {
				var netErr net.Error
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if hasDeadline && !time.Now().Before(ctxDeadline) {
					return nil, context.DeadlineExceeded
				}
				if errors.As(err, &netErr) && netErr.Timeout() {
					break // send again
				}
				return nil, err // e.g. ICMP port unreachable: nobody listens
			}
			if resp, err := parseResponse(buf[:n], id, q); err == nil {
				return resp, nil
			}
		}
	}
}

// exchangeTCP sends query over a new TCP connection and reads one answer.
func (c *dnsClient) exchangeTCP(ctx context.Context, query []byte, id uint16, q dnsmessage.Question) (*response, error) {
	conn, err := c.dialer.DialContext(ctx, "tcp", c.server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	defer interruptOnDone(ctx, conn)()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msg := make([]byte, 2+len(query))
	binary.BigEndian.PutUint16(msg, uint16(len(query)))
	copy(msg[2:], query)
	if _, err := conn.Write(msg); err != nil {
		return nil, ctxErrOr(ctx, err)
	}
	var lenb [2]byte
	if _, err := io.ReadFull(conn, lenb[:]); err != nil {
		return nil, ctxErrOr(ctx, err)
	}
	answer := make([]byte, binary.BigEndian.Uint16(lenb[:]))
	if _, err := io.ReadFull(conn, answer); err != nil {
		return nil, ctxErrOr(ctx, err)
	}
	resp, err := parseResponse(answer, id, q)
	if err != nil {
		return nil, fmt.Errorf("over tcp: %w", err)
	}
	if resp.header.Truncated {
		return nil, errors.New("answer truncated over tcp")
	}
	return resp, nil
}

// ctxErrOr returns ctx's error if it has ended (the cause of err), else err.
func ctxErrOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
