// Command gatehouse is a reverse proxy. This file only parses the command line and wires the parts
// in internal/ together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/app"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/demo"
	"github.com/gatehouse-proxy/gatehouse/internal/explain"
	"github.com/gatehouse-proxy/gatehouse/internal/gateway"
)

const version = "0.1.0-dev"

const usage = `gatehouse: a strict, fast reverse proxy

Usage:
  gatehouse                          run the embedded demo: 127.0.0.1:8080 over two built-in backends
  gatehouse run -config FILE         run with a YAML config file
  gatehouse proxy --listen ADDR --to URL [--to URL ...] [--access-log OUTPUT] [--admin ADDR]
                                     a one-line proxy, round-robin over the --to backends
  gatehouse validate -config FILE    check a config file; every problem with file, line and field
  gatehouse explain -config FILE METHOD URL [-H 'Name: value' ...] [--from IP] [--live ADDR|off]
                                     which route a request takes and why, and where it goes
  gatehouse version                  print the version
`

func main() {
	// A closed stdout (the access log's reader gone) must not kill the proxy: writes fail instead.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs a command line; serving commands serve until ctx ends (SIGINT or SIGTERM in main).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		cfg, err := config.Embedded()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return runDemo(ctx, cfg, stdout, stderr)
	}
	switch args[0] {
	case "run":
		return runConfig(ctx, args[1:], stdout, stderr)
	case "proxy":
		return runProxy(ctx, args[1:], stdout, stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "explain":
		return explainCmd(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "gatehouse", versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

func configFlag(name string, args []string, stderr io.Writer) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the YAML config `FILE`")
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gatehouse %s: give the config file as -config FILE\n", name)
		return "", false
	}
	return *path, true
}

func validate(args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("validate", args, stderr)
	if !ok {
		return 2
	}
	cfg, err := config.Load(path)
	if err == nil {
		err = gateway.Check(cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid\n", path)
	return 0
}

func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("run", args, stderr)
	if !ok {
		return 2
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return serve(ctx, cfg, app.Options{Path: path, WatchInterval: time.Second}, stderr)
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "the `ADDR` to listen on")
	accessLog := fs.String("access-log", "off", "where the access log goes: stdout, stderr, off or a file `PATH`")
	adminAddr := fs.String("admin", "off", "the admin listener's `ADDR` (metrics, API), or off")
	var to multiFlag
	fs.Var(&to, "to", "a backend `URL` such as http://127.0.0.1:9001 (repeat for more)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(to) == 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "gatehouse proxy: give at least one backend, e.g. --to http://127.0.0.1:9001")
		return 2
	}
	backends := make([]config.Backend, len(to))
	for i, u := range to {
		backends[i] = config.Backend{URL: u}
	}
	cfg := &config.Config{
		Source:    "gatehouse proxy",
		Listeners: []config.Listener{{Address: *listen}},
		AccessLog: config.AccessLog{Output: *accessLog},
		Admin:     config.Admin{Address: *adminAddr},
		Routes:    []config.Route{{Name: "proxy", Upstream: "backends"}},
		Upstreams: []config.Upstream{{Name: "backends", Backends: backends}},
	}
	config.Default(cfg)
	if errs := config.Validate(cfg); len(errs) > 0 {
		fmt.Fprintln(stderr, errs)
		return 2
	}
	return serve(ctx, cfg, app.Options{}, stderr)
}

// runDemo runs cfg (the embedded default) with demo backends on its upstreams' addresses.
func runDemo(ctx context.Context, cfg *config.Config, stdout, stderr io.Writer) int {
	var addrs []string
	for i := range cfg.Upstreams {
		addrs = append(addrs, cfg.Upstreams[i].BackendAddrs()...)
	}
	demos, err := demo.Start(addrs, func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) })
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse:", err)
		return 1
	}
	defer demos.Close()
	fmt.Fprintf(stderr, "gatehouse: demo backends on %s\n", strings.Join(demos.Addrs(), " and "))
	return serve(ctx, cfg, app.Options{}, stderr)
}

