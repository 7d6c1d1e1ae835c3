package sesame_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
)

type noIndexStore struct{ sesame.Store }

func TestConfigValidation(t *testing.T) {
	ms := newMemStore(t, memstore.Config{})
	tests := []struct {
		name    string
		cfg     sesame.Config
		wantErr string
	}{
		{"defaults", sesame.Config{Store: ms}, ""},
		{"no store", sesame.Config{}, "is required"},
		{"lifetime shorter than idle", sesame.Config{Store: ms, IdleTimeout: time.Hour, Lifetime: time.Minute}, "shorter than IdleTimeout"},
		{"negative idle", sesame.Config{Store: ms, IdleTimeout: -time.Second}, "negative"},
		{"idle under the documented minimum", sesame.Config{Store: ms, IdleTimeout: time.Second - time.Millisecond}, "under a second"},
		{"idle at the documented minimum", sesame.Config{Store: ms, IdleTimeout: time.Second, Lifetime: time.Second}, ""},
		{"__Host- with Domain", sesame.Config{Store: ms, Cookie: sesame.CookieConfig{Domain: "example.com"}}, "cannot have a Domain"},
		{"__Host- with Path", sesame.Config{Store: ms, Cookie: sesame.CookieConfig{Path: "/app"}}, "Path=/"},
		{"__Host- without Secure", sesame.Config{Store: ms, InsecurePlainHTTP: true, Cookie: sesame.CookieConfig{Name: "__Host-x"}}, "must be Secure"},
		{"__Secure- without Secure", sesame.Config{Store: ms, InsecurePlainHTTP: true, Cookie: sesame.CookieConfig{Name: "__Secure-x"}}, "must be Secure"},
		{"SameSite=None without Secure", sesame.Config{Store: ms, InsecurePlainHTTP: true, Cookie: sesame.CookieConfig{SameSite: http.SameSiteNoneMode}}, "SameSite=None requires Secure"},
		{"SameSite=None with Secure", sesame.Config{Store: ms, Cookie: sesame.CookieConfig{SameSite: http.SameSiteNoneMode}}, ""},
		{"bad cookie name", sesame.Config{Store: ms, Cookie: sesame.CookieConfig{Name: "a b"}}, "not a valid cookie name"},
		{"domain with plain name", sesame.Config{Store: ms, Cookie: sesame.CookieConfig{Name: "sid", Domain: "example.com"}}, ""},
		{"cap without user index", sesame.Config{Store: noIndexStore{ms}, MaxSessionsPerUser: 3}, "user index"},
		{"plain HTTP development mode", sesame.Config{Store: ms, InsecurePlainHTTP: true}, ""},
		{"store and seal", sesame.Config{Store: ms, Seal: newRing(t, genKey(t))}, "not several"},
		{"revocations without seal", sesame.Config{Store: ms, Revocations: ms}, "for sealed sessions"},
		{"sealed", sesame.Config{Seal: newRing(t, genKey(t)), Revocations: ms}, ""},
		{"cookie codec", sesame.Config{CookieCodec: newSignedJSON(t)}, ""},
		{"store and cookie codec", sesame.Config{Store: ms, CookieCodec: newSignedJSON(t)}, "not several"},
		{"seal and cookie codec", sesame.Config{Seal: newRing(t, genKey(t)), CookieCodec: newSignedJSON(t)}, "not several"},
		{"revocations with a cookie codec", sesame.Config{CookieCodec: newSignedJSON(t), Revocations: ms}, "for sealed sessions"},
		{"binder with a cookie codec", sesame.Config{CookieCodec: newSignedJSON(t), Binder: &passBinder{}}, "cannot bind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = newTextLogger(&strings.Builder{})
			_, err := sesame.New(tc.cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New error = %v; want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestInsecurePlainHTTPCookie(t *testing.T) {
	var logs strings.Builder
	e := newEnv(t, sesame.Config{InsecurePlainHTTP: true, Logger: newTextLogger(&logs)})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("k", 1) })
	line := rec.Header().Get("Set-Cookie")
	if !strings.HasPrefix(line, "session=") || strings.Contains(line, "Secure") || !strings.Contains(line, "HttpOnly") {
		t.Fatalf("development cookie = %q", line)
	}
	if !strings.Contains(logs.String(), "InsecurePlainHTTP") {
		t.Error("no warning logged for InsecurePlainHTTP")
	}
}
