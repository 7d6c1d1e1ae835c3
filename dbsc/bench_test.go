package dbsc_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/dbsc"
	"github.com/sesame-go/sesame/dbsc/dbsctest"
)

// BenchmarkRefresh measures what a refresh costs the server: one signed
// POST to the refresh endpoint (the browser's proof for the challenge
// the previous refresh handed out), through the Manager over memstore:
// the session's load, the signature check, the conditional save of the
// spent challenge, and the new cookie and challenge. The browser's
// signing is not counted.
func BenchmarkRefresh(b *testing.B) {
	for _, alg := range algs {
		b.Run("alg="+alg, func(b *testing.B) {
			st := newSite(b, nil)
			br, s := st.boundBrowser(alg)
			cookie := sesame.DefaultCookieName + "=" + br.Cookies()[sesame.DefaultCookieName]
			challenge := s.Challenge
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				req := httptest.NewRequest(http.MethodPost, "https://example.test/dbsc/refresh", nil)
				req.Header.Set("Cookie", cookie)
				req.Header.Set("Sec-Secure-Session-Id", s.ID)
				req.Header.Set("Secure-Session-Response", br.Key.Proof(challenge, false, nil))
				rec := httptest.NewRecorder()
				b.StartTimer()
				st.h.ServeHTTP(rec, req)
				b.StopTimer()
				if rec.Code != http.StatusOK {
					b.Fatalf("refresh: %d %s", rec.Code, rec.Body)
				}
				challenge, _, _ = dbsctest.ParseChallenge(rec.Header().Get("Secure-Session-Challenge"))
				b.StartTimer()
			}
		})
	}
}

// BenchmarkRequest measures an ordinary request that reads its session's
// user: unbound (the Binder is never called), and bound (Allow checks the
// bound cookie's MAC with the secret in the record).
func BenchmarkRequest(b *testing.B) {
	for _, bound := range []bool{false, true} {
		name := "unbound"
		if bound {
			name = "bound"
		}
		b.Run(name, func(b *testing.B) {
			st := newSite(b, nil)
			alg := ""
			if bound {
				alg = dbsc.ES256
			}
			br := st.browser(alg)
			st.login(br, "alice")
			req := httptest.NewRequest(http.MethodGet, "https://example.test/", nil)
			for n, v := range br.Cookies() {
				req.AddCookie(&http.Cookie{Name: n, Value: v})
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				st.h.ServeHTTP(rec, req)
				if rec.Body.String() != "user alice" {
					b.Fatalf("%q", rec.Body)
				}
			}
		})
	}
}

// BenchmarkRefreshRoundTrip measures a whole refresh as the Go client
// makes it over loopback HTTPS (keep-alive): signing included.
func BenchmarkRefreshRoundTrip(b *testing.B) {
	for _, alg := range algs {
		b.Run("alg="+alg, func(b *testing.B) {
			st := newSite(b, nil)
			br, s := st.boundBrowser(alg)
			for b.Loop() {
				if r, err := br.Refresh(s.ID); err != nil || r.Status != http.StatusOK || r.Requests != 1 {
					b.Fatalf("%+v, %v", r, err)
				}
			}
		})
	}
}
