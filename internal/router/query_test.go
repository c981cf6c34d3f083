package router

import (
	"bytes"
	"testing"
)

func TestNextParam(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, q string
		want    [][2]string
	}{
		{"empty", "", nil},
		{"one", "a=1", [][2]string{{"a", "1"}}},
		{"two", "a=1&b=2", [][2]string{{"a", "1"}, {"b", "2"}}},
		{"no value", "a&b=", [][2]string{{"a", ""}, {"b", ""}}},
		{"value with =", "a==b=c", [][2]string{{"a", "=b=c"}}},
		{"empty parameter", "a=1&&b=2", [][2]string{{"a", "1"}, {"", ""}, {"b", "2"}}},
		{"trailing &", "a=1&", [][2]string{{"a", "1"}}},
		{"leading &", "&a=1", [][2]string{{"", ""}, {"a", "1"}}},
		{"not decoded", "a%20b=c+d%26", [][2]string{{"a%20b", "c+d%26"}}},
		{"repeated", "x=1&x=2", [][2]string{{"x", "1"}, {"x", "2"}}},
		{"semicolon is not a separator", "a=1;b=2", [][2]string{{"a", "1;b=2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got [][2]string
			for q := []byte(tt.q); len(q) > 0; {
				var n, v []byte
				n, v, q = NextParam(q)
				got = append(got, [2]string{string(n), string(v)})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("NextParam over %q gave %q, want %q", tt.q, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("NextParam over %q gave %q, want %q", tt.q, got, tt.want)
				}
			}
		})
	}
}

func TestSplitTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, target, path, query string
		hasQuery                  bool
	}{
		{"path", "/a/b", "/a/b", "", false},
		{"path and query", "/a?b=1", "/a", "b=1", true},
		{"empty query", "/a?", "/a", "", true},
		{"asterisk", "*", "", "", false},
		{"query only", "?x=1", "", "x=1", true},
		{"empty", "", "", "", false},
		{"second ? is in the query", "/a?b?c", "/a", "b?c", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, q, has := splitTarget([]byte(tt.target))
			if string(p) != tt.path || string(q) != tt.query || has != tt.hasQuery {
				t.Errorf("splitTarget(%q) = %q, %q, %v", tt.target, p, q, has)
			}
		})
	}
}

func FuzzNextParam(f *testing.F) {
	for _, s := range []string{"", "a=1", "a=1&b=2", "a&&b", "&", "==", "a=1&", "x=%zz&y"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var rebuilt []byte
		for q := in; len(q) > 0; {
			name, value, rest := NextParam(q)
			if bytes.IndexByte(name, '&') >= 0 || bytes.IndexByte(name, '=') >= 0 || bytes.IndexByte(value, '&') >= 0 {
				t.Fatalf("%q: parameter %q=%q holds a separator", in, name, value)
			}
			if len(rest) >= len(q) {
				t.Fatalf("%q: no progress at %q", in, q)
			}
			param := q[:len(q)-len(rest)]
			if rest != nil {
				if param[len(param)-1] != '&' {
					t.Fatalf("%q: %q is not followed by '&'", in, param)
				}
				param = param[:len(param)-1]
			}
			if p := string(param); p != string(name) && p != string(name)+"="+string(value) {
				t.Fatalf("%q: parameter %q read as %q=%q", in, p, name, value)
			}
			rebuilt = append(rebuilt, q[:len(q)-len(rest)]...)
			q = rest
		}
		if !bytes.Equal(rebuilt, in) {
			t.Fatalf("parameters of %q rebuild %q", in, rebuilt)
		}
	})
}

func BenchmarkQueryMatch(b *testing.B) {
	m := fieldMatcher{name: "token", op: opEqual, value: "abc"}
	q := []byte("utm_source=x&utm_medium=y&page=3&token=abc")
	b.ReportAllocs()
	for b.Loop() {
		if !m.matchQuery(q) {
			b.Fatal("no match")
		}
	}
}
