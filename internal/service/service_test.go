package service

import "testing"

func TestRetryOnStatus(t *testing.T) {
	t.Parallel()
	var r Retry
	r.SetOnStatus([]int{502, 503, 504, 599, 200, 600})
	tests := []struct {
		status int
		want   bool
	}{
		{500, false}, {502, true}, {503, true}, {504, true}, {505, false}, {599, true},
		{200, false}, {600, false}, {499, false}, {563, false}, {564, false},
	}
	for _, tt := range tests {
		if got := r.OnStatus(tt.status); got != tt.want {
			t.Errorf("OnStatus(%d) = %v, want %v", tt.status, got, tt.want)
		}
	}
	r.SetOnStatus(nil)
	if r.OnStatus(502) {
		t.Error("OnStatus(502) after SetOnStatus(nil)")
	}
}
