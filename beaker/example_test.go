package beaker_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/beaker"
)

// A Go handler reads the session a Python application wrote, changes it
// and writes it back for Python to read.
func Example() {
	codec, err := beaker.New(beaker.Config{
		ValidateKey: "the validate_key of the Python app",
		EncryptKey:  "the encrypt_key of the Python app",
		CryptoType:  beaker.CryptoCryptography,
		Serializer:  beaker.JSON,
		Timeout:     time.Hour,
	})
	if err != nil {
		panic(err)
	}
	// Here the cookie comes from Go; in a handler it is the value of
	// r.Cookie("beaker.session.id"), written by either side.
	cookie, err := codec.Encode(&beaker.Session{Values: map[string]any{"user": "alice", "visits": 1}})
	if err != nil {
		panic(err)
	}

	s, err := codec.Decode(cookie)
	if err != nil {
		panic(err) // in a handler: start a new session
	}
	s.Values["visits"] = s.Values["visits"].(int64) + 1
	if _, err := codec.Encode(s); err != nil {
		panic(err)
	}
	fmt.Println(s.Values["user"], s.Values["visits"], len(s.ID))
	// Output: alice 2 32
}

// A sesame.Manager serves Beaker's cookie through the Session API: the Go
// handler reads the user and the values the Python application wrote and
// changes them; the Python application reads the change from the cookie.
func Example_manager() {
	codec, err := beaker.New(beaker.Config{
		ValidateKey: "the validate_key of the Python app",
		EncryptKey:  "the encrypt_key of the Python app",
		CryptoType:  beaker.CryptoCryptography,
		Serializer:  beaker.JSON,
		Timeout:     time.Hour,
	})
	if err != nil {
		panic(err)
	}
	m, err := sesame.New(sesame.Config{
		CookieCodec: codec,
		Cookie:      sesame.CookieConfig{Name: "beaker.session.id"},
		IdleTimeout: time.Hour, // Beaker's timeout
	})
	if err != nil {
		panic(err)
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
		fmt.Fprintf(w, "%s, visit %d", s.User(), n+1)
	}))

	// The cookie of a session the Python application wrote, with
	// request.session["auth.userid"] = "alice" and one visit (here made
	// with the codec itself).
	python, err := codec.Encode(&beaker.Session{Values: map[string]any{"auth.userid": "alice", "visits": 1}})
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest("GET", "https://example.org/", nil)
	req.Header.Set("Cookie", "beaker.session.id="+python)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Body.String())

	// What the Python application reads on the next request.
	s, err := codec.Decode(rec.Result().Cookies()[0].Value)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Values["auth.userid"], s.Values["visits"])
	// Output:
	// alice, visit 2
	// alice 2
}
