package tlsterm

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/tlstest"
)

// ioTimeout bounds every socket operation of a test, so that a bug hangs nothing.
const ioTimeout = 10 * time.Second

// site is a certificate written into a directory, ready for Options.Certificates.
type site struct {
	leaf *tlstest.Leaf
	CertFiles
}

func writeSite(t testing.TB, dir, base string, leaf *tlstest.Leaf) site {
	t.Helper()
	c, k := leaf.WriteFiles(t, dir, base)
	return site{leaf: leaf, CertFiles: CertFiles{CertFile: c, KeyFile: k}}
}

// logs collects what a Terminator logs.
type logs struct {
	mu    sync.Mutex
	lines []string
	ch    chan string // every line, when not nil
}

func (l *logs) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	if l.ch != nil {
		l.ch <- line
	}
}

func (l *logs) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func newTerm(t testing.TB, o Options) *Terminator {
	t.Helper()
	term, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(term.Close)
	return term
}

// serve runs a TLS server on loopback with term's Config. For each connection it completes the
// handshake and writes one line, "identity <subject>|<fingerprint>|<ok>", then closes. It returns
// the address.
func serve(t testing.TB, term *Terminator) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := tls.NewListener(ln, term.Config())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		tln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(ioTimeout))
				if err := tc.Handshake(); err != nil {
					return
				}
				cs := tc.ConnectionState()
				subj, fp, ok := Identity(&cs)
				fmt.Fprintf(tc, "identity %s|%s|%v\n", subj, fp, ok)
			}()
		}
	}()
	return ln.Addr().String()
}

// result is what a client saw of one connection.
type result struct {
	state tls.ConnectionState
	line  string // the server's identity line, without "identity " and the newline
}

// dial connects to addr with cfg, completes the handshake and reads the server's line. Any error
// on the way (a refused handshake shows in TLS 1.3 only when the client reads) is returned.
func dial(t testing.TB, addr string, cfg *tls.Config) (result, error) {
	t.Helper()
	d := &net.Dialer{Timeout: ioTimeout}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return result{}, fmt.Errorf("read: %w", err)
	}
	return result{state: c.ConnectionState(), line: strings.TrimSuffix(strings.TrimPrefix(line, "identity "), "\n")}, nil
}

// served is the serial number of the certificate the server presented.
func (r result) served() int64 {
	return r.state.PeerCertificates[0].SerialNumber.Int64()
}
