package router

import (
	"fmt"
	"net/netip"
	"testing"
)

// bigTable is 100 routes over 30 hosts (exact and wildcard) and the any-host group, with prefixes,
// exact paths, a few regexes, header, method, query and client conditions; and requests that reach
// routes at the front, the middle and the end of their group, and none.
func bigTable() (*Table, []*Request) {
	var routes []*Route
	add := func(r *Route) { r.Name = fmt.Sprintf("r%d", len(routes)); routes = append(routes, r) }
	for h := range 25 {
		host := fmt.Sprintf("svc%d.example.com", h)
		add(&Route{Hosts: []string{host}, Prefix: "/"})
		add(&Route{Hosts: []string{host}, Prefix: "/api/"})
		switch h % 3 {
		case 0:
			add(&Route{Hosts: []string{host}, PathRegex: `^/v[0-9]+/items/[0-9]+$`})
		case 1:
			add(&Route{Hosts: []string{host}, Prefix: "/api/", Headers: []FieldMatch{{Name: "X-Canary", Value: "1"}}})
		case 2:
			add(&Route{Hosts: []string{host}, Path: "/login", Methods: []string{"POST"}})
		}
	}
	for _, w := range []string{"*.apps.example.com", "*.example.net", "*.preview.example.com", "*.internal", "*.example.org"} {
		add(&Route{Hosts: []string{w}, Prefix: "/"})
		add(&Route{Hosts: []string{w}, Prefix: "/static/"})
		add(&Route{Hosts: []string{w}, Prefix: "/admin", ClientCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	}
	for len(routes) < 96 {
		add(&Route{Prefix: fmt.Sprintf("/p%d/", len(routes))})
	}
	add(&Route{PathRegex: `\.(php|asp)$`})
	add(&Route{Query: []FieldMatch{{Name: "debug"}}})
	add(&Route{Path: "/healthz"})
	add(&Route{})
	tb := NewTable(routes)
	if err := tb.Err(); err != nil {
		panic(err)
	}
	reqs := []*Request{
		newReq("GET", "svc7.example.com", "/api/users?id=1", "User-Agent: bench", "X-Canary: 1"),
		newReq("GET", "svc12.example.com:8080", "/v2/items/42"),
		newReq("GET", "a.b.apps.example.com", "/static/app.3f2a9c.js"),
		fromIP(newReq("GET", "x.internal", "/admin/users", "Accept: */*"), "10.1.2.3"),
		newReq("GET", "unknown.example.net.", "/index.php?x=1"),
		newReq("GET", "www.other.test", "/p90/x"),
		newReq("GET", "www.other.test", "/nothing/here?debug"),
	}
	return tb, reqs
}

func BenchmarkMatch(b *testing.B) {
	b.Run("2routes", func(b *testing.B) {
		tb := NewTable([]*Route{{Name: "h", Prefix: "/", Hosts: []string{"example.com"}}, {Name: "any", Prefix: "/"}})
		r := newReq("GET", "www.example.org:8080", "/static/app.js?v=1")
		b.ReportAllocs()
		for b.Loop() {
			if tb.Match(r) == nil {
				b.Fatal("no match")
			}
		}
	})
	tb, reqs := bigTable()
	for i, r := range reqs {
		b.Run(fmt.Sprintf("100routes/%d", i), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if tb.Match(r) == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}

func BenchmarkAppendTarget(b *testing.B) {
	for _, bc := range []struct {
		name string
		rw   *Rewrite
	}{
		{"none", nil},
		{"strip-add", &Rewrite{StripPrefix: "/api", AddPrefix: "/v2"}},
		{"normalized", &Rewrite{NormalizedPath: true}},
		{"regex", &Rewrite{Regex: `^/api/v([0-9]+)/`, Replacement: "/internal/${1}/"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt := &Route{Name: "r", Prefix: "/api", Rewrite: bc.rw}
			tb := NewTable([]*Route{rt})
			r := newReq("GET", "h", "/api/v1/users/42?fields=name")
			if tb.Match(r) != rt {
				b.Fatal("no match")
			}
			dst := make([]byte, 0, 128)
			b.ReportAllocs()
			for b.Loop() {
				dst = rt.AppendTarget(dst[:0], r)
			}
		})
	}
}

func BenchmarkAppendLocation(b *testing.B) {
	rd := &Redirect{Status: 308, Scheme: "https"}
	rt := &Route{Name: "r", Redirect: rd}
	tb := NewTable([]*Route{rt})
	r := newReq("GET", "example.com:80", "/a/b?c=d")
	tb.Match(r)
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		dst = rd.AppendLocation(dst[:0], r)
	}
}
