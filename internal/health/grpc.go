package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
)

// GRPCHealthPath is the request path of a grpc check: the gRPC health checking protocol's Check
// method (https://github.com/grpc/grpc/blob/master/doc/health-checking.md).
const GRPCHealthPath = "/grpc.health.v1.Health/Check"

// The ServingStatus values of grpc.health.v1.HealthCheckResponse.
const (
	grpcUnknown        = 0
	grpcServing        = 1
	grpcNotServing     = 2
	grpcServiceUnknown = 3
)

var servingStatusNames = [...]string{"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"}

// grpcCodeNames are the gRPC status codes' names, by code.
var grpcCodeNames = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// probeGRPC passes when the backend's health service answers SERVING for the configured service.
func (c *Checker) probeGRPC(ctx context.Context, client *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(grpcHealthRequest(c.cfg.GRPCService)))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if c.cfg.Host != "" {
		req.Host = c.cfg.Host
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	req.Header.Set("User-Agent", UserAgent)
	req.Close = true // a connection of its own, closed after the answer
	resp, err := client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK || !isGRPCContentType(ct) {
		return fmt.Errorf("not a gRPC answer: status %d, content-type %q", resp.StatusCode, ct)
	}
	msg, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	// grpc-status is a trailer, or a field of the head in a Trailers-Only answer.
	st := resp.Trailer
	if st.Get("Grpc-Status") == "" {
		st = resp.Header
	}
	if err := grpcStatusError(st.Get("Grpc-Status"), st.Get("Grpc-Message")); err != nil {
		return err
	}
	status, err := parseHealthResponse(msg)
	if err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if status != grpcServing {
		return fmt.Errorf("%s", servingStatusName(status))
	}
	return nil
}

// isGRPCContentType reports a gRPC content type: application/grpc, alone or with a subtype
// (application/grpc+proto) or parameters.
func isGRPCContentType(ct string) bool {
	base, _, _ := strings.Cut(ct, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	return base == "application/grpc" || strings.HasPrefix(base, "application/grpc+")
}

// grpcStatusError is nil for grpc-status 0 and says why for anything else.
func grpcStatusError(code, message string) error {
	if code == "0" {
		return nil
	}
	if code == "" {
		return errors.New("no grpc-status in the answer")
	}
	name := "?"
	if n, err := strconv.Atoi(code); err == nil && n >= 0 && n < len(grpcCodeNames) {
		name = grpcCodeNames[n]
	}
	if m, err := url.PathUnescape(message); err == nil {
		message = m // grpc-message is percent-encoded
	}
	if message == "" {
		return fmt.Errorf("grpc-status %s (%s)", code, name)
	}
	return fmt.Errorf("grpc-status %s (%s): %s", code, name, message)
}

func servingStatusName(s uint64) string {
	if s < uint64(len(servingStatusNames)) {
		return servingStatusNames[s]
	}
	return "serving status " + strconv.FormatUint(s, 10)
}

// grpcHealthRequest is a HealthCheckRequest{service} as a gRPC message: the 5-byte prefix (not
// compressed, big-endian length) and the protobuf encoding, field 1 (service) with wire type 2.
func grpcHealthRequest(service string) []byte {
	var pb []byte
	if service != "" {
		pb = append(pb, 1<<3|2)
		pb = binary.AppendUvarint(pb, uint64(len(service)))
		pb = append(pb, service...)
	}
	msg := make([]byte, 5, 5+len(pb))
	binary.BigEndian.PutUint32(msg[1:], uint32(len(pb)))
	return append(msg, pb...)
}

// parseHealthResponse reads the ServingStatus of the first gRPC message of b, a
// HealthCheckResponse (field 1, a varint; absent means UNKNOWN, proto3's default).
func parseHealthResponse(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, errors.New("no message")
	}
	if len(b) < 5 {
		return 0, errors.New("truncated message prefix")
	}
	if b[0] != 0 {
		return 0, fmt.Errorf("message flag %#x: compressed or unknown (none was asked for)", b[0])
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint64(len(b)-5) < uint64(n) {
		return 0, fmt.Errorf("message of %d bytes truncated to %d", n, len(b)-5)
	}
	pb := b[5 : 5+int(n)]
	status := uint64(grpcUnknown)
	for len(pb) > 0 {
		tag, k := binary.Uvarint(pb)
		if k <= 0 {
			return 0, errors.New("malformed field tag")
		}
		pb = pb[k:]
		field, wire := tag>>3, tag&7
		if field == 0 {
			return 0, errors.New("field number 0")
		}
		switch wire {
		case 0: // varint
			v, k := binary.Uvarint(pb)
			if k <= 0 {
				return 0, errors.New("malformed varint")
			}
			pb = pb[k:]
			if field == 1 {
				status = v
			}
		case 1: // 64-bit
			if len(pb) < 8 {
				return 0, errors.New("truncated fixed64")
			}
			pb = pb[8:]
		case 2: // length-delimited
			l, k := binary.Uvarint(pb)
			if k <= 0 || uint64(len(pb)-k) < l {
				return 0, errors.New("malformed length-delimited field")
			}
			pb = pb[k+int(l):]
		case 5: // 32-bit
			if len(pb) < 4 {
				return 0, errors.New("truncated fixed32")
			}
			pb = pb[4:]
		default:
			return 0, fmt.Errorf("unsupported wire type %d", wire)
		}
	}
	return status, nil
}

// newH2Client returns an HTTP/2 client for probes: over TLS with tc (which must offer ALPN h2; the
// backend must choose it) when tc is set, else cleartext with prior knowledge (h2c). Each probe
// asks for a connection of its own (Request.Close), closed after its answer.
func (c *Checker) newH2Client(tc *tls.Config) *http.Client {
	dial := func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		nc, err := c.dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, &connectError{err}
		}
		if tc == nil {
			return nc, nil
		}
		cfg := tc.Clone()
		cfg.NextProtos = []string{http2.NextProtoTLS}
		conn := tls.Client(nc, cfg)
		if err := conn.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, &connectError{fmt.Errorf("tls handshake: %w", err)}
		}
		if p := conn.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
			_ = nc.Close()
			return nil, &connectError{fmt.Errorf("tls: the backend did not negotiate h2 by ALPN (got %q)", p)}
		}
		return conn, nil
	}
	return &http.Client{
		Transport: h2Transport{&http2.Transport{
			DialTLSContext:     dial,
			AllowHTTP:          true,
			DisableCompression: true,
			MaxHeaderListSize:  MaxBody,
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// h2Transport says of an exchange that failed after the connection was made that it was an HTTP/2
// one: an HTTP/1.1-only backend fails in ways (a reset, a frame "too large") that do not say so.
type h2Transport struct{ t *http2.Transport }

// RoundTrip runs one exchange.
func (h h2Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.t.RoundTrip(req)
	if err != nil {
		if ce, ok := errors.AsType[*connectError](err); ok {
			return nil, ce.err
		}
		if req.Context().Err() == nil {
			return nil, fmt.Errorf("no HTTP/2 answer: %w", err)
		}
	}
	return resp, err
}

// CloseIdleConnections closes the transport's idle connections.
func (h h2Transport) CloseIdleConnections() { h.t.CloseIdleConnections() }

// connectError marks a failure to open a probe's connection.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }
