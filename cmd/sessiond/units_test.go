package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(*options) bool
		wantErr string
	}{
		{"defaults", nil, nil, func(o *options) bool {
			return o.Listen == "127.0.0.1:8080" && o.DataDir == "/home/u/.local/share/sessiond" && o.UserHeader == "X-Auth-User" &&
				o.IdleTimeout == 30*time.Minute && !o.Ticket && o.usersPath() == "/home/u/.local/share/sessiond/users"
		}, ""},
		{"XDG_DATA_HOME", nil, map[string]string{"XDG_DATA_HOME": "/xdg"}, func(o *options) bool { return o.DataDir == "/xdg/sessiond" }, ""},
		{"env sets a flag", nil, map[string]string{"SESSIOND_LISTEN": ":9000", "SESSIOND_LOG_JSON": "true"}, func(o *options) bool {
			return o.Listen == ":9000" && o.LogJSON
		}, ""},
		{"flag beats env", []string{"--listen", ":9001"}, map[string]string{"SESSIOND_LISTEN": ":9000"}, func(o *options) bool { return o.Listen == ":9001" }, ""},
		{"ticket secret implies ticket", []string{"--ticket-secret", "0123456789abcdef"}, nil, func(o *options) bool { return o.Ticket }, ""},
		{"trusted proxies", []string{"--trusted-proxies", "10.0.0.0/8, 127.0.0.1"}, nil, func(o *options) bool {
			return len(o.TrustedProxies) == 2 && o.TrustedProxies[1] == netip.MustParsePrefix("127.0.0.1/32")
		}, ""},
		{"store memory", []string{"--store", "memory://"}, nil, func(o *options) bool { return o.Store == "memory://" }, ""},
		{"bad env value", nil, map[string]string{"SESSIOND_IDLE_TIMEOUT": "soon"}, nil, "SESSIOND_IDLE_TIMEOUT"},
		{"tls needs both", []string{"--tls-cert", "c.pem"}, nil, nil, "--tls-key"},
		{"lifetime below idle", []string{"--lifetime", "1m", "--idle-timeout", "5m"}, nil, nil, "--lifetime"},
		{"bad upstream", []string{"--upstream", "ftp://x"}, nil, nil, "--upstream"},
		{"bad header", []string{"--user-header", "X Auth"}, nil, nil, "--user-header"},
		{"bad store", []string{"--store", "nosuch://x"}, nil, nil, "unknown scheme"},
		{"bad digest", []string{"--ticket-digest", "crc32"}, nil, nil, "--ticket-digest"},
		{"ticket outlives session", []string{"--ticket-timeout", "1h"}, nil, nil, "--ticket-timeout"},
		{"bad level", []string{"--log-level", "loud"}, nil, nil, "--log-level"},
		{"stray argument", []string{"extra"}, nil, nil, "unexpected argument"},
		{"bad proxies", []string{"--trusted-proxies", "nonsense"}, nil, nil, "CIDR"},
		{"strip headers", []string{"--strip-headers", "X-Tenant, X-Role,"}, nil, func(o *options) bool {
			return slices.Equal(o.StripHeaders, []string{"X-Tenant", "X-Role"})
		}, ""},
		{"body timeout defaults", nil, nil, func(o *options) bool { return o.BodyTimeout == 10*time.Second && o.UpstreamBodyRate == 500 }, ""},
		{"body timeouts", []string{"--body-timeout", "3s", "--upstream-body-rate", "0"}, nil, func(o *options) bool {
			return o.BodyTimeout == 3*time.Second && o.UpstreamBodyRate == 0
		}, ""},
		{"no body timeout", []string{"--body-timeout", "0"}, nil, nil, "--body-timeout"},
		{"negative body rate", []string{"--upstream-body-rate", "-1"}, nil, nil, "--upstream-body-rate"},
		{"bad strip header", []string{"--strip-headers", "X-Ok,Not A Header"}, nil, nil, "not a header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tt.env {
				env[k] = v
			}
			o, err := parseOptions(tt.args, func(k string) string { return env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Errorf("options %+v", o)
			}
		})
	}
}

