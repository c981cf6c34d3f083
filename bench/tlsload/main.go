// Command tlsload measures full TLS handshakes per second: each request of it is a new TCP
// connection, a new TLS handshake and one GET with Connection: close.
//
//	tlsload [-addr 127.0.0.1:8443] [-c 50] [-d 5s] [-path /] [-sni localhost] [-resume]
//
// wrk cannot measure this: it keeps the TLS session of a closed connection and resumes it on the
// next one (OpenSSL's SSL_clear keeps the session), so with a server that allows resumption it
// measures abbreviated handshakes. tlsload offers no session to resume (no session cache, so
// neither a TLS 1.2 session ID or ticket nor a TLS 1.3 pre-shared key), and counts the
// connections the server resumed all the same, which must be none.
//
// It offers what an OpenSSL 3.0 client such as wrk offers: TLS 1.2 and 1.3 and an X25519 key share
// (no post-quantum X25519MLKEM768 share, which Go servers would otherwise pick and OpenSSL 3.0
// servers cannot). It checks the server's handshake signature but not its certificate chain (the
// way wrk does not), so that the client spends as little CPU as it can.
//
// The summary is printed in wrk's format (requests, Requests/sec, latency percentiles, Non-2xx or
// 3xx responses, Socket errors), so that bench/compare.py reads both alike, plus one line,
// "Resumed sessions: N".
package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8443", "the server's `ADDR`")
	flag.IntVar(&o.conns, "c", 50, "how many connections are open at a time")
	flag.DurationVar(&o.dur, "d", 5*time.Second, "how long to run")
	flag.StringVar(&o.path, "path", "/", "the `PATH` to GET on each connection")
	flag.StringVar(&o.sni, "sni", "localhost", "the server name to send (SNI) and to put in Host; empty: none")
	flag.BoolVar(&o.resume, "resume", false, "keep a session cache per connection slot, so that handshakes after the first resume")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "the limit on one connection, from connect to the end of the response")
	flag.Parse()
	if o.conns < 1 || o.dur <= 0 {
		fmt.Fprintln(os.Stderr, "tlsload: -c must be at least 1 and -d positive")
		os.Exit(2)
	}
	printSummary(os.Stdout, o, run(o))
}

// options are tlsload's flags.
type options struct {
	addr, path, sni string
	conns           int
	dur, timeout    time.Duration
	resume          bool
}

// tally is what one connection slot, or all of them, counted.
type tally struct {
	ok, bad, resumed            int // responses 2xx/3xx, other responses, resumed handshakes
	connect, read, write, tmout int // failures, as wrk counts them (a failed handshake is a connect error)
	lat                         []time.Duration
	elapsed                     time.Duration
}

func (t *tally) add(u *tally) {
	t.ok += u.ok
	t.bad += u.bad
	t.resumed += u.resumed
	t.connect += u.connect
	t.read += u.read
	t.write += u.write
	t.tmout += u.tmout
	t.lat = append(t.lat, u.lat...)
}

// run keeps o.conns connection slots busy for o.dur and adds up what they counted.
func run(o options) *tally {
	req := []byte("GET " + o.path + " HTTP/1.1\r\nHost: " + host(o) + "\r\nUser-Agent: tlsload\r\nConnection: close\r\n\r\n")
	start := time.Now()
	end := start.Add(o.dur)
	tallies := make([]tally, o.conns)
	var wg sync.WaitGroup
	for i := range tallies {
		wg.Go(func() {
			cfg := &tls.Config{
				ServerName:         o.sni,
				InsecureSkipVerify: true, // the handshake signature is still checked; see the package doc
				MinVersion:         tls.VersionTLS12,
				CurvePreferences:   []tls.CurveID{tls.X25519},
			}
			if o.resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			}
			br := bufio.NewReaderSize(nil, 4096)
			for time.Now().Before(end) {
				one(o, cfg, req, br, &tallies[i])
			}
		})
	}
	wg.Wait()
	total := &tally{elapsed: time.Since(start)}
	for i := range tallies {
		total.add(&tallies[i])
	}
	return total
}

// host is the Host header: the server name with the port, or the address when there is no name.
func host(o options) string {
	if o.sni == "" {
		return o.addr
	}
	_, port, err := net.SplitHostPort(o.addr)
	if err != nil {
		return o.sni
	}
	return net.JoinHostPort(o.sni, port)
}

// one makes one connection, handshake and request, and counts the outcome in t.
func one(o options, cfg *tls.Config, req []byte, br *bufio.Reader, t *tally) {
	t0 := time.Now()
	raw, err := net.DialTimeout("tcp", o.addr, o.timeout)
	if err != nil {
		t.fail(err, &t.connect)
		return
	}
	c := tls.Client(raw, cfg)
	defer c.Close()
	_ = c.SetDeadline(t0.Add(o.timeout))
	if err := c.Handshake(); err != nil {
		t.fail(err, &t.connect)
		return
	}
	if c.ConnectionState().DidResume {
		t.resumed++
	}
	if _, err := c.Write(req); err != nil {
		t.fail(err, &t.write)
		return
	}
	br.Reset(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.fail(err, &t.read)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		t.fail(err, &t.read)
		return
	}
	t.lat = append(t.lat, time.Since(t0))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		t.ok++
	} else {
		t.bad++
	}
}

// fail counts err as a timeout when it is one, else in the counter given.
func (t *tally) fail(err error, counter *int) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.tmout++
		return
	}
	*counter++
}

// printSummary writes the totals the way wrk does, so that one parser reads both.
func printSummary(w io.Writer, o options, t *tally) {
	n := t.ok + t.bad
	fmt.Fprintf(w, "Running %v TLS handshake test @ %s%s\n", o.dur, o.addr, o.path)
	fmt.Fprintf(w, "  %d connections at a time, a new connection and a full handshake per request (resume: %v)\n", o.conns, o.resume)
	slices.Sort(t.lat)
	fmt.Fprintln(w, "  Latency Distribution (connect + handshake + request + response)")
	for _, q := range []int{50, 75, 90, 99} {
		fmt.Fprintf(w, "     %d%%  %.2fus\n", q, percentile(t.lat, q))
	}
	fmt.Fprintf(w, "  %d requests in %.2fs\n", n, t.elapsed.Seconds())
	if t.connect+t.read+t.write+t.tmout > 0 {
		fmt.Fprintf(w, "  Socket errors: connect %d, read %d, write %d, timeout %d\n", t.connect, t.read, t.write, t.tmout)
	}
	if t.bad > 0 {
		fmt.Fprintf(w, "  Non-2xx or 3xx responses: %d\n", t.bad)
	}
	fmt.Fprintf(w, "Requests/sec: %.2f\n", float64(n)/t.elapsed.Seconds())
	fmt.Fprintf(w, "Resumed sessions: %d\n", t.resumed)
}

// percentile is the q-th percentile of the sorted latencies, in microseconds (0 when there are none).
func percentile(sorted []time.Duration, q int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*q + 99) / 100
	if i > 0 {
		i--
	}
	return float64(sorted[i]) / float64(time.Microsecond)
}
