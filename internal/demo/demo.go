// Package demo runs the small built-in backends that gatehouse starts when run with no
// arguments, so a newcomer can see the proxy work before writing any config.
//
// Each backend answers every request with 200 and a short plain-text page that names the backend
// and echoes the forwarding headers it received (X-Forwarded-*, Forwarded, X-Request-Id), which
// shows what the proxy adds to a request.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Timeouts and limits of the demo servers.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 64 << 10

	// shutdownTimeout bounds how long Close waits for in-flight requests.
	shutdownTimeout = 2 * time.Second
)

// Servers is a set of running demo backends. Its methods are safe for concurrent use.
type Servers struct {
	logf  func(format string, args ...any)
	addrs []string
	srvs  []*http.Server
	wg    sync.WaitGroup // running Serve calls

	mu     sync.Mutex
	closed bool
	err    error // result of the first Close
}

// Start starts one demo HTTP server per address; addresses must be on a loopback interface
// ("127.0.0.1:8081", "[::1]:8081", "localhost:8081"; port 0 picks a free port). Backend N
// (1-based, in the order of addrs) names itself N in its responses and in an X-Demo-Backend
// header. logf receives start-up and error messages; it may be nil. If any address cannot be
// bound, Start closes the servers it already started and returns an error naming the address.
func Start(addrs []string, logf func(format string, args ...any)) (*Servers, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if len(addrs) == 0 {
		return nil, errors.New("demo: no addresses given")
	}
	s := &Servers{logf: logf}
	lns := make([]net.Listener, 0, len(addrs))
	for i, addr := range addrs {
		ln, err := listen(i+1, addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	errLog := log.New(logfWriter(logf), "", 0)
	for i, ln := range lns {
		n := i + 1
		addr := ln.Addr().String()
		srv := &http.Server{
			Handler:           handler(n, addr),
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          errLog,
		}
		s.addrs = append(s.addrs, addr)
		s.srvs = append(s.srvs, srv)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logf("demo backend %d (%s) stopped: %v", n, addr, err)
			}
		}()
		logf("demo backend %d listening on http://%s", n, addr)
	}
	return s, nil
}

// listen binds the address of demo backend n, checking that it is on loopback.
func listen(n int, addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("demo backend %d: bad address %q: %w", n, addr, err)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("demo backend %d: address %q is not on loopback; demo backends "+
			"only listen on 127.0.0.1, ::1 or localhost", n, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("demo backend %d: address %s is already in use; stop whatever "+
				"is listening there, or write a config with other ports and start with "+
				"`gatehouse run -config FILE`: %w", n, addr, err)
		}
		return nil, fmt.Errorf("demo backend %d: cannot listen on %s; to use other ports, "+
			"write a config and start with `gatehouse run -config FILE`: %w", n, addr, err)
	}
	return ln, nil
}

// isLoopback reports whether host (from net.SplitHostPort) names a loopback interface.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addrs returns the addresses the servers listen on, in the order given to Start, with the
// actual port where port 0 was asked for.
func (s *Servers) Addrs() []string {
	return append([]string(nil), s.addrs...)
}

// Close shuts the servers down, letting in-flight requests finish for a short while before
// closing their connections. It waits until every server has stopped. Later calls return the
// result of the first.
func (s *Servers) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.err
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	errs := make([]error, len(s.srvs))
	var wg sync.WaitGroup
	for i, srv := range s.srvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil {
				cerr := srv.Close() // in-flight requests did not finish in time
				errs[i] = fmt.Errorf("demo backend %d (%s): shutdown: %w",
					i+1, s.addrs[i], errors.Join(err, cerr))
			}
		}()
	}
	wg.Wait()
	s.wg.Wait()
	s.err = errors.Join(errs...)
	return s.err
}

// handler returns the handler of demo backend n listening on addr.
func handler(n int, addr string) http.Handler {
	name := strconv.Itoa(n)
	// The request headers printed back, in order: what a proxy adds on the way.
	echoed := [...]string{
		"X-Forwarded-For",
		"X-Forwarded-Proto",
		"X-Forwarded-Host",
		"Forwarded",
		"X-Request-Id",
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		fmt.Fprintf(&b, "hello from demo backend %d (%s)\n", n, addr)
		fmt.Fprintf(&b, "you asked for %s %s\n", r.Method, r.RequestURI)
		fmt.Fprintf(&b, "Host: %s\n", r.Host)
		for _, h := range echoed {
			v := "(not set)"
			if vs := r.Header.Values(h); len(vs) > 0 {
				v = strings.Join(vs, ", ")
			}
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
		hdr := w.Header()
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Demo-Backend", name)
		hdr.Set("Content-Length", strconv.Itoa(b.Len()))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(b.String()))
		}
	})
}

// logfWriter adapts a printf-style function to the io.Writer that log.Logger needs, so the
// servers' internal errors (bad requests, TLS probes...) go to the same place as other messages.
type logfWriter func(format string, args ...any)

// Write passes one log.Logger message to the function, without its trailing newline.
func (f logfWriter) Write(p []byte) (int, error) {
	f("demo: %s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
