package h1

// Byte classes from RFC 9110 and RFC 3986, as 256-entry tables so that the parser's inner loops are one
// load and one test per byte.

const (
	clsToken  = 1 << iota // tchar: a field name or method byte
	clsValue              // a field-value byte: VCHAR, obs-text, SP, HTAB
	clsTarget             // a request-target byte: visible ASCII but '#' and '\\'
	clsHost               // a Host byte: reg-name, IPv4, IP-literal and port characters
	clsHex                // a hexadecimal digit
)

var classes = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alpha := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
		digit := b >= '0' && b <= '9'
		var m uint8
		if alpha || digit || contains("!#$%&'*+-.^_`|~", b) {
			m |= clsToken
		}
		if b >= 0x21 && b != 0x7f || b == ' ' || b == '\t' {
			m |= clsValue
		}
		unreserved := alpha || digit || contains("-._~", b)
		subDelims := contains("!$&'()*+,;=", b)
		// A request-target is RFC 3986's characters plus those that browsers send unencoded under
		// the WHATWG URL rules ("[]|^{}<>`), so every visible ASCII byte but '#' (a fragment is never
		// sent) and '\' (which some servers read as '/': allowed in the query only, see request.go).
		if b > 0x20 && b < 0x7f && b != '#' && b != '\\' {
			m |= clsTarget
		}
		if unreserved || subDelims || contains("%:[]", b) {
			m |= clsHost
		}
		if digit || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' {
			m |= clsHex
		}
		t[c] = m
	}
	return t
}()

func contains(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// lower returns b lower-cased if it is an ASCII capital letter.
func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// EqualFold reports whether b equals the lower-case ASCII string s, ignoring ASCII case.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// ValidToken reports whether b is a non-empty RFC 9110 token (a method or field name).
func ValidToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if classes[c]&clsToken == 0 {
			return false
		}
	}
	return true
}

// IsToken is ValidToken for a string: for names written in a config (methods, field and cookie
// names).
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if classes[s[i]]&clsToken == 0 {
			return false
		}
	}
	return true
}

// ValidValue reports whether b may appear as a field value: visible characters, obs-text, SP and HTAB.
func ValidValue(b []byte) bool {
	for _, c := range b {
		if classes[c]&clsValue == 0 {
			return false
		}
	}
	return true
}

// trimOWS drops leading and trailing spaces and tabs.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
