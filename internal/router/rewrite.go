package router

import (
	"errors"
	"regexp"
)

// Rewrite changes the origin-form target a forwarding route sends to the backend. The steps run in
// this order:
//
//  1. start from the path as sent, or from the normalised path when NormalizedPath is set;
//  2. replace the first match of Regex with Replacement;
//  3. remove StripPrefix from the start, when the path starts with it;
//  4. put AddPrefix in front;
//  5. append the query ("?" and what follows) unchanged.
//
// The result always starts with '/': stripping "/api" from "/api" gives "/", and from "/apix"
// gives "/x" (the prefix is a plain string, as Route.Prefix). A "//" where AddPrefix meets the path
// is written once ("/v2/" and "/x" give "/v2/x").
//
// Stripping works on the path of step 2, so a path sent in a form other than the normal one
// (/%61pi/x for /api/x) is only stripped when NormalizedPath is set: set it with StripPrefix
// unless the backend must see the client's spelling.
type Rewrite struct {
	// NormalizedPath starts from the normalised path (the one routes match) instead of the path as
	// sent. Default false.
	NormalizedPath bool
	// Regex is an RE2 regular expression whose first match in the path is replaced. Empty: no
	// replacement.
	Regex string
	// Replacement replaces the match; $1, ${1} and ${name} insert capture groups, $$ is a '$' (write
	// ${1}x, not $1x, when a name character follows). Used only with Regex.
	Replacement string
	// StripPrefix is removed from the start of the path when it is there. Must start with '/'.
	StripPrefix string
	// AddPrefix is put in front of the path. Must start with '/'.
	AddPrefix string
}

// compile checks the rewrite and compiles its regex.
func (rw *Rewrite) compile(bad func(field, value string, err error)) *regexp.Regexp {
	var re *regexp.Regexp
	if rw.Regex != "" {
		var err error
		if re, err = regexp.Compile(rw.Regex); err != nil {
			bad("rewrite.regex", rw.Regex, err)
		}
	} else if rw.Replacement != "" {
		bad("rewrite.replacement", rw.Replacement, errors.New("a replacement needs a regex to replace"))
	}
	if err := checkPathText(rw.Replacement, false); err != nil {
		bad("rewrite.replacement", rw.Replacement, err)
	}
	for _, f := range []struct{ name, v string }{{"rewrite.strip_prefix", rw.StripPrefix}, {"rewrite.add_prefix", rw.AddPrefix}} {
		if err := checkPathText(f.v, true); err != nil {
			bad(f.name, f.v, err)
		}
	}
	return re
}

// checkPathText checks text written into a request line or a Location: visible ASCII without '?',
// '#' or '\', so that it cannot end the path or the line; with slash set, non-empty text must start
// with '/'.
func checkPathText(s string, slash bool) error {
	if slash && s != "" && s[0] != '/' {
		return errors.New(`must start with "/"`)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '\\' {
			return errors.New("may hold only visible ASCII characters other than ? # and \\: percent-encode the others")
		}
	}
	return nil
}

// AppendTarget appends the origin-form target to send to the backend for a request this route
// matched. Without a Rewrite it is the target as received ("/" first when it is empty or starts
// with '?'); "*" is always sent as "*". It does not allocate except with Rewrite.Regex (the regexp
// package allocates the match positions) and when the request's scratch space grows.
func (rt *Route) AppendTarget(dst []byte, r *Request) []byte {
	t := r.Target
	rw := rt.Rewrite
	if rw == nil || len(t) == 1 && t[0] == '*' {
		if len(t) == 0 || t[0] == '?' {
			dst = append(dst, '/')
		}
		return append(dst, t...)
	}
	p := r.path
	if rw.NormalizedPath {
		p = r.norm
	}
	if len(p) == 0 {
		p = rootPath
	}
	if re := rt.c.rewrite; re != nil {
		if loc := re.FindSubmatchIndex(p); loc != nil {
			r.rw = append(r.rw[:0], p[:loc[0]]...)
			r.rw = re.Expand(r.rw, rt.c.replacement, p, loc)
			r.rw = append(r.rw, p[loc[1]:]...)
			p = r.rw
		}
	}
	if s := rw.StripPrefix; s != "" && len(p) >= len(s) && string(p[:len(s)]) == s {
		p = p[len(s):]
	}
	dst = append(dst, rw.AddPrefix...)
	slash := rw.AddPrefix != "" && rw.AddPrefix[len(rw.AddPrefix)-1] == '/'
	if len(p) > 0 && p[0] == '/' {
		if slash {
			p = p[1:]
		}
	} else if !slash {
		dst = append(dst, '/')
	}
	dst = append(dst, p...)
	if r.hasQuery {
		dst = append(dst, '?')
		dst = append(dst, r.query...)
	}
	return dst
}

var rootPath = []byte("/")
