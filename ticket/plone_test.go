package ticket

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The known answers printed in the documentation of plone.session's
// tktauth module for its mod_auth_tkt mode.
func TestPloneModAuthTktModeMatchesTktauthDocs(t *testing.T) {
	k := mustNew(t, Config{
		Format: Plone, Digest: LegacyMD5, Secret: "abcdefghijklmnopqrstuvwxyz0123456789",
		IgnoreIP: true, Timeout: -1,
	})
	ts := time.Unix(1216720800, 0)
	tests := []struct {
		tk   Ticket
		want string
	}{
		{Ticket{UID: "jbloggs", Issued: ts}, "c7c7300ac5cf529656444123aca345294885afa0jbloggs!"},
		{Ticket{UID: "jbloggs", Tokens: []string{"foo", "bar"}, UserData: "Joe Bloggs", Issued: ts},
			"eea3630e98177bdbf0e7f803e1632b7e4885afa0jbloggs!foo,bar!Joe Bloggs"},
	}
	for _, tt := range tests {
		v, err := k.Issue(tt.tk, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		if raw := rawTicket(t, v); raw != tt.want {
			t.Errorf("Issue = %q, want %q", raw, tt.want)
		}
		got, _, err := k.Parse(tt.want, netip.Addr{})
		if err != nil || got.UID != tt.tk.UID || got.UserData != tt.tk.UserData || !got.Issued.Equal(ts) {
			t.Errorf("Parse(%q) = %+v, %v", tt.want, got, err)
		}
	}
}

// signedPlone returns the base64 cookie of a ticket whose digest k computes
// over uid, tokens and data but whose text after the timestamp is body:
// a validly signed ticket that the format's reading rules may refuse.
func signedPlone(k *Codec, ts uint32, uid, tokens, data, body string) string {
	raw := k.sign(nil, k.secret, [4]byte{}, ts, uid, tokens, data)
	raw = fmt.Appendf(raw, "%08x%s", ts, body)
	return base64.StdEncoding.EncodeToString(raw)
}

func TestPloneReadingRules(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	ts := uint32(now.Unix())
	hmacCodec := mustNew(t, Config{Format: Plone, IgnoreIP: true, Now: fixedNow(now)})
	md5Plone := mustNew(t, Config{Format: Plone, Digest: LegacyMD5, IgnoreIP: true, Now: fixedNow(now)})
	md5Apache := mustNew(t, Config{Digest: LegacyMD5, IgnoreIP: true, Now: fixedNow(now)})
	sha256Apache := mustNew(t, Config{IgnoreIP: true, Now: fixedNow(now)})
	hmacTicket, err := hmacCodec.Issue(Ticket{UID: "alice"}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		k       *Codec
		value   string
		wantErr error
		want    Ticket
	}{
		// plone.session splits on every "!" and wants two or three parts;
		// Apache takes the third "!" as part of the data.
		{"four parts, plone.session", md5Plone, signedPlone(md5Plone, ts, "alice", "a", "b!c", "alice!a!b!c"), ErrMalformed, Ticket{}},
		{"four parts, mod_auth_tkt", md5Apache, signedPlone(md5Apache, ts, "alice", "a", "b!c", "alice!a!b!c"), nil,
			Ticket{UID: "alice", Tokens: []string{"a"}, UserData: "b!c"}},
		{"HMAC four parts", hmacCodec, signedPlone(hmacCodec, ts, "alice", "a", "b!c", "alice!a!b!c"), ErrMalformed, Ticket{}},
		{"not UTF-8", hmacCodec, signedPlone(hmacCodec, ts, "j\xf6rg", "", "", "j\xf6rg!"), ErrMalformed, Ticket{}},
		{"not UTF-8, mod_auth_tkt", md5Apache, signedPlone(md5Apache, ts, "j\xf6rg", "", "", "j\xf6rg!"), nil, Ticket{UID: "j\xf6rg"}},
		{"empty tokens field", hmacCodec, signedPlone(hmacCodec, ts, "alice", "", "d", "alice!!d"), nil, Ticket{UID: "alice", UserData: "d"}},
		{"HMAC ticket in mod_auth_tkt mode", md5Plone, hmacTicket, ErrBadSignature, Ticket{}},
		{"HMAC ticket to Apache SHA256", sha256Apache, hmacTicket, ErrMalformed, Ticket{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := tt.k.Parse(tt.value, netip.Addr{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (got.UID != tt.want.UID || got.UserData != tt.want.UserData ||
				strings.Join(got.Tokens, ",") != strings.Join(tt.want.Tokens, ",")) {
				t.Fatalf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The HMAC digest is raw bytes and may hold NUL, which the text after it
// never may.
func TestPloneHMACDigestWithNUL(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	k := mustNew(t, Config{Format: Plone, IgnoreIP: true, Now: fixedNow(now)})
	for i := range 10000 {
		tk := Ticket{UID: fmt.Sprintf("user%d", i), Issued: now}
		v, err := k.Issue(tk, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		if raw := rawTicket(t, v); strings.IndexByte(raw[:ploneDigestLen], 0) < 0 {
			continue
		}
		if got, _, err := k.Parse(v, netip.Addr{}); err != nil || got.UID != tk.UID {
			t.Fatalf("a digest with NUL: %+v, %v", got, err)
		}
		return
	}
	t.Fatal("no digest with a NUL byte in 10000 tickets")
}

// plone.session refuses a ticket at its last second, Apache accepts it.
func TestPloneExpiresAtTheLastSecond(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	for _, tt := range []struct {
		format Format
		age    time.Duration
		want   error
	}{
		{Plone, time.Minute - time.Second, nil},
		{Plone, time.Minute, ErrExpired},
		{ModAuthTkt, time.Minute, nil},
		{ModAuthTkt, time.Minute + time.Second, ErrExpired},
	} {
		k := mustNew(t, Config{Format: tt.format, IgnoreIP: true, Timeout: time.Minute, Now: fixedNow(now)})
		v, err := k.Issue(Ticket{UID: "alice", Issued: now.Add(-tt.age)}, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := k.Parse(v, netip.Addr{}); !errors.Is(err, tt.want) {
			t.Errorf("%v, age %v: err = %v, want %v", tt.format, tt.age, err, tt.want)
		}
	}
}

func TestPloneIssueRefusesBangInUserData(t *testing.T) {
	for _, d := range []Digest{SHA256, LegacyMD5} {
		k := mustNew(t, Config{Format: Plone, Digest: d, IgnoreIP: true})
		if _, err := k.Issue(Ticket{UID: "alice", UserData: "a!b"}, netip.Addr{}); !errors.Is(err, ErrInvalidField) {
			t.Errorf("%v: err = %v, want ErrInvalidField", d, err)
		}
	}
}

func TestPloneIssuerUsesAcCookie(t *testing.T) {
	now := time.Now()
	k := mustNew(t, Config{Format: Plone, IgnoreIP: true, Now: fixedNow(now)})
	for _, tt := range []struct{ name, want string }{{"", PloneCookieName}, {"auth_tkt", "auth_tkt"}} {
		iss := &Issuer{Codec: k, Cookie: CookieConfig{Name: tt.name}}
		w := httptest.NewRecorder()
		if err := iss.SetCookie(w, request("/"), Ticket{UID: "alice"}); err != nil {
			t.Fatal(err)
		}
		sc := w.Header().Get("Set-Cookie")
		if !strings.HasPrefix(sc, tt.want+"=") {
			t.Fatalf("Name %q: Set-Cookie %q, want name %s", tt.name, sc, tt.want)
		}
		r := request("/")
		r.Header.Set("Cookie", strings.SplitN(sc, ";", 2)[0])
		if got, _, err := iss.Authenticate(r); err != nil || got.UID != "alice" {
			t.Fatalf("Name %q: Authenticate = %+v, %v", tt.name, got, err)
		}
	}
}

func TestFormatString(t *testing.T) {
	for f, want := range map[Format]string{ModAuthTkt: "mod_auth_tkt", Plone: "plone.session", 5: "Format(5)"} {
		if got := f.String(); got != want {
			t.Errorf("%d: %q, want %q", f, got, want)
		}
	}
}