// serve runs cfg until ctx ends, then shuts down gracefully. SIGHUP reloads the config file.
func serve(ctx context.Context, cfg *config.Config, o app.Options, stderr io.Writer) int {
	var mu sync.Mutex // one line at a time from the goroutines that log
	o.Logf = func(f string, a ...any) {
		mu.Lock()
		fmt.Fprintf(stderr, "gatehouse: "+f+"\n", a...)
		mu.Unlock()
	}
	// Before Start: a SIGHUP must never find the process without its handler.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a, err := app.Start(cfg, o)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse:", err)
		return 1
	}
	for i, addr := range a.Addrs() {
		scheme := "http"
		if cfg.Listeners[i].TLS != nil {
			scheme = "https"
		}
		o.Logf("listening on %s://%s", scheme, addr)
	}
	if addr := a.AdminAddr(); addr != nil {
		o.Logf("admin on http://%s (/metrics, /api/upstreams, /api/config, POST /api/reload)", addr)
	}
	if o.Path != "" {
		o.Logf("reloads %s on SIGHUP and when it changes", o.Path)
	}
	o.Logf("press Ctrl-C to stop (SIGTERM also stops it, letting requests in flight finish)")
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-hup:
			a.Reload("SIGHUP")
		}
	}
	fmt.Fprintf(stderr, "gatehouse: stopping: draining requests in flight (up to %s)\n", cfg.Server.Timeouts.ShutdownDrain)
	if err := a.Shutdown(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "gatehouse:", err)
		return 1
	}
	fmt.Fprintln(stderr, "gatehouse: stopped")
	return 0
}

// explainUsage is printed by `gatehouse explain -h` and after a mistake on its command line.
const explainUsage = `Usage: gatehouse explain -config FILE METHOD URL [-H 'Name: value' ...] [--from IP] [--live ADDR|off]

Prints which route a request takes and why, what the route does to it, and which backends could
take it now. Flags may come before or after METHOD and URL; write them -flag value or -flag=value.
  -config FILE        the config file (required)
  -H 'Name: value'    a request header; repeat for more. Host: gives the host of a /path URL
  --from IP           the client's address, for client_cidrs and hashing (default 127.0.0.1)
  --live ADDR|off     the admin address of a running gatehouse to ask which backends are up
                      (default: the config's admin.address); off leaves health out
Example:
  gatehouse explain -config gatehouse.yaml GET http://api.example.com/users/42 -H 'X-Api-Version: 2'
`

// explainCmd runs `gatehouse explain`. Flags may come before or after METHOD and URL.
func explainCmd(args []string, stdout, stderr io.Writer) int {
	var q explain.Query
	var path string
	live := ""
	var pos []string
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gatehouse explain: "+format+"\n\n%s", append(a, explainUsage)...)
		return 2
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		switch name {
		case "h", "help":
			fmt.Fprint(stdout, explainUsage)
			return 0
		case "config", "H", "header", "from", "live":
		default:
			return bad("unknown flag %s", a)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return bad("%s needs a value", a)
			}
			i++
			value = args[i]
		}
		switch name {
		case "config":
			path = value
		case "H", "header":
			q.Headers = append(q.Headers, value)
		case "from":
			q.From = value
		case "live":
			live = value
		}
	}
	switch {
	case path == "":
		return bad("give the config file: -config FILE")
	case len(pos) < 2:
		return bad("give the request's method and URL, such as GET http://example.com/path")
	case len(pos) > 2:
		return bad("too many arguments: %s (quote a header: -H 'Name: value')", strings.Join(pos[2:], " "))
	}
	q.Method, q.URL = pos[0], pos[1]
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	switch live {
	case "":
		if cfg.Admin.Address != "off" {
			q.Live = cfg.Admin.Address
		}
	case "off":
	default:
		q.Live = live
	}
	if err := explain.Run(stdout, cfg, q); err != nil {
		fmt.Fprintln(stderr, "gatehouse explain:", err)
		return 1
	}
	return 0
}
