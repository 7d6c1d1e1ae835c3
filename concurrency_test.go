package sesame_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sesame-go/sesame"
)

// TestConcurrentWritersAllSurvive lets 50 requests read one version of a
// session and then change one key each at once. Every change survives,
// and since commits of one session inside one process are serialized,
// each request but the first to commit conflicts exactly once: its first
// save names the version all of them read, and its reload, under the
// session's commit lock, is the latest.
func TestConcurrentWritersAllSurvive(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	cookie := e.newSession("start", true)
	const n = 50
	var wg, loaded sync.WaitGroup
	ready := make(chan struct{})
	for i := range n {
		wg.Add(1)
		loaded.Add(1)
		go func() {
			defer wg.Done()
			e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				s.Keys() // every request reads the same version first
				loaded.Done()
				<-ready
				if err := s.Put(fmt.Sprintf("k%02d", i), i); err != nil {
					t.Error(err)
				}
			})
		}()
	}
	loaded.Wait()
	close(ready)
	wg.Wait()
	if errs := e.errors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		for i := range n {
			v, err := sesame.Get[int](s, fmt.Sprintf("k%02d", i))
			if err != nil || v != i {
				t.Errorf("k%02d = %v, %v: an update was lost", i, v, err)
			}
		}
	})
	if got := e.count(sesame.EventConflict); got != n-1 {
		t.Errorf("%d conflicts; want %d, one for each request but the first to commit", got, n-1)
	}
}

// TestConditionalSavesGuardBetweenManagers runs two Managers over one
// store, as two processes would: their commit locks are their own, so
// only the store's conditional saves keep them from losing each other's
// updates.
func TestConditionalSavesGuardBetweenManagers(t *testing.T) {
	a := newEnv(t, sesame.Config{})
	b := a.sibling()
	cookie := a.newSession("start", true)

	t.Run("InterleavedRequests", func(t *testing.T) {
		// A request on a reads; one on b saves; then the first saves.
		loaded, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			a.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				s.Keys()
				close(loaded)
				<-release
				s.Put("from-a", 1)
			})
		}()
		<-loaded
		conflicts := a.count(sesame.EventConflict)
		b.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("from-b", 2) })
		close(release)
		<-done
		if got := a.count(sesame.EventConflict) - conflicts; got != 1 {
			t.Errorf("the request on a conflicted %d times; want once, with b's save", got)
		}
		for k, want := range map[string]int{"from-a": 1, "from-b": 2} {
			if v, err := get[int](a, cookie, k); err != nil || v != want {
				t.Errorf("%s = %v, %v; want %d", k, v, err, want)
			}
		}
	})

	t.Run("Burst", func(t *testing.T) {
		const writers, requests = 8, 20
		var wg sync.WaitGroup
		for i := range writers {
			for _, e := range []*env{a, b} {
				wg.Go(func() {
					key := fmt.Sprintf("%p-%d", e, i)
					for range requests {
						e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
							n, _ := sesame.Get[int](s, key)
							s.Put(key, n+1)
						})
					}
				})
			}
		}
		wg.Wait()
		if errs := append(a.errors(), b.errors()...); len(errs) > 0 {
			t.Fatalf("%d requests failed, the first with %v", len(errs), errs[0])
		}
		for i := range writers {
			for _, e := range []*env{a, b} {
				key := fmt.Sprintf("%p-%d", e, i)
				if v, err := get[int](a, cookie, key); err != nil || v != requests {
					t.Errorf("%s = %v, %v; want %d: updates were lost", key, v, err, requests)
				}
			}
		}
	})
}

// rivalStore is a store shared with another process that wins the race
// for the next wins saves of an existing record: before each, it saves
// the record itself, so the Manager's conditional save conflicts.
type rivalStore struct {
	sesame.Store
	wins atomic.Int64
}

func (r *rivalStore) Save(ctx context.Context, key string, v []byte, ver uint64, o sesame.SaveOptions) (uint64, error) {
	if ver != 0 && r.wins.Add(-1) >= 0 {
		if cur, curVer, err := r.Store.Load(ctx, key); err == nil {
			if _, err := r.Store.Save(ctx, key, cur, curVer, o); err != nil {
				return 0, fmt.Errorf("the rival's save: %w", err)
			}
		}
	}
	return r.Store.Save(ctx, key, v, ver, o)
}

// rivalEnv returns an env whose store another process writes before each
// of the Manager's next wins saves, and a session in it.
func rivalEnv(t *testing.T, wins int64) (*env, *rivalStore, string) {
	var r *rivalStore
	e := newEnvWrapping(t, sesame.Config{}, func(s sesame.Store) sesame.Store {
		r = &rivalStore{Store: s}
		return r
	})
	cookie := e.newSession("start", true)
	r.wins.Store(wins)
	return e, r, cookie
}

// TestSaveOutlastsAnotherProcess lets another process win the race 100
// times in a row: the request keeps reloading and re-applying its change
// until it gets through.
func TestSaveOutlastsAnotherProcess(t *testing.T) {
	const wins = 100
	e, _, cookie := rivalEnv(t, wins)
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("k", "v") })
	if errs := e.errors(); len(errs) > 0 {
		t.Fatalf("request failed: %v", errs)
	}
	if got := e.count(sesame.EventConflict); got != wins {
		t.Errorf("%d conflicts; want %d", got, wins)
	}
	if v, err := get[string](e, cookie, "k"); err != nil || v != "v" {
		t.Errorf("k = %q, %v; want the change saved", v, err)
	}
}

