package ticket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The plone.session interop tests run its real tktauth module with python3
// through testdata/tktauth_driver.py. The module is found in
// ../shared/interop/plone next to the repository root (the directory of
// go.work), or under $SESAME_INTEROP_DIR. They skip when python3 or the
// module is missing, unless SESAME_REQUIRE_SERVERS=1, when they fail.

const tktauthHint = "set SESAME_INTEROP_DIR to the directory holding plone/tktauth.py " +
	"(plone.session's module) and install python3 to run the plone.session interop tests"

// tktauth runs plone.session's tktauth module.
type tktauth struct {
	python, driver, dir string
}

func findTktauth(t *testing.T) *tktauth {
	t.Helper()
	dir := os.Getenv("SESAME_INTEROP_DIR")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		root := wd
		for {
			if _, err := os.Stat(filepath.Join(root, "go.work")); err == nil {
				break
			}
			up := filepath.Dir(root)
			if up == root {
				skipOrFail(t, tktauthHint, "no go.work in %s or above it, so ../shared/interop cannot be located", wd)
			}
			root = up
		}
		dir = filepath.Join(root, "..", "shared", "interop")
	}
	if _, err := os.Stat(filepath.Join(dir, "plone", "tktauth.py")); err != nil {
		skipOrFail(t, tktauthHint, "plone.session's tktauth.py not found (%v)", err)
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		skipOrFail(t, tktauthHint, "python3 not found")
	}
	driver, err := filepath.Abs(filepath.Join("testdata", "tktauth_driver.py"))
	if err != nil {
		t.Fatal(err)
	}
	return &tktauth{python: python, driver: driver, dir: dir}
}

// tktReq is one request to the driver; see its doc string.
type tktReq struct {
	Op         string   `json:"op"`
	Secret     string   `json:"secret"`
	UserID     string   `json:"userid"`
	Tokens     []string `json:"tokens"`
	UserData   string   `json:"user_data"`
	IP         string   `json:"ip"`
	Timestamp  int64    `json:"timestamp"`
	ModAuthTkt bool     `json:"mod_auth_tkt"`
	Cookie     string   `json:"cookie"`
	Timeout    int64    `json:"timeout"`
	Now        int64    `json:"now"`
}

type tktResp struct {
	Base64    string   `json:"base64"`
	ZopeNew   string   `json:"zope_new"`
	ZopeOld   string   `json:"zope_old"`
	Valid     bool     `json:"valid"`
	Error     string   `json:"error"`
	UserID    string   `json:"userid"`
	Tokens    []string `json:"tokens"`
	UserData  string   `json:"user_data"`
	Timestamp int64    `json:"timestamp"`
}

// run sends reqs to one python3 process and returns its answers in order.
func (p *tktauth) run(t *testing.T, reqs []tktReq) []tktResp {
	t.Helper()
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.python, p.driver, p.dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tktauth driver: %v\n%s", err, stderr.Bytes())
	}
	var resps []tktResp
	if err := json.Unmarshal(out, &resps); err != nil {
		t.Fatalf("tktauth driver output: %v\n%s", err, out)
	}
	if len(resps) != len(reqs) {
		t.Fatalf("tktauth driver answered %d of %d requests", len(resps), len(reqs))
	}
	return resps
}

// batch collects requests and the checks to run on their answers, so that
// one python3 process serves a whole test.
type batch struct {
	reqs   []tktReq
	checks []func(tktResp)
}

func (b *batch) add(r tktReq, check func(tktResp)) {
	if r.Tokens == nil {
		r.Tokens = []string{}
	}
	b.reqs = append(b.reqs, r)
	b.checks = append(b.checks, check)
}

func (b *batch) run(t *testing.T, p *tktauth) {
	t.Helper()
	for i, resp := range p.run(t, b.reqs) {
		b.checks[i](resp)
	}
}

// ipString is how tktauth takes the address: "0.0.0.0" when it is ignored.
func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

func sameTicket(a, b Ticket) bool {
	return a.UID == b.UID && a.UserData == b.UserData && a.Issued.Equal(b.Issued) &&
		strings.Join(a.Tokens, ",") == strings.Join(b.Tokens, ",")
}

