package h1

import "bytes"

// Limits bound a message head. Zero fields take the defaults given.
type Limits struct {
	// MaxRequestLine is the longest request line (without CRLF); longer is 414. Default 8 KiB.
	MaxRequestLine int
	// MaxHeaderBytes bounds the whole head, start line and fields; larger is 431. Default 32 KiB.
	MaxHeaderBytes int
	// MaxHeaderCount bounds the number of fields; more is 431. Default 100.
	MaxHeaderCount int
}

func (l *Limits) requestLine() int {
	if l == nil || l.MaxRequestLine <= 0 {
		return 8 << 10
	}
	return l.MaxRequestLine
}

func (l *Limits) headerBytes() int {
	if l == nil || l.MaxHeaderBytes <= 0 {
		return 32 << 10
	}
	return l.MaxHeaderBytes
}

func (l *Limits) headerCount() int {
	if l == nil || l.MaxHeaderCount <= 0 {
		return 100
	}
	return l.MaxHeaderCount
}

// maxLeadingCRLF is how many empty lines before a request line are ignored (RFC 9112 §2.2).
const maxLeadingCRLF = 4

// scanHead looks for the empty line that ends a head in b, resuming at *scan (the start of the first
// line not yet checked, kept by the caller between calls). Every line must end in CRLF: a bare LF is an
// error. It returns the length of the head including the final CRLF, or 0 when more bytes are needed.
func scanHead(b []byte, scan *int, max int) (int, error) {
	i := *scan
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			*scan = i
			if len(b) > max {
				return 0, ErrHeaderTooLarge
			}
			return 0, nil
		}
		j += i
		if j+1 > max {
			return 0, ErrHeaderTooLarge
		}
		if j == 0 || b[j-1] != '\r' {
			return 0, ErrLineEnding
		}
		if j == i+1 { // an empty line
			*scan = 0
			return j + 1, nil
		}
		i = j + 1
	}
}

// parseFields parses header field lines from b, which holds whole CRLF-ended lines and nothing else,
// appending to fields. It validates names and values; it does not interpret them.
func parseFields(b []byte, fields []Field, maxCount int) ([]Field, error) {
	for len(b) > 0 {
		eol := bytes.IndexByte(b, '\n') // present: scanHead checked every line
		line := b[:eol-1]
		b = b[eol+1:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return fields, ErrObsFold
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return fields, ErrFieldName
		}
		name := line[:colon]
		for _, c := range name {
			if classes[c]&clsToken == 0 {
				return fields, ErrFieldName
			}
		}
		value := line[colon+1:]
		for _, c := range value {
			if classes[c]&clsValue == 0 {
				return fields, ErrFieldValue
			}
		}
		if len(fields) == maxCount {
			return fields, ErrTooManyFields
		}
		fields = append(fields, Field{Name: name, Value: trimOWS(value), Line: line, ID: classify(name)})
	}
	return fields, nil
}

// framing accumulates a message's Content-Length and Transfer-Encoding fields, for requests and
// responses alike.
type framing struct {
	length  int64 // -1 when there is no Content-Length
	chunked bool  // the final transfer coding is chunked
	te      bool  // a Transfer-Encoding field was seen
}

// add reads f if it is a framing field.
func (fr *framing) add(f *Field) *Error {
	switch f.ID {
	case ContentLength:
		n, ok := parseContentLength(f.Value, fr.length)
		if !ok {
			return ErrContentLength
		}
		fr.length = n
	case TransferEncoding:
		fr.te = true
		chunked, err := parseTransferEncoding(f.Value, fr.chunked)
		if err != nil {
			return err
		}
		fr.chunked = chunked
	}
	return nil
}

// persistent reports whether a connection stays open after a message of this minor version whose
// Connection field lists close or keep-alive.
func persistent(minor uint8, closing, keepAlive bool) bool {
	if minor == 1 {
		return !closing
	}
	return keepAlive && !closing
}

// parseContentLength parses a Content-Length value: digits, or a list of identical digit strings
// ("5, 5"), as RFC 9110 §8.6 allows. prev is the value from an earlier field or -1.
func parseContentLength(v []byte, prev int64) (int64, bool) {
	n := prev
	ok := true
	seen := false
	for len(v) > 0 && ok {
		i := bytes.IndexByte(v, ',')
		if i < 0 {
			i = len(v)
		}
		d := trimOWS(v[:i])
		if len(d) == 0 || len(d) > 18 {
			return 0, false
		}
		var x int64
		for _, c := range d {
			if c < '0' || c > '9' {
				return 0, false
			}
			x = x*10 + int64(c-'0')
		}
		if n >= 0 && x != n {
			return 0, false
		}
		n = x
		seen = true
		if i == len(v) {
			break
		}
		v = v[i+1:]
		if len(trimOWS(v)) == 0 {
			return 0, false // "5," : a list element must follow the comma
		}
	}
	return n, seen
}

// parseTransferEncoding checks the codings of one Transfer-Encoding field. It returns chunked true
// when the field ends in chunked. Only "chunked" is implemented; any other coding is ErrTECoding,
// a repeated or misplaced chunked is ErrTransferEncoding.
func parseTransferEncoding(v []byte, already bool) (bool, *Error) {
	chunked := already
	var bad *Error
	any := false
	ok := eachToken(v, func(t []byte) bool {
		any = true
		switch {
		case !EqualFold(t, "chunked"):
			bad = ErrTECoding
		case chunked: // chunked may be applied only once
			bad = ErrTransferEncoding
		default:
			chunked = true
		}
		return bad == nil
	})
	if bad != nil {
		return false, bad
	}
	if !ok || !any {
		return false, ErrTransferEncoding
	}
	return chunked, nil
}
