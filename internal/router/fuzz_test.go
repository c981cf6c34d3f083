package router

import (
	"bytes"
	"net/netip"
	"testing"
)

// FuzzMatch checks that Match and Explain agree for any host, target and header, and that what a
// route writes for the backend or the client is well formed.
func FuzzMatch(f *testing.F) {
	f.Add("GET", "api.example.com", "/api/users?id=1", "X-Canary: 1", []byte{10, 1, 2, 3})
	f.Add("POST", "a.b.example.com:8080", "//%61pi/../x.php?v=2", "", []byte{192, 168, 0, 1})
	f.Add("OPTIONS", "[2001:db8::1]", "*", "X-Env: prod", []byte(nil))
	f.Add("GET", "old.example.com.", "?v=2&debug", "", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1})
	tables := []*Table{NewTable(explainRoutes()), NewTable(precedenceRoutes())}
	rewriting := &Route{Name: "rw", Rewrite: &Rewrite{Regex: `^/(a+)`, Replacement: "/$1$1", StripPrefix: "/aa", AddPrefix: "/v/"}}
	redirect := &Redirect{Status: 301, Scheme: "https"}
	if err := rewriting.Compile(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, host, target, field string, ip []byte) {
		r := newReq(method, host, target)
		if name, value, ok := bytes.Cut([]byte(field), []byte(": ")); ok {
			r.Fields = append(r.Fields, newReq("", "", "", string(name)+": "+string(value)).Fields...)
		}
		r.ClientIP, _ = netip.AddrFromSlice(ip)
		for _, tb := range tables {
			got := tb.Match(r)
			vs := tb.Explain(r)
			if len(vs) != len(tb.Routes()) {
				t.Fatalf("Explain lists %d routes of %d", len(vs), len(tb.Routes()))
			}
			seen := map[*Route]bool{}
			for _, v := range vs {
				if seen[v.Route] {
					t.Fatalf("Explain lists %s twice", v.Route.Name)
				}
				seen[v.Route] = true
				if v.Winner != (v.Route == got) || v.Winner && (!v.Matched || len(v.Then) == 0) || !v.Winner && v.Why == "" {
					t.Fatalf("Explain %+v disagrees with Match %s", v, routeName(got))
				}
			}
			if got != nil && (!got.matchHost(r.host) || got.check(r).kind != condNone) {
				t.Fatalf("Match returned %s, which does not match", got.Name)
			}
		}
		out := rewriting.AppendTarget(nil, r)
		if len(out) == 0 || out[0] != '/' && string(out) != "*" {
			t.Fatalf("AppendTarget(%q) = %q", target, out)
		}
		if loc := redirect.AppendLocation(nil, r); !bytes.HasPrefix(loc, []byte("https://")) && (len(loc) == 0 || loc[0] != '/' || bytes.HasPrefix(loc, []byte("//"))) {
			t.Fatalf("AppendLocation(%q, %q) = %q", host, target, loc)
		}
	})
}
