package bench

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPayloadSize checks that the sessions the benchmarks use are what
// the comparison promises: five small keys, about 250 bytes as JSON.
func TestPayloadSize(t *testing.T) {
	m := map[string]any{"user": user}
	for _, kv := range payload {
		m[kv.key] = kv.value
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 5 || len(b) < 230 || len(b) > 270 {
		t.Errorf("payload: %d keys, %d bytes as JSON; want 5 keys, about 250 bytes", len(m), len(b))
	}
}

// serve sends one request carrying cookie through lib's middleware to h
// and returns the body and the cookie the browser holds afterwards.
func serve(t *testing.T, lib library, h http.HandlerFunc, cookie string) (body, after string) {
	t.Helper()
	rec := httptest.NewRecorder()
	lib.Handler(h).ServeHTTP(rec, request(cookie))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	after = sessionCookie(rec.Header())
	if after == "" {
		after = cookie
	}
	return rec.Body.String(), after
}

// TestContenders checks that every adapter does what its scenario claims,
// so that no library is measured doing less: a read sees the seeded
// session, a write is there on the next request, a login keeps the data
// under a new id (and, server-side, ends the old one), and a new visitor
// who writes nothing gets no cookie.
func TestContenders(t *testing.T) {
	for _, c := range contenders {
		t.Run(c.kind+"/"+c.lib, func(t *testing.T) {
			lib := c.open(t)
			read := readName(lib)

			cookie := seed(t, lib, true)
			if got, _ := serve(t, lib, read, cookie); got != "Alice Example" {
				t.Fatalf("read: got %q, want the seeded name", got)
			}

			_, cookie = serve(t, lib, func(w http.ResponseWriter, r *http.Request) {
				lib.Put(w, r, "name", "Bob Example")
				io.WriteString(w, "ok")
			}, cookie)
			if got, _ := serve(t, lib, read, cookie); got != "Bob Example" {
				t.Fatalf("after a write: got %q, want the written name", got)
			}

			old := seed(t, lib, false)
			_, renewed := serve(t, lib, login(lib), old)
			if renewed == old {
				t.Fatal("login: the browser's cookie did not change")
			}
			if got, _ := serve(t, lib, read, renewed); got != "Alice Example" {
				t.Fatalf("after login: got %q, want the session's data", got)
			}
			if c.kind != "cookie" {
				if got, _ := serve(t, lib, read, old); got != "" {
					t.Fatalf("after login: the old id still reads %q", got)
				}
			}

			if _, after := serve(t, lib, read, ""); after != "" {
				t.Fatalf("a new visitor who writes nothing got a cookie: %q", after)
			}
		})
	}
}
