package dbsctest

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/dbsc"
)

// Restart proves that bound sessions survive a restart of the server
// between their registration and their refresh, over a store that keeps
// records across processes: an ES256 browser and an RS256 browser log in
// and register with one server; the server stops (its Manager, its Binder
// with its random registration key, and its store are closed); a new one
// starts over the same storage; both browsers refresh with it, using the
// challenge the first server handed out, and are served; a copy of their
// cookies is not, once the bound cookie is gone.
//
// open opens the store and returns it with the function that closes it;
// it is called twice, and must reach the same data both times.
func Restart(t *testing.T, open func(t *testing.T) (sesame.Store, func() error)) {
	t.Helper()
	var current atomic.Pointer[http.Handler]
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*current.Load()).ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	start := func() func() error {
		st, closeStore := open(t)
		b, err := dbsc.New(dbsc.Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		m, err := sesame.New(sesame.Config{Store: st, Binder: b, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		h := m.Handler(SiteMux(b))
		current.Store(&h)
		return closeStore
	}
	stop := start()

	browsers := map[string]*Browser{}
	for _, alg := range []string{dbsc.ES256, dbsc.RS256} {
		k, err := NewKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		br := &Browser{Base: srv.URL, Client: srv.Client(), Key: k}
		if res, err := br.PostForm("/login?user=alice", nil); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("%s: login: %s, %v", alg, Status(res), err)
		}
		if len(br.Sessions()) != 1 || br.Sessions()[0].Challenge == "" {
			t.Fatalf("%s: not registered: %+v", alg, br.Sessions())
		}
		browsers[alg] = br
	}

	if err := stop(); err != nil {
		t.Fatalf("closing the first server's store: %v", err)
	}
	stop = start()
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("closing the second server's store: %v", err)
		}
	}()

	for alg, br := range browsers {
		thief := &Browser{Base: srv.URL, Client: srv.Client()}
		for n, v := range br.Cookies() {
			if n != dbsc.DefaultCookieName {
				thief.SetCookie(n, v, time.Time{})
			}
		}
		s := br.Sessions()[0]
		r, err := br.Refresh(s.ID)
		if err != nil || r.Status != http.StatusOK || r.Requests != 1 {
			t.Errorf("%s: refresh after the restart: %+v, %v", alg, r, err)
		}
		if got := who(t, br); got != "user alice" {
			t.Errorf("%s: after the restart: %q", alg, got)
		}
		if got := who(t, thief); got != "anonymous" {
			t.Errorf("%s: the session cookie alone after the restart: %q", alg, got)
		}
	}
}

// SiteMux returns the pages of a small site for DBSC tests, to serve under
// a Manager's Handler: POST /login?user=U logs in as U, GET / says "user
// U" or "anonymous", and the Binder's endpoints are at dbsc.DefaultPath.
func SiteMux(b *dbsc.Binder) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(dbsc.DefaultPath, b.Handler())
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		if err := s.Login(r.URL.Query().Get("user")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		if u := s.User(); u != "" {
			fmt.Fprint(w, "user "+u)
			return
		}
		fmt.Fprint(w, "anonymous")
	})
	return mux
}

func who(t *testing.T, br *Browser) string {
	t.Helper()
	res, err := br.Get("/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
