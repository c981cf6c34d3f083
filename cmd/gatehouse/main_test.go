package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"
)

// syncBuffer is a bytes.Buffer safe to write from the command and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("listeners: [{address: 127.0.0.1:18080}]\nroutes: [{name: r, upstream: u}]\n"+
		"upstreams: [{name: u, backends: [http://127.0.0.1:9]}]\n"), 0o644)
	os.WriteFile(bad, []byte("listeners: [{address: 127.0.0.1:18080}]\nroutes: [{name: r, upstream: v}]\n"+
		"upstreams: [{name: u, backends: [http://127.0.0.1:9]}]\n"), 0o644)
	tests := []struct {
		name        string
		args        []string
		code        int
		out, errOut string
	}{
		{"version", []string{"version"}, 0, "gatehouse 0.1.0-dev", ""},
		{"help", []string{"help"}, 0, "gatehouse proxy --listen ADDR", ""},
		{"unknown command", []string{"serve"}, 2, "", `unknown command "serve"`},
		{"validate good", []string{"validate", "-config", good}, 0, good + ": valid", ""},
		{"validate bad names file line and field", []string{"validate", "-config", bad}, 1, "",
			bad + `:2: routes[0].upstream: upstream "v" is not defined`},
		{"validate missing file", []string{"validate", "-config", filepath.Join(dir, "nope.yaml")}, 1, "", "nope.yaml"},
		{"validate without -config", []string{"validate"}, 2, "", "give the config file as -config FILE"},
		{"run invalid config", []string{"run", "-config", bad}, 1, "", "is not defined"},
		{"proxy without --to", []string{"proxy", "--listen", "127.0.0.1:0"}, 2, "", "give at least one backend"},
		{"proxy with a bad backend", []string{"proxy", "--to", "ftp://x"}, 2, "", "backends[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut syncBuffer
			code := run(context.Background(), tt.args, &out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Errorf("stdout %q does not contain %q", out.String(), tt.out)
			}
			if !strings.Contains(errOut.String(), tt.errOut) {
				t.Errorf("stderr %q does not contain %q", errOut.String(), tt.errOut)
			}
		})
	}
}

// get polls url until it answers or the deadline passes.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProxyCommand runs the quick mode that compare.py uses and stops it as a signal would.
func TestProxyCommand(t *testing.T) {
	t.Parallel()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend saw %s %s xff=%s", r.Method, r.URL.Path, r.Header.Get("X-Forwarded-For"))
	}))
	defer be.Close()
	addr := freeport.Addr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"proxy", "--listen", addr, "--to", be.URL}, io.Discard, &errOut)
	}()
	code, body := get(t, "http://"+addr+"/hello")
	if code != 200 || body != "backend saw GET /hello xff=127.0.0.1" {
		t.Errorf("got %d %q", code, body)
	}
	cancel()
	if c := <-done; c != 0 {
		t.Errorf("exit %d; stderr: %s", c, errOut.String())
	}
	for _, want := range []string{"listening on http://" + addr, "press Ctrl-C to stop", "stopped"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q: %s", want, errOut.String())
		}
	}
}

// TestDemo runs the embedded default config as `gatehouse` with no arguments does, on free ports
// instead of 8080-8082 so that it cannot collide with a running gatehouse: successive requests
// alternate between the two demo backends and /healthz is answered by gatehouse itself.
func TestDemo(t *testing.T) {
	t.Parallel()
	cfg, err := config.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	listen := freeport.Addr(t)
	cfg.Listeners[0].Address = listen
	cfg.AccessLog.Output = "off"
	cfg.Upstreams[0].Backends = []config.Backend{{URL: "http://" + freeport.Addr(t), Weight: 1}, {URL: "http://" + freeport.Addr(t), Weight: 1}}
	cfg.Admin.Address = "off"
	ctx, cancel := context.WithCancel(context.Background())
	var errOut syncBuffer
	done := make(chan int)
	go func() { done <- runDemo(ctx, cfg, io.Discard, &errOut) }()
	_, first := get(t, "http://"+listen+"/")
	_, second := get(t, "http://"+listen+"/")
	if !strings.Contains(first+second, "demo backend 1") || !strings.Contains(first+second, "demo backend 2") {
		t.Errorf("requests did not alternate between the backends:\n%s\n%s", first, second)
	}
	if code, body := get(t, "http://"+listen+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	cancel()
	if c := <-done; c != 0 {
		t.Errorf("exit %d; stderr: %s", c, errOut.String())
	}
}

// TestRunReloadsOnSIGHUP: `gatehouse run` reloads its config file on SIGHUP. It sends SIGHUP to
// the test process itself, so it does not run in parallel: every serve running in this process
// would take the signal, and top-level parallel tests only start once the sequential ones are
// done. The test holds a SIGHUP handler of its own throughout, so that a signal sent before serve
// has installed its handler is caught instead of killing the test binary; it sends again until
// serve logs the reload.
func TestRunReloadsOnSIGHUP(t *testing.T) {
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	listen := freeport.Addr(t)
	write := func(body string) {
		t.Helper()
		src := "listeners: [{address: \"" + listen + "\"}]\nadmin: {address: \"off\"}\naccess_log: {output: \"off\"}\n" +
			"routes: [{name: v, match: {path: /v}, respond: {status: 200, body: \"" + body + "\"}}]\n"
		if err := os.WriteFile(path+".tmp", []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errOut syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"run", "-config", path}, io.Discard, &errOut) }()
	if code, body := get(t, "http://"+listen+"/v"); code != 200 || body != "one" {
		t.Fatalf("before the reload: %d %q", code, body)
	}

	write("two")
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	reloaded := "reload (SIGHUP): config " + path + " applied"
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errOut.String(), reloaded) {
		if time.Now().After(deadline) {
			t.Fatalf("no SIGHUP reload logged:\n%s", errOut.String())
		}
		if err := self.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get(t, "http://"+listen+"/v"); code != 200 || body != "two" {
		t.Errorf("after SIGHUP: %d %q, want the reloaded config's answer", code, body)
	}
	cancel()
	if c := <-done; c != 0 {
		t.Errorf("exit %d; stderr: %s", c, errOut.String())
	}
	if want := "reloads " + path + " on SIGHUP and when it changes"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
	}
}
