package ticket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-go/sesame/store/storetest"
)

// The interop tests run a real Apache 2.4 with mod_auth_tkt (Debian
// packages apache2 and libapache2-mod-auth-tkt) on a free 127.0.0.1 port.
// They skip when either is missing, unless SESAME_REQUIRE_SERVERS=1, when
// they fail.

const (
	apacheModules = "/usr/lib/apache2/modules"
	apacheSecret  = "apache-interop-secret-5b0c8f0e"
	apacheOld     = "apache-interop-old-secret-19d2"
	loginURL      = "http://login.test/login"
)

// apacheVhosts maps a virtual host name to its digest type: digest type and
// secrets are per-server settings in mod_auth_tkt.
var apacheVhosts = []struct {
	host   string
	digest Digest
}{
	{"md5.test", LegacyMD5},
	{"sha256.test", SHA256},
	{"sha512.test", SHA512},
}

// apacheLocations is the per-vhost configuration. Every location runs
// env.cgi, which prints REMOTE_USER and the TKT variables.
const apacheLocations = `
  ScriptAlias /ip %[1]s/env.cgi
  ScriptAlias /noip %[1]s/env.cgi
  ScriptAlias /tokens %[1]s/env.cgi
  ScriptAlias /short %[1]s/env.cgi
  ScriptAlias /shortip %[1]s/env.cgi
  <Location />
    AuthType None
    Require valid-user
    TKTAuthLoginURL ` + loginURL + `
    TKTAuthTimeout 1h
    TKTAuthTimeoutRefresh 0
  </Location>
  <Location /noip>
    TKTAuthIgnoreIP on
  </Location>
  <Location /tokens>
    TKTAuthIgnoreIP on
    TKTAuthToken admin editor
  </Location>
  <Location /short>
    TKTAuthIgnoreIP on
    TKTAuthTimeout 60s
    TKTAuthTimeoutRefresh 0.5
  </Location>
  <Location /shortip>
    TKTAuthTimeout 60s
    TKTAuthTimeoutRefresh 0.5
  </Location>
`

const envCGI = `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
printf 'REMOTE_USER=%s\nREMOTE_USER_TOKENS=%s\nREMOTE_USER_DATA=%s\nREMOTE_ADDR=%s\n' \
  "$REMOTE_USER" "$REMOTE_USER_TOKENS" "$REMOTE_USER_DATA" "$REMOTE_ADDR"
`

// apacheHint says how to get what the Apache interop tests need.
const apacheHint = "install the Debian packages apache2 and libapache2-mod-auth-tkt to run the interop tests"

// skipOrFail skips the test when a peer is missing, saying what hint says
// to do about it, or fails it when CI demands the peers.
func skipOrFail(t *testing.T, hint, format string, args ...any) {
	t.Helper()
	storetest.ServerMissing(t, fmt.Sprintf(format, args...)+"; "+hint)
}

type apache struct {
	port string
	dir  string
}

