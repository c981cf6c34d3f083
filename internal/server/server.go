// Package server owns the listeners: it accepts client connections, caps how many are open, hands
// each to the engine, and shuts down gracefully.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ConnHandler serves one connection until it closes, and drains on Shutdown.
type ConnHandler interface {
	ServeConn(net.Conn)
	Shutdown(ctx context.Context) error
}

// Server accepts connections on its listeners.
type Server struct {
	h     ConnHandler
	lns   []net.Listener
	serve []func(net.Conn) // per listener; nil entries use h.ServeConn
	sem   chan struct{}
	stop  chan struct{} // closed by Shutdown
	logf  func(format string, args ...any)
	wg    sync.WaitGroup

	mu      sync.Mutex
	closing bool
}

// Listen opens a TCP listener on every address; on failure it closes those it opened and says which
// address failed.
func Listen(addrs []string) ([]net.Listener, error) {
	var lns []net.Listener
	// No TCP keep-alive probes on client connections: the keepalive_idle timeout already closes idle
	// ones, and enabling probes costs four setsockopt calls on every accepted connection.
	lc := net.ListenConfig{KeepAlive: -1}
	for _, a := range addrs {
		ln, err := lc.Listen(context.Background(), "tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// New returns a server that hands connections from lns to h, at most maxConns open at once.
func New(h ConnHandler, lns []net.Listener, maxConns int, logf func(string, ...any)) *Server {
	if maxConns <= 0 {
		maxConns = 50000
	}
	return &Server{h: h, lns: lns, serve: make([]func(net.Conn), len(lns)), sem: make(chan struct{}, maxConns),
		stop: make(chan struct{}), logf: logf}
}

// ServeWith makes the connections of listener i go to serve instead of the handler's ServeConn:
// for listeners with settings of their own (TLS, a redirect to https). Call it before Start.
func (s *Server) ServeWith(i int, serve func(net.Conn)) { s.serve[i] = serve }

// Addrs returns the listening addresses.
func (s *Server) Addrs() []net.Addr {
	out := make([]net.Addr, len(s.lns))
	for i, l := range s.lns {
		out[i] = l.Addr()
	}
	return out
}

// Start runs an accept loop per listener in the background.
func (s *Server) Start() {
	for i, ln := range s.lns {
		serve := s.serve[i]
		if serve == nil {
			serve = s.h.ServeConn
		}
		s.wg.Add(1)
		go s.accept(ln, serve)
	}
}

func (s *Server) accept(ln net.Listener, serve func(net.Conn)) {
	defer s.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		// Past the cap, connections wait in the kernel's queue; Shutdown must not wait on that.
		select {
		case s.sem <- struct{}{}:
		case <-s.stop:
			return
		}
		nc, err := ln.Accept()
		if err != nil {
			<-s.sem
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, then go on.
			s.logf("accept on %s: %v", ln.Addr(), err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		go func() {
			defer func() { <-s.sem }()
			serve(nc)
		}()
	}
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.stop)
		for _, ln := range s.lns {
			ln.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return s.h.Shutdown(ctx)
}
