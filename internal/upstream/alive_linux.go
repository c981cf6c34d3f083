package upstream

import (
	"crypto/tls"
	"net"
	"syscall"
)

// alive reports whether an idle connection still looks usable: nothing to read (EAGAIN). A closed
// connection reads as EOF, and unsolicited bytes from the backend make it unusable too. A TLS
// connection is probed on its TCP socket, where a close_notify alert or a FIN shows as readable.
func alive(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	ok = false
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && ok
}
