//go:build linux

// Command idleconns measures what idle keep-alive connections cost a proxy in memory.
//
// It opens N connections to the proxy, sends one GET on each and reads the response, then leaves
// them all open and idle for a few seconds and reads the resident memory (VmRSS, and its peak
// VmHWM) of the proxy's processes from /proc. bench/run --idle N runs it against gatehouse.
//
//	idleconns -n 10000 -addr 127.0.0.1:8080 -pid PID[,PID...] [-wait 3s] [-concurrency 32]
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 10000, "how many idle connections to hold")
	addr := flag.String("addr", "127.0.0.1:8080", "the proxy's `ADDR`")
	pidList := flag.String("pid", "", "the proxy's process `PID`s, comma-separated (their memory is added up)")
	path := flag.String("path", "/", "the `PATH` to GET once on each connection")
	wait := flag.Duration("wait", 3*time.Second, "how long to leave the connections idle before reading memory")
	conc := flag.Int("concurrency", 32, "how many connections to open at a time")
	timeout := flag.Duration("timeout", 10*time.Second, "the limit on opening one connection and reading its response")
	flag.Parse()
	if err := run(*n, *addr, *pidList, *path, *wait, *conc, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
}

func run(n int, addr, pidList, path string, wait time.Duration, conc int, timeout time.Duration) error {
	if n < 1 || conc < 1 {
		return errors.New("-n and -concurrency must be at least 1")
	}
	pids, err := parsePids(pidList)
	if err != nil {
		return err
	}
	if err := raiseNofile(uint64(n) + 100); err != nil {
		return err
	}
	rss0, _, err := memory(pids)
	if err != nil {
		return err
	}

	start := time.Now()
	conns, err := open(n, addr, path, conc, timeout)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "idleconns: %d connections open and answered in %.1fs; idle for %s\n",
		n, time.Since(start).Seconds(), wait)
	time.Sleep(wait)

	rss, hwm, err := memory(pids)
	if err != nil {
		return err
	}
	if closed := countClosed(conns); closed > 0 {
		fmt.Fprintf(os.Stderr, "idleconns: warning: the proxy closed %d of the %d connections while they were idle\n", closed, n)
	}
	fmt.Printf("%d idle connections: RSS %.1f MiB (peak %.1f MiB)\n", n, mib(rss), mib(hwm))
	fmt.Printf("before connecting: RSS %.1f MiB, so %.1f KiB per idle connection\n",
		mib(rss0), float64(int64(rss)-int64(rss0))/1024/float64(n))
	return nil
}

func parsePids(s string) ([]int, error) {
	if s == "" {
		return nil, errors.New("give the proxy's process with -pid PID")
	}
	var pids []int
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 1 {
			return nil, fmt.Errorf("-pid: %q is not a process id", f)
		}
		pids = append(pids, p)
	}
	return pids, nil
}

// raiseNofile lifts the soft limit on open files to the hard limit (Go does so itself at start since
// 1.19; this makes it explicit) and checks that the hard limit leaves room for need files.
func raiseNofile(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Max < need {
		return fmt.Errorf("the hard limit on open files (RLIMIT_NOFILE) is %d, but %d connections need at least %d;"+
			" raise it (as root: ulimit -Hn %d, or LimitNOFILE= / limits.conf) or ask for fewer with -n",
			lim.Max, need-100, need, need)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	return nil
}

// open dials n connections, conc at a time so that the proxy's accept queue is not overrun, sends
// one keep-alive GET on each and reads its response whole. It returns the open connections; on an
// error they are returned too, for the caller to close.
func open(n int, addr, path string, conc int, timeout time.Duration) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: gatehouse-idleconns\r\n\r\n"
	var next, opened atomic.Int64
	var failed atomic.Bool
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := openOne(addr, req, timeout)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("with %d of %d connections open: %w", opened.Load(), n, err) })
					failed.Store(true)
					return
				}
				conns[i] = c
				opened.Add(1)
			}
		}()
	}
	wg.Wait()
	return conns, firstErr
}

func openOne(addr, req string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (net.Conn, error) { c.Close(); return nil, err }
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, req); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fail(fmt.Errorf("reading the response: %w", err))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return fail(fmt.Errorf("reading the response body: %w", err))
	case resp.StatusCode != http.StatusOK:
		return fail(fmt.Errorf("the proxy answered %s", resp.Status))
	case resp.Close:
		return fail(errors.New("the proxy closes the connection after the response (no keep-alive)"))
	case br.Buffered() > 0:
		return fail(fmt.Errorf("%d bytes after the response", br.Buffered()))
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// countClosed counts connections that the peer has closed, peeking at each without blocking.
func countClosed(conns []net.Conn) int {
	closed := 0
	buf := make([]byte, 1)
	for _, c := range conns {
		sc, ok := c.(syscall.Conn)
		if !ok {
			continue
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			continue
		}
		rc.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if (n == 0 && err == nil) || (err != nil && err != syscall.EAGAIN) {
				closed++
			}
			return true // never wait
		})
	}
	return closed
}

// memory adds up VmRSS and VmHWM, in bytes, over the processes.
func memory(pids []int) (rss, hwm uint64, err error) {
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			return 0, 0, fmt.Errorf("reading the memory of process %d: %w", p, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok || (k != "VmRSS" && k != "VmHWM") {
				continue
			}
			f := strings.Fields(v) // "12345 kB"
			if len(f) != 2 || f[1] != "kB" {
				continue
			}
			kb, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				continue
			}
			if k == "VmRSS" {
				rss += kb * 1024
			} else {
				hwm += kb * 1024
			}
		}
	}
	return rss, hwm, nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
