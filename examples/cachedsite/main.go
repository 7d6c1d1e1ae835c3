// Command cachedsite is a site behind a shared cache: anonymous visitors
// get pages the cache may keep, logged-in ones always reach the
// application. A flag cookie (package cacheflag), set at login and
// cleared at logout, is how the cache tells them apart without asking the
// application. The README shows the nginx configuration; the test runs
// this site behind real nginx with proxy_cache.
//
//	go run ./examples/cachedsite
//
// then open http://localhost:8080. Any user name logs in: this example is
// about caching, not passwords.
package main

import (
	"flag"
	"html/template"
	"log"
	"net/http"
	"sync/atomic"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/cacheflag"
	"github.com/sesame-go/sesame/store/memstore"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<title>Cached site</title>
<p>This page was rendered by the application {{.Renders}} time(s).</p>
{{if .User}}<p>Logged in as <b id="user">{{.User}}</b>: never from the cache.</p>
<form method="post" action="/logout"><button>Log out</button></form>
{{else}}<p>Anonymous: this page may come from the cache.</p>
<form method="post" action="/login"><input name="user" required> <button>Log in</button></form>
{{end}}`))

// site is the application: its handler and how many pages it rendered.
type site struct {
	m       *sesame.Manager
	renders atomic.Int64
}

// newSite builds the site over store. plainHTTP turns off the Secure
// attribute of both cookies, for a development host other than
// localhost.
func newSite(store sesame.Store, plainHTTP bool) (*site, error) {
	m, err := sesame.New(sesame.Config{
		Store:             store,
		InsecurePlainHTTP: plainHTTP,
		Hooks:             []sesame.Hook{cacheflag.Hook{InsecurePlainHTTP: plainHTTP}},
	})
	if err != nil {
		return nil, err
	}
	return &site{m: m}, nil
}

func (s *site) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		sess, err := sesame.FromContext(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		user := sess.User()
		if user == "" {
			// The same page for every anonymous visitor: a shared cache
			// may keep it for a minute.
			w.Header().Set("Cache-Control", "public, max-age=60")
		} else {
			w.Header().Set("Cache-Control", "private, no-store")
		}
		page.Execute(w, map[string]any{"User": user, "Renders": s.renders.Add(1)})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		sess, _ := sesame.FromContext(r.Context())
		if err := sess.Login(r.FormValue("user")); err != nil {
			http.Error(w, "bad user name", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		sess, _ := sesame.FromContext(r.Context())
		sess.Destroy()
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	return s.m.Handler(mux)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	plain := flag.Bool("insecure-plain-http", false, "cookies without Secure, for a plain-HTTP host other than localhost")
	flag.Parse()
	store, err := memstore.New(memstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	s, err := newSite(store, *plain)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, s.handler()))
}
