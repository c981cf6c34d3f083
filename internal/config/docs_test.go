package config

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docsFile is the reference documentation of the config file.
const docsFile = "../../docs/configuration.md"

// readDocs returns docsFile without its fenced code blocks, whose lines are examples, not
// headings.
func readDocs(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fenced := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// slug is GitHub's anchor for a heading: lower case, spaces to '-', punctuation other than '-'
// and '_' dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocsAnchors checks that every link to a section of docs/configuration.md (#anchor) names a
// heading that exists.
func TestDocsAnchors(t *testing.T) {
	t.Parallel()
	docs := readDocs(t)
	headings := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(docs, -1) {
		headings[slug(m[1])] = true
	}
	links := regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(docs, -1)
	for _, m := range links {
		if !headings[m[1]] {
			t.Errorf("link to #%s, which is no heading", m[1])
		}
	}
	if len(links) < 50 || !headings["listenerstls"] || !headings["upstreamstls"] {
		t.Fatalf("found %d links and headings %v; the parsing is broken", len(links), headings)
	}
}

// TestDocsEveryField checks that every field of the config is documented in a table row of
// docs/configuration.md ("| `name` |") or has a section of its own ("### upstreams[].retry"), so
// that a new field cannot go undocumented.
func TestDocsEveryField(t *testing.T) {
	t.Parallel()
	docs := readDocs(t)
	paths := map[string]bool{}
	schemaPaths(reflect.TypeFor[Config](), "", paths)
	var missing []string
	for p := range paths {
		name := p[strings.LastIndexAny(p, ".]")+1:]
		if strings.Contains(p, ".") && !strings.Contains(docs, "| `"+name+"` |") && !strings.Contains(docs, "# "+p+"\n") {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("fields with no table row in %s:\n%s", docsFile, strings.Join(missing, "\n"))
	}
	if len(paths) < 100 {
		t.Fatalf("only %d field paths; the walk is broken", len(paths))
	}
}
