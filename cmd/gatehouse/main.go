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
	"syscall"

	"github.com/gatehouse-proxy/gatehouse/internal/app"
	"github.com/gatehouse-proxy/gatehouse/internal/config"
	"github.com/gatehouse-proxy/gatehouse/internal/demo"
)

const version = "0.1.0-dev"

const usage = `gatehouse: a strict, fast reverse proxy

Usage:
  gatehouse                          run the embedded demo: 127.0.0.1:8080 over two built-in backends
  gatehouse run -config FILE         run with a YAML config file
  gatehouse proxy --listen ADDR --to URL [--to URL ...] [--access-log OUTPUT]
                                     a one-line proxy, round-robin over the --to backends
  gatehouse validate -config FILE    check a config file; every problem with file, line and field
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
	if _, err := config.Load(path); err != nil {
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
	return serve(ctx, cfg, stderr)
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
		Routes:    []config.Route{{Name: "proxy", Upstream: "backends"}},
		Upstreams: []config.Upstream{{Name: "backends", Backends: backends}},
	}
	config.Default(cfg)
	if errs := config.Validate(cfg); len(errs) > 0 {
		fmt.Fprintln(stderr, errs)
		return 2
	}
	return serve(ctx, cfg, stderr)
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
	return serve(ctx, cfg, stderr)
}

// serve runs cfg until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg *config.Config, stderr io.Writer) int {
	logf := func(f string, a ...any) { fmt.Fprintf(stderr, "gatehouse: "+f+"\n", a...) }
	a, err := app.Start(cfg, logf)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse:", err)
		return 1
	}
	for _, addr := range a.Addrs() {
		fmt.Fprintf(stderr, "gatehouse: listening on http://%s\n", addr)
	}
	fmt.Fprintln(stderr, "gatehouse: press Ctrl-C to stop (SIGTERM also stops it, letting requests in flight finish)")
	<-ctx.Done()
	fmt.Fprintf(stderr, "gatehouse: stopping: draining requests in flight (up to %s)\n", cfg.Server.Timeouts.ShutdownDrain)
	if err := a.Shutdown(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "gatehouse:", err)
		return 1
	}
	fmt.Fprintln(stderr, "gatehouse: stopped")
	return 0
}
