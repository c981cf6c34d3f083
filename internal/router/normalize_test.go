package router

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestAppendNormalized(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"empty is the root", "", "/"},
		{"asterisk is the root", "*", "/"},
		{"root", "/", "/"},
		{"plain", "/a/b/c", "/a/b/c"},
		{"trailing slash kept", "/a/b/", "/a/b/"},
		{"no leading slash", "a/b", "/a/b"},

		// Routing bypasses: each of these is /admin to a backend.
		{"bypass: encoded letter", "/%61dmin", "/admin"},
		{"bypass: encoded letters upper hex", "/%41DMIN", "/ADMIN"},
		{"bypass: double slash", "//admin", "/admin"},
		{"bypass: parent segment", "/x/../admin", "/admin"},
		{"bypass: dot segment", "/./admin", "/admin"},
		{"bypass: trailing dot", "/admin/.", "/admin/"},
		{"bypass: encoded dot dot", "/%2e%2e/admin", "/admin"},
		{"bypass: mixed encoded dot dot", "/%2E./admin", "/admin"},
		{"bypass: slash runs", "///admin//x", "/admin/x"},
		{"bypass: dot dot above root", "/../../admin", "/admin"},
		{"bypass: encoded dot segment", "/%2e/admin", "/admin"},
		{"bypass: parent after slash run", "/x//..//admin", "/admin"},
		{"bypass: deep parents", "/a/b/c/../../../admin", "/admin"},
		{"bypass: encoded tilde and dash", "/%7e%2d%5f", "/~-_"},

		// Not /admin: an encoded slash is data, not a separator.
		{"encoded slash stays", "/%2Fadmin", "/%2Fadmin"},
		{"encoded slash upper-cased", "/%2fadmin", "/%2Fadmin"},
		{"encoded slash before dot dot", "/admin%2F..", "/admin%2F.."},
		{"encoded slash in dot dot", "/x/..%2Fadmin", "/x/..%2Fadmin"},
		{"dot dot with suffix is a name", "/x/..a/admin", "/x/..a/admin"},
		{"three dots is a name", "/x/.../admin", "/x/.../admin"},
		{"encoded percent stays", "/%25%32%65", "/%252e"},
		{"reserved escapes stay, upper-cased", "/a%3fb%3Bc%20d", "/a%3Fb%3Bc%20d"},
		{"non-ASCII escape upper-cased", "/caf%c3%a9", "/caf%C3%A9"},
		{"case kept", "/ADMIN", "/ADMIN"},
		{"malformed percent", "/a%zz", "/a%25zz"},
		{"percent at end", "/a%", "/a%25"},
		{"percent and one digit", "/a%4", "/a%254"},
		{"dot dot at the end", "/a/b/..", "/a/"},
		{"dot at the end", "/a/b/.", "/a/b/"},
		{"only dot dot", "/..", "/"},
		{"only dot", "/.", "/"},
		{"dot dot then slash", "/a/../", "/"},
		{"dots of RFC 3986 5.4.2", "/b/c/./../../g", "/g"},
		{"mid segment dots", "/a/./b/../c/./d", "/a/c/d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := string(AppendNormalized(nil, []byte(tt.in)))
			if got != tt.want {
				t.Errorf("AppendNormalized(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := string(AppendNormalized(nil, []byte(got))); again != got {
				t.Errorf("not idempotent: %q gives %q", got, again)
			}
		})
	}
}

func TestAppendNormalizedKeepsDst(t *testing.T) {
	t.Parallel()
	dst := []byte("prefix:")
	got := AppendNormalized(dst, []byte("/a/../../b/./c/.."))
	if string(got) != "prefix:/b/" {
		t.Errorf("got %q, want %q: a '..' must not climb into what dst held", got, "prefix:/b/")
	}
}

