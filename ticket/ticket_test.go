package ticket

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testSecret = "0e1d79e1-c18b-43c5-bfd6-a396e13bf39c"

var (
	t0       = time.Unix(1_700_000_000, 0)
	loopback = netip.MustParseAddr("127.0.0.1")
)

func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustNew(t testing.TB, c Config) *Codec {
	t.Helper()
	if c.Secret == "" {
		c.Secret = testSecret
	}
	k, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mint issues tk for ip with k, failing t on error.
func mint(t testing.TB, k *Codec, tk Ticket, ip netip.Addr) string {
	t.Helper()
	v, err := k.Issue(tk, ip)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type vector struct {
	Name, Format, Digest, Secret, IP string
	TS                               int64
	UID                              string
	Tokens                           []string
	Data                             string
	Raw, Cookie                      string
	Zope                             string // plone.session: the cookie URL-quoted by Zope
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return vs
}

var (
	digestByName = map[string]Digest{"MD5": LegacyMD5, "SHA256": SHA256, "SHA512": SHA512}
	formatByName = map[string]Format{"mod_auth_tkt": ModAuthTkt, "plone.session": Plone}
)

// The vectors come from testdata/gen_vectors.py, an independent hashlib
// implementation of the formats.
func TestIssueAndParseMatchIndependentVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			ip := netip.MustParseAddr(v.IP)
			format, ok := formatByName[v.Format]
			if !ok {
				t.Fatalf("unknown format %q", v.Format)
			}
			k := mustNew(t, Config{
				Secret:   v.Secret,
				Format:   format,
				Digest:   digestByName[v.Digest],
				IgnoreIP: ip == netip.IPv4Unspecified(),
				Now:      fixedNow(time.Unix(v.TS, 0)),
			})
			want := Ticket{UID: v.UID, Tokens: v.Tokens, UserData: v.Data, Issued: time.Unix(v.TS, 0)}
			if len(want.Tokens) == 0 {
				want.Tokens = nil
			}
			got, err := k.Issue(want, ip)
			if err != nil {
				t.Fatal(err)
			}
			if got != v.Cookie {
				t.Fatalf("Issue = %s\nwant   %s", got, v.Cookie)
			}
			forms := map[string]string{
				"base64":          v.Cookie,
				"base64-unpadded": strings.TrimRight(v.Cookie, "="),
				"base64-escaped":  url.QueryEscape(v.Cookie),
				"quoted":          `"` + v.Cookie + `"`,
			}
			if v.Raw != "" {
				forms["raw"] = v.Raw
				forms["raw-escaped"] = strings.ReplaceAll(url.PathEscape(v.Raw), "!", "%21")
			}
			if v.Zope != "" {
				forms["zope 4.8, 5.5 and later"] = v.Zope
				forms["older zope"] = `"` + v.Zope + `"`
			}
			for form, value := range forms {
				tk, refresh, err := k.Parse(value, ip)
				if err != nil {
					t.Fatalf("%s: Parse: %v", form, err)
				}
				if refresh {
					t.Errorf("%s: fresh ticket asks for refresh", form)
				}
				if !reflect.DeepEqual(tk, want) {
					t.Errorf("%s: Parse = %+v, want %+v", form, tk, want)
				}
			}
		})
	}
}

