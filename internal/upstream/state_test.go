package upstream_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// t0 is an arbitrary start time, in Unix nanoseconds.
const t0 = int64(1_700_000_000) * int64(time.Second)

func TestStateInFlight(t *testing.T) {
	t.Parallel()
	var s upstream.State
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				s.Begin()
			}
			for range 400 {
				s.End()
			}
		}()
	}
	wg.Wait()
	if got := s.InFlight(); got != 8*600 {
		t.Fatalf("InFlight() = %d, want %d", got, 8*600)
	}
}

// observation is a latency observed at a time after t0.
type observation struct{ d, at time.Duration }

func TestStateLatency(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	near := func(got, want time.Duration) bool { return math.Abs(float64(got-want)) <= float64(want)*0.001+1 }
	tests := []struct {
		name string
		obs  []observation
		at   time.Duration // read at, after t0
		want time.Duration
	}{
		{name: "none", at: time.Second, want: 0},
		{name: "first observation", obs: []observation{{10 * ms, 0}}, at: 0, want: 10 * ms},
		{name: "a peak replaces the average at once", obs: []observation{{10 * ms, 0}, {50 * ms, ms}}, at: ms, want: 50 * ms},
		{name: "a lower value right away barely moves it", obs: []observation{{50 * ms, 0}, {10 * ms, 0}}, at: 0, want: 50 * ms},
		{name: "a lower value after a while blends in", obs: []observation{{50 * ms, 0}, {10 * ms, 10 * time.Second}}, at: 10 * time.Second,
			want: time.Duration(50e6*math.Exp(-1) + 10e6*(1-math.Exp(-1)))},
		{name: "decays without observations", obs: []observation{{100 * ms, 0}}, at: 10 * time.Second, want: time.Duration(100e6 * math.Exp(-1))},
		{name: "zero counts as the smallest latency", obs: []observation{{0, 0}}, at: 0, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s upstream.State
			for _, o := range tt.obs {
				s.ObserveLatency(o.d, t0+int64(o.at))
			}
			if got := s.Latency(t0 + int64(tt.at)); !near(got, tt.want) {
				t.Fatalf("Latency() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStateAvailability(t *testing.T) {
	t.Parallel()
	var s upstream.State
	if !s.Available(t0) || !s.ActiveUp() || s.Ejected(t0) || s.EjectedUntil() != 0 {
		t.Fatal("a new state is not plainly available")
	}
	if s.SetActive(true, t0) {
		t.Error("SetActive(true) on an up backend reported a change")
	}
	if !s.SetActive(false, t0) || s.Available(t0) || s.ActiveUp() {
		t.Fatal("SetActive(false) did not take the backend down")
	}
	if s.SetActive(false, t0+1) {
		t.Error("a repeated down verdict reported a change")
	}
	up := t0 + int64(time.Second)
	if !s.SetActive(true, up) || !s.Available(up) {
		t.Fatal("SetActive(true) did not bring the backend back")
	}
	if r := s.Ramp(up, 10*time.Second); r != 0.1 {
		t.Errorf("recovered backend's ramp %v, want 0.1", r)
	}

	until := up + int64(30*time.Second)
	s.Eject(until)
	if s.Available(until-1) || !s.Ejected(until-1) || s.EjectedUntil() != until {
		t.Fatal("Eject did not take the backend out")
	}
	if r := s.Ramp(until-1, 10*time.Second); r != 0.1 {
		t.Errorf("ramp during the ejection %v, want 0.1", r)
	}
	if !s.Available(until) || s.Ejected(until) {
		t.Fatal("the ejection did not end at its time")
	}
	if r := s.Ramp(until+int64(5*time.Second), 10*time.Second); r != 0.5 {
		t.Errorf("ramp half way after the ejection %v, want 0.5", r)
	}

	s.Eject(until + int64(time.Minute))
	now := until + int64(time.Second)
	s.Unject(now)
	if !s.Available(now) || s.Ejected(now) {
		t.Fatal("Unject did not end the ejection")
	}
	if r := s.Ramp(now, 10*time.Second); r != 0.1 {
		t.Errorf("ramp after Unject %v, want 0.1 (slow start from now)", r)
	}
	s.Unject(now + 1) // no ejection running: nothing changes
	if r := s.Ramp(now+int64(time.Second), 10*time.Second); r != 0.1 {
		t.Errorf("a second Unject restarted the ramp: %v", r)
	}

	s.SetActive(false, now)
	s.Eject(now - 1) // an ejection already over does not hide an active check's verdict
	if s.Available(now) {
		t.Error("available while the active check says down")
	}
}

func TestStateRamp(t *testing.T) {
	t.Parallel()
	const w = 10 * time.Second
	tests := []struct {
		name   string
		start  bool
		window time.Duration
		at     time.Duration // after the ramp's start at t0
		want   float64
	}{
		{name: "never ramped", window: w, at: 0, want: 1},
		{name: "no window", start: true, window: 0, at: 0, want: 1},
		{name: "start", start: true, window: w, at: 0, want: 0.1},
		{name: "before the start", start: true, window: w, at: -time.Second, want: 0.1},
		{name: "floor", start: true, window: w, at: w / 20, want: 0.1},
		{name: "quarter", start: true, window: w, at: w / 4, want: 0.25},
		{name: "three quarters", start: true, window: w, at: 3 * w / 4, want: 0.75},
		{name: "end", start: true, window: w, at: w, want: 1},
		{name: "long after", start: true, window: w, at: time.Hour, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s upstream.State
			if tt.start {
				s.StartRamp(t0)
			}
			if got := s.Ramp(t0+int64(tt.at), tt.window); math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("Ramp() = %v, want %v", got, tt.want)
			}
		})
	}
}

// CopyFrom carries health, latency and slow start over to a rebuilt backend, not the in-flight count.
func TestStateCopyFrom(t *testing.T) {
	t.Parallel()
	var old, s upstream.State
	old.Begin()
	old.ObserveLatency(20*time.Millisecond, t0)
	old.SetActive(false, t0)
	old.Eject(t0 + int64(time.Minute))
	s.CopyFrom(&old)
	if s.InFlight() != 0 {
		t.Error("in-flight count copied")
	}
	if got := s.Latency(t0); got != 20*time.Millisecond {
		t.Errorf("latency %v, want 20ms", got)
	}
	if s.ActiveUp() || s.EjectedUntil() != t0+int64(time.Minute) {
		t.Error("health not copied")
	}
	if r := s.Ramp(t0+int64(time.Minute)+int64(5*time.Second), 10*time.Second); r != 0.5 {
		t.Errorf("ramp %v, want 0.5", r)
	}
}