// TestSaveRetriesEndWithTheRequest lets another process win every race:
// the request gives up when its context ends, with the context's error.
func TestSaveRetriesEndWithTheRequest(t *testing.T) {
	e, _, cookie := rivalEnv(t, math.MaxInt64)
	const timeout = time.Second
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "https://example.test/", nil)
	req.Header.Set("Cookie", sesame.DefaultCookieName+"="+cookie)
	rec := httptest.NewRecorder()
	e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		s.Put("k", "v")
	})).ServeHTTP(rec, req)
	errs := e.errors()
	if len(errs) != 1 || !errors.Is(errs[0], context.DeadlineExceeded) {
		t.Fatalf("errors %v; want one wrapping context.DeadlineExceeded", errs)
	}
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d; want 500", rec.Code)
	}
	if e.count(sesame.EventConflict) < 2 {
		t.Errorf("%d conflicts; want the request to have kept trying", e.count(sesame.EventConflict))
	}
}

// TestSaveGivesUpWhenAnotherProcessAlwaysWins lets another process win
// every race of a request whose context never ends: the request gives up
// after MaxConflicts conflicts rather than livelock. The backoff between
// attempts runs on a synctest bubble's clock.
func TestSaveGivesUpWhenAnotherProcessAlwaysWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _, cookie := rivalEnv(t, math.MaxInt64)
		e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("k", "v") })
		errs := e.errors()
		if len(errs) != 1 || !errors.Is(errs[0], sesame.ErrConflict) {
			t.Fatalf("errors %v; want one wrapping ErrConflict", errs)
		}
		if got := e.count(sesame.EventConflict); got != sesame.MaxConflicts {
			t.Errorf("%d conflicts; want %d", got, sesame.MaxConflicts)
		}
	})
}

// TestSlowRequestCannotResurrect starts a request that reads the session,
// ends the session from another request while the first is in flight, then
// lets the first one write. The old session must stay dead.
func TestSlowRequestCannotResurrect(t *testing.T) {
	tests := []struct {
		name string
		end  func(*sesame.Session) error
	}{
		{"Destroy", (*sesame.Session).Destroy},
		{"Renew", (*sesame.Session).Renew},
		{"Login", func(s *sesame.Session) error { return s.Login("carol") }},
	}
	renewPaths(t, func(t *testing.T, wrap func(sesame.Store) sesame.Store) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnvWrapping(t, sesame.Config{}, wrap)
				old := e.newSession("data", "original")
				loaded, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
				var slowCookie *http.Cookie
				go func() {
					defer close(done)
					rec := e.do(old, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
						sesame.Get[string](s, "data")
						close(loaded)
						<-release
						s.Put("late", "write")
					})
					slowCookie = sessionCookie(rec)
				}()
				<-loaded
				rec := e.do(old, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { tc.end(s) })
				close(release)
				<-done
				if _, err := get[string](e, old, "data"); err == nil {
					t.Fatal("old session is alive again")
				}
				if _, err := get[string](e, old, "late"); err == nil {
					t.Fatal("the slow request's write brought the old session back")
				}
				if slowCookie != nil && slowCookie.MaxAge >= 0 {
					t.Errorf("slow request set a live cookie: %v", slowCookie)
				}
				if c := sessionCookie(rec); c != nil && c.MaxAge >= 0 {
					// Renew and Login carried the data over to the new id.
					if v, err := get[string](e, c.Value, "data"); err != nil || v != "original" {
						t.Errorf("renewed session data = %q, %v", v, err)
					}
				}
			})
		}
	})
}

// TestRenewFoldsInConcurrentWrite proves that a write committed between a
// Renew's load and its commit is carried to the new id, not lost.
func TestRenewFoldsInConcurrentWrite(t *testing.T) {
	renewPaths(t, testRenewFoldsInConcurrentWrite)
}

func testRenewFoldsInConcurrentWrite(t *testing.T, wrap func(sesame.Store) sesame.Store) {
	e := newEnvWrapping(t, sesame.Config{}, wrap)
	old := e.newSession("a", 1)
	loaded, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var renewed *http.Cookie
	go func() {
		defer close(done)
		rec := e.do(old, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
			s.Keys()
			close(loaded)
			<-release
			s.Renew()
		})
		renewed = sessionCookie(rec)
	}()
	<-loaded
	e.do(old, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("b", 2) })
	close(release)
	<-done
	if renewed == nil {
		t.Fatal("no renewed cookie")
	}
	if v, err := get[int](e, renewed.Value, "b"); err != nil || v != 2 {
		t.Fatalf("concurrent write lost by Renew: %v, %v", v, err)
	}
}

// TestCommitWhileAnotherGoroutineWrites calls Commit in one goroutine
// while another writes the response, which the Session's documentation
// allows: under -race this proves the two share no unguarded state, and
// every response still carries the session's cookie.
func TestCommitWhileAnotherGoroutineWrites(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	srv := httptest.NewTLSServer(e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sesame.FromContext(r.Context())
		if err != nil {
			t.Error(err)
			return
		}
		if err := s.Put("k", "v"); err != nil {
			t.Error(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := s.Commit(); err != nil && !errors.Is(err, sesame.ErrHeadersWritten) {
				t.Errorf("Commit: %v", err)
			}
		})
		wg.Go(func() {
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("body"))
		})
		wg.Wait()
	})))
	defer srv.Close()
	client := srv.Client()
	for range 200 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if len(resp.Cookies()) != 1 {
			t.Fatalf("Set-Cookie = %q; want the session's one cookie", resp.Header.Values("Set-Cookie"))
		}
	}
}
