package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

const (
	// baseVisits plus twice the file's size bounds the values the decoder walks, so that aliases
	// (*name) that refer to large anchored values again and again cannot make a small file expand
	// into a huge config. Without aliases a file has fewer values than twice its bytes.
	baseVisits = 10000
	// maxDecodeErrors is how many problems the decoder reports before it gives up.
	maxDecodeErrors = 100
	// emptyMsg is the error for a file with nothing but comments and blank lines.
	emptyMsg = "the config is empty: it needs at least listeners and routes"
)

// decoder walks a yaml.Node tree alongside a Go value, recording where every field was written
// and collecting every problem it finds.
type decoder struct {
	file   string
	lines  map[string]int
	errs   Errors
	visits int
	// maxVisits is the most values the decoder walks.
	maxVisits int
	// tooMany is set once maxDecodeErrors or maxVisits has been reached.
	tooMany bool
	// scopes holds, for each error, the path under which validation problems probably follow
	// from it and so are not worth reporting; "" is the whole config.
	scopes []string
}

// decode parses src into a new Config with Source name and Lines filled in. It returns every
// problem it found, and for each the path under which validation problems probably follow from it
// ("" for the whole config); when there are problems, the Config is only partly filled.
func decode(src []byte, name string) (*Config, Errors, []string) {
	c := &Config{Source: name, Lines: map[string]int{}}
	d := &decoder{file: fileName(name), lines: c.Lines, maxVisits: baseVisits + 2*len(src)}
	root, err := parseYAML(src)
	if err != nil {
		d.errs, d.scopes = append(d.errs, &Error{File: d.file, Line: syntaxLine(err, src), Msg: syntaxMsg(err, src)}), []string{""}
		return c, d.errs, d.scopes
	}
	if root == nil || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null") {
		d.errs, d.scopes = append(d.errs, &Error{File: d.file, Msg: emptyMsg}), []string{""}
		return c, d.errs, d.scopes
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root.Line, "", "the config must be a mapping of sections (listeners, server, access_log, forwarded, routes, upstreams), not %s", describe(root))
		return c, d.errs, d.scopes
	}
	d.value(root, reflect.ValueOf(c).Elem(), "")
	return c, d.errs, d.scopes
}

// parseYAML parses src into its single document's root node, or nil for a file without content.
// It turns a panic inside the YAML library into an error, so that no input can crash the caller.
func parseYAML(src []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: the YAML parser failed on this input (%v)", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(next.Content) > 0 && !isNull(next.Content[0]) {
			return nil, &multiDocError{line: next.Content[0].Line}
		}
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	if doc.Kind == 0 {
		return nil, nil
	}
	return &doc, nil
}

// multiDocError reports a file with more than one YAML document.
type multiDocError struct{ line int }

func (e *multiDocError) Error() string {
	return "the config has more than one YAML document (separated by ---); put everything in one document"
}

// syntaxLine is the line a YAML syntax error is on: the one the library names, or else the line of
// the first byte the library could not read, or of the unknown anchor, or else line 1.
func syntaxLine(err error, src []byte) int {
	var md *multiDocError
	if errors.As(err, &md) {
		return md.line
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil && n > 0 {
				return n
			}
		}
	}
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		name, _, _ = strings.Cut(name, "'")
		if i := bytes.Index(src, []byte("*"+name)); i >= 0 {
			return 1 + bytes.Count(src[:i], []byte("\n"))
		}
	}
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if (r == utf8.RuneError && size <= 1) || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return 1 + bytes.Count(src[:i], []byte("\n"))
		}
		i += size
	}
	return 1
}

// syntaxMsg turns a YAML library error into a message for the user.
func syntaxMsg(err error, src []byte) string {
	var md *multiDocError
	if errors.As(err, &md) {
		return md.Error()
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if _, after, found := strings.Cut(rest, ": "); found {
			msg = after
		}
	}
	msg = "invalid YAML: " + msg
	switch {
	case strings.Contains(msg, "cannot start any token") && bytes.Contains(src, []byte("\t")):
		return msg + "; YAML does not allow tabs for indentation, use spaces"
	case strings.Contains(msg, "control characters") || strings.Contains(msg, "UTF-8"):
		return msg + "; the file must be UTF-8 text"
	case strings.Contains(msg, "unknown anchor"):
		return msg + "; define it with &name before using *name"
	}
	return msg + "; check the indentation and quoting on and above this line"
}

// errorf records a problem at path, unless too many have been recorded already; validation
// problems at path or under it will not be reported.
func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.scopedErrorf(line, path, path, format, args...)
}

