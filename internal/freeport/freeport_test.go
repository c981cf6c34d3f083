package freeport

import (
	"net"
	"testing"
)

// Ports are below the ephemeral range, free (a listener takes them), and not all the same.
func TestPort(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p := Port(t)
		if p < 20000 || p >= 32000 {
			t.Fatalf("port %d outside 20000-31999", p)
		}
		seen[p] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 picks gave %d distinct ports", len(seen))
	}
	addr := Addr(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	ln.Close()
}
