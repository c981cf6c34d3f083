package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// managedHeader is the canonical name of a header field that frames a message or is hop-by-hop,
// given its lower-case name; gatehouse manages these itself, so header changes may not touch them.
func managedHeader(lower string) (string, bool) {
	switch lower {
	case "content-length":
		return "Content-Length", true
	case "transfer-encoding":
		return "Transfer-Encoding", true
	case "connection":
		return "Connection", true
	case "upgrade":
		return "Upgrade", true
	case "keep-alive":
		return "Keep-Alive", true
	case "te":
		return "TE", true
	case "trailer":
		return "Trailer", true
	case "host":
		return "Host", true
	}
	return "", false
}

// checkHeaderName is "" when name is a valid HTTP field name that header changes may touch, else
// what is wrong. kind is "request", "response" or "respond".
func checkHeaderName(name, kind string) string {
	if name == "" {
		return "a header name must not be empty"
	}
	for i := 0; i < len(name); i++ {
		if !isTchar(name[i]) {
			return fmt.Sprintf("invalid header name %q: use only letters, digits and !#$%%&'*+-.^_`|~", name)
		}
	}
	canonical, managed := managedHeader(strings.ToLower(name))
	switch {
	case !managed:
		return ""
	case canonical == "Host" && kind == "request":
		return "header Host cannot be set or removed here; use upstream_host to change the Host sent to the backend"
	case canonical == "Content-Length" && kind == "respond":
		return "header Content-Length cannot be set; it is always computed from body"
	}
	return fmt.Sprintf("header %s cannot be set or removed: gatehouse manages it because it frames the message or is hop-by-hop", canonical)
}

// isTchar reports whether c may appear in an HTTP field name (RFC 9110 section 5.6.2).
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// checkHeaderValue is "" when value may be sent in a header field, else what is wrong.
func checkHeaderValue(name, value string) string {
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Sprintf("the value of header %q must not contain line breaks (CR, LF) or NUL characters; write it on one line", name)
	}
	return ""
}

// headerMap checks header names and values that are set, in the order they were written.
func (v *validator) headerMap(p string, m map[string]string, kind string) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(v.c.Lines[p+"."+a], v.c.Lines[p+"."+b]), strings.Compare(a, b))
	})
	first := map[string]string{}
	for _, name := range names {
		hp := p + "." + name
		if msg := checkHeaderName(name, kind); msg != "" {
			v.errorf(hp, "%s", msg)
			continue
		}
		if msg := checkHeaderValue(name, m[name]); msg != "" {
			v.errorf(hp, "%s", msg)
		}
		lower := strings.ToLower(name)
		if other, dup := first[lower]; dup {
			v.errorf(hp, "header %q is also written as %q; header names are case-insensitive, keep one", name, other)
			continue
		}
		first[lower] = name
	}
}

func (v *validator) headerOps(p string, ops HeaderOps, kind string) {
	v.headerMap(p+".set", ops.Set, kind)
	v.headerMap(p+".add", ops.Add, kind)
	for i, name := range ops.Remove {
		if msg := checkHeaderName(name, kind); msg != "" {
			v.errorf(fmt.Sprintf("%s.remove[%d]", p, i), "%s", msg)
		}
	}
}
