// Package health runs active health checks: it probes each backend of a pool on a timer, over HTTP
// or plain TCP, and takes a backend out of rotation after Fall failed probes in a row and back in
// after Rise passed ones. Passive outlier detection, which judges real traffic, lives in
// upstream.Outlier.
package health

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
)

// Defaults of Config.
const (
	DefaultType      = "http"
	DefaultMethod    = "GET"
	DefaultPath      = "/"
	DefaultStatusMin = 200
	DefaultStatusMax = 399
	DefaultInterval  = 5 * time.Second
	DefaultTimeout   = 2 * time.Second
	DefaultRise      = 2
	DefaultFall      = 3
)

// MaxBody is how much of a response body an HTTP probe reads to look for Config.Body.
const MaxBody = 64 << 10

// UserAgent is the User-Agent header of HTTP probes, so that backends can tell them from traffic.
const UserAgent = "gatehouse-health-check"

// Config is a pool's active health check. Zero fields get their defaults.
type Config struct {
	// Type is "http" (default): a request whose answer must pass the checks below; "tcp": a
	// connection that must open; or "grpc": the gRPC health checking protocol's
	// grpc.health.v1.Health/Check, over HTTP/2, which passes when the answer is SERVING with
	// grpc-status 0 (Method, Path, StatusMin, StatusMax and Body do not apply). A backend made
	// with upstream.Settings.HTTP2 is probed over HTTP/2 whatever the type, as the engine speaks to
	// it.
	Type string
	// GRPCService is the service a grpc check asks about. Default "": the server as a whole.
	GRPCService string
	// Method is the HTTP method of the probe; default GET.
	Method string
	// Path is the request target, with an optional query; default "/".
	Path string
	// Host is the Host header; default the backend's host:port.
	Host string
	// StatusMin and StatusMax bound the status codes that pass, inclusive; default 200-399. With
	// only one set, the other keeps its default unless that leaves an empty range, when it equals
	// the one set. Redirects are not followed: a 3xx is judged by its own status.
	StatusMin, StatusMax int
	// Body, when not empty, must occur in the first MaxBody (64 KiB) bytes of the response body.
	Body string
	// Interval is the time between the starts of two probes of a backend; default 5s. A probe that
	// takes longer is followed by the next at once.
	Interval time.Duration
	// Timeout bounds a whole probe: connect, request, answer and body; default 2s.
	Timeout time.Duration
	// Rise is the number of passed probes in a row that bring a down backend up; default 2.
	Rise int
	// Fall is the number of failed probes in a row that take an up backend down; default 3.
	Fall int
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Type == "" {
		c.Type = DefaultType
	}
	if c.Method == "" {
		c.Method = DefaultMethod
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.StatusMin == 0 && c.StatusMax == 0 {
		c.StatusMin, c.StatusMax = DefaultStatusMin, DefaultStatusMax
	} else if c.StatusMax == 0 {
		c.StatusMax = max(c.StatusMin, DefaultStatusMax)
	} else if c.StatusMin == 0 {
		c.StatusMin = min(DefaultStatusMin, c.StatusMax)
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	return c
}

// Validate reports the first problem of c with its defaults applied, naming the field and what
// would be valid. It has no side effects.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Type != "http" && c.Type != "tcp" && c.Type != "grpc":
		return fmt.Errorf("type: %q is not a check type (want http, tcp or grpc)", c.Type)
	case c.GRPCService != "" && c.Type != "grpc":
		return fmt.Errorf("grpc_service: %q applies to grpc checks only", c.GRPCService)
	case !utf8.ValidString(c.GRPCService) || strings.ContainsFunc(c.GRPCService, unicode.IsControl):
		return fmt.Errorf("grpc_service: %q is not a service name", c.GRPCService)
	case !h1.IsToken(c.Method):
		return fmt.Errorf("method: %q is not an HTTP method", c.Method)
	case !strings.HasPrefix(c.Path, "/") || !printable(c.Path):
		return fmt.Errorf("path: %q must start with / and hold no spaces or control characters", c.Path)
	case !printable(c.Host):
		return fmt.Errorf("host: %q holds spaces or control characters", c.Host)
	case c.StatusMin < 100 || c.StatusMax > 599 || c.StatusMin > c.StatusMax:
		return fmt.Errorf("status: %d-%d is not a status range (want 100 <= min <= max <= 599)", c.StatusMin, c.StatusMax)
	case c.Body != "" && c.Type == "http" && c.Method == "HEAD":
		return fmt.Errorf("body: a HEAD answer has no body to look for %q in (use GET)", c.Body)
	case len(c.Body) > MaxBody:
		return fmt.Errorf("body: %d bytes, longer than the %d that a probe reads", len(c.Body), MaxBody)
	case c.Interval < 0:
		return fmt.Errorf("interval: %v must be positive", c.Interval)
	case c.Timeout < 0:
		return fmt.Errorf("timeout: %v must be positive", c.Timeout)
	case c.Rise < 0:
		return fmt.Errorf("rise: %d must be at least 1", c.Rise)
	case c.Fall < 0:
		return fmt.Errorf("fall: %d must be at least 1", c.Fall)
	}
	return nil
}

// printable reports whether s holds only visible ASCII characters.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
