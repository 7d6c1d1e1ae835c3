package sesame_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
)

func TestCommitBeforeStreaming(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		s.Put("step", 1)
		if err := s.Commit(); err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("streaming..."))
		w.(http.Flusher).Flush()
		// The session exists now, so this change needs no new cookie.
		s.Put("step", 2)
	})
	if errs := e.errors(); len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	c := sessionCookie(rec)
	if c == nil {
		t.Fatal("Commit did not set the cookie")
	}
	if v, err := get[int](e, c.Value, "step"); err != nil || v != 2 {
		t.Fatalf("step = %v, %v; the change after the header must be saved", v, err)
	}
}

func TestChangeAfterHeaderNeedingACookieIsReported(t *testing.T) {
	tests := []struct {
		name   string
		cookie bool
		change func(*sesame.Session) error
	}{
		{"first value of a new session", false, func(s *sesame.Session) error { return s.Put("k", "v") }},
		{"login", true, func(s *sesame.Session) error { return s.Login("dave") }},
		{"renew", true, (*sesame.Session).Renew},
		{"remember me", true, func(s *sesame.Session) error { return s.RememberMe(true) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sesame.Config{})
			cookie := ""
			if tc.cookie {
				cookie = e.newSession("k", "v")
			}
			rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("body first"))
				tc.change(s)
			})
			errs := e.errors()
			if len(errs) != 1 || !errors.Is(errs[0], sesame.ErrHeadersWritten) {
				t.Fatalf("errors = %v; want one ErrHeadersWritten", errs)
			}
			if rec.Body.String() != "body first" {
				t.Errorf("body = %q; the error handler must not write after the header", rec.Body.String())
			}
			if tc.cookie {
				if v, err := get[string](e, cookie, "k"); err != nil || v != "v" {
					t.Errorf("refused change damaged the session: %q, %v", v, err)
				}
			}
		})
	}
}

func TestStoreFailureGoesToErrorHandler(t *testing.T) {
	ms := newMemStore(t, memstore.Config{})
	fs := &failingStore{Store: ms}
	e := newEnv(t, sesame.Config{Store: fs})
	cookie := e.newSession("k", "v")
	fs.fail = true
	rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if _, err := sesame.Get[string](s, "k"); !errors.Is(err, errStoreDown) {
			t.Errorf("Get with the store down: %v", err)
		}
		if err := s.Put("k", "new"); !errors.Is(err, errStoreDown) {
			t.Errorf("Put with the store down: %v", err)
		}
		w.Write([]byte("handler output"))
	})
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "handler output") {
		t.Fatalf("response %d %q; want the error handler's 500", rec.Code, rec.Body.String())
	}
	if strings.Contains(rec.Body.String(), cookie) {
		t.Fatal("error response leaks the session id")
	}
	fs.fail = false
	if v, err := get[string](e, cookie, "k"); err != nil || v != "v" {
		t.Fatalf("session lost during the outage: %q, %v", v, err)
	}
}

func TestSaveFailureGoesToErrorHandler(t *testing.T) {
	ms := newMemStore(t, memstore.Config{})
	fs := &failingStore{Store: ms, failSaves: true}
	e := newEnv(t, sesame.Config{Store: fs})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		s.Put("k", "v")
		w.Write([]byte("handler output"))
	})
	if rec.Code != http.StatusInternalServerError || sessionCookie(rec) != nil {
		t.Fatalf("response %d, cookie %v; want 500 and no cookie", rec.Code, sessionCookie(rec))
	}
	if errs := e.errors(); len(errs) != 1 || !errors.Is(errs[0], errStoreDown) {
		t.Fatalf("errors = %v", errs)
	}
}

func TestFailingRNGIsAnError(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	sesame.SetRand(e.m, strings.NewReader(""))
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("k", "v") })
	if rec.Code != http.StatusInternalServerError || sessionCookie(rec) != nil {
		t.Fatalf("response %d with cookie %v; want 500 and no session", rec.Code, sessionCookie(rec))
	}
	if errs := e.errors(); len(errs) != 1 || !errors.Is(errs[0], io.EOF) {
		t.Fatalf("errors = %v; want the RNG's error", errs)
	}
}

var errStoreDown = errors.New("store is down")

// failingStore passes calls to a real store until told to fail.
type failingStore struct {
	sesame.Store
	fail, failSaves bool
}

func (f *failingStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if f.fail {
		return nil, 0, errStoreDown
	}
	return f.Store.Load(ctx, key)
}

func (f *failingStore) Save(ctx context.Context, key string, v []byte, ver uint64, o sesame.SaveOptions) (uint64, error) {
	if f.fail || f.failSaves {
		return 0, errStoreDown
	}
	return f.Store.Save(ctx, key, v, ver, o)
}

func TestResponseWriterKeepsInterfaces(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("/flush", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		s.Put("k", "v")
		if _, ok := w.(http.Flusher); !ok {
			t.Error("not an http.Flusher")
		}
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("ResponseController.SetWriteDeadline: %v", err)
		}
		w.Write([]byte("part1\n"))
		if err := rc.Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
		w.Write([]byte("part2\n"))
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		s.Put("k", "v")
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("not an http.Hijacker")
			return
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		buf.Flush()
	})
	srv := httptest.NewServer(e.m.Handler(mux))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/flush")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "part1\npart2\n" || len(resp.Header.Values("Set-Cookie")) != 1 {
		t.Errorf("flush response %q, Set-Cookie %q", body, resp.Header.Values("Set-Cookie"))
	}

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if string(body) != "hijacked" {
		t.Errorf("hijacked body %q", body)
	}
	// The hijacking handler's change needed a cookie it could not send.
	if errs := e.errors(); len(errs) != 1 || !errors.Is(errs[0], sesame.ErrHeadersWritten) {
		t.Errorf("errors = %v; want ErrHeadersWritten for the hijacked new session", errs)
	}
}

func TestInformationalHeaderDoesNotCommit(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		s.Put("k", "v")
		w.Write([]byte("ok"))
	})
	if lines := rec.Header().Values("Set-Cookie"); len(lines) != 1 || len(e.errors()) != 0 {
		t.Fatalf("a 103 response stopped the session from being set: %v, %v", rec.Header(), e.errors())
	}
}

func TestDefaultErrorHandlerHidesDetails(t *testing.T) {
	ms := newMemStore(t, memstore.Config{})
	var logs strings.Builder
	m, err := sesame.New(sesame.Config{Store: &failingStore{Store: ms, failSaves: true}, Logger: newTextLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		s.Put("k", "v")
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "store is down") {
		t.Fatalf("default error response %d %q", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "store is down") {
		t.Fatalf("error not logged: %q", logs.String())
	}
}
