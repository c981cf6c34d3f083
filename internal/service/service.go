// Package service holds what a route forwards to: a balanced pool of backends together with its
// outlier detection, active health checks and retry policy. The gateway builds services from the
// config and keeps them across reloads; the engine reads them on every request.
package service

import (
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/balance"
	"github.com/gatehouse-proxy/gatehouse/internal/health"
	"github.com/gatehouse-proxy/gatehouse/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// Service is one upstream of the config at run time.
type Service struct {
	// Name is the upstream's name.
	Name string
	// Pool picks backends.
	Pool *balance.Pool
	// Outlier ejects backends that fail requests.
	Outlier *upstream.Outlier
	// Checker probes backends; nil without active health checks.
	Checker *health.Checker
	// Retry says when a request is tried again.
	Retry Retry
	// Metrics counts the service's retries and ejections; nil without metrics.
	Metrics *metrics.Pool
}

// Retry is a compiled retry policy.
type Retry struct {
	// Attempts is the most retries after the first try; 0 turns retries off.
	Attempts int
	// PerTryTimeout bounds one try, from sending the request to the response head; 0: none.
	PerTryTimeout time.Duration
	// onStatus has bit s-500 set for each 5xx status s that is retried.
	onStatus [2]uint64
}

// SetOnStatus sets the statuses retried; statuses outside 500-599 are ignored.
func (r *Retry) SetOnStatus(statuses []int) {
	r.onStatus = [2]uint64{}
	for _, s := range statuses {
		if s >= 500 && s <= 599 {
			i := s - 500
			r.onStatus[i/64] |= 1 << (i % 64)
		}
	}
}

// OnStatus reports whether a backend's answer with this status may be retried.
func (r *Retry) OnStatus(status int) bool {
	if status < 500 || status > 599 {
		return false
	}
	i := status - 500
	return r.onStatus[i/64]&(1<<(i%64)) != 0
}

// Backends is the pool's current backends.
func (s *Service) Backends() []*upstream.Backend { return s.Pool.Backends() }

// SetBackends replaces the backend set everywhere it is known: the pool, the outlier detection
// and the health checker.
func (s *Service) SetBackends(bs []*upstream.Backend) {
	s.Pool.SetBackends(bs)
	s.Outlier.SetBackends(bs)
	if s.Checker != nil {
		s.Checker.Watch(bs)
	}
}

// Close stops the service's background work (health probes).
func (s *Service) Close() {
	if s.Checker != nil {
		s.Checker.Close()
	}
}
