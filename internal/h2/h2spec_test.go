package h2

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// h2specModule is the h2spec release run when no h2spec binary is installed.
const h2specModule = "github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible"

// h2specCommand returns the command that runs h2spec: an installed binary (PATH, then GOPATH/bin),
// else `go run` of the release, which the Go module proxy serves.
func h2specCommand(t *testing.T, args ...string) *exec.Cmd {
	if p, err := exec.LookPath("h2spec"); err == nil {
		return exec.Command(p, args...)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "h2spec")
			if _, err := os.Stat(p); err == nil {
				return exec.Command(p, args...)
			}
		}
	}
	return exec.Command("go", append([]string{"run", h2specModule}, args...)...)
}

// h2specServe answers every request 200 with a small body once it has read the request whole.
func h2specServe(vc net.Conn) {
	defer vc.Close()
	in := &h1.Reader{Src: vc, Buf: make([]byte, 4096)}
	if _, err := readRequest(in, true); err != nil {
		return
	}
	io.WriteString(vc, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nh2spec ok\n")
}

// TestH2Spec runs the h2spec conformance suite (every test of its http2, hpack and generic groups)
// against a Conn, over h2c and over TLS, and fails on any failed test.
func TestH2Spec(t *testing.T) {
	srvTLS, _ := serverTLS(t)
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"h2c", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var srv *testServer
			if tc.tls {
				srv = startServer(t, Options{Serve: h2specServe}, srvTLS)
			} else {
				srv = startServer(t, Options{Serve: h2specServe}, nil)
			}
			host, port, _ := net.SplitHostPort(srv.addr)
			args := []string{"-h", host, "-p", port, "-o", "5"}
			if tc.tls {
				args = append(args, "-t", "-k")
			}
			cmd := h2specCommand(t, args...)
			out, err := cmd.CombinedOutput()
			text := stripANSI(string(out))
			m := regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`).FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("h2spec (%v): no summary: %v\n%s", cmd.Args, err, text)
			}
			t.Logf("h2spec %s: %s", tc.name, m[0])
			if m[4] != "0" || err != nil {
				t.Errorf("h2spec failures (%v):\n%s", err, failures(text))
			}
		})
	}
}

func stripANSI(s string) string {
	return regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(s, "")
}

// failures returns the "Failures:" section of h2spec's output, or all of it.
func failures(text string) string {
	if i := strings.Index(text, "Failures:"); i >= 0 {
		return text[i:]
	}
	return text
}
