// Package admin serves gatehouse's admin API on its own listener, apart from the proxied traffic:
// liveness and readiness probes, Prometheus metrics, the running config and upstream state, config
// reloads, and optionally pprof.
//
// Endpoints:
//
//	GET  /               this list, as plain text
//	GET  /healthz        200 "ok" while the process runs
//	GET  /readyz         200 "ready" when the controller is ready, 503 "not ready" otherwise
//	GET  /metrics        the Options.Metrics handler (404 when there is none)
//	GET  /api/config     the running config, JSON
//	GET  /api/upstreams  every pool and backend's state, JSON
//	GET  /api/reload     the last reload attempt, JSON: {"last_reload": ...}; it reloads nothing
//	POST /api/reload     re-read and apply the config: 200 {"status":"reloaded"}, or
//	                     422 {"status":"refused","error":"..."} while the old config keeps serving
//	GET  /debug/pprof/   the net/http/pprof handlers, only when Options.Pprof is set
//
// GET also answers HEAD. Another method on a known path gets 405 with an Allow field; an unknown
// path gets 404. JSON is indented and sent as application/json. A POST that a browser makes from
// another origin (a page trying to reach a loopback admin port) is refused with 403.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"
)

// DefaultAddr is where the admin listener listens when Options.Addr is empty: loopback only, since
// the admin API can reload the config and pprof exposes the process.
const DefaultAddr = "127.0.0.1:9090"

// Timeouts of the admin http.Server. The write timeout leaves room for a pprof CPU profile or
// trace of up to a minute (pprof refuses a longer one rather than being cut off).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 90 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// Controller is what the admin API asks the running gatehouse. Its methods are called from
// concurrent requests and must be safe for that.
type Controller interface {
	// Config returns the running config, JSON-encodable.
	Config() any
	// Upstreams returns every pool and backend's state, JSON-encodable.
	Upstreams() any
	// Reload re-reads and applies the config. An error says why it was refused; the old config then
	// keeps serving. Concurrent calls are the controller's to serialise.
	Reload() error
	// LastReload returns the time, outcome and error text of the last reload attempt,
	// JSON-encodable.
	LastReload() any
	// Ready reports whether gatehouse is serving and not draining.
	Ready() bool
}

// Options configure the admin listener.
type Options struct {
	// Addr is the TCP address to listen on. Default DefaultAddr; port 0 picks a free port (see
	// Server.Addr).
	Addr string
	// Pprof serves /debug/pprof/ when set. Default off.
	Pprof bool
	// Metrics serves /metrics; nil leaves it out (404).
	Metrics http.Handler
	// Controller answers /readyz and /api/*. Required.
	Controller Controller
	// Logf logs serve errors, refused reloads and failed JSON encodings. Default: discard.
	Logf func(format string, args ...any)
}

// Server is a running admin listener.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when Serve has returned
}

// Start listens on o.Addr now, so that an address in use is reported here, and serves in the
// background until Shutdown.
func Start(o Options) (*Server, error) {
	if o.Controller == nil {
		return nil, errors.New("admin: no controller")
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", o.Addr, err)
	}
	s := &Server{
		ln:   ln,
		done: make(chan struct{}),
		srv: &http.Server{
			Handler:           newHandler(o),
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          log.New(logfWriter(o.Logf), "", 0),
		},
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logf("admin: serve: %v", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops listening, waits for requests in progress to finish until ctx ends, then closes
// the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	if err != nil {
		return fmt.Errorf("admin: shutdown: %w", err)
	}
	return nil
}

// logfWriter turns Logf into the io.Writer that http.Server's logger writes to.
type logfWriter func(string, ...any)

func (f logfWriter) Write(p []byte) (int, error) {
	f("admin: %s", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// handler serves the endpoints.
type handler struct {
	c     Controller
	logf  func(string, ...any)
	index string
}

func newHandler(o Options) http.Handler {
	h := &handler{c: o.Controller, logf: o.Logf}
	mux := http.NewServeMux()
	var idx strings.Builder
	idx.WriteString("gatehouse admin\n\n")
	add := func(pattern, doc string, fn http.HandlerFunc) {
		mux.HandleFunc(pattern, fn)
		if doc != "" {
			fmt.Fprintf(&idx, "%-22s %s\n", pattern, doc)
		}
	}
	add("GET /{$}", "", h.serveIndex)
	add("GET /healthz", "liveness: 200 while the process runs", h.serveHealthz)
	add("GET /readyz", "readiness: 200 when serving and not draining, else 503", h.serveReadyz)
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
		fmt.Fprintf(&idx, "%-22s %s\n", "GET /metrics", "Prometheus metrics")
	}
	add("GET /api/config", "the running config (JSON)", h.serveConfig)
	add("GET /api/upstreams", "pools and backends with their state (JSON)", h.serveUpstreams)
	add("GET /api/reload", "the last reload attempt (JSON); reloads nothing", h.serveLastReload)
	add("POST /api/reload", "re-read and apply the config (JSON answer)", h.serveReload)
	if o.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		fmt.Fprintf(&idx, "%-22s %s\n", "GET /debug/pprof/", "Go profiling (net/http/pprof)")
	}
	h.index = idx.String()
	return http.NewCrossOriginProtection().Handler(mux)
}

func (h *handler) serveIndex(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, h.index)
}

func (h *handler) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok\n")
}

func (h *handler) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	if h.c.Ready() {
		writeText(w, http.StatusOK, "ready\n")
		return
	}
	writeText(w, http.StatusServiceUnavailable, "not ready\n")
}

func (h *handler) serveConfig(w http.ResponseWriter, _ *http.Request) {
	h.writeJSON(w, http.StatusOK, h.c.Config())
}

func (h *handler) serveUpstreams(w http.ResponseWriter, _ *http.Request) {
	h.writeJSON(w, http.StatusOK, h.c.Upstreams())
}

func (h *handler) serveLastReload(w http.ResponseWriter, _ *http.Request) {
	h.writeJSON(w, http.StatusOK, struct {
		LastReload any `json:"last_reload"`
	}{h.c.LastReload()})
}

// reloadResult is the answer to POST /api/reload.
type reloadResult struct {
	Status string `json:"status"` // "reloaded" or "refused"
	Error  string `json:"error,omitempty"`
}

func (h *handler) serveReload(w http.ResponseWriter, _ *http.Request) {
	if err := h.c.Reload(); err != nil {
		h.logf("admin: reload refused: %v", err)
		h.writeJSON(w, http.StatusUnprocessableEntity, reloadResult{Status: "refused", Error: err.Error()})
		return
	}
	h.writeJSON(w, http.StatusOK, reloadResult{Status: "reloaded"})
}

// writeJSON encodes v before sending anything, so that a value that cannot be encoded gives a 500
// rather than a truncated 200.
func (h *handler) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		h.logf("admin: encode json: %v", err)
		buf.Reset()
		status = http.StatusInternalServerError
		enc.Encode(struct {
			Error string `json:"error"`
		}{"cannot encode the answer: " + err.Error()})
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func writeText(w http.ResponseWriter, status int, s string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, s)
}
