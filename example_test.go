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
	store, err := memstore.New(memstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
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

// Login renews the session id and binds the session to a user; logging
// out is Destroy.
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
		s.Destroy()
		s.Flash("You have logged out.") // starts a new, anonymous session
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
	http.HandleFunc("POST /login", login)
	http.HandleFunc("POST /logout", logout)
}

// "Log out everywhere" from the user's own request: RevokeAll ends every
// session of the user, this browser's included, and the response clears
// its cookie; the handler need not call Destroy as well.
func ExampleManager_RevokeAll() {
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
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		// ... check the password first ...
		s.Login("alice")
	})
	mux.HandleFunc("POST /logout-everywhere", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		user := s.User()
		if user == "" {
			http.Error(w, "not logged in", http.StatusForbidden)
			return
		}
		if err := m.RevokeAll(r.Context(), user); err != nil {
			http.Error(w, "could not end the sessions", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "%s logged out everywhere; this request's user is now %q", user, s.User())
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		fmt.Fprintf(w, "%q", s.User())
	})
	h := m.Handler(mux)
	do := func(method, path string, c *http.Cookie) (string, []*http.Cookie) {
		req := httptest.NewRequest(method, "https://example.com"+path, nil)
		if c != nil {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.String(), rec.Result().Cookies()
	}

	_, laptop := do("POST", "/login", nil)
	_, phone := do("POST", "/login", nil)
	body, cookies := do("POST", "/logout-everywhere", laptop[0])
	fmt.Println(body)
	fmt.Println("laptop's cookie cleared:", len(cookies) == 1 && cookies[0].MaxAge < 0)
	body, _ = do("GET", "/whoami", phone[0])
	fmt.Println("phone's user:", body)
	// Output:
	// alice logged out everywhere; this request's user is now ""
	// laptop's cookie cleared: true
	// phone's user: ""
}

// Get decodes a value into the type asked for; a missing key is ErrNoValue.
func ExampleGet() {
	type Cart struct{ Items []string }
	store, err := memstore.New(memstore.Config{})
	if err != nil {
		log.Fatal(err)
	}
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
