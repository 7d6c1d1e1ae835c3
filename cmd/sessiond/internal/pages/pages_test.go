package pages

import (
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestSafeBack(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/app?x=1&y=2#frag", "/app?x=1&y=2#frag"},
		{"/_sessiond/", "/_sessiond/"},
		{"/_sessiond/sessions", "/_sessiond/sessions"},
		{"/_sessiond/logout", "D"},
		{"/_sessiond/logout-all", "D"},
		{"/_sessiond/sessions/revoke", "D"},
		{"//evil.example", "D"},
		{"///evil.example", "D"},
		{"/\\evil.example", "D"},
		{"/a\\b", "D"},
		{"https://evil.example/", "D"},
		{"javascript:alert(1)", "D"},
		{"evil.example", "D"},
		{"/\t/evil.example", "D"},
		{"/%2F/evil.example", "D"},
		{"/x\r\nSet-Cookie: a=b", "D"},
		{"", "D"},
		{"/" + strings.Repeat("a", maxBackLen), "D"},
	}
	for _, tt := range tests {
		if got := safeBack(tt.in, "D"); got != tt.want {
			t.Errorf("safeBack(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDevice(t *testing.T) {
	tests := []struct{ ua, want string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome 126 on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge 126 on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari 17 on macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1", "Chrome 126 on iPhone"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome 126 on Android"},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox 127 on Ubuntu"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36", "Headless Chrome 126 on Linux"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0", "Opera 111 on Linux"},
		{"curl/8.5.0", "curl 8"},
		{"", "Unknown device"},
		{"Mozilla/5.0 (X11; Linux x86_64)", "Browser on Linux"},
		{strings.Repeat("x", 10000) + "Firefox/1", "Unknown device"},
	}
	for _, tt := range tests {
		if got := device(tt.ua); got != tt.want {
			t.Errorf("device(%.60q) = %q, want %q", tt.ua, got, tt.want)
		}
	}
}

func TestPlainHTTPHost(t *testing.T) {
	tests := []struct {
		name     string
		url      string // the request as sessiond sees it
		remote   string
		header   map[string]string
		tls      bool
		insecure bool
		want     string
	}{
		{"localhost", "http://localhost:8080/", "127.0.0.1:1", nil, false, false, ""},
		{"127.0.0.1", "http://127.0.0.1:8080/", "127.0.0.1:1", nil, false, false, ""},
		{"::1", "http://[::1]:8080/", "[::1]:1", nil, false, false, ""},
		{"*.localhost", "http://app.localhost:8080/", "127.0.0.1:1", nil, false, false, ""},
		{"LAN address", "http://192.168.1.20:8080/", "192.168.1.7:1", nil, false, false, "192.168.1.20:8080"},
		{"host name", "http://vm.example:8080/", "192.0.2.1:1", nil, false, false, "vm.example:8080"},
		{"host name, no port", "http://vm.example/", "192.0.2.1:1", nil, false, false, "vm.example"},
		{"HTTPS", "https://vm.example/", "192.0.2.1:1", nil, true, false, ""},
		{"development mode", "http://vm.example:8080/", "192.0.2.1:1", nil, false, true, ""},
		{"trusted TLS proxy", "http://app.example/", "127.0.0.1:1", nil, false, false, ""},
		{"trusted proxy says https", "http://app.example/", "127.0.0.1:1", map[string]string{"X-Forwarded-Proto": "https"}, false, false, ""},
		{"trusted proxy says http", "http://app.example/", "127.0.0.1:1", map[string]string{"X-Forwarded-Proto": "http"}, false, false, "app.example"},
		{"untrusted peer's X-Forwarded-Proto", "http://vm.example/", "192.0.2.1:1", map[string]string{"X-Forwarded-Proto": "https"}, false, false, "vm.example"},
		{"Origin http", "http://app.example/", "127.0.0.1:1", map[string]string{"Origin": "http://app.example"}, false, false, "app.example"},
		{"Origin https", "http://app.example/", "192.0.2.1:1", map[string]string{"Origin": "https://app.example"}, false, false, ""},
		{"Origin localhost", "http://vm.example/", "192.0.2.1:1", map[string]string{"Origin": "http://localhost:8080"}, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{opt: Config{InsecurePlainHTTP: tt.insecure, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}
			r := httptest.NewRequest("GET", tt.url, nil)
			r.RemoteAddr = tt.remote
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := s.plainHTTPHost(r); got != tt.want {
				t.Errorf("plainHTTPHost = %q, want %q", got, tt.want)
			}
		})
	}
}
