package main

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/store/redisstore"
	"github.com/sesame-go/sesame/store/storetest"
)

// TestRedisClientCacheSeesOtherServersRevocations runs two sessiond
// servers on one Redis, with client-cache=10s, sharing a users file: a
// session logged in on the first is checked on the second (from its
// memory once cached), then a logout, and after a new login a "log out
// everywhere", on the first must end the session on the second within a
// second, long before the cache lifetime: through Redis's invalidation,
// not the cache's expiry.
func TestRedisClientCacheSeesOtherServersRevocations(t *testing.T) {
	addr := os.Getenv("SESAME_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	var b [6]byte
	rand.Read(b[:])
	prefix := "sessiond-test:" + hex.EncodeToString(b[:]) + ":"
	open := func() *redisstore.Store {
		st, err := redisstore.New(redisstore.Config{Addrs: []string{addr}, Prefix: prefix, ClientSideCache: 10 * time.Second})
		if err != nil {
			storetest.ServerMissing(t, "no Redis at "+addr+": "+err.Error())
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	first, hFirst := newTestServerOn(t, open(), nil, nil)
	_, hSecond := newTestServerOn(t, open(), func(o *options) {
		data, err := os.ReadFile(first.opt.usersPath())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(o.usersPath(), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}, nil)

	checks := newClient(t, hSecond)
	// accepted runs forward-auth checks of a session's cookies on the
	// second server, and fails the test unless they name alice.
	accepted := func(cookies map[string]string) {
		t.Helper()
		for range 3 {
			checks.cookies = maps.Clone(cookies)
			if code := checks.get(pages.PathAuth).StatusCode; code != http.StatusOK {
				t.Fatalf("check on the second server of a session logged in on the first: %d", code)
			}
		}
	}
	// ended fails the test unless checks of a session's cookies on the
	// second server stop naming the user within a second.
	ended := func(what string, cookies map[string]string) {
		t.Helper()
		start := time.Now()
		for {
			checks.cookies = maps.Clone(cookies)
			if checks.get(pages.PathAuth).StatusCode != http.StatusOK {
				return
			}
			if time.Since(start) > time.Second {
				t.Fatalf("after %s on the first server, the second still accepted the session for %v (its cache lives 10s)", what, time.Since(start))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	login := func() *client {
		c := newClient(t, hFirst)
		if res := c.login("alice", "correct horse"); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %s", res.Status)
		}
		return c
	}

	laptop := login()
	session := maps.Clone(laptop.cookies)
	accepted(session)
	if res := laptop.post(pages.PathLogout, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", res.Status)
	}
	ended("a logout", session)

	laptop, phone := login(), login()
	session = maps.Clone(phone.cookies)
	accepted(session)
	if res := laptop.post(pages.PathLogoutAll, url.Values{"confirm": {"yes"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("log out everywhere: %s", res.Status)
	}
	ended("a log out everywhere from another device", session)
}