func startApache(t *testing.T) *apache {
	t.Helper()
	bin, err := exec.LookPath("apache2")
	if err != nil {
		bin = "/usr/sbin/apache2"
		if _, err := os.Stat(bin); err != nil {
			skipOrFail(t, apacheHint, "apache2 not found")
		}
	}
	if _, err := os.Stat(filepath.Join(apacheModules, "mod_auth_tkt.so")); err != nil {
		skipOrFail(t, apacheHint, "mod_auth_tkt not installed (%v)", err)
	}
	// Apache's children and the CGI run as an unprivileged user when we are
	// root, so the directory must be world-readable (t.TempDir is not).
	dir, err := os.MkdirTemp("", "sesame-apache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "env.cgi"), []byte(envCGI), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	var conf strings.Builder
	for _, m := range []string{"mpm_prefork", "authn_core", "authz_core", "authz_user", "alias", "cgi", "auth_tkt"} {
		fmt.Fprintf(&conf, "LoadModule %s_module %s/mod_%s.so\n", m, apacheModules, m)
	}
	fmt.Fprintf(&conf, "ServerRoot %[1]s\nDefaultRuntimeDir %[1]s\nPidFile %[1]s/httpd.pid\nErrorLog %[1]s/error.log\nLogLevel info\n", dir)
	fmt.Fprintf(&conf, "Listen 127.0.0.1:%s\nServerName localhost\nStartServers 2\n", port)
	if os.Geteuid() == 0 {
		name := "www-data"
		if _, err := user.Lookup(name); err != nil {
			name = "nobody"
		}
		grp := name
		if _, err := user.LookupGroup(grp); err != nil {
			grp = "nogroup"
		}
		fmt.Fprintf(&conf, "User %s\nGroup %s\n", name, grp)
	}
	for _, v := range apacheVhosts {
		fmt.Fprintf(&conf, "<VirtualHost 127.0.0.1:%s>\n  ServerName %s\n", port, v.host)
		fmt.Fprintf(&conf, "  TKTAuthSecret %q\n  TKTAuthSecretOld %q\n  TKTAuthDigestType %s\n", apacheSecret, apacheOld, v.digest)
		fmt.Fprintf(&conf, apacheLocations, dir)
		conf.WriteString("</VirtualHost>\n")
	}
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-f", confPath, "-DFOREGROUND")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	// Apache's prefork MPM signals its whole process group on shutdown:
	// give it its own, or it stops the test binary too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting apache2: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	a := &apache{port: port, dir: dir}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			a.logTail(t)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return a
		}
		select {
		case <-exited:
			a.logTail(t)
			t.Fatalf("apache2 exited: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("apache2 did not listen on %s: %v\n%s", port, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (a *apache) logTail(t *testing.T) {
	b, _ := os.ReadFile(filepath.Join(a.dir, "error.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	t.Logf("apache error.log (tail):\n%s", b)
}

type apacheReply struct {
	status   int
	location string
	env      map[string]string
	cookie   string // value of a Set-Cookie for auth_tkt, if any
}

// get requests path on vhost with the ticket cookie, from source address
// src (any 127.0.0.0/8 address works on Linux loopback).
func (a *apache) get(t *testing.T, src, vhost, path, ticket string) apacheReply {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	client := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "tcp4", "127.0.0.1:"+a.port)
			},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	req, err := http.NewRequest("GET", "http://"+vhost+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ticket != "" {
		req.Header.Set("Cookie", DefaultCookieName+"="+ticket)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := apacheReply{status: resp.StatusCode, location: resp.Header.Get("Location"), env: map[string]string{}}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			r.env[k] = v
		}
	}
	for _, c := range resp.Cookies() {
		if c.Name == DefaultCookieName {
			r.cookie = c.Value
		}
	}
	return r
}

func TestApacheInterop(t *testing.T) {
	if testing.Short() && os.Getenv("SESAME_REQUIRE_SERVERS") != "1" {
		t.Skip("interop with a real Apache skipped in -short mode")
	}
	a := startApache(t)
	ip1, ip2 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")

	for _, vh := range apacheVhosts {
		t.Run(vh.digest.String(), func(t *testing.T) {
			codec := func(ignoreIP bool, timeout time.Duration, secret string) *Codec {
				return mustNew(t, Config{Secret: secret, Digest: vh.digest, IgnoreIP: ignoreIP, Timeout: timeout, RefreshRatio: 0.5})
			}
			bound := codec(false, time.Hour, apacheSecret)
			unbound := codec(true, time.Hour, apacheSecret)
			short := codec(true, time.Minute, apacheSecret)
			shortBound := codec(false, time.Minute, apacheSecret)
			wrongSecret := codec(true, time.Hour, "not-the-apache-secret-at-all")
			oldSecret := codec(true, time.Hour, apacheOld)
			now := time.Now()
			full := Ticket{UID: "alice@example.org", Tokens: []string{"editor", "reader"}, UserData: "Alice Example!id=7"}
			bare := Ticket{UID: "bob"}

			accepted := func(t *testing.T, r apacheReply, tk Ticket) {
				t.Helper()
				if r.status != 200 {
					t.Fatalf("Apache refused a Go ticket: status %d, Location %q", r.status, r.location)
				}
				want := map[string]string{
					"REMOTE_USER":        tk.UID,
					"REMOTE_USER_TOKENS": strings.Join(tk.Tokens, ","),
					"REMOTE_USER_DATA":   tk.UserData,
				}
				for k, v := range want {
					if r.env[k] != v {
						t.Errorf("%s = %q, want %q", k, r.env[k], v)
					}
				}
			}
			refused := func(t *testing.T, r apacheReply) {
				t.Helper()
				if r.status != http.StatusTemporaryRedirect || !strings.HasPrefix(r.location, loginURL+"?back=") {
					t.Fatalf("Apache accepted a bad ticket: status %d, Location %q, env %v", r.status, r.location, r.env)
				}
			}
			goRefuses := func(t *testing.T, c *Codec, v string, ip netip.Addr, want error) {
				t.Helper()
				if _, _, err := c.Parse(v, ip); !errors.Is(err, want) {
					t.Fatalf("Go: err = %v, want %v", err, want)
				}
			}

			t.Run("go to apache/IP bound", func(t *testing.T) {
				v := mint(t, bound, full, ip1)
				accepted(t, a.get(t, "127.0.0.1", vh.host, "/ip", v), full)
				if _, _, err := bound.Parse(v, ip1); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("go to apache/IP bound to other source", func(t *testing.T) {
				v := mint(t, bound, bare, ip2)
				accepted(t, a.get(t, "127.0.0.2", vh.host, "/ip", v), bare)
			})
			t.Run("go to apache/IP ignored", func(t *testing.T) {
				v := mint(t, unbound, bare, netip.Addr{})
				accepted(t, a.get(t, "127.0.0.1", vh.host, "/noip", v), bare)
				accepted(t, a.get(t, "127.0.0.2", vh.host, "/noip", v), bare)
			})
			t.Run("go to apache/required token present", func(t *testing.T) {
				v := mint(t, unbound, full, netip.Addr{})
				accepted(t, a.get(t, "127.0.0.1", vh.host, "/tokens", v), full)
				if !full.HasAnyToken("admin", "editor") {
					t.Fatal("Go disagrees")
				}
			})
			// A raw ticket (not base64) with bytes net/http's cookie parser
			// drops: Apache takes it, so must Authenticate.
			t.Run("go and apache/raw cookie with non-ASCII, quote, backslash", func(t *testing.T) {
				iss := &Issuer{Codec: unbound}
				for _, tk := range []Ticket{
					{UID: "jörg", Tokens: []string{"grüppe"}, UserData: "naïve"},
					{UID: "alice", UserData: `say "hi" now`},
					{UID: "alice", UserData: `C:\dir`},
				} {
					raw := rawTicket(t, mint(t, unbound, tk, netip.Addr{}))
					accepted(t, a.get(t, "127.0.0.1", vh.host, "/noip", raw), tk)
					r := httptest.NewRequest("GET", "/", nil)
					r.Header.Set("Cookie", DefaultCookieName+"="+raw)
					got, _, err := iss.Authenticate(r)
					if err != nil || got.UID != tk.UID || got.UserData != tk.UserData {
						t.Fatalf("Go on the raw cookie Apache accepts: %+v, %v", got, err)
					}
				}
			})
			t.Run("refused/wrong IP", func(t *testing.T) {
				v := mint(t, bound, full, ip2)
				refused(t, a.get(t, "127.0.0.1", vh.host, "/ip", v))
				goRefuses(t, bound, v, ip1, ErrBadSignature)
			})
			t.Run("refused/IP-bound ticket where IP is ignored", func(t *testing.T) {
				v := mint(t, bound, full, ip1)
				refused(t, a.get(t, "127.0.0.1", vh.host, "/noip", v))
				goRefuses(t, unbound, v, ip1, ErrBadSignature)
			})
			t.Run("refused/tampered", func(t *testing.T) {
				v := tamper(t, mint(t, unbound, full, netip.Addr{}), func(s string) string {
					return strings.Replace(s, "alice@", "admin@", 1)
				})
				refused(t, a.get(t, "127.0.0.1", vh.host, "/noip", v))
				goRefuses(t, unbound, v, ip1, ErrBadSignature)
			})
			t.Run("refused/wrong secret", func(t *testing.T) {
				v := mint(t, wrongSecret, full, netip.Addr{})
				refused(t, a.get(t, "127.0.0.1", vh.host, "/noip", v))
				goRefuses(t, unbound, v, ip1, ErrBadSignature)
			})
			t.Run("refused/expired", func(t *testing.T) {
				old := full
				old.Issued = now.Add(-65 * time.Second)
				v := mint(t, short, old, netip.Addr{})
				refused(t, a.get(t, "127.0.0.1", vh.host, "/short", v))
				goRefuses(t, short, v, ip1, ErrExpired)
			})
			t.Run("refused/required token missing", func(t *testing.T) {
				reader := Ticket{UID: "carol", Tokens: []string{"reader"}}
				for _, tk := range []Ticket{reader, bare} {
					refused(t, a.get(t, "127.0.0.1", vh.host, "/tokens", mint(t, unbound, tk, netip.Addr{})))
					if tk.HasAnyToken("admin", "editor") {
						t.Fatal("Go disagrees")
					}
				}
			})
			t.Run("refused/other digest type", func(t *testing.T) {
				other := SHA256
				if vh.digest == SHA256 {
					other = SHA512
				}
				c := mustNew(t, Config{Secret: apacheSecret, Digest: other, IgnoreIP: true})
				refused(t, a.get(t, "127.0.0.1", vh.host, "/noip", mint(t, c, full, netip.Addr{})))
			})

			// Apache re-issues: its tickets must verify in Go.
			refreshCases := []struct {
				name, path string
				c          *Codec
				ip         netip.Addr
				tk         Ticket
			}{
				{"apache to go/refresh", "/short", short, netip.Addr{}, full},
				{"apache to go/refresh without tokens", "/short", short, netip.Addr{}, Ticket{UID: "dave", UserData: "d!e"}},
				{"apache to go/refresh IP bound", "/shortip", shortBound, ip1, full},
			}
			for _, rc := range refreshCases {
				t.Run(rc.name, func(t *testing.T) {
					aging := rc.tk
					aging.Issued = time.Now().Add(-40 * time.Second)
					v := mint(t, rc.c, aging, rc.ip)
					if _, refresh, err := rc.c.Parse(v, ip1); err != nil || !refresh {
						t.Fatalf("Go on the aging ticket: refresh %v, err %v", refresh, err)
					}
					r := a.get(t, "127.0.0.1", vh.host, rc.path, v)
					accepted(t, r, rc.tk)
					if r.cookie == "" {
						t.Fatal("Apache did not refresh the ticket")
					}
					got, refresh, err := rc.c.Parse(r.cookie, ip1)
					if err != nil {
						t.Fatalf("Go refuses Apache's refreshed ticket: %v", err)
					}
					if refresh || got.UID != rc.tk.UID || got.UserData != rc.tk.UserData ||
						strings.Join(got.Tokens, ",") != strings.Join(rc.tk.Tokens, ",") {
						t.Fatalf("Go read %+v (refresh %v), want %+v", got, refresh, rc.tk)
					}
					if !got.Issued.After(aging.Issued) {
						t.Fatalf("refreshed ticket not newer: %v", got.Issued)
					}
				})
			}
			t.Run("apache to go/old secret forces re-issue", func(t *testing.T) {
				v := mint(t, oldSecret, full, netip.Addr{})
				rotating := mustNew(t, Config{Secret: apacheSecret, OldSecret: apacheOld, Digest: vh.digest, IgnoreIP: true})
				if _, refresh, err := rotating.Parse(v, ip1); err != nil || !refresh {
					t.Fatalf("Go with old secret: refresh %v, err %v", refresh, err)
				}
				goRefuses(t, unbound, v, ip1, ErrBadSignature)
				r := a.get(t, "127.0.0.1", vh.host, "/noip", v)
				accepted(t, r, full)
				if r.cookie == "" {
					t.Fatal("Apache did not re-issue an old-secret ticket")
				}
				got, refresh, err := unbound.Parse(r.cookie, ip1)
				if err != nil || refresh || got.UID != full.UID {
					t.Fatalf("Go (new secret only) on Apache's re-issue: %+v, refresh %v, err %v", got, refresh, err)
				}
			})
		})
	}
}
