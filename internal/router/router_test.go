package router

import (
	"testing"
)

func TestMatchPrecedence(t *testing.T) {
	t.Parallel()
	routes := []*Route{
		{Name: "any-root", Prefix: "/"},
		{Name: "any-api", Prefix: "/api"},
		{Name: "host-root", Prefix: "/", Hosts: []string{"example.com"}},
		{Name: "host-api-v1", Prefix: "/api/v1/", Hosts: []string{"example.com", "www.example.com"}},
		{Name: "any-api-dup", Prefix: "/api"}, // same specificity as any-api: file order wins
		{Name: "other-host", Prefix: "/only", Hosts: []string{"other.test"}},
		{Name: "v6", Prefix: "/", Hosts: []string{"2001:db8::1"}},
	}
	tb := NewTable(routes)
	tests := []struct {
		name, host, target, want string
	}{
		{"host route beats any-host route", "example.com", "/api/x", "host-root"},
		{"longest prefix within host", "example.com", "/api/v1/users", "host-api-v1"},
		{"host case and port ignored", "WWW.Example.COM:8080", "/api/v1/", "host-api-v1"},
		{"fully qualified host with a trailing dot", "example.com.:80", "/api/v1/x", "host-api-v1"},
		{"any host longest prefix", "unknown.test", "/api/x", "any-api"},
		{"file order breaks ties", "unknown.test", "/api", "any-api"},
		{"root", "unknown.test", "/", "any-root"},
		{"asterisk is the root", "unknown.test", "*", "any-root"},
		{"absolute-form without path is the root", "unknown.test", "?q=1", "any-root"},
		{"prefix compares bytes", "unknown.test", "/apix", "any-api"},
		{"IPv6 host with port", "[::1]:80", "/", "any-root"},
		{"IPv6 host route", "[2001:db8::1]:8443", "/", "v6"},
		{"other host falls back to any", "other.test", "/nope", "any-root"},
		{"other host route", "other.test", "/only/x", "other-host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tb.Match([]byte(tt.host), []byte(tt.target))
			if r == nil || r.Name != tt.want {
				t.Errorf("Match(%q, %q) = %v, want %s", tt.host, tt.target, r, tt.want)
			}
		})
	}
}

func TestMatchNone(t *testing.T) {
	t.Parallel()
	tb := NewTable([]*Route{{Name: "a", Prefix: "/a", Hosts: []string{"a.test"}}})
	for _, c := range [][2]string{{"a.test", "/b"}, {"b.test", "/a"}, {"", "/a"}} {
		if r := tb.Match([]byte(c[0]), []byte(c[1])); r != nil {
			t.Errorf("Match(%q, %q) = %s, want no route", c[0], c[1], r.Name)
		}
	}
}

func TestStripPort(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"example.com": "example.com", "example.com:80": "example.com", "[::1]": "::1",
		"[::1]:8080": "::1", "[::1": "[::1", "10.0.0.1:1": "10.0.0.1", "": "", "a:": "a",
	} {
		if got := string(stripPort([]byte(in))); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFixedResponse(t *testing.T) {
	t.Parallel()
	f := NewFixed(503, "down\n", map[string]string{"Retry-After": "5", "Content-Type": "text/plain", "content-length": "99"})
	want := "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\nContent-Length: 5\r\n"
	if string(f.Head) != want || string(f.Body) != "down\n" || f.Status != 503 {
		t.Errorf("head %q body %q", f.Head, f.Body)
	}
}

func TestHeaderOps(t *testing.T) {
	t.Parallel()
	o := HeaderOps{Drop: []string{"x-debug", "x-set"}, Set: []Header{{Name: "X-Set", Value: "1"}}}
	if !o.Dropped([]byte("X-Debug")) || !o.Dropped([]byte("x-SET")) || o.Dropped([]byte("X-Other")) {
		t.Error("Dropped is wrong")
	}
	if got := string(o.AppendSet([]byte("A: b\r\n"))); got != "A: b\r\nX-Set: 1\r\n" {
		t.Errorf("AppendSet = %q", got)
	}
}

func BenchmarkMatch(b *testing.B) {
	routes := []*Route{{Name: "h", Prefix: "/", Hosts: []string{"example.com"}}, {Name: "any", Prefix: "/"}}
	tb := NewTable(routes)
	host, path := []byte("www.example.org:8080"), []byte("/static/app.js?v=1")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if tb.Match(host, path) == nil {
			b.Fatal("no match")
		}
	}
}

func TestRemoves(t *testing.T) {
	t.Parallel()
	o := HeaderOps{Drop: []string{"x-forwarded-for", "x-request-id"}}
	if !o.Removes("x-request-id") || !o.Removes("x-forwarded-for") || o.Removes("forwarded") {
		t.Error("Removes is wrong")
	}
	var none HeaderOps
	if none.Removes("x-request-id") {
		t.Error("an empty HeaderOps removes something")
	}
}
