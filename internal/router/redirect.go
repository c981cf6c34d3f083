package router

import (
	"errors"
	"strconv"
	"strings"
)

// Redirect answers a request with a redirect to a URL built from the request: each part not
// written keeps the request's.
type Redirect struct {
	// Status is 301, 302, 303, 307 or 308 (the config layer supplies its default, 302).
	Status int
	// Scheme is "http" or "https". Empty keeps the request's scheme ("https" when Request.TLS).
	Scheme string
	// Host is the host name or IP literal to send the client to, without a port. Empty keeps the
	// request's host.
	Host string
	// Port is the port to send the client to, 1-65535. 0 keeps the request's port when Host is
	// empty and the scheme is unchanged, and writes none otherwise (the scheme's default port).
	// A port that is the scheme's default (80 for http, 443 for https) is never written.
	Port int
	// Path replaces the path; it starts with '/'. Empty keeps the request's path as sent.
	Path string
	// StripQuery drops the request's query. Default false: the query is kept as sent.
	StripQuery bool
}

// check reports the redirect's bad fields.
func (rd *Redirect) check(bad func(field, value string, err error)) {
	switch rd.Status {
	case 301, 302, 303, 307, 308:
	default:
		bad("redirect.status", strconv.Itoa(rd.Status), errors.New("a redirect status is 301, 302, 303, 307 or 308"))
	}
	switch rd.Scheme {
	case "", "http", "https":
	default:
		bad("redirect.scheme", rd.Scheme, errors.New(`the scheme is "http" or "https", or none to keep the request's`))
	}
	if rd.Host != "" {
		if p, err := compileHost(rd.Host); err != nil {
			bad("redirect.host", rd.Host, err)
		} else if p.wildcard {
			bad("redirect.host", rd.Host, errors.New("a redirect goes to one host: write it without *"))
		}
	}
	if rd.Port < 0 || rd.Port > 65535 {
		bad("redirect.port", strconv.Itoa(rd.Port), errors.New("a port is from 1 to 65535, or 0 for the default"))
	}
	if err := checkPathText(rd.Path, true); err != nil {
		bad("redirect.path", rd.Path, err)
	} else if strings.HasPrefix(rd.Path, "//") {
		bad("redirect.path", rd.Path, errors.New(`a path must not start with "//", which a browser reads as another host`))
	}
}

// AppendLocation appends the URL to redirect a request to: "scheme://host[:port]/path[?query]".
// When neither Host nor the request names a host (an HTTP/1.0 request without Host), it writes only
// the path and query, and then the request's normalised path, which never starts with "//" (a
// browser would read that as a host). Call it after Table.Match; it does not allocate.
func (rd *Redirect) AppendLocation(dst []byte, r *Request) []byte {
	reqScheme := "http"
	if r.TLS {
		reqScheme = "https"
	}
	scheme := rd.Scheme
	if scheme == "" {
		scheme = reqScheme
	}
	var port []byte
	if rd.Host != "" {
		dst = append(dst, scheme...)
		dst = append(dst, "://"...)
		if strings.IndexByte(rd.Host, ':') >= 0 && rd.Host[0] != '[' {
			dst = append(dst, '[')
			dst = append(dst, rd.Host...)
			dst = append(dst, ']')
		} else {
			dst = append(dst, rd.Host...)
		}
	} else if host, p := splitHostPort(r.Host); len(host) > 0 {
		dst = append(dst, scheme...)
		dst = append(dst, "://"...)
		dst = append(dst, host...)
		if scheme == reqScheme {
			port = p
		}
	}
	relative := rd.Host == "" && len(stripPort(r.Host)) == 0
	if !relative {
		if rd.Port != 0 {
			var buf [8]byte
			dst = appendPort(dst, scheme, strconv.AppendInt(buf[:0], int64(rd.Port), 10))
		} else if len(port) > 0 {
			dst = appendPort(dst, scheme, port)
		}
	}
	switch {
	case rd.Path != "":
		dst = append(dst, rd.Path...)
	case relative:
		dst = append(dst, r.norm...)
	case len(r.path) == 0:
		dst = append(dst, '/')
	default:
		dst = append(dst, r.path...)
	}
	if !rd.StripQuery && len(r.query) > 0 {
		dst = append(dst, '?')
		dst = append(dst, r.query...)
	}
	return dst
}

// appendPort appends ":port" unless port is the scheme's default.
func appendPort(dst []byte, scheme string, port []byte) []byte {
	if scheme == "http" && string(port) == "80" || scheme == "https" && string(port) == "443" {
		return dst
	}
	dst = append(dst, ':')
	return append(dst, port...)
}

// AppendHead appends the head of the redirect response in the form of Fixed.Head: the status line,
// Location and "Content-Length: 0", each line ending in CRLF, without the final CRLF and without
// Connection. The route's Response header changes are the caller's to add.
func (rd *Redirect) AppendHead(dst []byte, r *Request) []byte {
	dst = AppendStatusLine(dst, rd.Status)
	dst = append(dst, "Location: "...)
	dst = rd.AppendLocation(dst, r)
	return append(dst, "\r\nContent-Length: 0\r\n"...)
}
