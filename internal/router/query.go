package router

import "bytes"

// NextParam splits the first parameter off a query string (the part of a target after '?', without
// the '?'). Parameters are separated by '&'; a parameter's name ends at its first '=', and its value
// is the rest ("a" and "a=" both have an empty value; "a==b" has the value "=b"). Neither name nor
// value is percent-decoded and '+' is not read as a space: they are compared as sent. An empty
// parameter ("a=1&&b=2") gives an empty name. rest is what follows the first '&' (nil when there is
// none); loop while len(q) > 0, so that a trailing '&' ends the loop. It never allocates.
func NextParam(q []byte) (name, value, rest []byte) {
	param := q
	if i := bytes.IndexByte(q, '&'); i >= 0 {
		param, rest = q[:i], q[i+1:]
	}
	name = param
	if i := bytes.IndexByte(param, '='); i >= 0 {
		name, value = param[:i], param[i+1:]
	}
	return name, value, rest
}

// splitTarget splits an origin-form target into its path and query. The path is empty for "*" and
// for a target that starts with '?' (an absolute-form target without a path); hasQuery reports
// whether there was a '?', query is what follows it.
func splitTarget(target []byte) (path, query []byte, hasQuery bool) {
	if len(target) == 1 && target[0] == '*' {
		return nil, nil, false
	}
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		return target[:i], target[i+1:], true
	}
	return target, nil, false
}
