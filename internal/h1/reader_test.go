package h1

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// zeroReader returns 0, nil forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"fill, consume and reset to the front", func(t *testing.T) {
			b := Reader{Src: strings.NewReader("hello"), Buf: make([]byte, 8)}
			if n, err := b.Fill(); n != 5 || err != nil || string(b.Buffered()) != "hello" || b.Len() != 5 {
				t.Fatalf("%d %v %q", n, err, b.Buffered())
			}
			b.Consume(2)
			if string(b.Buffered()) != "llo" || b.R != 2 {
				t.Fatalf("%q R=%d", b.Buffered(), b.R)
			}
			b.Consume(3)
			if b.R != 0 || b.W != 0 || b.Len() != 0 {
				t.Fatalf("all consumed: R=%d W=%d", b.R, b.W)
			}
			if _, err := b.Fill(); err != io.EOF {
				t.Fatalf("at the end: %v", err)
			}
		}},
		{"a full buffer is compacted", func(t *testing.T) {
			b := Reader{Src: iotest.OneByteReader(strings.NewReader("abcdefgh")), Buf: make([]byte, 4)}
			for range 4 {
				if _, err := b.Fill(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := b.Fill(); err != ErrBufferFull {
				t.Fatalf("full and nothing consumed: %v", err)
			}
			b.Consume(3)
			if n, err := b.Fill(); n != 1 || err != nil || string(b.Buffered()) != "de" || b.R != 0 {
				t.Fatalf("%d %v %q R=%d", n, err, b.Buffered(), b.R)
			}
		}},
		{"no progress is an error", func(t *testing.T) {
			b := Reader{Src: zeroReader{}, Buf: make([]byte, 4)}
			if _, err := b.Fill(); !errors.Is(err, io.ErrNoProgress) {
				t.Fatalf("%v", err)
			}
		}},
		{"data with an error keeps the data", func(t *testing.T) {
			b := Reader{Src: iotest.DataErrReader(strings.NewReader("ab")), Buf: make([]byte, 4)}
			if n, err := b.Fill(); n != 2 || err != nil {
				t.Fatalf("%d %v", n, err)
			}
			if n, err := b.Fill(); n != 0 || err != io.EOF {
				t.Fatalf("%d %v", n, err)
			}
		}},
		{"grow keeps the buffered bytes", func(t *testing.T) {
			b := Reader{Src: strings.NewReader("abcd"), Buf: make([]byte, 4)}
			b.Fill()
			b.Consume(1)
			b.Grow(2) // smaller: nothing happens
			if len(b.Buf) != 4 || b.R != 1 {
				t.Fatal("Grow shrank or moved the buffer")
			}
			b.Grow(16)
			if len(b.Buf) != 16 || b.R != 0 || string(b.Buffered()) != "bcd" {
				t.Fatalf("len %d R=%d %q", len(b.Buf), b.R, b.Buffered())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t)
		})
	}
}
