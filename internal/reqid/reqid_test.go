package reqid

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestAppendFormat(t *testing.T) {
	g, err := New()
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte("x-")
	id := g.Append(prefix)
	if !bytes.HasPrefix(id, []byte("x-")) {
		t.Fatalf("Append lost dst contents: %q", id)
	}
	id = id[2:]
	if len(id) != Len {
		t.Fatalf("len = %d, want %d (%q)", len(id), Len, id)
	}
	for _, c := range id {
		if !strings.ContainsRune(hexDigits, rune(c)) {
			t.Fatalf("id %q has non-lowercase-hex byte %q", id, c)
		}
	}
	if !Valid(id) {
		t.Fatalf("generated id %q is not Valid", id)
	}
	id2 := g.Append(nil)
	if string(id[:16]) != string(id2[:16]) {
		t.Fatalf("prefix changed between ids: %q %q", id, id2)
	}
	if string(id[16:]) == string(id2[16:]) {
		t.Fatalf("counter did not advance: %q %q", id, id2)
	}
}

func TestAppendCounterHex(t *testing.T) {
	g := &Generator{prefix: 0x0123456789abcdef}
	g.counter.Store(0xfe)
	got := string(g.Append(nil))
	if want := "0123456789abcdef00000000000000fe"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	got = string(g.Append(nil))
	if want := "0123456789abcdef00000000000000ff"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestGeneratorsDifferInPrefix(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	b, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if a.prefix == b.prefix {
		t.Fatalf("two generators share prefix %x (astronomically unlikely)", a.prefix)
	}
}

func TestUniqueConcurrent(t *testing.T) {
	const goroutines = 4
	const total = 100000
	g, err := New()
	if err != nil {
		t.Fatal(err)
	}
	results := make([][]string, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := make([]string, 0, total/goroutines)
			buf := make([]byte, 0, Len)
			for range total / goroutines {
				ids = append(ids, string(g.Append(buf[:0])))
			}
			results[i] = ids
		}()
	}
	wg.Wait()
	seen := make(map[string]struct{}, total)
	for _, ids := range results {
		for _, id := range ids {
			if len(id) != Len {
				t.Fatalf("bad length id %q", id)
			}
			if _, dup := seen[id]; dup {
				t.Fatalf("duplicate id %q", id)
			}
			seen[id] = struct{}{}
		}
	}
	if len(seen) != total {
		t.Fatalf("got %d unique ids, want %d", len(seen), total)
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty", "", false},
		{"single", "a", true},
		{"uuid", "9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b", true},
		{"generated style", "0123456789abcdef0000000000000001", true},
		{"all visible punctuation", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~", true},
		{"max length", strings.Repeat("a", MaxLen), true},
		{"too long", strings.Repeat("a", MaxLen+1), false},
		{"space", "a b", false},
		{"tab", "a\tb", false},
		{"newline", "a\nb", false},
		{"nul", "a\x00b", false},
		{"del", "a\x7fb", false},
		{"quote", `a"b`, false},
		{"backslash", `a\b`, false},
		{"high byte", "a\xffb", false},
		{"utf8", "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Valid([]byte(tt.in)); got != tt.want {
				t.Fatalf("Valid(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestAppendNoAlloc(t *testing.T) {
	g, err := New()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, Len)
	allocs := testing.AllocsPerRun(1000, func() {
		buf = g.Append(buf[:0])
	})
	if allocs != 0 {
		t.Fatalf("Append allocated %v times per call, want 0", allocs)
	}
}

func BenchmarkAppend(b *testing.B) {
	g, err := New()
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, Len)
	b.ReportAllocs()
	for b.Loop() {
		buf = g.Append(buf[:0])
	}
}

func BenchmarkAppendParallel(b *testing.B) {
	g, err := New()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, Len)
		for pb.Next() {
			buf = g.Append(buf[:0])
		}
	})
}

func BenchmarkValid(b *testing.B) {
	id := []byte("9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b")
	b.ReportAllocs()
	for b.Loop() {
		if !Valid(id) {
			b.Fatal("invalid")
		}
	}
}
