package dbsc_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/dbsc"
	"github.com/sesame-go/sesame/store/memstore"
)

// A Manager whose logged-in sessions are offered binding to the browser's
// key, with the Binder's endpoints and its handling of links from other
// sites in front of the application's pages.
func Example() {
	store, err := memstore.New(memstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	b, err := dbsc.New(dbsc.Config{})
	if err != nil {
		log.Fatal(err)
	}
	m, err := sesame.New(sesame.Config{Store: store, Binder: b})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(dbsc.DefaultPath, b.Handler())
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		s.Login("alice") // after checking a password; the response offers binding
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		fmt.Fprintf(w, "hello %q", s.User()) // "" for a copied cookie without the key
	})
	h := m.Handler(b.Navigations(mux))
	_ = h // serve it over HTTPS: http.ListenAndServeTLS(addr, certFile, keyFile, h)
}
