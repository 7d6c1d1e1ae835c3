package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
)

func TestSealedMode(t *testing.T) {
	_, h := newTestServer(t, func(o *options) { o.Sealed = true })
	a, b := newClient(t, h), newClient(t, h)
	a.login("alice", "correct horse")
	b.login("alice", "correct horse")
	if res := a.get(pages.PathAuth); res.StatusCode != 200 || res.Header.Get("X-Auth-User") != "alice" {
		t.Fatalf("sealed auth: %d", res.StatusCode)
	}
	page := body(t, a.get(pages.PathSessions))
	if !strings.Contains(page, "sealed cookies") || !strings.Contains(page, "This session") {
		t.Errorf("sealed sessions page:\n%s", page)
	}
	if res := a.post(pages.PathRevokeOthers, nil); res.StatusCode != 303 {
		t.Fatalf("revoke others: %d", res.StatusCode)
	}
	if res := b.get(pages.PathAuth); res.StatusCode != 401 {
		t.Errorf("other sealed session survived revoke-others: %d", res.StatusCode)
	}
	if res := a.get(pages.PathAuth); res.StatusCode != 200 {
		t.Errorf("current sealed session ended: %d", res.StatusCode)
	}
	a.post(pages.PathLogoutAll, url.Values{"confirm": {"yes"}})
	if res := a.get(pages.PathAuth); res.StatusCode != 401 {
		t.Errorf("sealed session survived logout-all: %d", res.StatusCode)
	}
}

func TestSealedRestartKeepsKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base, out, stop := startServe(t, "--data-dir", dir, "--sealed")
	pw := firstPasswordRE.FindStringSubmatch(out.String())[1]
	cookie := loginHTTP(t, base, "admin", pw)
	stop()
	base, _, _ = startServe(t, "--data-dir", dir, "--sealed")
	if code, user := authAs(t, base, cookie); code != 200 || user != "admin" {
		t.Errorf("sealed session after restart: %d %q", code, user)
	}
	if st, err := os.Stat(filepath.Join(dir, "seal-keys")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("seal-keys: %v %v", st, err)
	}
}
