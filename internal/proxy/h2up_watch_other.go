//go:build !linux

package proxy

import (
	"errors"
	"net"
)

// clientGone cannot peek at a socket on this platform: the client is not watched while the engine
// waits on an HTTP/2 backend (a write to a client that went away still ends the exchange).
func clientGone(net.Conn) (bool, error) { return false, errors.New("connection cannot be watched") }

// clientClosed cannot peek at a socket on this platform: a client that went away is noticed when
// the answer is written to it.
func clientClosed(net.Conn) bool { return false }
