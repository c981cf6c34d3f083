package proxy

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/gatehouse-proxy/gatehouse/internal/router"
)

// Endpoint says how the connections of one listener are served.
type Endpoint struct {
	// TLS is set on a listener whose connections are *tls.Conn: requests are https.
	TLS bool
	// RedirectHTTPS answers every request with a 308 to the same URL over https on HTTPSPort.
	RedirectHTTPS bool
	// HTTPSPort is where RedirectHTTPS sends clients; 443 (or 0) is left out of the URL.
	HTTPSPort int
	// HSTS is the Strict-Transport-Security value sent on every answer; empty for none.
	HSTS string
	// ACMEChallenge answers ACME HTTP-01 challenges (GET /.well-known/acme-challenge/TOKEN) on a
	// plain listener: the key authorization and true, or false for a request it does not know.
	// Nil: none are answered. host is the Host field, path the path without the query.
	ACMEChallenge func(host, path string) (body string, ok bool)
	// H2 serves HTTP/2 to TLS clients that choose it by ALPN (the listener's TLS config must offer
	// "h2"). H2C serves cleartext HTTP/2 to plain connections that open with the HTTP/2 preface.
	// NoH1 refuses HTTP/1.1: a connection that is not HTTP/2 is closed.
	H2, H2C, NoH1 bool

	stream   *Endpoint     // the endpoint of this one's HTTP/2 streams: no protocol sniffing
	redirect *router.Table // one route answering every request with the redirect, for RedirectHTTPS
	acme     *router.Route // the route ACME challenge answers are logged under
	hsts     []byte
}

// plainEndpoint serves connections handed to ServeConn: plain HTTP, nothing added.
var plainEndpoint = func() *Endpoint {
	ep := &Endpoint{}
	_ = ep.prepare() // cannot fail without RedirectHTTPS
	return ep
}()

// prepare compiles what the endpoint needs per request.
func (ep *Endpoint) prepare() error {
	ep.hsts = nil
	if ep.HSTS != "" {
		ep.hsts = []byte("Strict-Transport-Security: " + ep.HSTS + "\r\n")
	}
	ep.acme = &router.Route{Name: "acme-challenge", NameBytes: []byte("acme-challenge")}
	ep.redirect = nil
	if ep.RedirectHTTPS {
		port := ep.HTTPSPort
		if port == 443 {
			port = 0
		}
		rt := &router.Route{Name: "redirect-to-https", Redirect: &router.Redirect{Status: 308, Scheme: "https", Port: port}}
		t := router.NewTable([]*router.Route{rt})
		if err := t.Err(); err != nil {
			return fmt.Errorf("redirect to https on port %d: %w", ep.HTTPSPort, err)
		}
		ep.redirect = t
	}
	st := *ep
	st.H2, st.H2C, st.NoH1 = false, false, false
	st.stream = &st
	ep.stream = &st
	return nil
}

// sniffs reports whether a new connection's first bytes are looked at before HTTP/1.1 parsing.
func (ep *Endpoint) sniffs() bool { return ep.H2 || ep.H2C || ep.NoH1 }

// HSTSValue writes a Strict-Transport-Security value.
func HSTSValue(maxAgeSeconds int64, includeSubdomains, preload bool) string {
	v := "max-age=" + strconv.FormatInt(maxAgeSeconds, 10)
	if includeSubdomains {
		v += "; includeSubDomains"
	}
	if preload {
		v += "; preload"
	}
	return v
}

// Fields gatehouse writes for a verified client certificate, and always removes from requests.
const (
	clientSubjectField     = "x-client-cert-subject"
	clientFingerprintField = "x-client-cert-fingerprint"
)

// clientCert reads the connection's verified client certificate, once per connection, after the
// handshake (which the first read completed).
func (c *conn) clientCert() {
	if c.certChecked {
		return
	}
	c.certChecked = true
	c.certSubject, c.certFingerprint = c.certSubject[:0], c.certFingerprint[:0]
	// A *tls.Conn, or an HTTP/2 stream of one.
	tc, ok := c.nc.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return
	}
	cs := tc.ConnectionState()
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return
	}
	leaf := cs.VerifiedChains[0][0]
	sum := sha256.Sum256(leaf.Raw)
	c.certSubject = append(c.certSubject, leaf.Subject.String()...)
	c.certFingerprint = hex.AppendEncode(c.certFingerprint, sum[:])
}

// hasClientCert reports whether the client presented a verified certificate.
func (c *conn) hasClientCert() bool {
	c.clientCert()
	return len(c.certFingerprint) > 0
}

// acmeChallengePrefix starts the path of every ACME HTTP-01 challenge (RFC 8555 §8.3).
var acmeChallengePrefix = []byte("/.well-known/acme-challenge/")

// acmeChallenge answers an ACME HTTP-01 challenge; it reports false when the request is not one.
func (c *conn) acmeChallenge() (keep, answered bool) {
	req := &c.req
	if c.ep.ACMEChallenge == nil || !req.IsMethod("GET") || !bytes.HasPrefix(req.Path, acmeChallengePrefix) {
		return false, false
	}
	path := req.Path
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	body, ok := c.ep.ACMEChallenge(string(req.Host), string(path))
	if !ok {
		return false, false
	}
	c.route = c.ep.acme
	return c.localAnswer(200, router.NewFixed(200, body, map[string]string{"Content-Type": "text/plain"})), true
}
