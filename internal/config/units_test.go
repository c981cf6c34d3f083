package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Size
		wantErr string
	}{
		{name: "zero", in: "0", want: 0},
		{name: "plain bytes", in: "512", want: 512},
		{name: "bytes unit", in: "512B", want: 512},
		{name: "kilobytes", in: "16KB", want: 16000},
		{name: "megabytes", in: "2MB", want: 2000000},
		{name: "gigabytes", in: "1GB", want: 1000000000},
		{name: "kibibytes", in: "16KiB", want: 16384},
		{name: "mebibytes", in: "100MiB", want: 100 << 20},
		{name: "gibibytes", in: "3GiB", want: 3 << 30},
		{name: "one space", in: "8 KiB", want: 8192},
		{name: "leading zeros", in: "007", want: 7},
		{name: "largest", in: "9223372036854775807", want: 1<<63 - 1},
		{name: "largest in GiB", in: "8589934591GiB", want: 8589934591 << 30},
		{name: "empty", in: "", wantErr: `invalid size "": write a whole number of bytes`},
		{name: "negative", in: "-1", wantErr: "must not be negative"},
		{name: "negative with unit", in: "-1KiB", wantErr: "must not be negative"},
		{name: "plus sign", in: "+1", wantErr: "invalid size"},
		{name: "lowercase unit", in: "16kib", wantErr: `invalid size "16kib"`},
		{name: "unknown unit", in: "16TB", wantErr: "invalid size"},
		{name: "unit only", in: "KiB", wantErr: "invalid size"},
		{name: "two spaces", in: "16  KiB", wantErr: "invalid size"},
		{name: "trailing space", in: "16 ", wantErr: "invalid size"},
		{name: "leading space", in: " 16", wantErr: "invalid size"},
		{name: "decimal", in: "1.5MiB", wantErr: "invalid size"},
		{name: "underscore", in: "1_000", wantErr: "invalid size"},
		{name: "overflow plain", in: "9223372036854775808", wantErr: "too large"},
		{name: "overflow with unit", in: "8589934592GiB", wantErr: "too large"},
		{name: "huge", in: "99999999999999999999999KB", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSize(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Size
		want string
	}{
		{name: "zero", in: 0, want: "0B"},
		{name: "bytes", in: 1500, want: "1500B"},
		{name: "kibibytes", in: 8 << 10, want: "8KiB"},
		{name: "mebibytes", in: 100 << 20, want: "100MiB"},
		{name: "gibibytes", in: 2 << 30, want: "2GiB"},
		{name: "kilobytes", in: 3000, want: "3KB"},
		{name: "megabytes", in: 2000000, want: "2MB"},
		{name: "binary first", in: 1 << 40, want: "1024GiB"},
		{name: "negative", in: -5, want: "-5B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.in.String(); got != tt.want {
				t.Fatalf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
			}
			if tt.in < 0 {
				return
			}
			back, err := ParseSize(tt.in.String())
			if err != nil || back != tt.in {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in.String(), back, err, tt.in)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr string
	}{
		{name: "seconds", in: "5s", want: 5 * time.Second},
		{name: "milliseconds", in: "250ms", want: 250 * time.Millisecond},
		{name: "compound", in: "1m30s", want: 90 * time.Second},
		{name: "hours", in: "2h", want: 2 * time.Hour},
		{name: "zero", in: "0", want: 0},
		{name: "fraction", in: "1.5s", want: 1500 * time.Millisecond},
		{name: "word", in: "fast", wantErr: `invalid duration "fast": write a Go duration such as 5s, 250ms or 1m30s`},
		{name: "no unit", in: "5", wantErr: `invalid duration "5"`},
		{name: "empty", in: "", wantErr: `invalid duration ""`},
		{name: "days", in: "1d", wantErr: `invalid duration "1d"`},
		{name: "negative", in: "-1s", wantErr: "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.D() != tt.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Duration
		want string
	}{
		{name: "seconds", in: Duration(5 * time.Second), want: "5s"},
		{name: "compound", in: Duration(90 * time.Second), want: "1m30s"},
		{name: "milliseconds", in: Duration(250 * time.Millisecond), want: "250ms"},
		{name: "zero", in: 0, want: "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.in.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			text, _ := tt.in.MarshalText()
			var back Duration
			if err := back.UnmarshalText(text); err != nil || back != tt.in {
				t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, tt.in)
			}
		})
	}
}

func TestSizeText(t *testing.T) {
	t.Parallel()
	var s Size
	if err := s.UnmarshalText([]byte("16KiB")); err != nil || s.Int64() != 16384 {
		t.Fatalf("UnmarshalText(16KiB) = %d, %v", s, err)
	}
	if err := s.UnmarshalText([]byte("lots")); err == nil {
		t.Fatal("UnmarshalText(lots) succeeded")
	}
	if text, _ := Size(16384).MarshalText(); string(text) != "16KiB" {
		t.Fatalf("MarshalText = %q", text)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "512", "16KiB", "2 MB", "1GB", "-1", "8589934592GiB", "9223372036854775807", "1.5MiB", " KiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		size, err := ParseSize(s)
		if err != nil {
			if size != 0 {
				t.Fatalf("ParseSize(%q) returned %d with error %v", s, size, err)
			}
			return
		}
		if size < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, size)
		}
		back, err := ParseSize(size.String())
		if err != nil || back != size {
			t.Fatalf("ParseSize(%q) = %d but ParseSize(%q) = %d, %v", s, size, size.String(), back, err)
		}
	})
}
