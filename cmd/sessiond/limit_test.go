package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// holdHashing takes every hashing slot of db, so that logins that get as
// far as the password check wait there; release lets them go on.
func holdHashing(t *testing.T, db *userDB) (release func()) {
	t.Helper()
	for range cap(db.sem) {
		db.sem <- struct{}{}
	}
	released := false
	release = func() {
		if !released {
			released = true
			for range cap(db.sem) {
				<-db.sem
			}
		}
	}
	t.Cleanup(release)
	return release
}

// loginResult is one answer to a login POST.
type loginResult struct {
	status   int
	loggedIn bool // a session cookie was set
}

// postLogin sends one login form over real HTTP, from xff when the server
// trusts the loopback proxy.
func postLogin(t *testing.T, base string, form url.Values, xff string) loginResult {
	req, err := http.NewRequest("POST", base+pathLogin, strings.NewReader(form.Encode()))
	if err != nil {
		t.Error(err)
		return loginResult{}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Error(err)
		return loginResult{}
	}
	res.Body.Close()
	r := loginResult{status: res.StatusCode}
	for _, c := range res.Cookies() {
		if c.Name == "__Host-session" && c.Value != "" {
			r.loggedIn = true
		}
	}
	return r
}

// burst sends forms all at once while every hashing slot is held, waits
// until at least answered of them have been answered (or, if the limiter
// lets too many through, until a generous time has passed), then lets the
// password checks run and returns every answer.
func burst(t *testing.T, base string, db *userDB, forms []url.Values, answered int) []loginResult {
	t.Helper()
	release := holdHashing(t, db)
	out := make(chan loginResult, len(forms))
	for _, f := range forms {
		go func() { out <- postLogin(t, base, f, "") }()
	}
	var got []loginResult
	wait := time.After(10 * time.Second)
collect:
	for len(got) < answered {
		select {
		case r := <-out:
			got = append(got, r)
		case <-wait:
			break collect // the limiter let more through than it should
		}
	}
	release()
	for len(got) < len(forms) {
		got = append(got, <-out)
	}
	return got
}

// TestConcurrentLoginBurstIsLimited sends 40 failing logins at once: no
// more of them reach the password check than the bucket allows, however
// they interleave.
func TestConcurrentLoginBurstIsLimited(t *testing.T) {
	tests := []struct {
		name  string
		form  func(i int) url.Values
		limit int // the bucket that binds: per user 5, per address 20
	}{
		{"one user", func(int) url.Values { return url.Values{"user": {"alice"}, "password": {"wrong"}} }, 5},
		{"many users from one address", func(i int) url.Values {
			return url.Values{"user": {"user" + string(rune('a'+i%26)) + string(rune('a'+i/26))}, "password": {"wrong"}}
		}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, h := newTestServer(t, nil)
			srv := httptest.NewServer(h)
			defer srv.Close()
			const n = 40
			forms := make([]url.Values, n)
			for i := range forms {
				forms[i] = tt.form(i)
			}
			got := burst(t, srv.URL, s.users, forms, n-tt.limit)
			counts := map[int]int{}
			for _, r := range got {
				counts[r.status]++
			}
			if hashed := s.users.hashes.Load(); hashed > uint64(tt.limit) {
				t.Errorf("%d of %d concurrent attempts reached the password check, want at most %d (answers %v)", hashed, n, tt.limit, counts)
			}
			if counts[http.StatusUnauthorized] > tt.limit || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != n {
				t.Errorf("answers %v, want at most %d 401 and the rest 429", counts, tt.limit)
			}
		})
	}
}

// TestBurstWithRightPasswordAfterLimitDoesNotLogIn sends 39 wrong
// passwords at once, then the right one while they are still in flight:
// the bucket is spent, so the right password is not even checked.
func TestBurstWithRightPasswordAfterLimitDoesNotLogIn(t *testing.T) {
	s, h := newTestServer(t, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	release := holdHashing(t, s.users)
	const n = 39
	out := make(chan loginResult, n)
	for range n {
		go func() { out <- postLogin(t, srv.URL, url.Values{"user": {"alice"}, "password": {"wrong"}}, "") }()
	}
	// The limiter answers all but 5 at once; if it does not, give the
	// wrong ones ample time to be under way before the right one.
	wait := time.After(10 * time.Second)
	for answered := 0; answered < n-5; answered++ {
		select {
		case <-out:
		case <-wait:
			answered = n
		}
	}
	right := make(chan loginResult, 1)
	go func() {
		right <- postLogin(t, srv.URL, url.Values{"user": {"alice"}, "password": {"correct horse"}}, "")
	}()
	var r loginResult
	select {
	case r = <-right:
	case <-time.After(10 * time.Second):
		release()
		r = <-right
	}
	release()
	if r.loggedIn || r.status != http.StatusTooManyRequests {
		t.Errorf("right password after a spent burst: %d, logged in %v; want 429", r.status, r.loggedIn)
	}
	if hashed := s.users.hashes.Load(); hashed > 5 {
		t.Errorf("%d passwords checked, want at most 5", hashed)
	}
}
