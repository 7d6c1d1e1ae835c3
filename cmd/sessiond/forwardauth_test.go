package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/proxy"
)

// headerWriter is the least a handler can write to: headers and a status,
// the body dropped. A forward-auth answer has no body.
type headerWriter struct {
	h      http.Header
	status int
}

func (w *headerWriter) Header() http.Header { return w.h }

func (w *headerWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *headerWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// loggedInCheck logs alice in on a test server and returns a check: it
// runs a forward-auth request carrying her session through the server's
// whole handler and fails unless it names alice. bare is the same check
// run past the server's routing, straight into the session middleware
// and ForwardAuth.
func loggedInCheck(tb testing.TB, edit func(*options)) (check, bare func()) {
	s, h := newTestServer(tb, edit)
	c := newClient(tb, h)
	if res := c.login("alice", "correct horse"); res.StatusCode != http.StatusSeeOther {
		tb.Fatalf("login: %s", res.Status)
	}
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+pages.PathAuth, nil)
	req.Header.Set("User-Agent", c.ua)
	for n, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: n, Value: v})
	}
	w := &headerWriter{h: http.Header{}}
	run := func(h http.Handler) func() {
		return func() {
			clear(w.h)
			w.status = 0
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK || w.h.Get("X-Auth-User") != "alice" {
				tb.Fatalf("check answered %d for %q", w.status, w.h.Get("X-Auth-User"))
			}
		}
	}
	return run(h), run(proxy.BodyDeadline(s.opt.BodyTimeout, s.mgr.Handler(http.HandlerFunc(s.proxy.ForwardAuth))))
}

var forwardAuthStores = []struct {
	name string
	edit func(*options)
}{
	{"memstore", nil},
	{"sealed", func(o *options) { o.Sealed = true }},
}

// BenchmarkForwardAuth is sessiond's own work for one forward-auth check
// of a logged-in session: the whole handler, middleware included, on
// memstore and with sealed cookies, without the network and HTTP parsing
// that net/http adds (bench/authcmp measures those too).
func BenchmarkForwardAuth(b *testing.B) {
	for _, tc := range forwardAuthStores {
		b.Run(tc.name, func(b *testing.B) {
			check, _ := loggedInCheck(b, tc.edit)
			b.ReportAllocs()
			for b.Loop() {
				check()
			}
		})
	}
}

// TestForwardAuthDoesNotAllocateForRouting counts the allocations of a
// check of a logged-in session through the server's whole handler and
// through the session middleware and ForwardAuth alone: routing the
// check, which the mux's pattern matching did with an allocation per
// request, must add none.
func TestForwardAuthDoesNotAllocateForRouting(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers, so allocation counts are not meaningful")
	}
	for _, tc := range forwardAuthStores {
		t.Run(tc.name, func(t *testing.T) {
			check, bare := loggedInCheck(t, tc.edit)
			// Tiny strings (a user name) share 16-byte blocks, so a
			// single run can count one allocation more or less: compare
			// averages of many.
			routed, direct := testing.AllocsPerRun(1000, check), testing.AllocsPerRun(1000, bare)
			t.Logf("%v allocations per check routed, %v direct", routed, direct)
			if routed > direct {
				t.Errorf("routing a check allocates: %v allocations, %v without the routing", routed, direct)
			}
		})
	}
}
