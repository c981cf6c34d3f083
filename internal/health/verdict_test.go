package health

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The rise/fall state machine, probe by probe: 'o' is a passed probe, 'x' a failed one; want is the
// verdict after each probe, 'U' up and 'D' down.
func TestVerdicts(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		startDown  bool
		probes     string
		want       string
	}{
		{"down after exactly fall", 2, 3, false, "xxx", "UUD"},
		{"a pass resets the failures", 2, 3, false, "xxoxxoxxx", "UUUUUUUUD"},
		{"up after exactly rise", 2, 3, false, "xxxoo", "UUDDU"},
		{"a failure resets the passes", 3, 1, false, "xooxoooo", "DDDDDDUU"},
		{"fall 1 rise 1", 1, 1, false, "xoxo", "DUDU"},
		{"starts down when its state says so", 2, 3, true, "ooo", "DUU"},
		{"passes keep an up backend up", 2, 3, false, "oooo", "UUUU"},
		{"failures keep a down backend down", 2, 3, true, "xxxx", "DDDD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_000_000, 0)
			var l logs
			c := New(Config{Rise: tt.rise, Fall: tt.fall}, l.logf, func() time.Time { return now })
			defer c.Close()
			b := backend("10.0.0.1:80")
			if tt.startDown {
				b.State.SetActive(false, 1)
			}
			tg := &target{addr: b.Addr, be: b, st: Status{Addr: b.Addr, Up: b.State.ActiveUp()}, cancel: func() {}}
			got := make([]byte, 0, len(tt.probes))
			changes := 0
			prev := tg.st.Up
			for i, p := range []byte(tt.probes) {
				now = now.Add(time.Second)
				var err error
				if p == 'x' {
					err = errors.New("status 500 (want 200-399)")
				}
				c.record(tg, now, time.Millisecond, err)
				st := tg.st
				if st.Up != b.State.ActiveUp() {
					t.Fatalf("probe %d: status up %v, backend state up %v", i, st.Up, b.State.ActiveUp())
				}
				if st.Checks != uint64(i+1) || !st.LastCheck.Equal(now) || st.LastDuration != time.Millisecond {
					t.Fatalf("probe %d: status %+v", i, st)
				}
				if (err == nil) != (st.LastError == "") {
					t.Fatalf("probe %d: LastError %q", i, st.LastError)
				}
				if st.Up != prev {
					changes++
					prev = st.Up
				}
				got = append(got, "DU"[b2i(st.Up)])
			}
			if string(got) != tt.want {
				t.Fatalf("verdicts %s, want %s", got, tt.want)
			}
			if len(l.lines) != changes {
				t.Fatalf("%d log lines for %d changes: %q", len(l.lines), changes, l.lines)
			}
			for _, line := range l.lines {
				if line != "backend 10.0.0.1:80 is up" && line != "backend 10.0.0.1:80 is down: status 500 (want 200-399)" {
					t.Fatalf("log line %q", line)
				}
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A target that was stopped applies no verdict: a probe that was in flight when Watch removed the
// backend must not take it down afterwards.
func TestStoppedTargetAppliesNothing(t *testing.T) {
	c := New(Config{Fall: 1}, nil, nil)
	defer c.Close()
	b := backend("10.0.0.1:80")
	tg := &target{addr: b.Addr, be: b, st: Status{Addr: b.Addr, Up: true}, cancel: func() {}}
	tg.stop()
	c.record(tg, time.Now(), 0, errors.New("connection refused"))
	if !b.State.ActiveUp() || tg.st.Checks != 0 {
		t.Fatalf("stopped target recorded a probe: up %v, %+v", b.State.ActiveUp(), tg.st)
	}
}

func TestConfigDefaultsAndValidate(t *testing.T) {
	if got, want := (Config{}).WithDefaults(), (Config{Type: "http", Method: "GET", Path: "/", StatusMin: 200, StatusMax: 399,
		Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3}); got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	for _, tt := range []struct {
		cfg      Config
		min, max int
	}{
		{Config{StatusMin: 204}, 204, 399},
		{Config{StatusMin: 500}, 500, 500},
		{Config{StatusMax: 204}, 200, 204},
		{Config{StatusMax: 150}, 150, 150},
	} {
		if got := tt.cfg.WithDefaults(); got.StatusMin != tt.min || got.StatusMax != tt.max {
			t.Errorf("%+v: status range %d-%d, want %d-%d", tt.cfg, got.StatusMin, got.StatusMax, tt.min, tt.max)
		}
	}
	tests := []struct {
		name string
		cfg  Config
		err  string // "" when valid
	}{
		{"zero", Config{}, ""},
		{"tcp", Config{Type: "tcp"}, ""},
		{"full", Config{Method: "HEAD", Path: "/health?x=1", Host: "a.example", StatusMin: 200, StatusMax: 204, Rise: 1, Fall: 1}, ""},
		{"only min", Config{StatusMin: 204}, ""},
		{"only max", Config{StatusMax: 204}, ""},
		{"only a low max", Config{StatusMax: 150}, ""},
		{"only a high min", Config{StatusMin: 500}, ""},
		{"grpc", Config{Type: "grpc"}, ""},
		{"grpc service", Config{Type: "grpc", GRPCService: "helloworld.Greeter"}, ""},
		{"unknown type", Config{Type: "udp"}, `type: "udp" is not a check type (want http, tcp or grpc)`},
		{"grpc service on http", Config{GRPCService: "x"}, "grpc_service:"},
		{"control in grpc service", Config{Type: "grpc", GRPCService: "a\nb"}, "grpc_service:"},
		{"invalid UTF-8 grpc service", Config{Type: "grpc", GRPCService: "a\xffb"}, "grpc_service:"},
		{"bad method", Config{Method: "GE T"}, "method:"},
		{"relative path", Config{Path: "health"}, "path:"},
		{"space in path", Config{Path: "/a b"}, "path:"},
		{"control in host", Config{Host: "a\r\nb"}, "host:"},
		{"min above max", Config{StatusMin: 300, StatusMax: 200}, "status: 300-200"},
		{"status 600", Config{StatusMax: 600}, "status:"},
		{"status 99", Config{StatusMin: 99, StatusMax: 200}, "status:"},
		{"body with HEAD", Config{Method: "HEAD", Body: "ok"}, "body:"},
		{"body too long", Config{Body: strings.Repeat("x", MaxBody+1)}, "body:"},
		{"negative interval", Config{Interval: -time.Second}, "interval:"},
		{"negative timeout", Config{Timeout: -time.Second}, "timeout:"},
		{"negative rise", Config{Rise: -1}, "rise:"},
		{"negative fall", Config{Fall: -1}, "fall:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Validate = %v, want %q", err, tt.err)
			}
		})
	}
}
