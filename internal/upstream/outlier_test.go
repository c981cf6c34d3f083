package upstream

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// outClock is a settable clock for outlier tests.
type outClock struct{ ns atomic.Int64 }

func newOutClock() *outClock {
	c := &outClock{}
	c.ns.Store(time.Unix(1_000_000, 0).UnixNano())
	return c
}
func (c *outClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *outClock) nano() int64         { return c.ns.Load() }
func (c *outClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// outPool returns n backends and a detector over them.
func outPool(n int, cfg OutlierConfig, clk *outClock) (*Outlier, []*Backend) {
	bs := make([]*Backend, n)
	for i := range bs {
		bs[i] = NewBackend(fmt.Sprintf("10.0.0.%d:80", i+1), Settings{}, nil, clk.now)
	}
	o := NewOutlier(cfg, clk.now)
	o.SetBackends(bs)
	return o, bs
}

// streak reports r until b is ejected, and fails the test if that takes more than limit reports.
func streak(t *testing.T, o *Outlier, b *Backend, r Result, limit int) {
	t.Helper()
	for range limit {
		if o.Report(b, r) {
			return
		}
	}
	t.Fatalf("backend %s not ejected after %d reports of %d", b.Addr, limit, r)
}

func TestOutlierThresholds(t *testing.T) {
	const (
		S = Success
		X = Failure5xx
		C = FailureConnect
	)
	tests := []struct {
		name  string
		cfg   OutlierConfig
		seq   []Result
		eject int // index of the report that ejects; -1 for none
	}{
		{"five 5xx eject", DefaultOutlierConfig(), []Result{X, X, X, X, X}, 4},
		{"four 5xx do not", DefaultOutlierConfig(), []Result{X, X, X, X}, -1},
		{"success resets the 5xx streak", DefaultOutlierConfig(), []Result{X, X, X, X, S, X, X, X, X}, -1},
		{"three connect failures eject", DefaultOutlierConfig(), []Result{C, C, C}, 2},
		{"success resets the connect streak", DefaultOutlierConfig(), []Result{C, C, S, C, C}, -1},
		{"a 5xx resets the connect streak", DefaultOutlierConfig(), []Result{C, C, X, C, C}, -1},
		{"a connect failure keeps the 5xx streak", DefaultOutlierConfig(), []Result{X, X, X, X, C, X}, 5},
		{"custom threshold", OutlierConfig{Consecutive5xx: 2}, []Result{X, S, X, X}, 3},
		{"5xx trigger disabled", OutlierConfig{ConsecutiveFailures: 1}, []Result{X, X, X, X, X, X, X, X, C}, 8},
		{"connect trigger disabled", OutlierConfig{Consecutive5xx: 5}, []Result{C, C, C, C, C, C, C, C}, -1},
		{"both disabled", OutlierConfig{}, []Result{X, X, X, X, X, X, C, C, C, C}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newOutClock()
			o, bs := outPool(4, tt.cfg, clk)
			got := -1
			for i, r := range tt.seq {
				if o.Report(bs[0], r) {
					if got >= 0 {
						t.Fatalf("ejected twice, at reports %d and %d", got, i)
					}
					got = i
				}
			}
			if got != tt.eject {
				t.Fatalf("ejected at report %d, want %d", got, tt.eject)
			}
			if ej := bs[0].State.Ejected(clk.nano()); ej != (tt.eject >= 0) {
				t.Fatalf("Ejected = %v", ej)
			}
			if want := uint64(0); tt.eject >= 0 {
				want = 1
				if o.Ejections() != want {
					t.Fatalf("Ejections = %d, want %d", o.Ejections(), want)
				}
			} else if o.Ejections() != want {
				t.Fatalf("Ejections = %d, want %d", o.Ejections(), want)
			}
		})
	}
}

