package h1

import (
	"errors"
	"io"
)

// ErrBufferFull is returned by Fill when the buffer holds no free space and nothing consumed.
var ErrBufferFull = errors.New("http/1.1: read buffer full")

// Reader is a read buffer over a connection, exposed so that the engine can parse heads in place and
// relay bodies without copying them twice. Bytes Buf[R:W] are read and not yet consumed.
type Reader struct {
	Src io.Reader
	Buf []byte
	R   int
	W   int
}

// Buffered returns the bytes read and not yet consumed.
func (b *Reader) Buffered() []byte { return b.Buf[b.R:b.W] }

// Len is the number of buffered bytes.
func (b *Reader) Len() int { return b.W - b.R }

// Consume marks n buffered bytes as used.
func (b *Reader) Consume(n int) {
	b.R += n
	if b.R == b.W {
		b.R, b.W = 0, 0
	}
}

// Fill reads once from Src into the free space, moving the unconsumed bytes to the front first when
// that makes room. It returns ErrBufferFull when the buffer is full of unconsumed bytes.
func (b *Reader) Fill() (int, error) {
	if b.W == len(b.Buf) {
		if b.R == 0 {
			return 0, ErrBufferFull
		}
		b.W = copy(b.Buf, b.Buf[b.R:b.W])
		b.R = 0
	}
	n, err := b.Src.Read(b.Buf[b.W:])
	b.W += n
	if n > 0 {
		return n, nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return 0, err
}

// Grow makes the buffer size bytes long, keeping the buffered bytes, if it is smaller.
func (b *Reader) Grow(size int) {
	if size <= len(b.Buf) {
		return
	}
	nb := make([]byte, size)
	b.W = copy(nb, b.Buf[b.R:b.W])
	b.R = 0
	b.Buf = nb
}