// checkNormalForm checks the properties every normalised path has.
func checkNormalForm(t *testing.T, in, out []byte) {
	t.Helper()
	s := string(out)
	switch {
	case !strings.HasPrefix(s, "/"):
		t.Fatalf("%q: %q does not start with /", in, s)
	case strings.Contains(s, "//"):
		t.Fatalf("%q: %q has //", in, s)
	case strings.Contains(s, "/./"), strings.Contains(s, "/../"):
		t.Fatalf("%q: %q has a dot segment", in, s)
	case strings.HasSuffix(s, "/."), strings.HasSuffix(s, "/.."):
		t.Fatalf("%q: %q ends in a dot segment", in, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			t.Fatalf("%q: %q has a malformed escape at %d", in, s, i)
		}
		if d := unhex(s[i+1])<<4 | unhex(s[i+2]); isUnreserved(d) {
			t.Fatalf("%q: %q keeps an escape of the unreserved %q", in, s, d)
		}
		if s[i+1] != upperHex(s[i+1]) || s[i+2] != upperHex(s[i+2]) {
			t.Fatalf("%q: %q has a lower-case escape", in, s)
		}
	}
	if again := AppendNormalized(nil, out); !bytes.Equal(again, out) {
		t.Fatalf("%q: not idempotent: %q then %q", in, out, again)
	}
}

// respell writes an equivalent path: unreserved characters percent-encoded at random (in either
// case of hex), the hex of escapes re-cased, a malformed '%' as %25.
func respell(in []byte, rnd *rand.Rand) []byte {
	const hex = "0123456789abcdef0123456789ABCDEF"
	var out []byte
	enc := func(c byte) {
		off := rnd.IntN(2) * 16
		out = append(out, '%', hex[off+int(c>>4)], hex[off+int(c&15)])
	}
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '%' && i+2 < len(in) && isHex(in[i+1]) && isHex(in[i+2]):
			d := unhex(in[i+1])<<4 | unhex(in[i+2])
			if isUnreserved(d) && rnd.IntN(2) == 0 {
				out = append(out, d)
			} else {
				enc(d)
			}
			i += 2
		case c == '%':
			enc('%')
		case isUnreserved(c) && rnd.IntN(2) == 0:
			enc(c)
		default:
			out = append(out, c)
		}
	}
	return out
}

func TestNormalizedRespelled(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, in := range []string{"/%61dmin/./x/../y", "/a%2fb/..%2e/c", "/%zz/%/%4", "/~user/a-b_c.d", "*", ""} {
		want := AppendNormalized(nil, []byte(in))
		for range 50 {
			alt := respell([]byte(in), rnd)
			if in == "*" {
				alt = []byte(in) // "*" is a form of its own, not a path
			}
			if got := AppendNormalized(nil, alt); !bytes.Equal(got, want) {
				t.Fatalf("%q normalises to %q but its spelling %q to %q", in, want, alt, got)
			}
		}
	}
}

func FuzzAppendNormalized(f *testing.F) {
	for _, s := range []string{"", "/", "*", "/%61dmin", "//admin", "/x/../admin", "/./admin", "/admin/.",
		"/%2e%2e/admin", "/%2E./admin", "///admin//x", "/%2Fadmin", "/admin%2F..", "/a%", "/a%4", "/%%41",
		"/%%32%65", "/a/b/c/../../..", "a/./b", "/..%2f..", "/%7E"} {
		f.Add([]byte(s), uint64(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		out := AppendNormalized(nil, in)
		checkNormalForm(t, in, out)
		if len(in) == 1 && in[0] == '*' {
			return
		}
		alt := respell(in, rand.New(rand.NewPCG(seed, seed>>1)))
		if got := AppendNormalized(nil, alt); !bytes.Equal(got, out) {
			t.Fatalf("%q normalises to %q but its spelling %q to %q", in, out, alt, got)
		}
		// Only a malformed '%' grows: the bound in the doc comment holds.
		if len(out) > 1+3*len(in) {
			t.Fatalf("%q: %d bytes out of %d", in, len(out), len(in))
		}
	})
}

func BenchmarkAppendNormalized(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{"clean", "/static/js/app.3f2a9c.min.js"},
		{"dirty", "//static/./js/../js/%61pp.%2e%2E/app.js"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.path)
			dst := make([]byte, 0, 64)
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				dst = AppendNormalized(dst[:0], in)
			}
		})
	}
}
