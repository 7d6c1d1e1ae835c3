// Command consumer is the program .ci/modules.sh builds in a module of its
// own, outside the workspace, against the modules as a user gets them with
// `go get`. One browser visits three times, with its session kept in
// memstore and then in boltstore; for each store it prints the third
// visit's count, which only a session that the store kept can reach.
package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/boltstore"
	"github.com/sesame-go/sesame/store/memstore"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: consumer DIR (where the bolt file goes)")
		os.Exit(2)
	}
	mem, err := memstore.New(memstore.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "memstore:", err)
		os.Exit(1)
	}
	bolt, err := boltstore.New(boltstore.Config{Path: filepath.Join(os.Args[1], "sessions.db")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "boltstore:", err)
		os.Exit(1)
	}
	stores := []struct {
		name  string
		store interface {
			sesame.Store
			Close() error
		}
	}{
		{"memstore", mem},
		{"boltstore", bolt},
	}
	for _, s := range stores {
		visit, err := visits(s.store)
		if err == nil {
			err = s.store.Close()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", s.name, err)
			os.Exit(1)
		}
		fmt.Printf("%s: %s\n", s.name, visit)
	}
}

// visits makes three requests of one browser, which sends back the cookie
// it was given, to a visit counter whose sessions store keeps, and returns
// the third response.
func visits(store sesame.Store) (string, error) {
	m, err := sesame.New(sesame.Config{Store: store})
	if err != nil {
		return "", err
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sesame.FromContext(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n, _ := sesame.Get[int](s, "visits")
		if err := s.Put("visits", n+1); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d", n+1)
	}))
	var cookie *http.Cookie
	var body string
	for range 3 {
		req := httptest.NewRequest("GET", "https://example.com/", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return "", fmt.Errorf("status %d: %s", rec.Code, rec.Body)
		}
		if c := rec.Result().Cookies(); len(c) > 0 {
			cookie = c[0]
		}
		body = rec.Body.String()
	}
	return body, nil
}
