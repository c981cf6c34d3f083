// Package freeport finds free loopback TCP ports for tests: for a listener whose address must be
// known before it listens (a config written first), or for an address where nothing listens (a
// dead backend).
//
// Ports are picked at random below Linux's ephemeral range (32768-60999). A port found by listening
// on :0 comes from that range, and the kernel hands the same range out again, both as the local
// port of outgoing connections and to other listeners on :0: under the load of a parallel test run,
// a test's own client connection often took the port before the listener came back for it, and a
// "dead" address could come alive. Below the range, only another test picking the same random port
// in the same moment can take it.
package freeport

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Loopback is the address the ports are free on.
const Loopback = "127.0.0.1"

// Port returns a TCP port of 127.0.0.1 that was free a moment ago.
func Port(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		p := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", net.JoinHostPort(Loopback, strconv.Itoa(p)))
		if err == nil {
			ln.Close()
			return p
		}
	}
	// A crowded range: the kernel's pick, with the race the range avoids.
	ln, err := net.Listen("tcp", Loopback+":0")
	if err != nil {
		tb.Fatalf("freeport: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Addr returns "127.0.0.1:port" for a Port.
func Addr(tb testing.TB) string {
	tb.Helper()
	return net.JoinHostPort(Loopback, strconv.Itoa(Port(tb)))
}
