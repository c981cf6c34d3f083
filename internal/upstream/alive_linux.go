package upstream

import (
	"crypto/tls"
	"syscall"
	"unsafe"
)

// prober peeks at a connection's socket. It is set up at the first probe and reused, so that a
// probe allocates nothing (a SyscallConn and a closure over a buffer cost four allocations each time).
type prober struct {
	rc   syscall.RawConn
	peek func(fd uintptr) bool // p.peekFD, bound once
	buf  [1]byte
	ok   bool
}

// alive reports whether an idle connection still looks usable: nothing to read (EAGAIN). A closed
// connection reads as EOF, and unsolicited bytes from the backend make it unusable too. A TLS
// connection is probed on its TCP socket, where a close_notify alert or a FIN shows as readable.
// Only the connection's owner calls it.
func (c *Conn) alive() bool {
	p := &c.probe
	if p.rc == nil {
		nc := c.Conn
		if tc, ok := nc.(*tls.Conn); ok {
			nc = tc.NetConn()
		}
		sc, ok := nc.(syscall.Conn)
		if !ok {
			return true
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		p.rc, p.peek = rc, p.peekFD
	}
	p.ok = false
	err := p.rc.Read(p.peek)
	return err == nil && p.ok
}

// peekFD is one non-blocking MSG_PEEK of a byte; the raw syscall, since syscall.Recvfrom builds a
// source address.
func (p *prober) peekFD(fd uintptr) bool {
	_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.buf[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	p.ok = errno == syscall.EAGAIN
	return true // never wait: the answer is the probe
}
