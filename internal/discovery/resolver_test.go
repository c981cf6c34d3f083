package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/gatehouse-proxy/gatehouse/internal/dnstest"
)

func sortedStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	slices.Sort(out)
	return out
}

func TestResolverLookup(t *testing.T) {
	many := make([]string, 100) // 100 A records do not fit in 512 bytes: truncated, then TCP
	for i := range many {
		many[i] = fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)
	}
	tests := []struct {
		name     string
		setup    func(s *dnstest.Server)
		host     string
		network  string
		want     []string // sorted
		notFound bool     // want a *net.DNSError with IsNotFound
		wantErr  bool     // want some other error
		wantTCP  bool
	}{
		{name: "A", host: "web.test", network: "ip4", want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "AAAA", host: "web.test", network: "ip6", want: []string{"2001:db8::1"}},
		{name: "both", host: "web.test", network: "ip", want: []string{"10.0.0.1", "10.0.0.2", "2001:db8::1"}},
		{name: "trailing dot", host: "web.test.", network: "ip4", want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "case insensitive", host: "WEB.Test", network: "ip4", want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "only AAAA asked for both", host: "v6only.test", network: "ip", want: []string{"2001:db8::9"}},
		{name: "nodata", host: "v6only.test", network: "ip4", notFound: true},
		{name: "nxdomain", host: "missing.test", network: "ip", notFound: true},
		{
			name:  "cname followed in the answer",
			setup: func(s *dnstest.Server) { s.SetCNAME("alias.test", "web.test") },
			host:  "alias.test", network: "ip4", want: []string{"10.0.0.1", "10.0.0.2"},
		},
		{
			name: "cname target asked for",
			setup: func(s *dnstest.Server) {
				s.SetCNAME("alias.test", "mid.test")
				s.SetCNAME("mid.test", "web.test")
				s.SetNoChase(true)
			},
			host: "alias.test", network: "ip", want: []string{"10.0.0.1", "10.0.0.2", "2001:db8::1"},
		},
		{
			name: "cname loop",
			setup: func(s *dnstest.Server) {
				s.SetCNAME("a.test", "b.test")
				s.SetCNAME("b.test", "a.test")
				s.SetNoChase(true)
			},
			host: "a.test", network: "ip4", wantErr: true,
		},
		{name: "servfail", setup: func(s *dnstest.Server) { s.SetMode(dnstest.ServFail) }, host: "web.test", network: "ip4", wantErr: true},
		{
			name:  "servfail on AAAA fails ip",
			setup: func(s *dnstest.Server) { s.SetServFailType(dnsmessage.TypeAAAA) },
			host:  "web.test", network: "ip", wantErr: true,
		},
		{
			name:  "truncated answer retried over tcp",
			setup: func(s *dnstest.Server) { s.Set("many.test", many...) },
			host:  "many.test", network: "ip4", want: sortedCopy(many), wantTCP: true,
		},
		{name: "duplicates kept as served", setup: func(s *dnstest.Server) { s.SetDuplicate(true) }, host: "v6only.test", network: "ip6", want: []string{"2001:db8::9", "2001:db8::9"}},
		{name: "reply with wrong id ignored", setup: func(s *dnstest.Server) { s.SetBogusFirst(true) }, host: "web.test", network: "ip4", want: []string{"10.0.0.1", "10.0.0.2"}},
		{name: "ipv4 literal", host: "192.0.2.7", network: "ip", want: []string{"192.0.2.7"}},
		{name: "ipv6 literal", host: "::1", network: "ip6", want: []string{"::1"}},
		{name: "literal of the other family", host: "::1", network: "ip4", notFound: true},
		{name: "unknown network", host: "web.test", network: "tcp", wantErr: true},
		{name: "label too long", host: strings.Repeat("a", 64) + ".test", network: "ip4", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			s.Set("web.test", "10.0.0.2", "10.0.0.1", "2001:db8::1")
			s.Set("v6only.test", "2001:db8::9")
			if tt.setup != nil {
				tt.setup(s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := NewResolver(s.Addr()).LookupNetIP(ctx, tt.network, tt.host)
			var dnsErr *net.DNSError
			switch {
			case tt.notFound:
				if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
					t.Fatalf("got %v, %v; want a not-found *net.DNSError", got, err)
				}
			case tt.wantErr:
				if err == nil || (errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
					t.Fatalf("got %v, %v; want an error other than not found", got, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if g := sortedStrings(got); !slices.Equal(g, tt.want) {
					t.Fatalf("got %v, want %v", g, tt.want)
				}
			}
			if _, tcp := s.Queries(); (tcp > 0) != tt.wantTCP {
				t.Errorf("tcp queries = %d, want tcp used: %v", tcp, tt.wantTCP)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	var addrs []netip.Addr
	for _, a := range s {
		addrs = append(addrs, netip.MustParseAddr(a))
	}
	return sortedStrings(addrs)
}

func TestResolverErrorKinds(t *testing.T) {
	tests := []struct {
		name          string
		mode          dnstest.Mode
		timeout       time.Duration
		wantTimeout   bool
		wantTemporary bool
	}{
		{name: "servfail is temporary", mode: dnstest.ServFail, timeout: 5 * time.Second, wantTemporary: true},
		{name: "no answer is a timeout", mode: dnstest.Drop, timeout: 100 * time.Millisecond, wantTimeout: true, wantTemporary: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.Start(t)
			s.Set("web.test", "10.0.0.1")
			s.SetMode(tt.mode)
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			_, err := NewResolver(s.Addr()).LookupNetIP(ctx, "ip4", "web.test")
			var dnsErr *net.DNSError
			if !errors.As(err, &dnsErr) {
				t.Fatalf("err = %v, want a *net.DNSError", err)
			}
			if dnsErr.IsTimeout != tt.wantTimeout || dnsErr.IsTemporary != tt.wantTemporary || dnsErr.IsNotFound {
				t.Fatalf("err = %v (timeout %v, temporary %v, not found %v)", err, dnsErr.IsTimeout, dnsErr.IsTemporary, dnsErr.IsNotFound)
			}
			if dnsErr.Server != s.Addr() {
				t.Errorf("Server = %q, want %q", dnsErr.Server, s.Addr())
			}
		})
	}
}

// A lost UDP query is sent again before the lookup's deadline.
func TestResolverRetransmits(t *testing.T) {
	s := dnstest.Start(t)
	s.Set("web.test", "10.0.0.1")
	s.DropUDP(2)
	c := &dnsClient{server: s.Addr(), retransmit: 20 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := c.LookupNetIP(ctx, "ip4", "web.test")
	if err != nil {
		t.Fatal(err)
	}
	if g := sortedStrings(got); !slices.Equal(g, []string{"10.0.0.1"}) {
		t.Fatalf("got %v", g)
	}
	if udp, _ := s.Queries(); udp < 3 {
		t.Errorf("udp queries = %d, want 3 or more (two dropped, then answered)", udp)
	}
}

// Cancelling the context ends a lookup that waits for an answer.
func TestResolverCancel(t *testing.T) {
	s := dnstest.Start(t)
	s.SetMode(dnstest.Drop)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := NewResolver(s.Addr()).LookupNetIP(ctx, "ip", "web.test")
		done <- err
	}()
	waitFor(t, "the query to reach the server", func() bool { udp, _ := s.Queries(); return udp >= 1 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lookup did not end after cancel")
	}
}

func TestServerAddr(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "ipv4 without port", in: "127.0.0.1", want: "127.0.0.1:53"},
		{name: "ipv4 with port", in: "127.0.0.1:5353", want: "127.0.0.1:5353"},
		{name: "ipv6 without port", in: "::1", want: "[::1]:53"},
		{name: "ipv6 bracketed without port", in: "[::1]", want: "[::1]:53"},
		{name: "ipv6 with port", in: "[::1]:54", want: "[::1]:54"},
		{name: "name without port", in: "dns.internal", want: "dns.internal:53"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serverAddr(tt.in); got != tt.want {
				t.Fatalf("serverAddr(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewResolverSystem(t *testing.T) {
	if _, ok := NewResolver("").(*net.Resolver); !ok {
		t.Fatalf("NewResolver(\"\") = %T, want *net.Resolver", NewResolver(""))
	}
	c, ok := NewResolver("127.0.0.1").(*dnsClient)
	if !ok || c.server != "127.0.0.1:53" || c.retransmit != defaultRetransmit {
		t.Fatalf("NewResolver(127.0.0.1) = %#v", NewResolver("127.0.0.1"))
	}
}

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