func TestIssueRefusesFieldsThatBreakTheFormat(t *testing.T) {
	k := mustNew(t, Config{IgnoreIP: true})
	tests := []struct {
		name string
		tk   Ticket
	}{
		{"empty uid", Ticket{UID: ""}},
		{"bang in uid", Ticket{UID: "al!ce"}},
		{"NUL in uid", Ticket{UID: "al\x00ce"}},
		{"newline in uid", Ticket{UID: "alice\nadmin"}},
		{"DEL in uid", Ticket{UID: "alice\x7f"}},
		{"bang in token", Ticket{UID: "alice", Tokens: []string{"a!b"}}},
		{"comma in token", Ticket{UID: "alice", Tokens: []string{"a,b"}}},
		{"NUL in token", Ticket{UID: "alice", Tokens: []string{"a\x00"}}},
		{"empty token", Ticket{UID: "alice", Tokens: []string{"a", ""}}},
		{"tab in token", Ticket{UID: "alice", Tokens: []string{"a\tb"}}},
		{"NUL in data", Ticket{UID: "alice", UserData: "x\x00y"}},
		{"latin-1 uid", Ticket{UID: "j\xf6rg"}},
		{"truncated UTF-8 in uid", Ticket{UID: "zo\xc3"}},
		{"latin-1 token", Ticket{UID: "alice", Tokens: []string{"gr\xfcppe"}}},
		{"latin-1 data", Ticket{UID: "alice", UserData: "na\xefve"}},
		{"before 1970", Ticket{UID: "alice", Issued: time.Unix(-1, 0)}},
		{"after 2106", Ticket{UID: "alice", Issued: time.Unix(1<<32, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Issue(tt.tk, loopback)
			if !errors.Is(err, ErrInvalidField) {
				t.Fatalf("err = %v, want ErrInvalidField", err)
			}
		})
	}
	if _, err := k.Issue(Ticket{UID: "alice", UserData: strings.Repeat("x", 5000)}, loopback); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: err = %v, want ErrTooLarge", err)
	}
}

