package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// FuzzParseH2Head feeds HTTP/2 answers of any status, field names and values through the
// conversion to the HTTP/1.1 head the engine rewrites: it fails cleanly or gives back exactly the
// fields it was given, so that no value can split the head or smuggle a field in.
func FuzzParseH2Head(f *testing.F) {
	seeds := []struct {
		status            int
		name1, value1     string
		name2, value2     string
		contentLengthFrom string
	}{
		{200, "Content-Type", "application/grpc", "Grpc-Status", "0", ""},
		{404, "X-A", "1", "X-A", "2", "5"},
		{599, "X-Bad", "a\r\nX-Injected: 1", "Set-Cookie", "a=b", ""},
		{204, "X-Obs", "caf\xe9", "X-Empty", "", "0"},
		{100, "Bad Name", "v", "X:y", "v", "x"},
	}
	for _, s := range seeds {
		f.Add(s.status, s.name1, s.value1, s.name2, s.value2, s.contentLengthFrom)
	}
	lim := &h1.Limits{MaxHeaderBytes: 8 << 10, MaxHeaderCount: 50}
	f.Fuzz(func(t *testing.T, status int, name1, value1, name2, value2, cl string) {
		h := http.Header{}
		h[name1] = append(h[name1], value1)
		h[name2] = append(h[name2], value2)
		if cl != "" {
			h["Content-Length"] = []string{cl}
		}
		resp := &http.Response{StatusCode: status, Header: h}
		head := h1.Response{Fields: make([]h1.Field, 0, 4)}
		if err := parseH2Head(resp, &head, lim); err != nil {
			return
		}
		if head.Status != status {
			t.Fatalf("status %d, want %d", head.Status, status)
		}
		n := 0
		for _, vv := range h {
			n += len(vv)
		}
		if len(head.Fields) != n {
			t.Fatalf("%d fields from %d values: %q", len(head.Fields), n, h)
		}
		for _, f := range head.Fields {
			got := h[string(f.Name)]
			found := false
			for _, v := range got {
				found = found || strings.TrimRight(strings.TrimLeft(v, " \t"), " \t") == string(f.Value)
			}
			if !found {
				t.Fatalf("field %q: %q is not one of the values given, %q", f.Name, f.Value, got)
			}
		}
	})
}

// An answer whose fields cannot be HTTP/1.1 fields is refused, not passed on.
func TestParseH2HeadRefuses(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
	}{
		{"CRLF in a value", http.Header{"X-A": {"a\r\nX-B: c"}}},
		{"NUL in a value", http.Header{"X-A": {"a\x00b"}}},
		{"space in a name", http.Header{"X A": {"v"}}},
		{"colon in a name", http.Header{"X:A": {"v"}}},
		{"empty name", http.Header{"": {"v"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := h1.Response{}
			if err := parseH2Head(&http.Response{StatusCode: 200, Header: tt.h}, &head, nil); err == nil {
				t.Errorf("accepted %q (%d fields)", tt.h, len(head.Fields))
			}
		})
	}
}