func TestOutlierEjectionGrowsAndCaps(t *testing.T) {
	clk := newOutClock()
	cfg := OutlierConfig{Consecutive5xx: 1, BaseEjection: 10 * time.Second, MaxEjection: 45 * time.Second}
	o, bs := outPool(2, cfg, clk)
	b := bs[0]
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 45 * time.Second, 45 * time.Second} {
		if !o.Report(b, Failure5xx) {
			t.Fatalf("ejection %d: not ejected", i+1)
		}
		if got := time.Duration(b.State.EjectedUntil() - clk.nano()); got != want {
			t.Fatalf("ejection %d lasts %v, want %v", i+1, got, want)
		}
		if o.Report(b, Failure5xx) {
			t.Fatalf("ejection %d: a failure while ejected ejected again", i+1)
		}
		clk.add(want) // back in rotation exactly when the ejection ends: no decay
		if !b.State.Available(clk.nano()) {
			t.Fatalf("ejection %d: not available once it ended", i+1)
		}
	}
}

func TestOutlierDecay(t *testing.T) {
	const base = 10 * time.Second
	tests := []struct {
		name  string
		quiet time.Duration // time in rotation after the second ejection ended
		want  time.Duration // length of the third ejection
	}{
		{"no quiet time", 0, 4 * base},
		{"less than a step", base - 1, 4 * base},
		{"one step", base, 2 * base},
		{"one and a half steps", base + base/2, 2 * base},
		{"two steps", 2 * base, base},
		{"long quiet", 100 * base, base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newOutClock()
			o, bs := outPool(2, OutlierConfig{Consecutive5xx: 1, BaseEjection: base, MaxEjection: time.Hour}, clk)
			b := bs[0]
			streak(t, o, b, Failure5xx, 1)
			clk.add(base)
			streak(t, o, b, Failure5xx, 1)
			clk.add(2*base + tt.quiet)
			if st, want := o.Status(b), max(0, 2-int64(tt.quiet/base)); st.Level != want {
				t.Fatalf("level %d after %v quiet, want %d", st.Level, tt.quiet, want)
			}
			streak(t, o, b, Failure5xx, 1)
			if got := time.Duration(b.State.EjectedUntil() - clk.nano()); got != tt.want {
				t.Fatalf("third ejection lasts %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOutlierMaxEjectedShare(t *testing.T) {
	tests := []struct {
		name    string
		n, pct  int
		ejected int
	}{
		{"2 of 4 at 50%", 4, 50, 2},
		{"1 of 3 at 50%", 3, 50, 1},
		{"lone backend at 50%", 1, 50, 0},
		{"lone backend at 99%", 1, 99, 0},
		{"lone backend at 100%", 1, 100, 1},
		{"1 of 10 at 10%", 10, 10, 1},
		{"all of 5 at 100%", 5, 100, 5},
		{"above 100 is 100", 2, 250, 2},
		{"default is 50%", 6, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newOutClock()
			o, bs := outPool(tt.n, OutlierConfig{ConsecutiveFailures: 1, MaxEjectedPercent: tt.pct}, clk)
			got := 0
			for _, b := range bs {
				for range 3 {
					if o.Report(b, FailureConnect) {
						got++
					}
				}
			}
			if got != tt.ejected {
				t.Fatalf("%d ejected, want %d", got, tt.ejected)
			}
			n := 0
			for _, b := range bs {
				if b.State.Ejected(clk.nano()) {
					n++
				}
			}
			if n != tt.ejected {
				t.Fatalf("%d backends hold Ejected, want %d", n, tt.ejected)
			}
		})
	}
}

// A backend refused by the cap keeps its streak, and is ejected on its next failure once an
// ejection has ended and made room.
func TestOutlierCapMakesRoomWhenAnEjectionEnds(t *testing.T) {
	clk := newOutClock()
	o, bs := outPool(2, OutlierConfig{Consecutive5xx: 3, BaseEjection: 10 * time.Second}, clk)
	streak(t, o, bs[0], Failure5xx, 3)
	for range 5 {
		if o.Report(bs[1], Failure5xx) {
			t.Fatal("second of two backends ejected at 50%")
		}
	}
	if st := o.Status(bs[1]); st.Consecutive5xx != 5 {
		t.Fatalf("refused backend's streak = %d, want 5", st.Consecutive5xx)
	}
	clk.add(10 * time.Second)
	if !o.Report(bs[1], Failure5xx) {
		t.Fatal("not ejected once the first ejection ended")
	}
	if st := o.Status(bs[1]); st.Consecutive5xx != 0 || st.Level != 1 || !st.EjectedUntil.Equal(clk.now().Add(10*time.Second)) {
		t.Fatalf("status after ejection = %+v", st)
	}
}

func TestOutlierSetBackendsChangesTheCap(t *testing.T) {
	clk := newOutClock()
	o, bs := outPool(1, OutlierConfig{Consecutive5xx: 1}, clk)
	if o.Report(bs[0], Failure5xx) {
		t.Fatal("lone backend ejected")
	}
	more := append(bs, NewBackend("10.0.0.2:80", Settings{}, nil, clk.now))
	o.SetBackends(more)
	more[0] = nil // SetBackends keeps its own copy
	if !o.Report(bs[0], Failure5xx) {
		t.Fatal("not ejected once the pool has two backends")
	}
}

// A detector whose pool was never set counts the reported backend as its pool.
func TestOutlierWithoutSetBackends(t *testing.T) {
	clk := newOutClock()
	b := NewBackend("10.0.0.1:80", Settings{}, nil, clk.now)
	tests := []struct {
		name string
		pct  int
		want bool
	}{
		{"default share keeps it", 0, false},
		{"full share ejects it", 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOutlier(OutlierConfig{Consecutive5xx: 1, MaxEjectedPercent: tt.pct}, clk.now)
			if got := o.Report(b, Failure5xx); got != tt.want {
				t.Fatalf("Report = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOutlierConcurrent(t *testing.T) {
	clk := newOutClock()
	o, bs := outPool(4, OutlierConfig{Consecutive5xx: 3, ConsecutiveFailures: 2, BaseEjection: time.Second}, clk)
	var ejected atomic.Uint64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				b := bs[(g+i)%len(bs)]
				r := Failure5xx // mostly 5xx, so that streaks form even when the goroutines run one by one
				switch i % 10 {
				case 7, 8:
					r = FailureConnect
				case 9:
					r = Success
				}
				if o.Report(b, r) {
					ejected.Add(1)
				}
				if i%100 == 0 {
					clk.add(100 * time.Millisecond)
				}
			}
		}()
	}
	// The share cap holds at every moment: a concurrent reader never sees more than 2 of 4 out.
	// Ejections happen under o.mu and the clock only moves forward, so a view under it is consistent.
	var over atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			o.mu.Lock()
			now, n := clk.nano(), 0
			for _, b := range bs {
				if b.State.Ejected(now) {
					n++
				}
			}
			o.mu.Unlock()
			if n > 2 {
				over.Add(1)
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	if over.Load() != 0 {
		t.Fatalf("more than 2 of 4 backends ejected at once %d times", over.Load())
	}
	if ejected.Load() != o.Ejections() {
		t.Fatalf("Report returned true %d times, Ejections = %d", ejected.Load(), o.Ejections())
	}
	if o.Ejections() == 0 {
		t.Fatal("no ejection at all")
	}
}

func BenchmarkOutlierReportSuccess(b *testing.B) {
	clk := newOutClock()
	o, bs := outPool(4, DefaultOutlierConfig(), clk)
	b.ReportAllocs()
	for b.Loop() {
		o.Report(bs[0], Success)
	}
}

func BenchmarkOutlierReportSuccessParallel(b *testing.B) {
	clk := newOutClock()
	o, bs := outPool(4, DefaultOutlierConfig(), clk)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o.Report(bs[0], Success)
		}
	})
}

// BenchmarkOutlierReportMixed alternates a 5xx and a success: the streak never reaches the threshold.
func BenchmarkOutlierReportMixed(b *testing.B) {
	clk := newOutClock()
	o, bs := outPool(4, DefaultOutlierConfig(), clk)
	b.ReportAllocs()
	for b.Loop() {
		o.Report(bs[0], Failure5xx)
		o.Report(bs[0], Success)
	}
}
