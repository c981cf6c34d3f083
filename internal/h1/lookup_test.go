package h1

import "testing"

func TestCookieValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, list, cookie, want string
		found                    bool
	}{
		{"single", "a=1", "a", "1", true},
		{"second", "a=1; b=2", "b", "2", true},
		{"no space", "a=1;b=2", "b", "2", true},
		{"spaces around", "a=1 ;  b = 2 ", "b", "2", true},
		{"empty value", "a=; b=2", "a", "", true},
		{"quoted kept", `a="x y"`, "a", `"x y"`, true},
		{"case-sensitive", "A=1", "a", "", false},
		{"prefix is not a match", "ab=1", "a", "", false},
		{"no equals skipped", "junk; a=1", "a", "1", true},
		{"missing", "a=1", "c", "", false},
		{"empty list", "", "a", "", false},
		{"first wins", "a=1; a=2", "a", "1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := CookieValue([]byte(tt.list), tt.cookie)
			if ok != tt.found || string(got) != tt.want {
				t.Fatalf("CookieValue(%q, %q) = %q, %v; want %q, %v", tt.list, tt.cookie, got, ok, tt.want, tt.found)
			}
		})
	}
}

func TestRequestHeaderAndCookie(t *testing.T) {
	t.Parallel()
	var r Request
	r.Fields = make([]Field, 0, 8)
	raw := "GET / HTTP/1.1\r\nHost: h\r\nX-User: alice\r\nCookie: a=1\r\ncookie: sid=xyz; b=2\r\n\r\n"
	if err := ParseRequest([]byte(raw), &r, &Limits{}); err != nil || r.HeadLen == 0 {
		t.Fatalf("parse: %v", err)
	}
	for _, name := range []string{"x-user", "X-User", "X-USER"} {
		if got := string(r.Header(name)); got != "alice" {
			t.Errorf("Header(%s) = %q", name, got)
		}
	}
	if got := r.Header("x-none"); got != nil {
		t.Errorf("Header(x-none) = %q, want nil", got)
	}
	if got := string(r.Cookie("sid")); got != "xyz" {
		t.Errorf("Cookie(sid) = %q (cookies over two fields)", got)
	}
	if got := r.Cookie("none"); got != nil {
		t.Errorf("Cookie(none) = %q, want nil", got)
	}
}

func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"a=1; b=2", "a", ";;;", "=x", " a = b ;"} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, list, name string) {
		v, ok := CookieValue([]byte(list), name)
		if !ok && v != nil {
			t.Fatalf("value %q without a match", v)
		}
		if ok && len(v) > len(list) {
			t.Fatalf("value longer than the list")
		}
	})
}
