package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"
)

func parse(t *testing.T, listen, backend, accessLog string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte("listeners: [{address: \""+listen+"\"}]\nadmin: {address: \"off\"}\naccess_log: {output: \""+accessLog+"\"}\n"+
		"routes: [{name: r, upstream: u}]\nupstreams: [{name: u, backends: [\""+backend+"\"]}]\n"), "app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestStartServeShutdown: a request is forwarded and logged to the access log file, and Shutdown
// flushes the log and releases the listener.
func TestStartServeShutdown(t *testing.T) {
	t.Parallel()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))
	defer be.Close()
	logPath := filepath.Join(t.TempDir(), "access.log")
	addr := freeport.Addr(t)
	a, err := Start(parse(t, addr, be.URL, logPath), Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hi" {
		t.Errorf("body %q", body)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(logPath)
	if err != nil || !strings.Contains(string(log), `"path":"/x"`) {
		t.Errorf("access log %q (%v) lacks the request", log, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listener not released after Shutdown: %v", err)
	}
	ln.Close()
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name, listen, log, want string
	}{
		{"address in use", busy.Addr().String(), "off", busy.Addr().String()},
		{"access log directory missing", freeport.Addr(t), filepath.Join(t.TempDir(), "no", "such", "dir", "a.log"), "a.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Start(parse(t, tt.listen, "http://127.0.0.1:9", tt.log), Options{Logf: t.Logf})
			if err == nil {
				a.Shutdown(context.Background())
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
}
