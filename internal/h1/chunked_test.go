package h1

import (
	"strings"
	"testing"
)

func TestParseChunkLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		size int64
		n    int // 0: len(in) when err is nil
	}{
		{"zero", "0\r\n", 0, 0},
		{"one digit", "5\r\n", 5, 0},
		{"lower-case hex", "ff\r\n", 255, 0},
		{"upper-case hex", "FF\r\n", 255, 0},
		{"mixed-case hex", "aBcD\r\n", 0xabcd, 0},
		{"leading zeros", "0005\r\n", 5, 0},
		{"15 digits", "fffffffffffffff\r\n", 0xfffffffffffffff, 0},
		{"15 zeros and a digit short of overflow", "000000000000001\r\n", 1, 0},
		{"data follows", "5\r\nhello\r\n", 5, 3},
		{"extension name", "5;name\r\n", 5, 0},
		{"extension token value", "5;name=value\r\n", 5, 0},
		{"extension quoted value", "5;name=\"quoted value\"\r\n", 5, 0},
		{"extension empty quoted value", "5;n=\"\"\r\n", 5, 0},
		{"extension quoted-pair", "5;n=\"a\\\"b\\\\c\"\r\n", 5, 0},
		{"extension quoted obs-text", "5;n=\"caf\xc3\xa9\"\r\n", 5, 0},
		{"extension quoted with separators", "5;n=\"a;b=c,d\"\r\n", 5, 0},
		{"several extensions", "5;a;b=1;c=\"x\"\r\n", 5, 0},
		{"BWS everywhere", "5 \t; \ta \t= \t\"x\" ; b = c\r\n", 5, 0},
		{"BWS before semicolon", "1a ;x\r\n", 26, 0},
		{"last chunk with extension", "0;done\r\n\r\n", 0, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			size, n, err := ParseChunkLine([]byte(tt.in))
			want := tt.n
			if want == 0 {
				want = len(tt.in)
			}
			if err != nil || size != tt.size || n != want {
				t.Fatalf("ParseChunkLine(%q) = %d, %d, %v; want %d, %d, nil", tt.in, size, n, err, tt.size, want)
			}
		})
	}
}

func TestParseChunkLineErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"bare LF", "5\n"},
		{"bare LF after extension", "5;a=b\n"},
		{"LF only", "\n"},
		{"empty size", "\r\n"},
		{"extension without size", ";a\r\n"},
		{"0x prefix", "0x5\r\n"},
		{"negative", "-5\r\n"},
		{"plus sign", "+5\r\n"},
		{"not hex", "g\r\n"},
		{"leading space", " 5\r\n"},
		{"trailing space", "5 \r\n"},
		{"trailing tab", "5\t\r\n"},
		{"16 digits", "1000000000000000\r\n"},
		{"16 digits of zeros", "0000000000000000\r\n"},
		{"overflow", "ffffffffffffffffff\r\n"},
		{"bare CR in line", "5\r;a\r\n"},
		{"CR CR LF", "5\r\r\n"},
		{"semicolon only", "5;\r\n"},
		{"empty extension name", "5;=1\r\n"},
		{"empty extension value", "5;a=\r\n"},
		{"extension value not a token", "5;a=b c\r\n"},
		{"extension name not a token", "5;a(b)\r\n"},
		{"extension junk after quoted value", "5;a=\"x\"y\r\n"},
		{"unterminated quoted value", "5;a=\"x\r\n"},
		{"quoted value with NUL", "5;a=\"x\x00\"\r\n"},
		{"quoted value with escaped NUL", "5;a=\"x\\\x00\"\r\n"},
		{"quoted value ending in a backslash", "5;a=\"x\\\r\n"},
		{"trailing space after value", "5;a=b \r\n"},
		{"comma instead of semicolon", "5,a\r\n"},
		{"NUL after size", "5\x00\r\n"},
		{"too long, incomplete", "5;" + strings.Repeat("a", MaxChunkLine)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			size, n, err := ParseChunkLine([]byte(tt.in))
			if err != ErrChunkSize || n != 0 || size != 0 {
				t.Fatalf("ParseChunkLine(%q) = %d, %d, %v; want 0, 0, ErrChunkSize", tt.in, size, n, err)
			}
		})
	}
}

func TestParseChunkLineIncomplete(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "5", "5\r", "ff;a=\"x", "0;" + strings.Repeat("a", MaxChunkLine-2)} {
		if size, n, err := ParseChunkLine([]byte(in)); err != nil || n != 0 || size != 0 {
			t.Errorf("ParseChunkLine(%.20q) = %d, %d, %v; want more bytes needed", in, size, n, err)
		}
	}
}

// TestParseChunkLinePrefixes checks that every proper prefix of a valid line asks for more bytes.
func TestParseChunkLinePrefixes(t *testing.T) {
	t.Parallel()
	for _, line := range []string{"0\r\n", "1f40;name=\"v a l\" ; x = y\r\n"} {
		for k := 0; k < len(line); k++ {
			if _, n, err := ParseChunkLine([]byte(line[:k])); err != nil || n != 0 {
				t.Errorf("ParseChunkLine(%q) = %d, %v; want more bytes needed", line[:k], n, err)
			}
		}
	}
}

