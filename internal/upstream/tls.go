package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// TLSOptions describe how to reach https:// backends. The zero value verifies backend certificates
// against the system's roots and presents no client certificate.
type TLSOptions struct {
	// CAFile is a PEM bundle of the CAs backend certificates must chain to; it replaces the system's
	// roots. Default "": the system's roots.
	CAFile string
	// ServerName is sent in SNI and verified against the backend's certificate. Default "": the host
	// part of each backend's address (an IP address is verified against the certificate's IP SANs
	// and not sent in SNI).
	ServerName string
	// CertFile and KeyFile are a PEM client certificate and its key, presented to backends that ask
	// for one (mutual TLS). Both or neither. Default: none.
	CertFile string
	KeyFile  string
	// InsecureSkipVerify accepts any backend certificate. Default false; for tests only.
	InsecureSkipVerify bool
}

// sessionCacheSize is the number of TLS sessions kept for resumption per client config: one per
// backend address (see addrSessionCache), so an upstream of up to this many backends resumes all.
const sessionCacheSize = 256

// ClientTLS builds the client config for a pool's https:// backends, to put in Settings.TLS: TLS 1.2
// at least, ALPN "http/1.1", and a session cache shared by every backend built with it so that
// reconnections resume their session. Errors name the file that could not be used.
func ClientTLS(o TLSOptions) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"http/1.1"},
		ServerName:         o.ServerName,
		InsecureSkipVerify: o.InsecureSkipVerify,
		ClientSessionCache: tls.NewLRUClientSessionCache(sessionCacheSize),
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("upstream tls: ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream tls: ca file %s: no PEM certificate found", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("upstream tls: client certificate %s, key %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case o.CertFile != "" || o.KeyFile != "":
		return nil, errors.New("upstream tls: a client certificate needs both a cert file and a key file")
	}
	return cfg, nil
}

// backendTLS is the config one backend dials with: a clone of the pool's whose ServerName is the
// pool's or else addr's host, and whose session cache keeps this backend's sessions apart from the
// other backends' (they share the pool's cache).
func backendTLS(pool *tls.Config, addr string) *tls.Config {
	cfg := pool.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		// crypto/tls verifies an IP address against the IP SANs, but not with an IPv6 zone.
		if i := strings.LastIndexByte(host, '%'); i > 0 && strings.IndexByte(host, ':') >= 0 {
			host = host[:i]
		}
		cfg.ServerName = host
	}
	if cfg.ClientSessionCache != nil {
		cfg.ClientSessionCache = addrSessionCache{inner: cfg.ClientSessionCache, addr: addr}
	}
	return cfg
}

// addrSessionCache keys a shared session cache by backend address too. crypto/tls keys sessions by
// ServerName alone, so several backends serving one name (a ServerName override, or the addresses
// a host name resolves to) would overwrite each other's session and rarely resume.
type addrSessionCache struct {
	inner tls.ClientSessionCache
	addr  string
}

var _ tls.ClientSessionCache = addrSessionCache{}

// Get returns the session stored for this backend under sessionKey.
func (c addrSessionCache) Get(sessionKey string) (*tls.ClientSessionState, bool) {
	return c.inner.Get(c.addr + " " + sessionKey)
}

// Put stores (or, for nil, removes) this backend's session under sessionKey.
func (c addrSessionCache) Put(sessionKey string, cs *tls.ClientSessionState) {
	c.inner.Put(c.addr+" "+sessionKey, cs)
}

// handshake runs the TLS client handshake over nc, bounded by ctx and by ConnectTimeout. On failure
// it closes nc; a certificate that does not verify is such a failure.
func (b *Backend) handshake(ctx context.Context, nc net.Conn) (*tls.Conn, error) {
	if d := b.set.ConnectTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	tc := tls.Client(nc, b.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("upstream tls: handshake with %s: %w", b.Addr, err)
	}
	return tc, nil
}
