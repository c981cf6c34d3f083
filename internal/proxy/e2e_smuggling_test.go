package proxy_test

// Request smuggling: every ambiguous or malformed request is refused with the right status, the
// connection is closed, and the bytes that follow it are never read as a request.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

const smuggled = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"

type smuggleCase struct {
	name string
	raw  string // sent, followed by the smuggled request, in one write
	want []int  // acceptable statuses
	// forwarded is set when the request head is sound and may reach the backend before its body
	// turns out malformed.
	forwarded bool
}

func TestE2ESmuggling(t *testing.T) {
	t.Parallel()
	be := startBackend(t, echoHandler("b"))
	p := startProxy(t, singleUpstream(be.URL)) // max_request_line 1KiB, max_header_bytes 2KiB, 20 fields

	manyFields := ""
	for i := 0; i < 25; i++ {
		manyFields += fmt.Sprintf("X-F%d: v\r\n", i)
	}
	cases := []smuggleCase{
		{"cl-and-te", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", []int{400}, false},
		{"te-and-cl", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", []int{400}, false},
		{"te-on-http10", "POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{400}, false},
		{"te-on-http10-keepalive", "POST / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{400}, false},
		{"te-xchunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", []int{400, 501}, false},
		{"te-chunked-identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", []int{400, 501}, false},
		{"te-identity-chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n", []int{400, 501}, false},
		{"te-chunked-twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", []int{400}, false},
		{"te-two-fields", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{400}, false},
		{"te-quoted", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", []int{400, 501}, false},
		{"te-folded-after-cl", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{400}, false},
		{"te-leading-space-first-field", "POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: h\r\n\r\n0\r\n\r\n", []int{400}, false},
		{"te-space-before-colon", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", []int{400}, false},
		{"te-vertical-tab", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", []int{400}, false},
		{"te-gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n", []int{501}, false},
		{"te-gzip-chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", []int{501}, false},
		{"cl-duplicate-different", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", []int{400}, false},
		{"cl-list-different", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello!", []int{400}, false},
		{"cl-plus", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", []int{400}, false},
		{"cl-negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", []int{400}, false},
		{"cl-hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello", []int{400}, false},
		{"chunk-size-invalid", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", []int{400}, true},
		{"chunk-size-overflow", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n", []int{400}, true},
		{"chunk-size-leading-space", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", []int{400}, true},
		{"chunk-size-bare-lf", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", []int{400}, true},
		{"chunk-data-no-crlf", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", []int{400}, true},
		{"chunk-data-too-long", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", []int{400}, true},
		{"chunk-last-bare-lf", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\n\n", []int{400}, true},
		{"bare-lf-everywhere", "GET / HTTP/1.1\nHost: h\n\n", []int{400}, false},
		{"bare-lf-one-field", "GET / HTTP/1.1\r\nHost: h\nX-A: b\r\n\r\n", []int{400}, false},
		{"bare-lf-end-of-head", "GET / HTTP/1.1\r\nHost: h\r\n\n", []int{400}, false},
		{"bare-cr-in-value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", []int{400}, false},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", []int{400}, false},
		{"obs-fold-tab", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n", []int{400}, false},
		{"space-before-colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", []int{400}, false},
		{"nul-in-value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n", []int{400}, false},
		{"nul-in-name", "GET / HTTP/1.1\r\nHost: h\r\nX-\x00A: b\r\n\r\n", []int{400}, false},
		{"two-hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", []int{400}, false},
		{"no-host-http11", "GET / HTTP/1.1\r\n\r\n", []int{400}, false},
		{"request-line-too-long", "GET /" + strings.Repeat("a", 1100) + " HTTP/1.1\r\nHost: h\r\n\r\n", []int{414}, false},
		{"too-many-fields", "GET / HTTP/1.1\r\nHost: h\r\n" + manyFields + "\r\n", []int{431}, false},
		{"fields-too-large", "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 2100) + "\r\n\r\n", []int{431}, false},
		{"http2-version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", []int{505}, false},
		{"space-in-target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", []int{400}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Each case marks its request with a unique target so that the backend's log can be
			// searched for it.
			c := dial(t, p.Addr)
			c.send(strings.Replace(tc.raw, " / ", " /"+tc.name+" ", 1) + smuggled)
			r, err := c.tryRead("GET")
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			if !slices.Contains(tc.want, r.StatusCode) {
				t.Errorf("status %d, want one of %v", r.StatusCode, tc.want)
			}
			if !r.Close {
				t.Errorf("the %d answer does not say Connection: close", r.StatusCode)
			}
			if r.BodyErr != nil {
				t.Errorf("error body: %v", r.BodyErr)
			}
			assertNoLeak(t, r)
			c.expectClosed()
		})
	}
	t.Cleanup(func() {
		// Runs after every parallel subtest has finished.
		time.Sleep(50 * time.Millisecond)
		for _, r := range be.requests() {
			if r.Target == "/ok" {
				continue
			}
			name := strings.TrimPrefix(r.Target, "/")
			i := slices.IndexFunc(cases, func(tc smuggleCase) bool { return tc.name == name })
			switch {
			case i < 0:
				t.Errorf("the backend received %s %s %q", r.Method, r.Target, r.Lines)
			case !cases[i].forwarded:
				t.Errorf("%s: the backend received the refused request: %q", name, r.Lines)
			case r.Err == nil:
				t.Errorf("%s: the backend received a whole request, body %q; the body was malformed", name, r.Body)
			}
		}
	})
	// The proxy still works.
	t.Run("still-serving", func(t *testing.T) {
		t.Parallel()
		c := dial(t, p.Addr)
		c.send("POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		r := c.read("POST")
		if r.StatusCode != 200 || r.Body != "b POST /ok|hi" {
			t.Errorf("status %d body %q", r.StatusCode, r.Body)
		}
		c.expectClosed()
	})
}
