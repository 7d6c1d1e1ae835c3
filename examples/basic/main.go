// Command basic is a small web application using Sesame: a visit counter,
// a login form, the list of your sessions with revoke buttons, and logout.
//
//	go run ./examples/basic
//
// then open http://localhost:8080. Browsers accept the Secure __Host-
// cookie from http://localhost; for another plain-HTTP host, see
// Config.InsecurePlainHTTP. Any user name logs in: this example is about
// sessions, not passwords.
package main

import (
	"flag"
	"html/template"
	"log"
	"net/http"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<title>Sesame example</title>
<h1>Sesame example</h1>
{{range .Flashes}}<p><em>{{.}}</em></p>{{end}}
<p>You have seen this page {{.Visits}} time(s) in this session.</p>
{{if .User}}
<p>Logged in as <b>{{.User}}</b>.</p>
<h2>Your sessions</h2>
<table>
<tr><th>Browser</th><th>IP</th><th>Created</th><th>Last seen</th><th></th></tr>
{{range .Sessions}}<tr><td>{{.UserAgent}}</td><td>{{.IP}}</td><td>{{.Created.Format "15:04:05"}}</td><td>{{.LastSeen.Format "15:04:05"}}</td>
<td>{{if .Current}}this one{{else}}<form method="post" action="/revoke"><input type="hidden" name="handle" value="{{.Handle}}"><button>Revoke</button></form>{{end}}</td></tr>
{{end}}</table>
<form method="post" action="/logout"><button>Log out</button></form>
{{else}}
<form method="post" action="/login"><input name="user" placeholder="user name" required> <button>Log in</button></form>
{{end}}
`))

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()

	store, err := memstore.New(memstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	m, err := sesame.New(sesame.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, err := sesame.FromContext(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		visits, _ := sesame.Get[int](s, "visits")
		visits++
		if err := s.Put("visits", visits); err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		flashes, _ := s.Flashes()
		data := map[string]any{"Visits": visits, "User": s.User(), "Flashes": flashes}
		if user := s.User(); user != "" {
			data["Sessions"], _ = m.Sessions(r.Context(), user)
		}
		page.Execute(w, data)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		if err := s.Login(r.FormValue("user")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.Flash("Welcome!")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		if err := m.Revoke(r.Context(), s.User(), r.FormValue("handle")); err == nil {
			s.Flash("Session revoked.")
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		s.Destroy()
		s.Flash("You have logged out.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})

	log.Printf("listening on http://%s (open http://localhost:8080 in a browser)", *addr)
	log.Fatal(http.ListenAndServe(*addr, m.Handler(mux)))
}
