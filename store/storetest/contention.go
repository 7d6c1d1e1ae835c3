package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sesame-go/sesame"
)

// The Manager load: sessionWriters goroutines, each sending
// sessionRequests read-modify-write requests one after another, all on one
// session. It is the load of one browser with many tabs or parallel
// fetches, which the Manager must serve without a single failure.
const (
	sessionWriters  = 16
	sessionRequests = 50
)

// testManagerContention drives a real sesame.Manager over the store
// through HTTP: every writer increments its own key of one shared session,
// so their requests change different keys and must all succeed (design
// rule 5), and every increment must survive. Commits of one session inside
// one process are serialized (design rule 6), so a request's save
// conflicts at most once, when the record changed after the request read
// it; after the reload its save must succeed. The test counts the
// Manager's EventConflict events and fails on more than one per request.
func testManagerContention(t *testing.T, s sesame.Store) {
	var conflicts atomic.Int64
	var failures sync.Map // error text → count
	m, err := sesame.New(sesame.Config{
		Store:             s,
		InsecurePlainHTTP: true, // httptest.Server speaks plain HTTP
		Logger:            slog.New(slog.DiscardHandler),
		OnEvent: func(_ context.Context, ev sesame.Event) {
			if ev.Kind == sesame.EventConflict {
				conflicts.Add(1)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			n, _ := failures.LoadOrStore(err.Error(), new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			http.Error(w, err.Error(), http.StatusInternalServerError)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(incrementHandler)))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: sessionWriters}}
	t.Cleanup(client.CloseIdleConnections)

	// One request creates the session; the writers then share its cookie.
	cookie, _, err := sessionRequest(t.Context(), client, srv.URL+"/?k=start", "")
	if err != nil {
		t.Fatal(err)
	}
	if cookie == "" {
		t.Fatal("the first request set no session cookie")
	}

	var failed atomic.Int64
	var saved [sessionWriters]int // increments each writer saw succeed
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range sessionWriters {
		wg.Go(func() {
			<-start
			url := fmt.Sprintf("%s/?k=w%02d", srv.URL, w)
			for i := range sessionRequests {
				set, body, err := sessionRequest(t.Context(), client, url, cookie)
				switch {
				case err != nil:
					err = fmt.Errorf("writer %d, request %d: %w", w, i, err)
				case set != "":
					err = fmt.Errorf("writer %d, request %d: response set the session cookie to %q; want it left alone", w, i, set)
				case body != strconv.Itoa(saved[w]+1):
					err = fmt.Errorf("writer %d, request %d: counter = %s; want %d (an update was lost)", w, i, body, saved[w]+1)
				}
				if err != nil {
					if failed.Add(1) <= 5 {
						t.Error(err)
					}
					continue
				}
				saved[w]++
			}
		})
	}
	close(start)
	wg.Wait()

	requests := int64(sessionWriters * sessionRequests)
	t.Logf("%d writers × %d requests on one session: %d failed, %d conflicts (%.2f per request)",
		sessionWriters, sessionRequests, failed.Load(), conflicts.Load(), float64(conflicts.Load())/float64(requests))
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed; want none", n, requests)
	}
	failures.Range(func(k, v any) bool {
		t.Errorf("the error handler saw %d times: %s", v.(*atomic.Int64).Load(), k)
		return true
	})
	if c := conflicts.Load(); c > requests {
		t.Errorf("%d conflicts in %d requests; want at most one per request (commits of one session must be serialized)", c, requests)
	}

	// What each writer saw saved is in the session.
	for w := range sessionWriters {
		_, body, err := sessionRequest(t.Context(), client, fmt.Sprintf("%s/?k=w%02d&read=1", srv.URL, w), cookie)
		if err != nil {
			t.Fatal(err)
		}
		if body != strconv.Itoa(saved[w]) {
			t.Errorf("w%02d = %s after %d saved increments; want %d", w, body, saved[w], saved[w])
		}
	}
}

// incrementHandler adds one to the session's counter named by the query
// parameter k and answers with the new value; with read=1 it only answers
// with the current one.
func incrementHandler(w http.ResponseWriter, r *http.Request) {
	s, err := sesame.FromContext(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	k := r.URL.Query().Get("k")
	n, err := sesame.Get[int](s, k)
	if err != nil && !errors.Is(err, sesame.ErrNoValue) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if r.URL.Query().Get("read") == "" {
		n++
		if err := s.Put(k, n); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	io.WriteString(w, strconv.Itoa(n))
}

// sessionRequest sends one GET with the session cookie (none if "") and
// returns the session cookie the response set, if any, and the body. A
// status other than 200 is an error carrying the body.
func sessionRequest(ctx context.Context, client *http.Client, url, cookie string) (set, body string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", "", err
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: sesame.DefaultPlainHTTPCookieName, Value: cookie})
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	for _, c := range resp.Cookies() {
		if c.Name == sesame.DefaultPlainHTTPCookieName {
			set = c.Value
		}
	}
	return set, string(b), nil
}
