package proxy

import (
	"net/http"
	"testing"
)

func TestStripHeaderAndCookie(t *testing.T) {
	h := http.Header{}
	h["X-Auth-User"] = []string{"forged"}
	h["X_auth_user"] = []string{"forged2"}
	h["x-auth-user"] = []string{"forged3"}
	h["X-Auth-Users"] = []string{"kept"}
	h.Set("Cookie", "a=1; __Host-session=secret; b=2")
	h.Add("Cookie", "__Host-session=other")
	stripHeaders(h, headerSet([]string{"X-Auth-User"}))
	stripCookie(h, "__Host-session")
	if len(h) != 2 || h.Get("X-Auth-Users") != "kept" {
		t.Errorf("headers after strip: %v", h)
	}
	if got := h.Values("Cookie"); len(got) != 1 || got[0] != "a=1; b=2" {
		t.Errorf("cookies after strip: %q", got)
	}
	h = http.Header{"Cookie": {"__Host-session=x"}}
	stripCookie(h, "__Host-session")
	if _, ok := h["Cookie"]; ok {
		t.Errorf("empty Cookie header kept: %v", h)
	}
}
