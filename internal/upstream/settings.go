package upstream

import "crypto/tls"

// Settings returns the settings the backend was made with, as they were passed to NewBackend.
func (b *Backend) Settings() Settings { return b.given }

// TLSConfig is the TLS client config of the backend's connections (with its server name), or nil
// for a plain backend: for health checks that must speak to it as the engine does.
func (b *Backend) TLSConfig() *tls.Config { return b.tls }
