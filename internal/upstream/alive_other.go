//go:build !linux

package upstream

import "net"

// alive cannot probe a socket on this platform; the engine's retry covers a closed connection.
func alive(net.Conn) bool { return true }
