package router

import "testing"

func TestAppendLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		rd           Redirect
		host, target string
		tls          bool
		want         string
	}{
		{"to https", Redirect{Scheme: "https"}, "example.com", "/a?b=1", false, "https://example.com/a?b=1"},
		{"to https drops the port", Redirect{Scheme: "https"}, "example.com:8080", "/a", false, "https://example.com/a"},
		{"to https with a port", Redirect{Scheme: "https", Port: 8443}, "example.com:8080", "/a", false, "https://example.com:8443/a"},
		{"to https default port omitted", Redirect{Scheme: "https", Port: 443}, "example.com", "/a", false, "https://example.com/a"},
		{"same scheme keeps the port", Redirect{Path: "/new"}, "example.com:8080", "/old", false, "http://example.com:8080/new"},
		{"same scheme given keeps the port", Redirect{Scheme: "http", Path: "/new"}, "example.com:8080", "/old", false, "http://example.com:8080/new"},
		{"default port omitted", Redirect{Path: "/new"}, "example.com:80", "/old", false, "http://example.com/new"},
		{"tls keeps https", Redirect{Path: "/new"}, "example.com:8443", "/old", true, "https://example.com:8443/new"},
		{"tls to http drops the port", Redirect{Scheme: "http"}, "example.com:8443", "/a", true, "http://example.com/a"},
		{"other host", Redirect{Host: "www.example.com"}, "example.com:8080", "/a?b", false, "http://www.example.com/a?b"},
		{"other host and port", Redirect{Host: "www.example.com", Port: 81}, "example.com", "/a", false, "http://www.example.com:81/a"},
		{"other host IPv6", Redirect{Host: "::1", Port: 8080}, "example.com", "/a", false, "http://[::1]:8080/a"},
		{"other host IPv6 bracketed", Redirect{Host: "[::1]"}, "example.com", "/a", false, "http://[::1]/a"},
		{"request IPv6 host", Redirect{Path: "/b"}, "[::1]:8080", "/a", false, "http://[::1]:8080/b"},
		{"request host as sent", Redirect{Scheme: "https"}, "Example.COM.", "/a", false, "https://Example.COM./a"},
		{"path as sent", Redirect{Scheme: "https"}, "example.com", "/%61//b/../c", false, "https://example.com/%61//b/../c"},
		{"path replaced, query kept", Redirect{Path: "/new"}, "example.com", "/old?x=1&y", false, "http://example.com/new?x=1&y"},
		{"query stripped", Redirect{Path: "/new", StripQuery: true}, "example.com", "/old?x=1", false, "http://example.com/new"},
		{"empty query dropped", Redirect{Scheme: "https"}, "example.com", "/a?", false, "https://example.com/a"},
		{"asterisk is the root", Redirect{Scheme: "https"}, "example.com", "*", false, "https://example.com/"},
		{"absolute-form without path", Redirect{Scheme: "https"}, "example.com", "?q", false, "https://example.com/?q"},
		{"no host: relative", Redirect{Scheme: "https"}, "", "/a?b", false, "/a?b"},
		{"no host: never another host", Redirect{}, "", "//evil.example/x", false, "/evil.example/x"},
		{"no host: path replaced", Redirect{Path: "/new"}, "", "/old?q", false, "/new?q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rd := tt.rd
			rd.Status = 301
			rt := &Route{Name: "r", Redirect: &rd}
			tb := NewTable([]*Route{rt})
			if err := tb.Err(); err != nil {
				t.Fatal(err)
			}
			r := newReq("GET", tt.host, tt.target)
			r.TLS = tt.tls
			if tb.Match(r) != rt {
				t.Fatal("no match")
			}
			if got := string(rd.AppendLocation(nil, r)); got != tt.want {
				t.Errorf("AppendLocation = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRedirectHead(t *testing.T) {
	t.Parallel()
	rd := &Redirect{Status: 308, Scheme: "https"}
	tb := NewTable([]*Route{{Name: "r", Redirect: rd}})
	r := newReq("GET", "example.com", "/a?b")
	tb.Match(r)
	want := "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://example.com/a?b\r\nContent-Length: 0\r\n"
	if got := string(rd.AppendHead(nil, r)); got != want {
		t.Errorf("AppendHead = %q, want %q", got, want)
	}
}
