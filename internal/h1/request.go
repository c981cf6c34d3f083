package h1

import "bytes"

// Request is a parsed request head. Its byte slices point into the buffer it was parsed from and are
// valid until that buffer is reused. A Request is reused across requests on a connection.
type Request struct {
	Method []byte
	// Target is the request-target as received.
	Target []byte
	// Path is the origin-form target to send upstream: Target itself, or for an absolute-form target
	// the part after the authority (it may be empty or start with '?': write a '/' before it then).
	Path []byte
	// Host is the authority the request is for: the absolute-form target's, else the Host field's.
	Host []byte
	// Minor is the HTTP/1.x minor version, 0 or 1.
	Minor uint8
	// Fields are the header fields in the order received, Hop set on those not to be forwarded.
	Fields []Field
	// ContentLength is the body length, or -1 when the message has no Content-Length.
	ContentLength int64
	// Chunked is set when the body is chunked.
	Chunked bool
	// KeepAlive is set when the client lets the connection stay open after this exchange.
	KeepAlive bool
	// Upgrade is set when the client asks to switch protocols (Connection: upgrade and Upgrade).
	Upgrade bool
	// ExpectContinue is set for Expect: 100-continue.
	ExpectContinue bool
	// HeadLen is the length of the head in the buffer, leading empty lines included.
	HeadLen int

	scan int
}

// Reset clears r for the next request, keeping its Fields storage.
func (r *Request) Reset() {
	fields := r.Fields[:0]
	*r = Request{Fields: fields}
}

// HasBody reports whether a body follows the head.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// IsMethod reports whether the method is m (case-sensitive, as methods are).
func (r *Request) IsMethod(m string) bool { return string(r.Method) == m }

