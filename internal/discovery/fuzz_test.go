package discovery

import (
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/gatehouse-proxy/gatehouse/internal/dnstest"
)

// FuzzParseResponse feeds arbitrary answers to the client's answer handling: parsing must not
// panic, and every address it accepts must be of the type asked for.
func FuzzParseResponse(f *testing.F) {
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("web.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	s := dnstest.NewServer()
	s.Set("web.test", "10.0.0.1", "2001:db8::1")
	s.Set("real.test", "10.0.0.2")
	s.SetCNAME("alias.test", "real.test")
	s.SetCNAME("loop.test", "loop.test")
	for _, name := range []string{"web.test.", "alias.test.", "loop.test.", "missing.test."} {
		for _, t := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
			query, err := packQuery(7, dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: t, Class: dnsmessage.ClassINET})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(query) // a query is not an answer
			for _, limit := range []int{512, 40} {
				resp, err := s.Answer(query, limit)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(resp)
			}
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, qtype := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
			q.Type = qtype
			resp, err := parseResponse(msg, 7, q)
			if err != nil {
				continue
			}
			if resp.header.Truncated && resp.answers != nil {
				t.Fatal("answers kept from a truncated reply")
			}
			addrs, next, err := answerAddrs(resp.answers, q.Name, qtype)
			if err != nil {
				continue
			}
			if len(addrs) > 0 && next != "" {
				t.Fatalf("addresses %v and a CNAME target %q to ask for", addrs, next)
			}
			for _, a := range addrs {
				if a.Is4() != (qtype == dnsmessage.TypeA) {
					t.Fatalf("address %v in an answer to %v", a, qtype)
				}
			}
		}
	})
}
