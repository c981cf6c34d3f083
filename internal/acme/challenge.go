package acme

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
)

// ChallengePathPrefix starts the path of every HTTP-01 challenge request (RFC 8555 §8.3).
const ChallengePathPrefix = "/.well-known/acme-challenge/"

// HTTPChallenge answers the HTTP-01 challenge request GET http://host/path: the body to send
// with status 200 and Content-Type text/plain (the key authorization) and true, or false when
// the request is not a challenge the Manager (or another instance sharing its storage) has in
// progress for a name it serves; the caller then handles the request as any other. host is the
// Host header (a port is ignored); path is the request target's path, without the query. It is
// cheap for requests outside ChallengePathPrefix, so the engine may ask for every request on
// its plain-HTTP listeners.
func (m *Manager) HTTPChallenge(host, path string) (body string, ok bool) {
	if !m.set.http01 {
		return "", false
	}
	name, ok := challengeTarget(host, path)
	if !ok || m.configFor(name) == nil {
		return "", false
	}
	// certmagic's handler looks in this process's challenges, then in the storage for those
	// of other instances, and checks the token and the name.
	ctx, cancel := context.WithTimeout(m.ctx, challengeLookupTimeout)
	defer cancel()
	req := (&http.Request{
		Method:     http.MethodGet,
		Host:       name,
		URL:        &url.URL{Path: path},
		RequestURI: path,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
	}).WithContext(ctx)
	var rec recorder
	if !m.issuer.HandleHTTPChallenge(&rec, req) || rec.status != 0 && rec.status != http.StatusOK {
		return "", false
	}
	return rec.body.String(), true
}

// challengeTarget returns the normalized name of a request for an HTTP-01 challenge, or false
// when path is not one (a token is base64url, RFC 8555 §8.1).
func challengeTarget(host, path string) (string, bool) {
	token, ok := strings.CutPrefix(path, ChallengePathPrefix)
	if !ok || token == "" {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	if i := strings.IndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i+1:], ':') < 0 {
		host = host[:i]
	}
	name := normalize(host)
	if name == "" {
		return "", false
	}
	return name, true
}

// recorder is the http.ResponseWriter certmagic's challenge handler writes its answer to.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

var _ http.ResponseWriter = (*recorder)(nil)

// Header returns the response header, which is not used.
func (r *recorder) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}

// Write appends to the body.
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }

// WriteHeader records the status.
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