// Idempotent reports whether the method is idempotent (RFC 9110 §9.2.2), so a retry is safe.
func (r *Request) Idempotent() bool {
	switch string(r.Method) {
	case "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// ParseRequest parses a request head from the start of b. It returns (0, nil) when b does not yet
// hold a whole head: call again with more bytes (and the same r, which remembers how far it looked).
// On success r describes the request and the head is r.HeadLen bytes long.
func ParseRequest(b []byte, r *Request, lim *Limits) error {
	skip := 0
	for skip < 2*maxLeadingCRLF && len(b) >= skip+2 && b[skip] == '\r' && b[skip+1] == '\n' {
		skip += 2
	}
	if len(b) == skip+1 && b[skip] == '\r' {
		return nil
	}
	head := b[skip:]
	if r.scan == 0 {
		// The request line is checked before the rest of the head has arrived, so that an overlong
		// one is a 414 and not a 431.
		eol := bytes.IndexByte(head, '\n')
		if eol < 0 {
			// A line of exactly the limit may have arrived with its CR but not yet its LF.
			n := len(head)
			if n > 0 && head[n-1] == '\r' {
				n--
			}
			if n > lim.requestLine() {
				return ErrRequestLineTooLong
			}
		} else {
			n := eol
			if n > 0 && head[n-1] == '\r' {
				n--
			}
			if n > lim.requestLine() {
				return ErrRequestLineTooLong
			}
		}
	}
	n, err := scanHead(head, &r.scan, lim.headerBytes())
	if n == 0 || err != nil {
		return err
	}
	r.HeadLen = skip + n
	head = head[:n]
	eol := bytes.IndexByte(head, '\n')
	if err := r.parseRequestLine(head[:eol-1]); err != nil {
		return err
	}
	r.Fields, err = parseFields(head[eol+1:], r.Fields[:0], lim.headerCount())
	if err != nil {
		return err
	}
	return r.interpret()
}

func (r *Request) parseRequestLine(line []byte) error {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return ErrRequestLine
	}
	r.Method = line[:sp]
	if !ValidToken(r.Method) {
		return ErrMethod
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return ErrRequestLine
	}
	r.Target = rest[:sp]
	version := rest[sp+1:]
	switch string(version) {
	case "HTTP/1.1":
		r.Minor = 1
	case "HTTP/1.0":
		r.Minor = 0
	default:
		if len(version) == 8 && string(version[:5]) == "HTTP/" && isDigit(version[5]) && version[6] == '.' &&
			isDigit(version[7]) {
			return ErrVersionUnsupported
		}
		return ErrVersion
	}
	query := false
	t := r.Target
	for i := 0; i < len(t); i++ {
		c := t[i]
		if classes[c]&clsTarget == 0 {
			if c == '\\' && query {
				continue // harmless in a query, where browsers leave it unencoded
			}
			return ErrTarget
		}
		switch {
		case c == '?':
			query = true
		case c == '%' && !query:
			// A path is percent-decoded to be matched, by us and by backends: a malformed escape
			// is rejected here rather than read two ways. A query is passed as sent.
			if i+2 >= len(t) || classes[t[i+1]]&clsHex == 0 || classes[t[i+2]]&clsHex == 0 {
				return ErrTarget
			}
		}
	}
	if string(r.Method) == "CONNECT" {
		return ErrConnect
	}
	switch t := r.Target; {
	case t[0] == '/':
		r.Path = t
	case len(t) == 1 && t[0] == '*':
		if string(r.Method) != "OPTIONS" {
			return ErrTarget
		}
		r.Path = t
	default:
		return r.parseAbsolute(t)
	}
	return nil
}

// parseAbsolute splits an absolute-form target (RFC 9112 §3.2.2) into Host and Path.
func (r *Request) parseAbsolute(t []byte) error {
	var rest []byte
	switch {
	case len(t) > 7 && EqualFold(t[:7], "http://"):
		rest = t[7:]
	case len(t) > 8 && EqualFold(t[:8], "https://"):
		rest = t[8:]
	default:
		return ErrTarget
	}
	end := 0
	for end < len(rest) && rest[end] != '/' && rest[end] != '?' {
		end++
	}
	authority := rest[:end]
	if len(authority) == 0 || bytes.IndexByte(authority, '@') >= 0 || !validHost(authority) {
		return ErrTarget
	}
	r.Host = authority
	r.Path = rest[end:]
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// interpret reads the fields that matter to framing, routing and the connection.
func (r *Request) interpret() error {
	fr := framing{length: -1}
	hosts := 0
	var hostValue []byte
	for i := range r.Fields {
		f := &r.Fields[i]
		if err := fr.add(f); err != nil {
			return err
		}
		switch f.ID {
		case Host:
			hosts++
			hostValue = f.Value
		case Expect:
			if !EqualFold(f.Value, "100-continue") {
				return ErrExpect
			}
			r.ExpectContinue = r.Minor == 1
		}
	}
	if hosts > 1 || hosts == 0 && r.Minor == 1 || !validHost(hostValue) {
		return ErrHost
	}
	if r.Host == nil {
		r.Host = hostValue
	}
	r.ContentLength, r.Chunked = fr.length, fr.chunked
	if fr.te {
		if r.Minor == 0 {
			return ErrTEOnHTTP10
		}
		if r.ContentLength >= 0 {
			return ErrCLAndTE
		}
		if !r.Chunked {
			return ErrTECoding
		}
	}
	upgrade, closing, keepAlive, ok := markHop(r.Fields)
	if !ok {
		return ErrConnectionField
	}
	r.KeepAlive = persistent(r.Minor, closing, keepAlive)
	if upgrade && r.Minor == 1 {
		for i := range r.Fields {
			if r.Fields[i].ID == Upgrade {
				r.Upgrade = true
				// h2c is a hop's own protocol (and deprecated, RFC 9113 §3.1): never tunnelled.
				eachToken(r.Fields[i].Value, func(t []byte) bool {
					if EqualFold(t, "h2c") {
						r.Upgrade = false
					}
					return true
				})
			}
		}
	}
	return nil
}

// validHost checks a Host value or an absolute-form authority: a reg-name, IPv4 address or bracketed
// IP literal, then an optional port. An empty value is valid (RFC 9112 §3.2).
func validHost(h []byte) bool {
	if len(h) == 0 {
		return true
	}
	var port []byte
	if h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 2 {
			return false
		}
		for _, c := range h[1:end] {
			if classes[c]&clsHex == 0 && c != ':' && c != '.' {
				return false
			}
		}
		port = h[end+1:]
		if len(port) > 0 && port[0] != ':' {
			return false
		}
	} else {
		i := bytes.IndexByte(h, ':')
		name := h
		if i >= 0 {
			name, port = h[:i], h[i:]
		}
		if len(name) == 0 {
			return false
		}
		for j := 0; j < len(name); j++ {
			c := name[j]
			if classes[c]&clsHost == 0 || c == ':' || c == '[' || c == ']' {
				return false
			}
			if c == '%' && (j+2 >= len(name) || classes[name[j+1]]&clsHex == 0 || classes[name[j+2]]&clsHex == 0) {
				return false
			}
		}
	}
	if len(port) > 0 {
		port = port[1:]
		if len(port) > 5 {
			return false
		}
		n := 0
		for _, c := range port {
			if !isDigit(c) {
				return false
			}
			n = n*10 + int(c-'0')
		}
		if n > 65535 {
			return false
		}
	}
	return true
}
