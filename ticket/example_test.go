package ticket_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sesame-go/sesame/ticket"
)

// A Go service and an Apache location with mod_auth_tkt sharing one login:
// both use the same secret, digest type and IP setting (see
// the package README for the Apache side).
func Example() {
	codec, err := ticket.New(ticket.Config{
		Secret:   "a-long-random-secret-shared-with-apache", // TKTAuthSecret
		Digest:   ticket.SHA256,                             // TKTAuthDigestType SHA256
		IgnoreIP: true,                                      // TKTAuthIgnoreIP on
		Timeout:  2 * time.Hour,                             // TKTAuthTimeout 2h
	})
	if err != nil {
		log.Fatal(err)
	}
	iss := &ticket.Issuer{Codec: codec}
	guard := &ticket.Guard{Issuer: iss, LoginURL: "/login"}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password, then:
		t := ticket.Ticket{UID: "alice", Tokens: []string{"editor"}, UserData: "Alice"}
		if err := iss.SetCookie(w, r, t); err != nil {
			http.Error(w, "cannot log in", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, r.FormValue("back"), http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		iss.ClearCookie(w)
	})
	mux.Handle("/edit/", guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s (%s)", ticket.User(r.Context()), ticket.UserData(r.Context()))
	}), "editor", "admin"))

	// Log in, then use the cookie.
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("POST", "https://app.example/login?back=/edit/", nil))
	r := httptest.NewRequest("GET", "https://app.example/edit/", nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Body)

	// Without the cookie: off to the login page, with the way back.
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "https://app.example/edit/", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output:
	// hello alice (Alice)
	// 307 /login?back=https%3A%2F%2Fapp.example%2Fedit%2F
}
