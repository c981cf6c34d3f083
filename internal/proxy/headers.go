package proxy

import (
	"bytes"
	"strconv"

	"github.com/gatehouse-proxy/gatehouse/internal/h1"
	"github.com/gatehouse-proxy/gatehouse/internal/router"
	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// appendRequestHead writes the head sent to the backend: the request line in origin form, the
// client's fields less the hop-by-hop ones and those the route removes, our own framing, the
// forwarding fields, the request id and the route's fields.
func (c *conn) appendRequestHead(b []byte, rt *router.Route, be *upstream.Backend) []byte {
	req := &c.req
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = rt.AppendTarget(b, &c.rreq)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	switch {
	case rt.Host == router.HostLiteral:
		b = append(b, rt.HostValue...)
	case rt.Host == router.HostBackend || len(req.Host) == 0:
		b = append(b, be.AddrBytes...)
	default:
		b = append(b, req.Host...)
	}
	b = append(b, "\r\n"...)

	mode := c.fwd.mode
	keepIncoming := mode == ForwardedAppend && len(c.fwd.trusted) > 0 && c.fwd.trusts(c.rreq.ClientIP)
	var xff, fwd, xfp, xfh []byte // incoming values kept, when trusted
	var upgrade []byte
	drops := len(rt.Request.Drop) > 0
	for i := range req.Fields {
		f := &req.Fields[i]
		if f.ID == h1.Upgrade {
			upgrade = f.Value
		}
		if f.Hop {
			continue
		}
		switch f.ID {
		case h1.Host, h1.ContentLength, h1.TransferEncoding, h1.Expect, h1.XRequestID:
			continue
		case h1.XForwardedFor, h1.Forwarded, h1.XForwardedProto, h1.XForwardedHost:
			if mode == ForwardedOff {
				break
			}
			if keepIncoming {
				switch f.ID {
				case h1.XForwardedFor:
					xff = c.joinList(xff, f.Value)
				case h1.Forwarded:
					fwd = c.joinList(fwd, f.Value)
				case h1.XForwardedProto:
					if xfp == nil {
						xfp = f.Value
					}
				case h1.XForwardedHost:
					if xfh == nil {
						xfh = f.Value
					}
				}
			}
			continue
		}
		if drops && rt.Request.Dropped(f.Name) || hasUnderscore(f.Name) || isClientCertField(f.Name) {
			continue
		}
		b = append(b, f.Line...)
		b = append(b, "\r\n"...)
	}
	if req.Chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	} else if req.ContentLength >= 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, "\r\n"...)
	}
	if mode != ForwardedOff {
		b = c.appendForwarded(b, rt, xff, fwd, xfp, xfh)
	}
	if c.ep.TLS && c.hasClientCert() {
		b = append(b, "X-Client-Cert-Subject: "...)
		b = appendFieldSafe(b, c.certSubject)
		b = append(b, "\r\nX-Client-Cert-Fingerprint: "...)
		b = append(b, c.certFingerprint...)
		b = append(b, "\r\n"...)
	}
	if !rt.Request.Removes("x-request-id") {
		b = append(b, "X-Request-Id: "...)
		b = append(b, c.id...)
		b = append(b, "\r\n"...)
	}
	b = rt.Request.AppendSet(b) // the Set fields, then the Add fields
	if req.Upgrade && upgrade != nil {
		b = append(b, "Connection: upgrade\r\nUpgrade: "...)
		b = append(b, upgrade...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// hasUnderscore reports a field name with '_'. Such fields are not forwarded, as nginx does by
// default: backends that read '_' as '-' would otherwise see a Transfer_Encoding or an
// X_Forwarded_For that gatehouse never checked.
func hasUnderscore(name []byte) bool { return bytes.IndexByte(name, '_') >= 0 }

// joinList appends v to the comma-separated list l, in the connection's scratch space.
func (c *conn) joinList(l, v []byte) []byte {
	if l == nil {
		return v
	}
	out := make([]byte, 0, len(l)+2+len(v)) // rare: several fields of one list from a trusted peer
	out = append(append(append(out, l...), ", "...), v...)
	return out
}

func (c *conn) appendForwarded(b []byte, rt *router.Route, xff, fwd, xfp, xfh []byte) []byte {
	req := &c.req
	drop := rt.Request.Removes
	if !drop("x-forwarded-for") {
		b = append(b, "X-Forwarded-For: "...)
		if len(xff) > 0 {
			b = append(append(b, xff...), ", "...)
		}
		b = append(append(b, c.clientIP...), "\r\n"...)
	}
	if !drop("x-forwarded-proto") {
		b = append(b, "X-Forwarded-Proto: "...)
		if len(xfp) > 0 {
			b = append(b, xfp...)
		} else if c.ep.TLS {
			b = append(b, "https"...)
		} else {
			b = append(b, "http"...)
		}
		b = append(b, "\r\n"...)
	}
	if !drop("x-forwarded-host") && (len(xfh) > 0 || len(req.Host) > 0) {
		b = append(b, "X-Forwarded-Host: "...)
		if len(xfh) > 0 {
			b = append(b, xfh...)
		} else {
			b = append(b, req.Host...)
		}
		b = append(b, "\r\n"...)
	}
	if !drop("forwarded") {
		b = append(b, "Forwarded: "...)
		if len(fwd) > 0 {
			b = append(append(b, fwd...), ", "...)
		}
		b = append(b, "for="...)
		if c.clientIPv6 {
			b = append(append(append(b, "\"["...), c.clientIP...), "]\""...)
		} else {
			b = append(b, c.clientIP...)
		}
		if len(req.Host) > 0 {
			b = append(append(append(b, ";host=\""...), req.Host...), '"')
		}
		if c.ep.TLS {
			b = append(b, ";proto=https\r\n"...)
		} else {
			b = append(b, ";proto=http\r\n"...)
		}
	}
	return b
}

// Response framing, as sent to the client.
const (
	frameNone    = iota // no body: HEAD, 1xx, 204, 304
	frameLength         // Content-Length
	frameChunked        // chunked, re-framed
	frameClose          // raw bytes, then the connection closes (HTTP/1.0 clients)
)

// appendStatusLine writes the backend's status line as HTTP/1.1.
func (c *conn) appendStatusLine(b []byte) []byte {
	resp := c.resp
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(resp.Status), 10)
	b = append(b, ' ')
	if len(resp.Reason) > 0 {
		b = append(b, resp.Reason...)
	} else {
		b = append(b, router.StatusText(resp.Status)...)
	}
	return append(b, "\r\n"...)
}

// appendInterimHead writes a 1xx answer as the client receives it: the backend's fields less the
// hop-by-hop ones and those the route removes.
func (c *conn) appendInterimHead(b []byte) []byte {
	b = c.appendStatusLine(b)
	b = c.appendResponseFields(b, true)
	return append(b, "\r\n"...)
}

// appendResponseFields writes the backend's fields less the hop-by-hop ones, those the route
// removes and Transfer-Encoding; dropCL drops Content-Length too. Framing is the caller's.
func (c *conn) appendResponseFields(b []byte, dropCL bool) []byte {
	rt := c.route
	drops := len(rt.Response.Drop) > 0
	for i := range c.resp.Fields {
		f := &c.resp.Fields[i]
		if f.Hop || f.ID == h1.TransferEncoding || f.ID == h1.ContentLength && dropCL {
			continue
		}
		if drops && rt.Response.Dropped(f.Name) {
			continue
		}
		if len(c.ep.hsts) > 0 && h1.EqualFold(f.Name, "strict-transport-security") {
			continue // the listener's policy replaces the backend's
		}
		b = append(b, f.Line...)
		b = append(b, "\r\n"...)
	}
	return b
}

// appendResponseHead writes the head sent to the client: the backend's status and fields less the
// hop-by-hop ones and those the route removes, the route's fields, our framing and Connection.
func (c *conn) appendResponseHead(b []byte, frame int, keep bool) []byte {
	resp := c.resp
	b = c.appendStatusLine(b)
	b = c.appendResponseFields(b, true)
	b = c.route.Response.AppendSet(b) // the Set fields, then the Add fields
	b = append(b, c.ep.hsts...)
	if pool := c.route.Service.Pool; pool.StickyCookie() != "" && c.backend != nil && !pool.StickyFor(&c.pick, c.backend) {
		b = append(b, "Set-Cookie: "...)
		b = pool.AppendSetCookie(b, c.backend)
		b = append(b, "\r\n"...)
	}
	switch {
	case frame == frameLength, frame == frameNone && resp.ContentLength >= 0 && resp.Status >= 200 && resp.Status != 204:
		// A bodyless answer to HEAD, or a 304, keeps the length it describes, as one clean value
		// even if the backend wrote a list ("5, 5"); 1xx and 204 never carry one.
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, resp.ContentLength, 10)
		b = append(b, "\r\n"...)
	case frame == frameChunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	b = appendConnection(b, keep, c.req.Minor)
	return append(b, "\r\n"...)
}

// appendFixedHead appends a fixed response's prebuilt head (router.Fixed.Head: the status line and
// CRLF-ended fields) less the fields the route's response changes remove or replace. Content-Length
// is always kept: it frames the body.
func appendFixedHead(b, head []byte, ops *router.HeaderOps) []byte {
	for first := true; len(head) > 0; first = false {
		end := len(head)
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			end = i + 1
		}
		line := head[:end]
		head = head[end:]
		if !first {
			name, _, _ := bytes.Cut(line, []byte{':'})
			if !h1.EqualFold(name, "content-length") && ops.Dropped(name) {
				continue
			}
		}
		b = append(b, line...)
	}
	return b
}

// isClientCertField reports the fields that carry a verified client certificate to backends: a
// client must never send them itself.
func isClientCertField(name []byte) bool {
	switch len(name) {
	case len(clientSubjectField):
		return h1.EqualFold(name, clientSubjectField)
	case len(clientFingerprintField):
		return h1.EqualFold(name, clientFingerprintField)
	}
	return false
}

// appendFieldSafe appends v as a field value, with any byte that may not appear in one (a
// certificate subject can hold anything) replaced by '?'.
func appendFieldSafe(b, v []byte) []byte {
	for _, ch := range v {
		if ch < 0x20 && ch != '\t' || ch == 0x7f {
			ch = '?'
		}
		b = append(b, ch)
	}
	return b
}