func TestUserDataWithBangKeepsTokensEmpty(t *testing.T) {
	k := mustNew(t, Config{IgnoreIP: true, Now: fixedNow(t0)})
	v, err := k.Issue(Ticket{UID: "alice", UserData: "a!b!c"}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	tk, _, err := k.Parse(v, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Tokens != nil || tk.UserData != "a!b!c" {
		t.Fatalf("got tokens %q data %q", tk.Tokens, tk.UserData)
	}
}

// tamper returns the base64 of the raw ticket with f applied.
func tamper(t *testing.T, cookie string, f func(string) string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(cookie)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString([]byte(f(string(raw))))
}

func TestParseRefuses(t *testing.T) {
	now := t0
	bound := mustNew(t, Config{Now: fixedNow(now), Timeout: time.Hour})
	good := Ticket{UID: "alice", Tokens: []string{"editor"}, UserData: "d", Issued: now}
	cookie, err := bound.Issue(good, loopback)
	if err != nil {
		t.Fatal(err)
	}
	other := mustNew(t, Config{Secret: "some-other-secret-of-length", Now: fixedNow(now)})
	otherCookie, _ := other.Issue(good, loopback)
	md5 := mustNew(t, Config{Digest: LegacyMD5, Now: fixedNow(now)})
	md5Cookie, _ := md5.Issue(good, loopback)
	old := good
	old.Issued = now.Add(-time.Hour - time.Second)
	expired, _ := bound.Issue(old, loopback)
	future := good
	future.Issued = now.Add(DefaultMaxSkew + time.Second)
	fromFuture, _ := bound.Issue(future, loopback)
	digestLen := SHA256.hexLen()

	tests := []struct {
		name   string
		value  string
		client netip.Addr
		want   error
	}{
		{"empty", "", loopback, ErrMalformed},
		{"not base64", "@@@@", loopback, ErrMalformed},
		{"short", base64.StdEncoding.EncodeToString([]byte("abc!")), loopback, ErrMalformed},
		{"no separator", tamper(t, cookie, func(s string) string { return strings.ReplaceAll(s, "!", "?") }), loopback, ErrMalformed},
		{"empty uid", tamper(t, cookie, func(s string) string { return s[:digestLen+8] + s[digestLen+8+len("alice"):] }), loopback, ErrMalformed},
		{"bad timestamp", tamper(t, cookie, func(s string) string { return s[:digestLen] + "zzzzzzzz" + s[digestLen+8:] }), loopback, ErrMalformed},
		{"NUL", tamper(t, cookie, func(s string) string { return s + "\x00" }), loopback, ErrMalformed},
		{"bad escape", "abc%21%zz" + strings.Repeat("0", 80), loopback, ErrMalformed},
		{"too large", strings.Repeat("A", DefaultMaxLength+1), loopback, ErrTooLarge},
		{"tampered uid", tamper(t, cookie, func(s string) string { return strings.Replace(s, "alice", "alicf", 1) }), loopback, ErrBadSignature},
		{"tampered tokens", tamper(t, cookie, func(s string) string { return strings.Replace(s, "editor", "admin", 1) }), loopback, ErrBadSignature},
		{"tampered data", tamper(t, cookie, func(s string) string { return s + "x" }), loopback, ErrBadSignature},
		{"tampered timestamp", tamper(t, cookie, func(s string) string {
			b := []byte(s)
			b[digestLen+7] ^= 1
			return string(b)
		}), loopback, ErrBadSignature},
		{"uppercase digest", tamper(t, cookie, func(s string) string { return strings.ToUpper(s[:digestLen]) + s[digestLen:] }), loopback, ErrBadSignature},
		{"wrong IP", cookie, netip.MustParseAddr("127.0.0.2"), ErrBadSignature},
		{"wrong secret", otherCookie, loopback, ErrBadSignature},
		{"other digest type", md5Cookie, loopback, ErrMalformed},
		{"IPv6 client", cookie, netip.IPv6Loopback(), ErrNotIPv4},
		{"no client address", cookie, netip.Addr{}, ErrNotIPv4},
		{"expired", expired, loopback, ErrExpired},
		{"future", fromFuture, loopback, ErrNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := bound.Parse(tt.value, tt.client)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseAcceptsIPv4MappedClient(t *testing.T) {
	k := mustNew(t, Config{Now: fixedNow(t0)})
	v, err := k.Issue(Ticket{UID: "alice"}, netip.MustParseAddr("::ffff:127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.Parse(v, loopback); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Issue(Ticket{UID: "alice"}, netip.IPv6Loopback()); !errors.Is(err, ErrNotIPv4) {
		t.Fatalf("IPv6 issue: err = %v, want ErrNotIPv4", err)
	}
}

func TestParseRefreshAndTimeout(t *testing.T) {
	tests := []struct {
		name        string
		timeout     time.Duration
		ratio       float64
		age         time.Duration
		wantRefresh bool
		wantErr     error
	}{
		{"fresh", time.Minute, 0.5, 0, false, nil},
		{"half left", time.Minute, 0.5, 30 * time.Second, false, nil},
		{"less than half left", time.Minute, 0.5, 31 * time.Second, true, nil},
		{"last second", time.Minute, 0.5, time.Minute, true, nil},
		{"expired", time.Minute, 0.5, time.Minute + time.Second, false, ErrExpired},
		{"never refresh", time.Minute, -1, 59 * time.Second, false, nil},
		{"always refresh", time.Minute, 1, time.Second, true, nil},
		{"default ratio", time.Minute, 0, 31 * time.Second, true, nil},
		{"default timeout", 0, 0, DefaultTimeout, true, nil},
		{"default timeout expired", 0, 0, DefaultTimeout + time.Second, false, ErrExpired},
		{"no timeout", -1, 0, 20 * 365 * 24 * time.Hour, false, nil},
		{"small skew", time.Minute, 0.5, -time.Minute, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustNew(t, Config{IgnoreIP: true, Timeout: tt.timeout, RefreshRatio: tt.ratio, Now: fixedNow(t0)})
			v, err := k.Issue(Ticket{UID: "alice", Issued: t0.Add(-tt.age)}, netip.Addr{})
			if err != nil {
				t.Fatal(err)
			}
			_, refresh, err := k.Parse(v, netip.Addr{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if refresh != tt.wantRefresh {
				t.Fatalf("refresh = %v, want %v", refresh, tt.wantRefresh)
			}
		})
	}
}

func TestOldSecretVerifiesButForcesRefresh(t *testing.T) {
	const oldSecret = "the-old-secret-0123456789"
	before := mustNew(t, Config{Secret: oldSecret, IgnoreIP: true, Now: fixedNow(t0)})
	after := mustNew(t, Config{OldSecret: oldSecret, IgnoreIP: true, Now: fixedNow(t0)})
	v, _ := before.Issue(Ticket{UID: "alice"}, netip.Addr{})
	tk, refresh, err := after.Parse(v, netip.Addr{})
	if err != nil || !refresh || tk.UID != "alice" {
		t.Fatalf("Parse = %+v, %v, %v; want alice, refresh", tk, refresh, err)
	}
	v2, _ := after.Issue(tk, netip.Addr{})
	if _, _, err := before.Parse(v2, netip.Addr{}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("re-issued ticket must use the new secret; old-only codec says %v", err)
	}
	if _, refresh, err := after.Parse(v2, netip.Addr{}); err != nil || refresh {
		t.Fatalf("re-issued: refresh %v err %v", refresh, err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		c    Config
	}{
		{"no secret", Config{}},
		{"short secret", Config{Secret: "short"}},
		{"short old secret", Config{Secret: testSecret, OldSecret: "short"}},
		{"empty secret even when short ones are allowed", Config{AllowShortSecret: true}},
		{"NUL secret", Config{Secret: testSecret + "\x00"}},
		{"NUL old secret", Config{Secret: testSecret, OldSecret: "a\x00"}},
		{"unknown digest", Config{Secret: testSecret, Digest: 9}},
		{"unknown format", Config{Secret: testSecret, Format: 9}},
		{"plone.session with SHA512", Config{Secret: testSecret, Format: Plone, Digest: SHA512}},
		{"sub-second timeout", Config{Secret: testSecret, Timeout: time.Millisecond}},
		{"ratio above 1", Config{Secret: testSecret, RefreshRatio: 1.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.c); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

func TestDigestString(t *testing.T) {
	for d, want := range map[Digest]string{SHA256: "SHA256", SHA512: "SHA512", LegacyMD5: "MD5", 7: "Digest(7)"} {
		if got := d.String(); got != want {
			t.Errorf("%d: %q, want %q", d, got, want)
		}
	}
}

func TestHasAnyToken(t *testing.T) {
	tk := Ticket{Tokens: []string{"editor", "reader"}}
	tests := []struct {
		want []string
		ok   bool
	}{
		{nil, true},
		{[]string{"admin"}, false},
		{[]string{"admin", "reader"}, true},
		{[]string{"edit"}, false},
	}
	for _, tt := range tests {
		if got := tk.HasAnyToken(tt.want...); got != tt.ok {
			t.Errorf("HasAnyToken(%q) = %v", tt.want, got)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	k := mustNew(b, Config{Now: fixedNow(t0)})
	v, _ := k.Issue(Ticket{UID: "alice", Tokens: []string{"a", "b"}, UserData: "data"}, loopback)
	for b.Loop() {
		if _, _, err := k.Parse(v, loopback); err != nil {
			b.Fatal(err)
		}
	}
}

// A deployment that already runs with a short secret can be joined, but
// only when asked for by name, and New says so in the log without
// revealing the secret.
func TestAllowShortSecretWarns(t *testing.T) {
	const short, shortOld = "plone-s3cret", "old-s3cret"
	tests := []struct {
		name      string
		c         Config
		wantWarns int
	}{
		{"short secret", Config{Secret: short}, 1},
		{"short old secret", Config{Secret: testSecret, OldSecret: shortOld}, 1},
		{"both short", Config{Secret: short, OldSecret: shortOld}, 2},
		{"long secrets", Config{Secret: testSecret, OldSecret: testSecret + "-old"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.c.AllowShortSecret = true
			tt.c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
			tt.c.IgnoreIP = true
			k, err := New(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			logged := buf.String()
			if n := strings.Count(logged, "level=WARN"); n != tt.wantWarns {
				t.Fatalf("%d warnings, want %d:\n%s", n, tt.wantWarns, logged)
			}
			if tt.wantWarns > 0 && !strings.Contains(logged, "AllowShortSecret") {
				t.Errorf("warning does not name the option: %s", logged)
			}
			for _, secret := range []string{short, shortOld} {
				if strings.Contains(logged, secret) {
					t.Errorf("the log reveals a secret: %s", logged)
				}
			}
			v, err := k.Issue(Ticket{UID: "alice"}, netip.Addr{})
			if err != nil {
				t.Fatal(err)
			}
			if tk, _, err := k.Parse(v, netip.Addr{}); err != nil || tk.UID != "alice" {
				t.Fatalf("Parse = %+v, %v", tk, err)
			}
		})
	}
}

func TestAllowShortSecretWarnsOnDefaultLogger(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	if _, err := New(Config{Secret: "short", AllowShortSecret: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "level=WARN") {
		t.Fatalf("no warning on slog.Default(): %q", buf.String())
	}
}