// scopedErrorf records a problem at path, unless too many have been recorded already; validation
// problems at scope or under it will not be reported.
func (d *decoder) scopedErrorf(line int, path, scope, format string, args ...any) {
	if d.tooMany {
		return
	}
	if len(d.errs) >= maxDecodeErrors {
		d.tooMany = true
		d.errs = append(d.errs, &Error{File: d.file, Msg: fmt.Sprintf("too many problems (over %d); fix these and try again", maxDecodeErrors)})
		d.scopes = append(d.scopes, "")
		return
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
	d.scopes = append(d.scopes, scope)
}

// value decodes n into v, whose field path is path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if d.tooMany {
		return
	}
	if d.visits++; d.visits > d.maxVisits {
		d.tooMany = true
		d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Path: path,
			Msg: "the config expands to too many values through aliases (*name); write the repeated parts out"})
		d.scopes = append(d.scopes, "")
		return
	}
	n = resolve(n)
	switch v.Addr().Interface().(type) {
	case *Duration:
		if s, ok := d.scalar(n, path, "a duration such as 5s"); ok {
			dur, err := ParseDuration(s)
			if err != nil {
				d.errorf(n.Line, path, "%v", err)
			}
			v.Set(reflect.ValueOf(dur))
		}
		return
	case *Percent:
		if s, ok := d.scalar(n, path, "a share such as 20%"); ok {
			pc, err := ParsePercent(s)
			if err == nil && !strings.HasSuffix(strings.TrimSpace(s), "%") {
				d.errorf(n.Line, path, "write the share with a %% sign, such as %s%% (a bare %s could be read as a fraction)", s, s)
				return
			}
			if err != nil {
				d.errorf(n.Line, path, "%v", err)
			}
			v.Set(reflect.ValueOf(pc))
		}
		return
	case *Backend:
		if n.Kind == yaml.ScalarNode && !isNull(n) {
			// The short form: the URL alone.
			v.Set(reflect.ValueOf(Backend{URL: n.Value}))
			d.lines[joinPath(path, "url")] = n.Line
			return
		}
	case *Size:
		if s, ok := d.scalar(n, path, "a size such as 16KiB"); ok {
			size, err := ParseSize(s)
			if err != nil {
				d.errorf(n.Line, path, "%v", err)
			}
			v.Set(reflect.ValueOf(size))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		if isNull(n) {
			v.SetString("")
		} else if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		if s, ok := d.scalar(n, path, "a whole number such as 100"); ok {
			i, err := strconv.ParseInt(s, 10, strconv.IntSize)
			if err != nil {
				d.errorf(n.Line, path, "invalid number %q: write a whole number such as 100", s)
				return
			}
			v.SetInt(i)
		}
	case reflect.Float64:
		if s, ok := d.scalar(n, path, "a number such as 1.25"); ok {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				d.errorf(n.Line, path, "invalid number %q: write a number such as 1.25", s)
				return
			}
			v.SetFloat(f)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path, "true or false"); ok {
			switch s {
			case "true", "True", "TRUE":
				v.SetBool(true)
			case "false", "False", "FALSE":
				v.SetBool(false)
			default:
				d.errorf(n.Line, path, "invalid boolean %q: write true or false", s)
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.Struct:
		d.structFields(n, v, path)
	case reflect.Slice:
		d.slice(n, v, path)
	case reflect.Map:
		d.stringMap(n, v, path)
	default:
		panic(fmt.Sprintf("config: decoder does not support %s at %s", v.Type(), path))
	}
}

// resolve follows aliases (*name) to the value they refer to.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty value ("key:" with nothing after it, "~" or "null").
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// scalar is n's text when n is a single, non-empty value. want describes the expected value for
// the error when n is empty, a list or a mapping.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if isNull(n) {
		d.errorf(n.Line, path, "the value is missing; write %s, or leave the field out to get its default", want)
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, path, "expected %s, found %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

// describe names what n is, for error messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value lines)"
	case yaml.SequenceNode:
		return "a list (- item lines)"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("the value %q", v)
	}
	return "an unreadable value"
}

// yamlFields lists the YAML names of t's fields, in order, and maps each to its field index.
func yamlFields(t reflect.Type) ([]string, map[string]int) {
	var names []string
	index := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

// structFields decodes a mapping into the struct v.
func (d *decoder) structFields(n *yaml.Node, v reflect.Value, path string) {
	names, index := yamlFields(v.Type())
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "expected a mapping with the fields %s, found %s", strings.Join(names, ", "), describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "a field name must be a plain word, not %s; valid fields here: %s", describe(k), strings.Join(names, ", "))
			continue
		}
		key := k.Value
		fieldPath := joinPath(path, key)
		if key == "<<" && k.ShortTag() == "!!merge" {
			d.errorf(k.Line, path, "merge keys (<<: *name) are not supported; write the fields out")
			continue
		}
		if first, dup := seen[key]; dup {
			d.errorf(k.Line, fieldPath, "duplicate key %q (first written on line %d); remove one of them", key, first)
			continue
		}
		seen[key] = k.Line
		fi, ok := index[key]
		if !ok {
			// A misspelt field usually leaves a required one missing: skip validating this mapping.
			d.scopedErrorf(k.Line, fieldPath, path, "unknown field %q;%s valid fields here: %s", key, didYouMean(key, names), strings.Join(names, ", "))
			continue
		}
		d.lines[fieldPath] = k.Line
		d.value(val, v.Field(fi), fieldPath)
	}
}

// joinPath appends the field name to path.
func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// slice decodes a list into the slice v.
func (d *decoder) slice(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.ScalarNode && v.Type().Elem().Kind() == reflect.String {
			hint = fmt.Sprintf("; write [%s] or put each item on its own \"- item\" line", n.Value)
		}
		d.errorf(n.Line, path, "expected a list, found %s%s", describe(n), hint)
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		itemPath := path + "[" + strconv.Itoa(i) + "]"
		d.lines[itemPath] = resolve(item).Line
		d.value(item, s.Index(i), itemPath)
	}
	v.Set(s)
}

// stringMap decodes a mapping into the map[string]string v.
func (d *decoder) stringMap(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "expected a mapping (Name: value lines), found %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "a key must be a plain word, not %s", describe(k))
			continue
		}
		key := k.Value
		entryPath := joinPath(path, key)
		if first, dup := seen[key]; dup {
			d.errorf(k.Line, entryPath, "duplicate key %q (first written on line %d); remove one of them", key, first)
			continue
		}
		seen[key] = k.Line
		d.lines[entryPath] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(val, elem, entryPath)
		m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}
