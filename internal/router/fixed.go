package router

import (
	"sort"
	"strconv"
	"strings"
)

// Fixed is a prebuilt response: Head holds the status line and fields without the final CRLF and
// without Connection, so that the engine can add that.
type Fixed struct {
	Status int
	Head   []byte
	Body   []byte
}

// NewFixed builds a fixed response. Headers are written in sorted order; a Content-Length among
// them is ignored and the body's length written instead.
func NewFixed(status int, body string, headers map[string]string) *Fixed {
	var b []byte
	b = AppendStatusLine(b, status)
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.EqualFold(n, "content-length") {
			continue
		}
		b = append(b, n...)
		b = append(b, ": "...)
		b = append(b, headers[n]...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	return &Fixed{Status: status, Head: b, Body: []byte(body)}
}

// AppendStatusLine appends "HTTP/1.1 NNN Reason\r\n".
func AppendStatusLine(b []byte, status int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, StatusText(status)...)
	return append(b, "\r\n"...)
}
