package sesame_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sesame-go/sesame"
)

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
	if !e.sawEvent(sesame.EventConflict) {
		t.Error("no EventConflict: the requests did not actually race")
	}
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
		{"Logout", (*sesame.Session).Logout},
		{"Renew", (*sesame.Session).Renew},
		{"Login", func(s *sesame.Session) error { return s.Login("carol") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sesame.Config{})
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
}

// TestRenewFoldsInConcurrentWrite proves that a write committed between a
// Renew's load and its commit is carried to the new id, not lost.
func TestRenewFoldsInConcurrentWrite(t *testing.T) {
	e := newEnv(t, sesame.Config{})
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
