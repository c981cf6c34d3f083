package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"testing"

	"gopkg.in/yaml.v3"
)

// validate checks value (decoded from JSON or YAML, numbers as float64) against node and returns
// every problem found, each prefixed with the value's path. It implements the keywords the
// gatehouse schema uses: $ref, type, enum, const, properties, additionalProperties, required,
// dependentRequired, propertyNames, items, minItems, minLength, pattern, minimum, maximum, oneOf,
// anyOf and not.
func (s *schema) validate(t testing.TB, node map[string]any, value any, at string) []string {
	t.Helper()
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := node["$ref"]; ok {
		errs = append(errs, s.validate(t, s.deref(t, map[string]any{"$ref": ref}), value, at)...)
	}
	if ty, ok := node["type"]; ok && !jsonTypeOK(ty, value) {
		fail("%v is not of type %v", value, ty)
		return errs
	}
	if enum, ok := node["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, value) }) {
		fail("%v is not one of %v", value, enum)
	}
	if c, ok := node["const"]; ok && !reflect.DeepEqual(c, value) {
		fail("%v is not %v", value, c)
	}
	switch v := value.(type) {
	case map[string]any:
		props, _ := node["properties"].(map[string]any)
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch p, ok := props[k].(map[string]any); {
			case ok:
				errs = append(errs, s.validate(t, p, v[k], at+"."+k)...)
			case node["additionalProperties"] == false:
				fail("unknown field %q", k)
			default:
				if ap, ok := node["additionalProperties"].(map[string]any); ok {
					errs = append(errs, s.validate(t, ap, v[k], at+"."+k)...)
				}
			}
			if pn, ok := node["propertyNames"].(map[string]any); ok {
				errs = append(errs, s.validate(t, pn, k, at+"."+k+"(name)")...)
			}
		}
		req, _ := node["required"].([]any)
		for _, r := range req {
			if _, ok := v[r.(string)]; !ok {
				fail("%s is required", r)
			}
		}
		deps, _ := node["dependentRequired"].(map[string]any)
		for _, k := range keys {
			need, _ := deps[k].([]any)
			for _, r := range need {
				if _, ok := v[r.(string)]; !ok {
					fail("%s is required with %s", r, k)
				}
			}
		}
	case []any:
		if min, ok := node["minItems"].(float64); ok && float64(len(v)) < min {
			fail("has %d items, want at least %v", len(v), min)
		}
		if items, ok := node["items"].(map[string]any); ok {
			for i, item := range v {
				errs = append(errs, s.validate(t, items, item, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case string:
		if min, ok := node["minLength"].(float64); ok && float64(len([]rune(v))) < min {
			fail("%q is shorter than %v characters", v, min)
		}
		if p, ok := node["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
			fail("%q does not match %s", v, p)
		}
	case float64:
		if min, ok := node["minimum"].(float64); ok && v < min {
			fail("%v is less than %v", v, min)
		}
		if max, ok := node["maximum"].(float64); ok && v > max {
			fail("%v is more than %v", v, max)
		}
	}
	if branches, ok := node["oneOf"].([]any); ok {
		n := 0
		for _, b := range branches {
			if len(s.validate(t, b.(map[string]any), value, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d of the oneOf branches, want exactly 1", n)
		}
	}
	if branches, ok := node["anyOf"].([]any); ok && !slices.ContainsFunc(branches, func(b any) bool {
		return len(s.validate(t, b.(map[string]any), value, at)) == 0
	}) {
		fail("matches none of the anyOf branches")
	}
	if not, ok := node["not"].(map[string]any); ok && len(s.validate(t, not, value, at)) == 0 {
		fail("matches a combination that is not allowed: %v", not)
	}
	return errs
}

// jsonTypeOK reports whether value has one of the JSON Schema types ty (a name or a list of names).
func jsonTypeOK(ty, value any) bool {
	names, ok := ty.([]any)
	if !ok {
		names = []any{ty}
	}
	for _, n := range names {
		switch v := value.(type) {
		case nil:
			ok = n == "null"
		case bool:
			ok = n == "boolean"
		case string:
			ok = n == "string"
		case float64:
			ok = n == "number" || (n == "integer" && v == math.Trunc(v))
		case []any:
			ok = n == "array"
		case map[string]any:
			ok = n == "object"
		}
		if ok {
			return true
		}
	}
	return false
}

// yamlToJSON decodes YAML into the values encoding/json would give for the same document, as an
// editor's YAML language server sees it.
func yamlToJSON(t testing.TB, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	var conv func(any) any
	conv = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				v[k] = conv(e)
			}
		case []any:
			for i, e := range v {
				v[i] = conv(e)
			}
		case int:
			return float64(v)
		case uint64:
			return float64(v)
		}
		return v
	}
	return conv(v)
}
