package proxy

import (
	"errors"
	"syscall"
)

// isReset reports a connection reset or a write to a closed connection: what a backend that closed
// an idle connection looks like.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
