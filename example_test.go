package sesame_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
)

// A visit counter: the session is created on the first write, and the
// browser sends its cookie back on later requests.
func Example() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	m, err := sesame.New(sesame.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sesame.FromContext(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n, _ := sesame.Get[int](s, "visits")
		if err := s.Put("visits", n+1); err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "visit %d", n+1)
	}))

	var cookie *http.Cookie
	for range 3 {
		req := httptest.NewRequest("GET", "https://example.com/", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if c := rec.Result().Cookies(); len(c) > 0 {
			cookie = c[0]
		}
		fmt.Println(rec.Body.String())
	}
	fmt.Println("cookie:", cookie.Name, "HttpOnly:", cookie.HttpOnly, "Secure:", cookie.Secure)
	// Output:
	// visit 1
	// visit 2
	// visit 3
	// cookie: __Host-session HttpOnly: true Secure: true
}

// Login renews the session id and binds the session to a user; Logout
// destroys it.
func ExampleSession_Login() {
	login := func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		// ... check the password first ...
		if err := s.Login(r.FormValue("user")); err != nil {
			http.Error(w, "bad user name", http.StatusBadRequest)
			return
		}
		s.RememberMe(r.FormValue("remember") == "on")
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
	logout := func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		s.Logout()
		s.Flash("You have logged out.") // starts a new, anonymous session
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
	http.HandleFunc("POST /login", login)
	http.HandleFunc("POST /logout", logout)
}

// Get decodes a value into the type asked for; a missing key is ErrNoValue.
func ExampleGet() {
	type Cart struct{ Items []string }
	store := memstore.New(memstore.Config{})
	defer store.Close()
	m, err := sesame.New(sesame.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	show := func(s *sesame.Session) {
		cart, err := sesame.Get[Cart](s, "cart")
		switch {
		case errors.Is(err, sesame.ErrNoValue):
			fmt.Println("empty cart")
		case err != nil:
			fmt.Println("session unavailable:", err)
		default:
			fmt.Println(len(cart.Items), "items:", cart.Items)
		}
	}
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		show(s)
		s.Put("cart", Cart{Items: []string{"apple", "pear"}})
		show(s)
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "https://example.com/", nil))
	// Output:
	// empty cart
	// 2 items: [apple pear]
}

// Streaming handlers commit the session before writing the body.
func ExampleSession_Commit() {
	stream := func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		s.Put("last-stream", "events")
		if err := s.Commit(); err != nil {
			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
			return
		}
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			http.NewResponseController(w).Flush()
		}
	}
	http.HandleFunc("GET /events", stream)
}