func TestHelpListsEveryFlagWithItsVariable(t *testing.T) {
	var b strings.Builder
	if code := run(t.Context(), []string{"--help"}, nil, io.Discard, &b, func(string) string { return "" }); code != 0 {
		t.Fatalf("exit %d", code)
	}
	fs := newFlagSet(&options{}, func(string) string { return "" })
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(b.String(), "--"+f.Name+"  ["+envName(f.Name)+"]") {
			t.Errorf("help lacks --%s [%s]", f.Name, envName(f.Name))
		}
	})
	if n < 20 {
		t.Errorf("only %d flags", n)
	}
}

func TestParseStoreURL(t *testing.T) {
	tests := []struct {
		in, scheme, rest, err string
	}{
		{"memory://", "memory", "", ""},
		{"MEMORY://", "memory", "", ""},
		{"memory://x", "", "", "takes nothing"},
		{"file:///var/lib/s", "file", "/var/lib/s", ""},
		{"file://rel/dir", "file", "rel/dir", ""},
		{"file://", "", "", "needs a path"},
		{"redis://127.0.0.1:6379", "redis", "127.0.0.1:6379", ""},
		{"redis://:pw@127.0.0.1:6379?prefix=app:", "redis", ":pw@127.0.0.1:6379?prefix=app:", ""},
		{"redis://localhost", "", "", "host:port"},
		{"redis://h:1?db=2", "", "", "unknown option"},
		{"redis-cluster://a:1,b:2,c:3", "redis-cluster", "a:1,b:2,c:3", ""},
		{"postgres://u@h/db?sslmode=disable", "postgres", "u@h/db?sslmode=disable", ""},
		{"mysql://root@127.0.0.1:3306/test", "mysql", "root@127.0.0.1:3306/test", ""},
		{"mysql://root@127.0.0.1/test?tls=preferred", "mysql", "root@127.0.0.1/test?tls=preferred", ""},
		{"mysql://root@127.0.0.1:3306/", "", "", "database name"},
		{"mysql://h/db?clientFoundRows=true", "", "", "clientFoundRows"},
		{"memcache://127.0.0.1:11211", "memcache", "127.0.0.1:11211", ""},
		{"memcache://a:1,b:2", "memcache", "a:1,b:2", ""},
		{"memcache://localhost", "", "", "host:port"},
		{"bolt:///var/lib/sessiond/s.db", "bolt", "/var/lib/sessiond/s.db", ""},
		{"bolt://", "", "", "needs a path"},
		{"/just/a/path", "", "", "want SCHEME://"},
		{"gopher://x", "", "", "unknown scheme"},
	}
	for _, tt := range tests {
		u, err := parseStoreURL(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || u.Scheme != tt.scheme || u.Rest != tt.rest {
			t.Errorf("%q: %+v, %v; want %s %q", tt.in, u, err, tt.scheme, tt.rest)
		}
	}
}

func TestRedisConfig(t *testing.T) {
	cfg, err := redisConfig("redis", "user:p%40ss@127.0.0.1:6379?prefix=app:")
	if err != nil || cfg.Client.Username != "user" || cfg.Client.Password != "p@ss" || cfg.Prefix != "app:" || len(cfg.Addrs) != 1 {
		t.Errorf("%+v %v", cfg, err)
	}
	if _, err := redisConfig("redis", "a:1,b:2"); err == nil {
		t.Error("redis:// accepted two addresses")
	}
	cfg, err = redisConfig("redis-cluster", "a:1,b:2?min-replicas=1&replica-timeout=250ms")
	if err != nil || cfg.MinReplicas != 1 || cfg.ReplicaTimeout != 250*time.Millisecond || len(cfg.Addrs) != 2 {
		t.Errorf("min-replicas and replica-timeout: %+v %v", cfg, err)
	}
	for _, bad := range []string{"min-replicas=-1", "min-replicas=one", "replica-timeout=0", "replica-timeout=10", "replica-timeout=1us"} {
		if _, err := redisConfig("redis-cluster", "a:1?"+bad); err == nil || !strings.Contains(err.Error(), strings.Split(bad, "=")[0]) {
			t.Errorf("%s: err %v; want one naming the option", bad, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:secret@db/x", "postgres://app:xxxxx@db/x"},
		{"redis://:pw@h:1", "redis://:xxxxx@h:1"},
		{"file:///a/b", "file:///a/b"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSafeBack(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/app?x=1&y=2#frag", "/app?x=1&y=2#frag"},
		{"/_sessiond/", "/_sessiond/"},
		{"/_sessiond/logout", "D"},
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

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(3, 10*time.Second, 2)
	l.now = func() time.Time { return now }
	steps := []struct {
		op, key string
		advance time.Duration
		want    error
		wait    time.Duration // if not 0, Reserve's wait
		len     int           // if not 0, Len afterwards
	}{
		{"reserve", "a", 0, nil, 0, 1},
		{"reserve", "a", 0, nil, 0, 0},
		{"refund", "a", 0, nil, 0, 0}, // a success gives its token back
		{"reserve", "a", 0, nil, 0, 0},
		{"reserve", "a", 0, nil, 0, 0},
		{"reserve", "a", 0, errLimited, 10 * time.Second, 0}, // three failures used the burst
		{"reserve", "a", 9 * time.Second, errLimited, time.Second, 0},
		{"reserve", "a", 1 * time.Second, nil, 0, 0}, // one token back after 10s
		{"reserve", "a", 0, errLimited, 0, 0},
		{"reserve", "b", 0, nil, 0, 2},                    // another key is independent; the table is full
		{"reserve", "c", 0, errFull, 10 * time.Second, 2}, // a and b still limit: neither is forgotten
		{"reserve", "c", 9 * time.Second, errFull, time.Second, 2},
		{"reserve", "c", 1 * time.Second, nil, 0, 2}, // b filled up again and made room
		{"reserve", "a", 0, nil, 0, 2},               // a kept its state: one token, not three
		{"reserve", "a", 0, errLimited, 0, 2},
		{"refund", "c", 0, nil, 0, 1}, // c is full again: dropped
		{"reset", "a", 0, nil, 0, -1},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		switch st.op {
		case "refund":
			l.Refund(st.key)
		case "reset":
			l.Reset(st.key)
		default:
			wait, err := l.Reserve(st.key)
			if err != st.want || (err != nil && wait <= 0) || (st.wait != 0 && (wait-st.wait).Abs() > time.Millisecond) {
				t.Errorf("step %d: Reserve(%q) = %v, %v; want %v, %v", i, st.key, wait, err, st.want, st.wait)
			}
		}
		if n := l.Len(); st.len != 0 && n != max(0, st.len) {
			t.Errorf("step %d: Len %d, want %d", i, n, max(0, st.len))
		}
	}

	// Stand-in buckets forget one of theirs rather than refuse.
	f := newLimiter(3, 10*time.Second, 2)
	f.forgetful = true
	for _, k := range []string{"x", "y", "z", "w"} {
		if _, err := f.Reserve(k); err != nil {
			t.Errorf("forgetful Reserve(%q): %v", k, err)
		}
	}
	if f.Len() != 2 {
		t.Errorf("forgetful Len %d, want 2", f.Len())
	}
}

func TestLimitKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"::1", "::/64"},
	}
	for _, tt := range tests {
		if got := limitKey(netip.MustParseAddr(tt.in)); got != tt.want {
			t.Errorf("limitKey(%s) = %q, want %q", tt.in, got, tt.want)
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

func TestClientAddr(t *testing.T) {
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
		if got := clientAddr(r, trusted).String(); got != tt.want {
			t.Errorf("%s / %q: %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

func TestPasswordsAndUsersFile(t *testing.T) {
	h := hashPassword("s3cret pass", cheapArgon)
	if !verifyPassword(h, "s3cret pass") || verifyPassword(h, "s3cret pasS") {
		t.Fatal("verify")
	}
	for _, bad := range []string{"", "$argon2id$v=19$m=99999999,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "$2a$10$bcrypt", h + "$x"} {
		if verifyPassword(bad, "") {
			t.Errorf("verified against %q", bad)
		}
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := addUser(path, "carol", "longenough", cheapArgon); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v", st.Mode().Perm())
	}
	for _, bad := range []struct{ user, pw string }{{"a:b", "longenough"}, {"", "longenough"}, {"dave", "short"}, {"with space", "longenough"}} {
		if err := addUser(path, bad.user, bad.pw, cheapArgon); err == nil {
			t.Errorf("addUser(%q, %q) accepted", bad.user, bad.pw)
		}
	}
	db, err := newUserDB(path, cheapArgon)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		user, password string
		want           bool
	}{{"carol", "longenough", true}, {"carol", "nope", false}, {"nobody", "longenough", false}} {
		if got, err := db.Verify(t.Context(), tt.user, tt.password); got != tt.want || err != nil {
			t.Errorf("Verify(%q, %q) = %v, %v; want %v", tt.user, tt.password, got, err, tt.want)
		}
	}
	// A login that waits for a hashing slot gives up when its request ends.
	for range cap(db.sem) {
		db.sem <- struct{}{}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if ok, err := db.Verify(ctx, "carol", "longenough"); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with every slot taken and the request gone = %v, %v", ok, err)
	}
	for range cap(db.sem) {
		<-db.sem
	}
	if err := removeUser(path, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := removeUser(path, "carol"); err == nil {
		t.Error("removing a missing user succeeded")
	}
	os.WriteFile(path, []byte("broken line\n"), 0o600)
	if _, err := readUsersFile(path); err == nil {
		t.Error("broken users file accepted")
	}
}

func TestHashSlots(t *testing.T) {
	tests := []struct{ cpus, want int }{{1, 1}, {2, 1}, {3, 1}, {4, 2}, {8, 4}, {16, 8}, {64, 8}}
	for _, tt := range tests {
		if got := hashSlots(tt.cpus, defaultArgon); got != tt.want {
			t.Errorf("%d CPUs: %d hashes at once, want %d", tt.cpus, got, tt.want)
		}
	}
}

// TestConcurrentUserAdds runs user adds at once on one users file: every
// user must be in it afterwards (each command rewrites the whole file).
func TestConcurrentUserAdds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := addUser(path, fmt.Sprintf("user%02d", i), "longenough", cheapArgon); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	users, err := readUsersFile(path)
	if err != nil || len(users) != n {
		t.Fatalf("%d users after %d concurrent adds (%v): %v", len(users), n, err, slices.Sorted(maps.Keys(users)))
	}
}

func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	env := func(k string) string {
		if k == "SESSIOND_DATA_DIR" {
			return dir
		}
		return ""
	}
	var out strings.Builder
	if code := run(t.Context(), []string{"user", "add", "erin"}, strings.NewReader("pass-word-1\n"), &out, io.Discard, env); code != 0 {
		t.Fatalf("user add: exit %d", code)
	}
	if code := run(t.Context(), []string{"user", "add", "frank", "--generate"}, nil, &out, io.Discard, env); code != 0 || !strings.Contains(out.String(), `user "frank", password `) {
		t.Fatalf("user add --generate: exit %d, %q", code, out.String())
	}
	out.Reset()
	run(t.Context(), []string{"user", "list"}, nil, &out, io.Discard, env)
	if out.String() != "erin\nfrank\n" {
		t.Errorf("list: %q", out.String())
	}
	if code := run(t.Context(), []string{"user", "remove", "erin"}, nil, io.Discard, io.Discard, env); code != 0 {
		t.Errorf("remove: exit %d", code)
	}
	if code := run(t.Context(), []string{"user", "frobnicate"}, nil, io.Discard, io.Discard, env); code != 2 {
		t.Errorf("bad subcommand: exit %d", code)
	}
	users, _ := readUsersFile(filepath.Join(dir, "users"))
	if _, ok := users["frank"]; !ok || len(users) != 1 {
		t.Errorf("users %v", users)
	}
}

func TestSecretFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ticket-secret")
	s1, created, err := loadOrCreateSecret(p, randomSecret)
	if err != nil || !created || len(s1) < 32 {
		t.Fatalf("%q %v %v", s1, created, err)
	}
	os.Chmod(p, 0o644)
	s2, created, err := loadOrCreateSecret(p, randomSecret)
	if err != nil || created || s2 != s1 {
		t.Fatalf("second load: %q %v %v", s2, created, err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v not tightened", st.Mode().Perm())
	}
}

func TestMySQLDSN(t *testing.T) {
	c, err := mysqlDSN("mysql://app:p%40ss@db.internal/sessions?timeout=5s")
	if err != nil || c.User != "app" || c.Passwd != "p@ss" || c.Addr != "db.internal:3306" || c.DBName != "sessions" || c.Timeout != 5*time.Second {
		t.Errorf("%+v %v", c, err)
	}
	if _, err := mysqlDSN("mysql://app:secret@h/db?timeout=never"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad parameter: %v", err)
	}
}
