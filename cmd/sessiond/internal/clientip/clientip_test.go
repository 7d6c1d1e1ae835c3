package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		remote, xff, want string
	}{
		{"192.0.2.1:5", "", "192.0.2.1"},
		{"192.0.2.1:5", "1.2.3.4", "192.0.2.1"}, // untrusted peer: header ignored
		{"127.0.0.1:5", "1.2.3.4", "1.2.3.4"},
		{"127.0.0.1:5", "6.6.6.6, 1.2.3.4, 10.1.1.1", "1.2.3.4"}, // rightmost untrusted
		{"127.0.0.1:5", "garbage", "127.0.0.1"},
		{"[::ffff:127.0.0.1]:5", "1.2.3.4", "1.2.3.4"},
		{"[2001:db8::1]:5", "", "2001:db8::1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := Addr(r, trusted).String(); got != tt.want {
			t.Errorf("%s / %q: %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[2001:db8::1]:5"
	if got := String(r, nil); got != "2001:db8::1" {
		t.Errorf("String = %q", got)
	}
	r.RemoteAddr = "not an address"
	if got := String(r, nil); got != "" {
		t.Errorf("String of an unreadable peer = %q, want \"\"", got)
	}
}
