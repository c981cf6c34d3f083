package demo

import (
	"github.com/gatehouse-proxy/gatehouse/internal/freeport"

	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// logRecorder collects logf output.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *logRecorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n")
}

func get(t *testing.T, c *http.Client, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestServersAnswer(t *testing.T) {
	rec := &logRecorder{}
	s, err := Start([]string{"127.0.0.1:0", "127.0.0.1:0"}, rec.logf)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addrs := s.Addrs()
	if len(addrs) != 2 || addrs[0] == addrs[1] {
		t.Fatalf("Addrs = %v", addrs)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	for i, addr := range addrs {
		n := i + 1
		if strings.HasSuffix(addr, ":0") {
			t.Fatalf("Addrs()[%d] = %q, want the real port", i, addr)
		}
		resp, body := get(t, c, "http://"+addr+"/some/path?x=1", map[string]string{
			"X-Forwarded-For":   "203.0.113.9",
			"X-Forwarded-Proto": "https",
			"X-Request-Id":      "abc123",
		})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("backend %d: status %d", n, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Fatalf("backend %d: Content-Type %q", n, ct)
		}
		if got := resp.Header.Get("X-Demo-Backend"); got != fmt.Sprint(n) {
			t.Fatalf("backend %d: X-Demo-Backend %q", n, got)
		}
		for _, want := range []string{
			fmt.Sprintf("hello from demo backend %d (%s)\n", n, addr),
			"you asked for GET /some/path?x=1\n",
			"Host: " + addr + "\n",
			"X-Forwarded-For: 203.0.113.9\n",
			"X-Forwarded-Proto: https\n",
			"X-Forwarded-Host: (not set)\n",
			"Forwarded: (not set)\n",
			"X-Request-Id: abc123\n",
		} {
			if !strings.Contains(body, want) {
				t.Fatalf("backend %d: body lacks %q:\n%s", n, want, body)
			}
		}
		if !strings.HasPrefix(body, fmt.Sprintf("hello from demo backend %d ", n)) {
			t.Fatalf("backend %d: body starts wrong:\n%s", n, body)
		}
		if !strings.Contains(rec.all(), "listening on http://"+addr) {
			t.Fatalf("no start-up message for %s in %q", addr, rec.all())
		}
	}

	// Any method and path, HEAD without a body.
	req, _ := http.NewRequest(http.MethodHead, "http://"+addrs[1]+"/", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Demo-Backend") != "2" {
		t.Fatalf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = c.Post("http://"+addrs[0]+"/deep/er?q", "text/plain", strings.NewReader("hi"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "you asked for POST /deep/er?q\n") {
		t.Fatalf("POST body:\n%s", body)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, addr := range addrs {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Fatalf("%s still accepts connections after Close", addr)
		}
	}
}

func TestBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := busy.Addr().String()

	rec := &logRecorder{}
	s, err := Start([]string{"127.0.0.1:0", busyAddr}, rec.logf)
	if err == nil {
		s.Close()
		t.Fatal("Start succeeded on a busy port")
	}
	msg := err.Error()
	for _, want := range []string{busyAddr, "in use", "gatehouse run -config FILE", "demo backend 2"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q lacks %q", msg, want)
		}
	}
	// Nothing was left listening: the first backend never started serving.
	if strings.Contains(rec.all(), "listening") {
		t.Fatalf("a backend reported it started: %q", rec.all())
	}
}

func TestBusyPortFirstOfMany(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// Pick a free port for the second backend and check it is free again after the failure.
	freeAddr := freeport.Addr(t)

	_, err = Start([]string{freeAddr, busy.Addr().String()}, nil)
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("err = %v", err)
	}
	again, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("%s was not released after the failed Start: %v", freeAddr, err)
	}
	again.Close()
}

func TestRejectsBadAddresses(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "nonsense"} {
		s, err := Start([]string{addr}, nil)
		if err == nil {
			s.Close()
			t.Fatalf("Start(%q) succeeded", addr)
		}
		if !strings.Contains(err.Error(), addr) {
			t.Fatalf("Start(%q): error %q does not name the address", addr, err)
		}
	}
	if _, err := Start(nil, nil); err == nil {
		t.Fatal("Start(nil) succeeded")
	}
}

func TestLocalhostAndIPv6Loopback(t *testing.T) {
	addrs := []string{"localhost:0"}
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		addrs = append(addrs, "[::1]:0")
	}
	s, err := Start(addrs, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	for i, addr := range s.Addrs() {
		_, body := get(t, c, "http://"+addr+"/", nil)
		if !strings.HasPrefix(body, fmt.Sprintf("hello from demo backend %d (%s)", i+1, addr)) {
			t.Fatalf("body:\n%s", body)
		}
	}
}

func TestCloseWithOpenKeepAliveConnection(t *testing.T) {
	s, err := Start([]string{"127.0.0.1:0"}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	get(t, c, "http://"+s.Addrs()[0]+"/", nil) // leaves an idle keep-alive connection
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v with only an idle connection open", d)
	}
}

func TestPrintsAllHeaderValues(t *testing.T) {
	s, err := Start([]string{"127.0.0.1:0"}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addrs()[0]+"/", nil)
	req.Header.Add("X-Forwarded-For", "198.51.100.1")
	req.Header.Add("X-Forwarded-For", "127.0.0.1")
	req.Header.Set("Forwarded", `for=127.0.0.1;proto=http;host="example.com"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"X-Forwarded-For: 198.51.100.1, 127.0.0.1\n",
		`Forwarded: for=127.0.0.1;proto=http;host="example.com"` + "\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("body lacks %q:\n%s", want, body)
		}
	}
}
