package proxy

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// errNotWatched is clientGone's answer for a connection it cannot peek at.
var errNotWatched = errors.New("connection cannot be watched")

// clientGone waits until the client connection is readable and reports whether that is its end
// (end of stream, or an error such as a reset) rather than more bytes, which it leaves unread: it
// peeks at the socket (a TLS connection's TCP socket, where a FIN shows; a close_notify alert or a
// next request show as bytes). A read deadline ends the wait with an error.
func clientGone(nc net.Conn) (gone bool, err error) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false, errNotWatched
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, e := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
			return true // bytes: the client is there
		case e == syscall.EAGAIN || e == syscall.EWOULDBLOCK || e == syscall.EINTR:
			return false // nothing yet: wait until readable
		}
		gone = true // 0 bytes (end of stream) or an error
		return true
	})
	return gone, err
}
