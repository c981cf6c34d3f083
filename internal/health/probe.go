package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// probe runs one check of t and returns why it failed, or nil.
func (c *Checker) probe(ctx context.Context, t *target) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var err error
	switch c.cfg.Type {
	case "tcp":
		err = c.probeTCP(ctx, t.addr)
	case "grpc":
		err = c.probeGRPC(ctx, t.client, t.url)
	default:
		err = c.probeHTTP(ctx, t.client, t.url)
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timeout after %v: %w", c.cfg.Timeout, context.DeadlineExceeded)
	}
	return err
}

// probeTCP passes when a connection to addr opens.
func (c *Checker) probeTCP(ctx context.Context, addr string) error {
	conn, err := c.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// probeHTTP passes when a request to u gets a status in range and, if asked, a body holding the
// expected text.
func (c *Checker) probeHTTP(ctx context.Context, client *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, c.cfg.Method, u, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if c.cfg.Host != "" {
		req.Host = c.cfg.Host
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Close = true // Connection: close
	resp, err := client.Do(req)
	if err != nil {
		// "Get "http://...": dial tcp ...: connection refused" says the URL twice; keep the cause.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < c.cfg.StatusMin || resp.StatusCode > c.cfg.StatusMax {
		return fmt.Errorf("status %d (want %d-%d)", resp.StatusCode, c.cfg.StatusMin, c.cfg.StatusMax)
	}
	if c.cfg.Body == "" {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if !bytes.Contains(body, []byte(c.cfg.Body)) {
		return fmt.Errorf("body does not contain %q in its first %d bytes", c.cfg.Body, len(body))
	}
	return nil
}
