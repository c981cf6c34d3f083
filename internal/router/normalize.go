package router

// Paths are matched in a normal form, so that spellings that a backend reads as the same path
// cannot slip past a route: /%61dmin, //admin, /x/../admin and /./admin are all /admin. The form
// is RFC 3986's syntax-based normalisation (§6.2.2) plus nginx's merge_slashes:
//
//   - a percent-escape of an unreserved character (ALPHA DIGIT - . _ ~) is decoded: %61 is a,
//     %2E is '.';
//   - every other escape stays encoded with its hex digits upper-cased: %2f is %2F, which is not a
//     separator (an encoded slash is data, as RFC 3986 says and as most backends read it);
//   - a '%' that does not start a valid escape is written %25 (the HTTP parser rejects those in a
//     path already; this keeps the form well defined for any input);
//   - runs of '/' are merged into one;
//   - "." and ".." segments are removed as in RFC 3986 §5.2.4 (a ".." above the root stays at the
//     root), including those spelled with escapes (%2e%2e);
//   - the result always starts with '/'.
//
// Case is kept: paths are case-sensitive, as in nginx, so /ADMIN is not /admin. Bytes other than
// escapes are copied as they are.

// AppendNormalized appends the normal form of a path to dst and returns the extended slice. path is
// the part of an origin-form target before any '?'. An empty path and the asterisk-form "*" give
// "/"; a path that does not start with '/' is read as if it did. It allocates only when dst has too
// little capacity: the result is never longer than 1+3*len(path) bytes (a malformed '%' becomes
// %25), and for a path with no malformed '%' never longer than 1+len(path).
func AppendNormalized(dst, path []byte) []byte {
	start := len(dst)
	dst = append(dst, '/')
	if len(path) == 1 && path[0] == '*' {
		return dst
	}
	i := 0
	for i < len(path) {
		if path[i] == '/' {
			i++
			continue
		}
		seg := len(dst) // dst[seg-1] is '/'
		for i < len(path) && path[i] != '/' {
			c := path[i]
			if c != '%' {
				dst = append(dst, c)
				i++
				continue
			}
			if i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2]) {
				d := unhex(path[i+1])<<4 | unhex(path[i+2])
				if isUnreserved(d) {
					dst = append(dst, d)
				} else {
					dst = append(dst, '%', upperHex(path[i+1]), upperHex(path[i+2]))
				}
				i += 3
				continue
			}
			dst = append(dst, "%25"...)
			i++
		}
		switch s := dst[seg:]; {
		case len(s) == 1 && s[0] == '.':
			dst = dst[:seg]
		case len(s) == 2 && s[0] == '.' && s[1] == '.':
			dst = dst[:seg]
			if seg-1 > start { // not at the root: drop the previous segment, keep its leading '/'
				j := seg - 2
				for dst[j] != '/' {
					j--
				}
				dst = dst[:j+1]
			}
		default:
			if i < len(path) { // a '/' follows the segment
				dst = append(dst, '/')
			}
		}
	}
	return dst
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
