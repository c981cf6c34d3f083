package h1

import "bytes"

// Header returns the value of the first field called name, ignoring ASCII case in both names, or
// nil.
func (r *Request) Header(name string) []byte {
	for i := range r.Fields {
		if foldEqualString(r.Fields[i].Name, name) {
			return r.Fields[i].Value
		}
	}
	return nil
}

// foldEqualString reports whether b and s are equal, ignoring ASCII case in both.
func foldEqualString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// Cookie returns the value of the first cookie called name (case-sensitive, as cookie names are)
// in the Cookie fields, or nil. Values are returned as sent, quotes included.
func (r *Request) Cookie(name string) []byte {
	for i := range r.Fields {
		f := &r.Fields[i]
		if !EqualFold(f.Name, "cookie") {
			continue
		}
		if v, ok := CookieValue(f.Value, name); ok {
			return v
		}
	}
	return nil
}

// CookieValue finds the cookie called name in a Cookie field value ("a=1; b=2").
func CookieValue(list []byte, name string) ([]byte, bool) {
	for len(list) > 0 {
		var pair []byte
		if i := bytes.IndexByte(list, ';'); i >= 0 {
			pair, list = list[:i], list[i+1:]
		} else {
			pair, list = list, nil
		}
		pair = bytes.TrimLeft(pair, " \t")
		eq := bytes.IndexByte(pair, '=')
		if eq < 0 {
			continue
		}
		if string(bytes.TrimRight(pair[:eq], " \t")) == name {
			return bytes.Trim(pair[eq+1:], " \t"), true
		}
	}
	return nil, false
}
