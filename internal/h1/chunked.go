package h1

import "bytes"

// MaxChunkLine bounds a chunk-size line with its extensions (and a trailer section, per line).
const MaxChunkLine = 4096

// ParseChunkLine parses a chunk-size line (RFC 9112 §7.1) at the start of b, extensions allowed and
// ignored. It returns the chunk size and the line's length with its CRLF, or n == 0 when b does not
// hold the whole line yet.
func ParseChunkLine(b []byte) (size int64, n int, err error) {
	eol := bytes.IndexByte(b, '\n')
	if eol < 0 {
		if len(b) > MaxChunkLine {
			return 0, 0, ErrChunkSize
		}
		return 0, 0, nil
	}
	if eol == 0 || b[eol-1] != '\r' || eol > MaxChunkLine {
		return 0, 0, ErrChunkSize
	}
	line := b[:eol-1]
	i := 0
	for ; i < len(line) && classes[line[i]]&clsHex != 0; i++ {
		if i == 15 { // 15 hex digits keep size within int64
			return 0, 0, ErrChunkSize
		}
		size = size<<4 | int64(unhex(line[i]))
	}
	if i == 0 {
		return 0, 0, ErrChunkSize
	}
	if i < len(line) && !validChunkExt(line[i:]) {
		return 0, 0, ErrChunkSize
	}
	return size, eol + 1, nil
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// validChunkExt checks *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ). Whitespace
// is allowed only where BWS stands: before ";" or "=" and after them, never at the end of the line.
func validChunkExt(b []byte) bool {
	for len(b) > 0 {
		b = trimLeftWS(b)
		if len(b) == 0 || b[0] != ';' {
			return false
		}
		b = trimLeftWS(b[1:])
		n := tokenLen(b)
		if n == 0 {
			return false
		}
		b = b[n:]
		if rest := trimLeftWS(b); len(rest) > 0 && rest[0] == '=' {
			b = trimLeftWS(rest[1:])
			if len(b) > 0 && b[0] == '"' {
				n = quotedLen(b)
			} else {
				n = tokenLen(b)
			}
			if n == 0 {
				return false
			}
			b = b[n:]
		}
	}
	return true
}

func trimLeftWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func tokenLen(b []byte) int {
	n := 0
	for n < len(b) && classes[b[n]]&clsToken != 0 {
		n++
	}
	return n
}

// quotedLen returns the length of the quoted-string at the start of b, or 0 if it is not one.
func quotedLen(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
			if i == len(b) || classes[b[i]]&clsValue == 0 {
				return 0
			}
		case classes[c]&clsValue == 0:
			return 0
		}
	}
	return 0
}

// ParseTrailers parses a trailer section (the field lines after the last chunk, ended by an empty
// line) at the start of b. It returns the section's length with its final CRLF, or 0 when b does not
// hold it all yet. Framing and routing fields (Content-Length, Transfer-Encoding, Host) and the
// hop-by-hop fields are marked Hop: they are never forwarded in a trailer.
func ParseTrailers(b []byte, fields []Field, lim *Limits) ([]Field, int, error) {
	scan := 0
	n, err := scanHead(b, &scan, lim.headerBytes())
	if err != nil {
		return fields, 0, ErrTrailer
	}
	if n == 0 {
		return fields, 0, nil
	}
	fields, err = parseFields(b[:n], fields[:0], lim.headerCount())
	if err != nil {
		return fields, 0, ErrTrailer
	}
	for i := range fields {
		f := &fields[i]
		if f.ID.framing() || f.ID.hopByHop() || f.ID == Expect {
			f.Hop = true
		}
	}
	return fields, n, nil
}
