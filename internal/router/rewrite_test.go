package router

import "testing"

func TestAppendTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, target string
		rw           *Rewrite
		want         string
	}{
		{"no rewrite: as sent", "/a/../%61?x=%20", nil, "/a/../%61?x=%20"},
		{"no rewrite: empty is the root", "", nil, "/"},
		{"no rewrite: query only", "?q=1", nil, "/?q=1"},
		{"no rewrite: asterisk", "*", nil, "*"},
		{"asterisk is never rewritten", "*", &Rewrite{AddPrefix: "/v2"}, "*"},
		{"normalised path", "//a/./b/../%63?x=%41", &Rewrite{NormalizedPath: true}, "/a/c?x=%41"},
		{"strip prefix", "/api/users?id=1", &Rewrite{StripPrefix: "/api"}, "/users?id=1"},
		{"strip the whole path keeps the root", "/api", &Rewrite{StripPrefix: "/api"}, "/"},
		{"strip the whole path keeps the query", "/api?x", &Rewrite{StripPrefix: "/api"}, "/?x"},
		{"strip a prefix with its slash", "/api/users", &Rewrite{StripPrefix: "/api/"}, "/users"},
		{"strip is a string prefix", "/apix", &Rewrite{StripPrefix: "/api"}, "/x"},
		{"strip only when present", "/other", &Rewrite{StripPrefix: "/api"}, "/other"},
		{"strip the raw path", "/%61pi/x", &Rewrite{StripPrefix: "/api"}, "/%61pi/x"},
		{"strip the normalised path", "/%61pi/x", &Rewrite{StripPrefix: "/api", NormalizedPath: true}, "/x"},
		{"add prefix", "/users", &Rewrite{AddPrefix: "/v2"}, "/v2/users"},
		{"add prefix with slash", "/users", &Rewrite{AddPrefix: "/v2/"}, "/v2/users"},
		{"add prefix to the root", "/", &Rewrite{AddPrefix: "/v2"}, "/v2/"},
		{"add prefix to an empty path", "?a", &Rewrite{AddPrefix: "/v2"}, "/v2/?a"},
		{"strip then add", "/api/users?x=1", &Rewrite{StripPrefix: "/api", AddPrefix: "/internal/v2"}, "/internal/v2/users?x=1"},
		{"regex", "/old/a/b?q", &Rewrite{Regex: `^/old/(.*)$`, Replacement: "/new/$1"}, "/new/a/b?q"},
		{"regex named group", "/u/42/profile", &Rewrite{Regex: `^/u/(?P<id>[0-9]+)`, Replacement: "/users/${id}"}, "/users/42/profile"},
		{"regex first match only", "/a-a-a", &Rewrite{Regex: `a`, Replacement: "b"}, "/b-a-a"},
		{"regex unanchored", "/x/img.PNG", &Rewrite{Regex: `\.PNG`, Replacement: ".png"}, "/x/img.png"},
		{"regex no match", "/keep", &Rewrite{Regex: `^/old/`, Replacement: "/new/"}, "/keep"},
		{"regex not on the query", "/p?old=1", &Rewrite{Regex: `old`, Replacement: "new"}, "/p?old=1"},
		{"regex result gets a slash", "/x", &Rewrite{Regex: `^/`, Replacement: ""}, "/x"},
		{"regex then strip then add", "/old/api/x", &Rewrite{Regex: `^/old`, Replacement: "", StripPrefix: "/api", AddPrefix: "/v3"}, "/v3/x"},
		{"regex on the normalised path", "/%6Fld/x", &Rewrite{NormalizedPath: true, Regex: `^/old/`, Replacement: "/new/"}, "/new/x"},
		{"dollar escaped", "/a", &Rewrite{Regex: `^/a$`, Replacement: "/$$"}, "/$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := &Route{Name: "r", Rewrite: tt.rw}
			tb := NewTable([]*Route{rt})
			if err := tb.Err(); err != nil {
				t.Fatal(err)
			}
			r := newReq("GET", "h", tt.target)
			if tb.Match(r) != rt {
				t.Fatal("no match")
			}
			if got := string(rt.AppendTarget([]byte("GET "), r)); got != "GET "+tt.want {
				t.Errorf("AppendTarget(%q) = %q, want %q", tt.target, got, "GET "+tt.want)
			}
		})
	}
}

func TestAppendTargetAllocs(t *testing.T) {
	rt := &Route{Name: "r", Rewrite: &Rewrite{NormalizedPath: true, StripPrefix: "/api", AddPrefix: "/v2"}}
	tb := NewTable([]*Route{rt})
	r := newReq("GET", "h", "//api/./users?x=1")
	tb.Match(r)
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(20, func() { dst = rt.AppendTarget(dst[:0], r) }); n != 0 {
		t.Errorf("AppendTarget allocates %.0f times", n)
	}
}
