//go:build !linux

package upstream

// prober holds nothing on this platform.
type prober struct{}

// alive cannot probe a socket on this platform; the engine's retry covers a closed connection.
func (c *Conn) alive() bool { return true }
