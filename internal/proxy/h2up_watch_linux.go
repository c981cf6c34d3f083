package proxy

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"unsafe"
)

// errNotWatched is clientGone's answer for a connection it cannot peek at.
var errNotWatched = errors.New("connection cannot be watched")

// clientGone waits until the client connection is readable and reports whether that is its end
// (end of stream, or an error such as a reset) rather than more bytes, which it leaves unread: it
// peeks at the socket (a TLS connection's TCP socket, where a FIN shows; a close_notify alert or a
// next request show as bytes). A read deadline ends the wait with an error.
func clientGone(nc net.Conn) (gone bool, err error) {
	rc, err := socketOf(nc)
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

// clientClosed reports whether the client's end of nc is closed (end of stream, or an error such
// as a reset), without reading or waiting: one MSG_PEEK of the socket (a TLS connection's TCP
// socket: a FIN shows, a close_notify alert before it shows as bytes). It goes through Control,
// which takes neither the read lock nor the poller's state, so another goroutine may call it while
// the owner reads or writes the connection. Not a socket: false.
func clientClosed(nc net.Conn) bool {
	rc, err := socketOf(nc)
	if err != nil {
		return false
	}
	closed := false
	_ = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			closed = n == 0 // end of stream; bytes: a next request, or a TLS record
		case syscall.EAGAIN, syscall.EINTR:
		default:
			closed = true // a reset, say
		}
	})
	return closed
}

// socketOf returns the socket under nc (a TLS connection's TCP socket), or errNotWatched.
func socketOf(nc net.Conn) (syscall.RawConn, error) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errNotWatched
	}
	return sc.SyscallConn()
}
