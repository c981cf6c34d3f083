package h1

import "bytes"

// Response is a parsed response head from a backend. Its slices point into the buffer it was parsed
// from. A Response is reused across responses.
type Response struct {
	Minor  uint8
	Status int
	Reason []byte
	// Fields are the header fields in the order received, Hop set on those not to be forwarded.
	Fields []Field
	// ContentLength is the body length, or -1 when the response has no Content-Length.
	ContentLength int64
	// Chunked is set when the body is chunked.
	Chunked bool
	// KeepAlive is set when the backend lets the connection be reused.
	KeepAlive bool
	// HeadLen is the length of the head.
	HeadLen int

	scan int
}

// Reset clears r for the next response, keeping its Fields storage.
func (r *Response) Reset() {
	fields := r.Fields[:0]
	*r = Response{Fields: fields}
}

// Bodyless reports whether this response has no body whatever its fields say: 1xx, 204 and 304, and
// any answer to HEAD (RFC 9112 §6.3).
func (r *Response) Bodyless(head bool) bool {
	return head || r.Status < 200 || r.Status == 204 || r.Status == 304
}

// errResponse is what every malformed response becomes: the client is answered 502.
var errResponse = &Error{502, "invalid response from backend"}

// ParseResponse parses a response head from the start of b. It returns (0-length head, nil) when b
// does not yet hold a whole head; r.HeadLen is set on success. Every error is a 502.
func ParseResponse(b []byte, r *Response, lim *Limits) error {
	n, err := scanHead(b, &r.scan, lim.headerBytes())
	if err != nil {
		if err == ErrHeaderTooLarge {
			return &Error{502, "response head too large"}
		}
		return errResponse
	}
	if n == 0 {
		return nil
	}
	head := b[:n]
	eol := bytes.IndexByte(head, '\n')
	if err := r.parseStatusLine(head[:eol-1]); err != nil {
		return err
	}
	if r.Fields, err = parseFields(head[eol+1:], r.Fields[:0], lim.headerCount()); err != nil {
		return errResponse
	}
	if err := r.interpret(); err != nil {
		return err
	}
	r.HeadLen = n
	return nil
}

func (r *Response) parseStatusLine(line []byte) error {
	// HTTP-version SP 3DIGIT [SP reason-phrase]; a missing reason is accepted with or without its SP.
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
		return ErrStatusLine
	}
	switch line[7] {
	case '1':
		r.Minor = 1
	case '0':
		r.Minor = 0
	default:
		return ErrStatusLine
	}
	d := line[9:12]
	if !isDigit(d[0]) || !isDigit(d[1]) || !isDigit(d[2]) {
		return ErrStatusLine
	}
	r.Status = int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	if r.Status < 100 || r.Status > 599 {
		return ErrStatusLine
	}
	rest := line[12:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return ErrStatusLine
		}
		rest = rest[1:]
		for _, c := range rest {
			if classes[c]&clsValue == 0 {
				return ErrStatusLine
			}
		}
	}
	r.Reason = rest
	return nil
}

// The errors of a response's framing fields; every one is a 502 for the client.
var (
	errRespLength   = &Error{502, "invalid or conflicting content-length from backend"}
	errRespCoding   = &Error{502, "unsupported transfer-encoding from backend"}
	errRespBothOrTE = &Error{502, "both content-length and transfer-encoding, or transfer-encoding on http/1.0, from backend"}
)

func (r *Response) interpret() error {
	fr := framing{length: -1}
	for i := range r.Fields {
		if err := fr.add(&r.Fields[i]); err != nil {
			if r.Fields[i].ID == ContentLength {
				return errRespLength
			}
			return errRespCoding
		}
	}
	if fr.te && (fr.length >= 0 || r.Minor == 0) {
		return errRespBothOrTE
	}
	r.ContentLength, r.Chunked = fr.length, fr.chunked
	_, closing, keepAlive, ok := markHop(r.Fields)
	if !ok {
		return errResponse
	}
	r.KeepAlive = persistent(r.Minor, closing, keepAlive)
	return nil
}
