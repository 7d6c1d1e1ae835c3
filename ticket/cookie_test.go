package ticket

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// rawTicket returns the raw (not base64) form of a cookie value.
func rawTicket(t *testing.T, v string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mod_auth_tkt reads a raw ticket from the Cookie header byte for byte up to
// the next ";". net/http's cookie parser drops such a value when it holds
// non-ASCII bytes, '"' or '\', so Authenticate reads the header itself.
func TestAuthenticateReadsRawCookieHeader(t *testing.T) {
	clk := &clock{t0}
	iss := newIssuer(t, clk)
	valid := issue(t, iss, Ticket{UID: "alice", UserData: "base64"})
	rawUTF8 := rawTicket(t, issue(t, iss, Ticket{UID: "jörg", Tokens: []string{"grüppe"}, UserData: "naïve"}))
	rawQuote := rawTicket(t, issue(t, iss, Ticket{UID: "alice", UserData: `say "hi" now`}))
	rawBackslash := rawTicket(t, issue(t, iss, Ticket{UID: "alice", UserData: `C:\dir`}))
	rawSpace := rawTicket(t, issue(t, iss, Ticket{UID: "John Smith"}))
	mallory := issue(t, iss, Ticket{UID: "mallory"})

	tests := []struct {
		name     string
		header   []string
		wantUID  string
		wantData string
		wantErr  error
	}{
		{"raw UTF-8 uid, token and data", []string{"auth_tkt=" + rawUTF8}, "jörg", "naïve", nil},
		{"raw with a double quote inside", []string{"auth_tkt=" + rawQuote}, "alice", `say "hi" now`, nil},
		{"raw with a backslash", []string{"auth_tkt=" + rawBackslash}, "alice", `C:\dir`, nil},
		{"raw with a space in the uid", []string{"auth_tkt=" + rawSpace}, "John Smith", "", nil},
		{"among other cookies", []string{"a=1; auth_tkt=" + rawUTF8 + "; b=2"}, "jörg", "naïve", nil},
		{"in a second Cookie header", []string{"a=1", "auth_tkt=" + rawUTF8}, "jörg", "naïve", nil},
		{"quoted base64", []string{`auth_tkt="` + valid + `"`}, "alice", "base64", nil},
		{"spaces around", []string{"  auth_tkt = " + valid + "  ; b=2"}, "alice", "base64", nil},
		{"empty values skipped, not counted", []string{"auth_tkt=; auth_tkt=\"\"; auth_tkt=; auth_tkt= ; auth_tkt=" + valid}, "alice", "base64", nil},
		{"malformed parts ignored", []string{";;; =; auth_tkt; ==x; =auth_tkt; auth_tkt=" + valid + ";"}, "alice", "base64", nil},
		{"name matched exactly", []string{"xauth_tkt=" + valid + "; auth_tkt2=" + valid + "; Auth_tkt=" + valid}, "", "", ErrNoTicket},
		{"no Cookie header", nil, "", "", ErrNoTicket},
		{"raw and base64 for different users", []string{"auth_tkt=" + rawUTF8 + "; auth_tkt=" + mallory}, "", "", ErrAmbiguous},
		{"candidates bounded", []string{strings.Repeat("auth_tkt=junk; ", maxCandidates) + "auth_tkt=" + valid}, "", "", ErrMalformed},
		{"oversized refused before decoding", []string{"auth_tkt=" + strings.Repeat("!", DefaultMaxLength+1)}, "", "", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("/")
			for _, h := range tt.header {
				r.Header.Add("Cookie", h)
			}
			tk, _, err := iss.Authenticate(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tk.UID != tt.wantUID || tk.UserData != tt.wantData {
				t.Fatalf("got uid %q data %q, want %q %q", tk.UID, tk.UserData, tt.wantUID, tt.wantData)
			}
		})
	}
}
