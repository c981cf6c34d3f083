package proxy

import (
	"crypto/tls"
	"net"
	"syscall"
	"unsafe"
)

// clientClosed reports whether the client's end of nc is closed (end of stream, or an error such
// as a reset), without reading or waiting: one MSG_PEEK of the socket (a TLS connection's TCP
// socket: a FIN shows, a close_notify alert before it shows as bytes). It goes through Control,
// which takes neither the read lock nor the poller's state, so another goroutine may call it while
// the owner reads or writes the connection. Not a socket: false.
func clientClosed(nc net.Conn) bool {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
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
