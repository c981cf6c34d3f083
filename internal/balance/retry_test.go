package balance

import (
	"testing"
	"time"
)

func TestRetryBudget(t *testing.T) {
	t.Parallel()
	allowN := func(p *Pool, n int) int {
		ok := 0
		for range n {
			if p.AllowRetry() {
				ok++
			}
		}
		return ok
	}
	t.Run("minimum on a quiet pool", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		p := mustPool(t, Config{}, backends(1), clk) // MinRetries 3/s: 30 per 10 s
		if got := allowN(p, 100); got != 30 {
			t.Fatalf("allowed %d retries, want 30", got)
		}
		clk.add(5 * time.Second)
		if got := allowN(p, 10); got != 0 {
			t.Fatalf("allowed %d more within the window", got)
		}
		clk.add(5 * time.Second) // the first second left the window
		if got := allowN(p, 100); got != 30 {
			t.Fatalf("after the window allowed %d, want 30", got)
		}
	})
	t.Run("ratio of requests", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		p := mustPool(t, Config{RetryBudget: 0.2, MinRetries: 1}, backends(1), clk)
		for s := range 10 { // 1000 requests a second for 10 s
			for range 1000 {
				p.CountRequest()
			}
			if s < 9 {
				clk.add(time.Second)
			}
		}
		if got := allowN(p, 5000); got != 2000 {
			t.Fatalf("allowed %d retries for 10000 requests, want 2000", got)
		}
		clk.add(time.Second) // one second of requests and the retries leave
		if got := allowN(p, 5000); got != 0 {
			t.Fatalf("allowed %d with 9000 requests and 2000 retries in the window", got)
		}
		clk.add(9 * time.Second) // the retries were all in one second: gone now, and so are the requests
		if got := allowN(p, 5000); got != 10 {
			t.Fatalf("allowed %d after a quiet window, want the minimum 10", got)
		}
	})
	t.Run("no minimum", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		p := mustPool(t, Config{RetryBudget: 0.5, MinRetries: -1}, backends(1), clk)
		if p.AllowRetry() {
			t.Fatal("retry allowed with no requests and no minimum")
		}
		p.CountRequest()
		p.CountRequest()
		if got := allowN(p, 5); got != 1 {
			t.Fatalf("allowed %d for 2 requests at 50%%", got)
		}
	})
	t.Run("stale writer", func(t *testing.T) {
		t.Parallel()
		var b retryBudget
		bump(&b.reqs[5], 105)
		bump(&b.reqs[5], 95) // a writer 10 s late must not reset second 105
		if got := sum(&b.reqs, 105); got != 1 {
			t.Fatalf("sum %d, want 1", got)
		}
	})
}