func TestPloneInterop(t *testing.T) {
	py := findTktauth(t)
	now := time.Now().Truncate(time.Second)
	const (
		timeout     = time.Hour
		secret      = "plone-interop-shared-secret-4e1b9c"
		shortSecret = "pl0ne"
		otherSecret = "not-the-plone-secret-at-all-77d1"
	)
	ip1, ip2 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	issued := now.Add(-10 * time.Minute)

	modes := []struct {
		name       string
		digest     Digest
		modAuthTkt bool
	}{
		{"HMAC default", SHA256, false},
		{"mod_auth_tkt mode", LegacyMD5, true},
	}
	cases := []struct {
		name   string
		tk     Ticket
		ip     netip.Addr // the zero Addr: IP ignored (plone.session's way)
		secret string
	}{
		{name: "plain", tk: Ticket{UID: "alice"}},
		{name: "space in uid", tk: Ticket{UID: "John Smith"}},
		{name: "@ in uid", tk: Ticket{UID: "alice@example.org"}},
		{name: "UTF-8", tk: Ticket{UID: "jörg.müller-用户", Tokens: []string{"Grüppe"}, UserData: "naïve café ☕"}},
		{name: "tokens", tk: Ticket{UID: "alice", Tokens: []string{"Manager", "Site Administrator"}}},
		{name: "user data", tk: Ticket{UID: "alice", UserData: `Alice Example; id=7, "quoted" 100% +/= \ end`}},
		{name: "tokens and data", tk: Ticket{UID: "bob@example.org", Tokens: []string{"Member"}, UserData: "Bob"}},
		{name: "IP bound", tk: Ticket{UID: "alice@example.org", Tokens: []string{"Member"}, UserData: "d"}, ip: ip2},
		{name: "short shared secret", tk: Ticket{UID: "alice"}, secret: shortSecret},
	}
	quiet := slog.New(slog.DiscardHandler)

	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			codec := func(secret string, bound bool) *Codec {
				return mustNew(t, Config{
					Format: Plone, Digest: mode.digest, Secret: secret, AllowShortSecret: len(secret) < MinSecretLength,
					Logger: quiet, IgnoreIP: !bound, Timeout: timeout, Now: fixedNow(now),
				})
			}
			var b batch
			for _, tc := range cases {
				if tc.secret == "" {
					tc.secret = secret
				}
				tk := tc.tk
				tk.Issued = issued
				k := codec(tc.secret, tc.ip.IsValid())
				iss := &Issuer{Codec: k}
				w := httptest.NewRecorder()
				r := request("/")
				r.RemoteAddr = ipString(tc.ip) + ":40000"
				if err := iss.SetCookie(w, r, tk); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				name, goCookie, _ := strings.Cut(strings.SplitN(w.Header().Get("Set-Cookie"), ";", 2)[0], "=")
				if name != PloneCookieName {
					t.Fatalf("%s: cookie %q, want %s", tc.name, name, PloneCookieName)
				}
				base := tktReq{
					Secret: tc.secret, UserID: tk.UID, Tokens: tk.Tokens, UserData: tk.UserData,
					IP: ipString(tc.ip), Timestamp: issued.Unix(), ModAuthTkt: mode.modAuthTkt,
					Timeout: int64(timeout / time.Second), Now: now.Unix(),
				}

				create := base
				create.Op = "create"
				b.add(create, func(resp tktResp) {
					t.Run("python to go/"+tc.name, func(t *testing.T) {
						if resp.Base64 != goCookie {
							t.Errorf("Go issues %s\ntktauth   %s", goCookie, resp.Base64)
						}
						for form, v := range map[string]string{"base64": resp.Base64, "zope 4.8, 5.5 and later": resp.ZopeNew, "older zope": resp.ZopeOld} {
							r := request("/")
							r.RemoteAddr = ipString(tc.ip) + ":40000"
							r.Header.Set("Cookie", "other=1; "+PloneCookieName+"="+v)
							got, refresh, err := iss.Authenticate(r)
							if err != nil || refresh || !sameTicket(got, tk) {
								t.Errorf("%s %q: Go read %+v, refresh %v, err %v; want %+v", form, v, got, refresh, err, tk)
							}
						}
					})
				})
				validate := base
				validate.Op, validate.Cookie = "validate", goCookie
				b.add(validate, func(resp tktResp) {
					t.Run("go to python/"+tc.name, func(t *testing.T) {
						want := tktResp{Valid: true, UserID: tk.UID, Tokens: tk.Tokens, UserData: tk.UserData, Timestamp: issued.Unix()}
						if want.Tokens == nil {
							want.Tokens = []string{}
						}
						if !reflect.DeepEqual(resp, want) {
							t.Errorf("tktauth read %+v\nwant          %+v", resp, want)
						}
					})
				})
			}

			// Refusals, each seen from both sides.
			bound, unbound := codec(secret, true), codec(secret, false)
			alice := Ticket{UID: "alice", Tokens: []string{"Member"}, UserData: "Alice", Issued: issued}
			pyReq := func(op string, tk Ticket, ip netip.Addr) tktReq {
				return tktReq{
					Op: op, Secret: secret, UserID: tk.UID, Tokens: tk.Tokens, UserData: tk.UserData,
					IP: ipString(ip), Timestamp: tk.Issued.Unix(), ModAuthTkt: mode.modAuthTkt,
					Timeout: int64(timeout / time.Second), Now: now.Unix(),
				}
			}
			pyRefuses := func(name, cookie string, r tktReq) {
				r.Op, r.Cookie = "validate", cookie
				b.add(r, func(resp tktResp) {
					t.Run("python refuses/"+name, func(t *testing.T) {
						if resp.Valid {
							t.Errorf("tktauth accepted %+v", resp)
						}
					})
				})
			}
			goRefuses := func(name string, k *Codec, ip netip.Addr, want error, r tktReq) {
				r.Op = "create"
				b.add(r, func(resp tktResp) {
					t.Run("go refuses/"+name, func(t *testing.T) {
						if _, _, err := k.Parse(resp.Base64, ip); !errors.Is(err, want) {
							t.Errorf("Go: err = %v, want %v", err, want)
						}
					})
				})
			}
			pyAccepts := func(name, cookie string, r tktReq) {
				r.Op, r.Cookie = "validate", cookie
				b.add(r, func(resp tktResp) {
					t.Run("python accepts/"+name, func(t *testing.T) {
						if !resp.Valid {
							t.Errorf("tktauth refused: %+v", resp)
						}
					})
				})
			}

			// Expiry: plone.session's last valid second is one before Apache's.
			lastSecond := alice
			lastSecond.Issued = now.Add(-timeout + time.Second)
			if _, _, err := unbound.Parse(mint(t, unbound, lastSecond, netip.Addr{}), ip1); err != nil {
				t.Fatalf("Go refuses its ticket in its last second: %v", err)
			}
			pyAccepts("last second", mint(t, unbound, lastSecond, netip.Addr{}), pyReq("", lastSecond, netip.Addr{}))
			atTimeout := alice
			atTimeout.Issued = now.Add(-timeout)
			pyRefuses("expired at the timeout", mint(t, unbound, atTimeout, netip.Addr{}), pyReq("", atTimeout, netip.Addr{}))
			goRefuses("expired at the timeout", unbound, ip1, ErrExpired, pyReq("", atTimeout, netip.Addr{}))
			old := alice
			old.Issued = now.Add(-3 * timeout)
			pyRefuses("expired", mint(t, unbound, old, netip.Addr{}), pyReq("", old, netip.Addr{}))
			goRefuses("expired", unbound, ip1, ErrExpired, pyReq("", old, netip.Addr{}))

			// Addresses.
			pyRefuses("wrong IP", mint(t, bound, alice, ip2), pyReq("", alice, ip1))
			goRefuses("wrong IP", bound, ip1, ErrBadSignature, pyReq("", alice, ip2))
			pyRefuses("IP-bound ticket where IP is ignored", mint(t, bound, alice, ip2), pyReq("", alice, netip.Addr{}))
			goRefuses("IP-bound ticket where IP is ignored", unbound, ip2, ErrBadSignature, pyReq("", alice, ip2))

			// Secrets, tampering, the other mode.
			pyRefuses("wrong secret", mint(t, codec(otherSecret, false), alice, netip.Addr{}), pyReq("", alice, netip.Addr{}))
			other := pyReq("", alice, netip.Addr{})
			other.Secret = otherSecret
			goRefuses("wrong secret", unbound, ip1, ErrBadSignature, other)
			tampered := tamper(t, mint(t, unbound, alice, netip.Addr{}), func(s string) string {
				return s[:ploneDigestLen] + strings.Replace(s[ploneDigestLen:], "alice", "admin", 1)
			})
			pyRefuses("tampered uid", tampered, pyReq("", alice, netip.Addr{}))
			if _, _, err := unbound.Parse(tampered, ip1); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Go on the tampered ticket: %v", err)
			}
			otherMode := pyReq("", alice, netip.Addr{})
			otherMode.ModAuthTkt = !mode.modAuthTkt
			pyRefuses("the other mode's ticket", mint(t, unbound, alice, netip.Addr{}), otherMode)
			goRefuses("the other mode's ticket", unbound, ip1, ErrBadSignature, otherMode)

			// "!" in the user data: tktauth writes such a ticket but cannot
			// read it back, so Issue refuses it and Parse does not take it.
			bang := alice
			bang.UserData = "a!b"
			if _, err := unbound.Issue(bang, netip.Addr{}); !errors.Is(err, ErrInvalidField) {
				t.Errorf("Go issues user data with \"!\": %v", err)
			}
			bangReq := pyReq("create", bang, netip.Addr{})
			bangReq.Tokens = []string{}
			b.add(bangReq, func(resp tktResp) {
				var again batch
				again.add(tktReq{Op: "validate", Secret: secret, Cookie: resp.Base64, IP: "0.0.0.0", ModAuthTkt: mode.modAuthTkt,
					Timeout: int64(timeout / time.Second), Now: now.Unix()}, func(v tktResp) {
					t.Run("python refuses/its own ticket with ! in the data", func(t *testing.T) {
						if v.Valid {
							t.Errorf("tktauth accepted %+v", v)
						}
					})
				})
				again.run(t, py)
				if _, _, err := unbound.Parse(resp.Base64, ip1); err == nil {
					t.Errorf("Go accepts tktauth's ticket with \"!\" in the data")
				}
			})

			b.run(t, py)
		})
	}
}
