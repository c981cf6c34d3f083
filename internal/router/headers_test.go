package router

import "testing"

func TestFixedResponse(t *testing.T) {
	t.Parallel()
	f := NewFixed(503, "down\n", map[string]string{"Retry-After": "5", "Content-Type": "text/plain", "content-length": "99"})
	want := "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\nContent-Length: 5\r\n"
	if string(f.Head) != want || string(f.Body) != "down\n" || f.Status != 503 {
		t.Errorf("head %q body %q", f.Head, f.Body)
	}
}

func TestHeaderOps(t *testing.T) {
	t.Parallel()
	o := HeaderOps{
		Drop: []string{"x-debug", "x-set"},
		Set:  []Header{{Name: "X-Set", Value: "1"}},
		Add:  []Header{{Name: "X-Add", Value: "a"}, {Name: "X-Add", Value: "b"}},
	}
	if !o.Dropped([]byte("X-Debug")) || !o.Dropped([]byte("x-SET")) || o.Dropped([]byte("X-Other")) || o.Dropped([]byte("X-Add")) {
		t.Error("Dropped is wrong")
	}
	if got := string(o.AppendSet([]byte("A: b\r\n"))); got != "A: b\r\nX-Set: 1\r\nX-Add: a\r\nX-Add: b\r\n" {
		t.Errorf("AppendSet = %q", got)
	}
	if got := string(o.AppendAdd(nil)); got != "X-Add: a\r\nX-Add: b\r\n" {
		t.Errorf("AppendAdd = %q", got)
	}
}

func TestRemoves(t *testing.T) {
	t.Parallel()
	o := HeaderOps{Drop: []string{"x-forwarded-for", "x-request-id"}}
	if !o.Removes("x-request-id") || !o.Removes("x-forwarded-for") || o.Removes("forwarded") {
		t.Error("Removes is wrong")
	}
	var none HeaderOps
	if none.Removes("x-request-id") {
		t.Error("an empty HeaderOps removes something")
	}
}
