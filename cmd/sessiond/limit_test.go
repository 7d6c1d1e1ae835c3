package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/limit"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
)

// holdHashing takes every hashing slot of db, so that logins that get as
// far as the password check wait there; release lets them go on.
func holdHashing(t *testing.T, db *users.DB) (release func()) {
	t.Helper()
	release = db.HoldHashing()
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
	req, err := http.NewRequest("POST", base+pages.PathLogin, strings.NewReader(form.Encode()))
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
func burst(t *testing.T, base string, db *users.DB, forms []url.Values, answered int) []loginResult {
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
			if hashed := s.users.Hashes(); hashed > uint64(tt.limit) {
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
	if hashed := s.users.Hashes(); hashed > 5 {
		t.Errorf("%d passwords checked, want at most 5", hashed)
	}
}

// testClock is a clock for limiters that a test moves forward; it starts
// at time.Now().
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *testClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// behindProxy is a server that believes X-Forwarded-For from loopback,
// as behind nginx.
func behindProxy(o *options) {
	o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
}

// TestLoginLimitSurvivesFlood locks a user, then floods the limiter with
// made-up names from as many addresses as its tables hold and more: the
// user stays locked, made-up names take no user bucket, and once every
// address bucket is still limiting, a new address is refused rather than
// another bucket forgotten, until they fill up again.
func TestLoginLimitSurvivesFlood(t *testing.T) {
	// Tables of 100, so that a flood of a thousand does what ten thousand
	// do to the real ones.
	clock := newTestClock()
	limits := pages.DefaultLimits()
	limits.User = limit.New(limit.Config{Burst: 5, Every: 30 * time.Second, Max: 100, Now: clock.now})
	limits.IP = limit.New(limit.Config{Burst: 20, Every: 5 * time.Second, Max: 100, Now: clock.now})
	s, h := newTestServerLimits(t, behindProxy, &limits)
	srv := httptest.NewServer(h)
	defer srv.Close()

	const home = "198.51.100.1"
	wrong := url.Values{"user": {"alice"}, "password": {"wrong"}}
	right := url.Values{"user": {"alice"}, "password": {"correct horse"}}
	for i := range 5 {
		if r := postLogin(t, srv.URL, wrong, home); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	if r := postLogin(t, srv.URL, right, home); r.status != http.StatusTooManyRequests {
		t.Fatalf("locked user: %d, want 429", r.status)
	}

	const flood = 1000
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < flood; i = int(next.Add(1)) - 1 {
				addr := fmt.Sprintf("100.64.%d.%d", i/256, i%256)
				if i%2 == 1 {
					addr = fmt.Sprintf("2001:db8:%x::1", i) // each in a /64 of its own
				}
				r := postLogin(t, srv.URL, url.Values{"user": {fmt.Sprintf("nobody%d", i)}, "password": {"x"}}, addr)
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if statuses[http.StatusSeeOther] > 0 || statuses[http.StatusUnauthorized]+statuses[http.StatusServiceUnavailable] != flood {
		t.Errorf("flood answered %v, want only 401 and 503", statuses)
	}
	if r := postLogin(t, srv.URL, right, home); r.loggedIn || r.status != http.StatusTooManyRequests {
		t.Errorf("locked user after the flood: %d, logged in %v; want 429", r.status, r.loggedIn)
	}
	if n := limits.User.Len(); n != 1 {
		t.Errorf("%d user buckets after a flood of made-up names, want 1 (alice's)", n)
	}

	// Every address bucket is still limiting: a new address fails closed,
	// even with the right password, and no password is checked.
	hashed := s.users.Hashes()
	bob := url.Values{"user": {"bob"}, "password": {"correct horse"}}
	if r := postLogin(t, srv.URL, bob, "192.0.2.77"); r.loggedIn || r.status != http.StatusServiceUnavailable {
		t.Errorf("new address with a full table: %d, logged in %v; want 503", r.status, r.loggedIn)
	}
	if s.users.Hashes() != hashed {
		t.Error("a refused login had its password checked")
	}
	// Once the flood's buckets have filled up again, there is room.
	clock.advance(20 * 5 * time.Second)
	if r := postLogin(t, srv.URL, bob, "192.0.2.77"); !r.loggedIn {
		t.Errorf("new address after the buckets filled up: %d, want a login", r.status)
	}
}

// TestIPv6ClientsLimitedPer64 fails logins from a different address of
// one /64 each time: the network's bucket limits them all.
func TestIPv6ClientsLimitedPer64(t *testing.T) {
	_, h := newTestServer(t, behindProxy)
	srv := httptest.NewServer(h)
	defer srv.Close()
	limitedAt := -1
	for i := range 25 {
		form := url.Values{"user": {fmt.Sprintf("nobody%d", i)}, "password": {"x"}}
		if r := postLogin(t, srv.URL, form, fmt.Sprintf("2001:db8:1:2:%x::%x", i, i+1)); r.status == http.StatusTooManyRequests {
			limitedAt = i
			break
		}
	}
	if limitedAt != 20 {
		t.Errorf("first 429 at attempt %d from one /64, want 20", limitedAt)
	}
	form := url.Values{"user": {"nobody"}, "password": {"x"}}
	if r := postLogin(t, srv.URL, form, "2001:db8:1:3::1"); r.status != http.StatusUnauthorized {
		t.Errorf("another /64: %d, want 401", r.status)
	}
}

// TestUnknownNamesAnswerLikeUsers fails logins for a user, a name that is
// no user and a name that cannot be one, each from its own address: the
// answers do not tell them apart, and an unknown user's password is
// hashed like a user's.
func TestUnknownNamesAnswerLikeUsers(t *testing.T) {
	s, h := newTestServer(t, behindProxy)
	srv := httptest.NewServer(h)
	defer srv.Close()
	want := []int{401, 401, 401, 401, 401, 429, 429}
	for i, name := range []string{"alice", "nosuchuser", "not a name"} {
		before := s.users.Hashes()
		var got []int
		for range want {
			got = append(got, postLogin(t, srv.URL, url.Values{"user": {name}, "password": {"wrong"}}, fmt.Sprintf("192.0.2.%d", 10+i)).status)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q: answers %v, want %v", name, got, want)
		}
		if hashed := s.users.Hashes() - before; users.ValidName(name) && hashed != 5 {
			t.Errorf("%q: %d passwords hashed, want 5", name, hashed)
		}
	}
}