func TestParseTrailers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     string
		n      int // 0: len(in)
		fields int
		hop    string
	}{
		{"empty section", "\r\n", 0, 0, ""},
		{"empty section, data follows", "\r\nGET / HTTP/1.1\r\n", 2, 0, ""},
		{"one trailer", "X-Checksum: abc\r\n\r\n", 0, 1, ""},
		{"framing and routing trailers are dropped", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\nHost: evil\r\nX-Ok: 1\r\n\r\n", 0, 4,
			"Content-Length,Transfer-Encoding,Host"},
		{"hop-by-hop trailers are dropped", "Connection: close\r\nKeep-Alive: 1\r\nTE: trailers\r\nTrailer: X\r\nUpgrade: h2c\r\nProxy-Authorization: x\r\nExpect: 100-continue\r\nServer-Timing: db;dur=53\r\n\r\n", 0, 8,
			"Connection,Keep-Alive,TE,Trailer,Upgrade,Proxy-Authorization,Expect"},
		{"case-insensitive names", "content-length: 5\r\nHOST: x\r\n\r\n", 0, 2, "content-length,HOST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fields, n, err := ParseTrailers([]byte(tt.in), nil, nil)
			want := tt.n
			if want == 0 {
				want = len(tt.in)
			}
			if err != nil || n != want || len(fields) != tt.fields || hopNames(fields) != tt.hop {
				t.Fatalf("ParseTrailers(%q) = %d fields, hop %q, %d, %v; want %d fields, hop %q, %d", tt.in, len(fields), hopNames(fields), n, err, tt.fields, tt.hop, want)
			}
		})
	}
}

func TestParseTrailersErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		lim  *Limits
	}{
		{"bare LF", "X: 1\n\r\n", nil},
		{"bare LF ends", "X: 1\r\n\n", nil},
		{"LF only", "\n", nil},
		{"obs-fold", "X: 1\r\n 2\r\n\r\n", nil},
		{"leading whitespace", " X: 1\r\n\r\n", nil},
		{"space before colon", "X : 1\r\n\r\n", nil},
		{"no colon", "X\r\n\r\n", nil},
		{"NUL in value", "X: \x00\r\n\r\n", nil},
		{"bare CR in value", "X: a\rb\r\n\r\n", nil},
		{"too large", "X: " + strings.Repeat("v", 100) + "\r\n\r\n", &Limits{MaxHeaderBytes: 64}},
		{"too large, incomplete", "X: " + strings.Repeat("v", 100), &Limits{MaxHeaderBytes: 64}},
		{"too many", "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", &Limits{MaxHeaderCount: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, n, err := ParseTrailers([]byte(tt.in), nil, tt.lim)
			if err != ErrTrailer || n != 0 {
				t.Fatalf("ParseTrailers(%q) = %d, %v; want ErrTrailer", tt.in, n, err)
			}
		})
	}
}

func TestParseTrailersIncomplete(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "\r", "X: 1", "X: 1\r\n", "X: 1\r\n\r"} {
		if _, n, err := ParseTrailers([]byte(in), nil, nil); err != nil || n != 0 {
			t.Errorf("ParseTrailers(%q) = %d, %v; want more bytes needed", in, n, err)
		}
	}
}

func TestParseTrailersReusesStorage(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	in := []byte("X-A: 1\r\nContent-Length: 2\r\n\r\n")
	fields := make([]Field, 5, 8)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		var n int
		fields, n, err = ParseTrailers(in, fields, nil)
		if err != nil || n != len(in) || len(fields) != 2 || fields[0].Hop || !fields[1].Hop {
			t.Fatalf("%v %d %d", err, n, len(fields))
		}
	})
	if allocs != 0 {
		t.Errorf("ParseTrailers allocates %v times", allocs)
	}
}

// The tests below are regression tests for bugs these tests found in the non-test code (since fixed).

// TestBugChunkLineLengthLimitOnlyWhenIncomplete: ParseChunkLine enforced MaxChunkLine only while the
// line had no LF yet. A longer line that arrived in one read was accepted, so whether a chunk line was
// rejected depended on how the network split the bytes.
func TestBugChunkLineLengthLimitOnlyWhenIncomplete(t *testing.T) {
	t.Parallel()
	line := []byte("5;" + strings.Repeat("a", MaxChunkLine+100) + "\r\n")
	if _, _, err := ParseChunkLine(line[:MaxChunkLine+1]); err != ErrChunkSize {
		t.Fatalf("a prefix longer than MaxChunkLine: %v, want ErrChunkSize", err)
	}
	if size, n, err := ParseChunkLine(line); err != ErrChunkSize {
		t.Fatalf("the whole %d-byte line: %d, %d, %v; want ErrChunkSize as for its prefix", len(line), size, n, err)
	}
}

// TestBugChunkExtTrailingWhitespaceAfterName: validChunkExt accepted whitespace after a value-less
// extension name at the end of the line ("5;a \r\n"), though the grammar it implements,
// *( BWS ";" BWS name [ BWS "=" BWS value ] ), has no trailing BWS, and it rejected the same whitespace
// after a size ("5 \r\n") or after a value ("5;a=b \r\n").
func TestBugChunkExtTrailingWhitespaceAfterName(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"5;a \r\n", "5;a\t\r\n", "5;a=b;c \r\n"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			if size, n, err := ParseChunkLine([]byte(in)); err != ErrChunkSize {
				t.Fatalf("ParseChunkLine(%q) = %d, %d, %v; want ErrChunkSize", in, size, n, err)
			}
		})
	}
}
