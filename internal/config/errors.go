package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/internal/suggest"
)

// embeddedName is the file name errors carry for the config built into the binary.
const embeddedName = "<embedded default>"

// Error is one problem in a config, located by file, line and field path.
type Error struct {
	// File is the config file's name, or "<embedded default>".
	File string
	// Line is the 1-based line the problem is on, or 0 when it has no line (an empty file).
	Line int
	// Path is the field path, such as "routes[1].upstream", or "" for the file as a whole.
	Path string
	// Msg says what is wrong and how to fix it, in lower case.
	Msg string
}

// Error renders "FILE:LINE: PATH: MSG", leaving out ":LINE" when Line is 0 and "PATH: " when Path
// is empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config. Load, Parse and Embedded return it as their error so
// that a caller can print all problems at once, one per line.
type Errors []*Error

// Error renders one error per line, sorted by line and then by path.
func (es Errors) Error() string {
	sorted := make(Errors, len(es))
	copy(sorted, es)
	sorted.sort()
	lines := make([]string, len(sorted))
	for i, e := range sorted {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders es by line, then path, then message, in place.
func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Msg < b.Msg
	})
}

// fileName is the name errors carry for a config read from source.
func fileName(source string) string {
	if source == "" {
		return embeddedName
	}
	return source
}

// parentPath strips the last element of a field path: "routes[2].respond.status" becomes
// "routes[2].respond", "routes[2]" becomes "routes", and "routes" becomes "".
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// lineOf is the line path was written on, or that of its nearest ancestor that has one, or 0.
func lineOf(lines map[string]int, path string) int {
	for {
		if n, ok := lines[path]; ok && n > 0 {
			return n
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// isUnder reports whether path is prefix itself or a field or element under it.
func isUnder(path, prefix string) bool {
	if prefix == "" || path == prefix {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	c := path[len(prefix)]
	return c == '.' || c == '['
}

// closest is the candidate nearest to s within edit distance 2 (ignoring case), or "" when none is
// that close. Ties go to the earlier candidate.
func closest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := suggest.EditDistance(strings.ToLower(s), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean is ` did you mean "x"?` when a candidate is close to s, else "".
func didYouMean(s string, candidates []string) string {
	if c := closest(s, candidates); c != "" && c != s {
		return " did you mean " + strconv.Quote(c) + "?"
	}
	return ""
}

// ErrorAt returns an Error for the field at path in c, on the line it (or its nearest written
// parent) was written on: for problems found after validation, when the config is compiled.
func (c *Config) ErrorAt(path, msg string) *Error {
	return &Error{File: fileName(c.Source), Line: lineOf(c.Lines, path), Path: path, Msg: msg}
}
