package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// The benchmarks run every scenario for every contender, named
// Scenario/kind=K/lib=L, so that benchstat can set the libraries side by
// side with Sesame as the base of each kind:
//
//	go test -run '^$' -bench . -count 10 | tee new.txt
//	benchstat -col '/lib@(sesame scs gorilla floor)' new.txt
//
// run.sh does that and more.

// user is the user every scenario logs in.
const user = "user-1234567890"

// payload is the session every scenario starts from besides its user:
// with the user, five small keys, about 250 bytes as JSON (checked by
// TestPayloadSize).
var payload = []struct {
	key   string
	value any
}{
	{"name", "Alice Example"},
	{"csrf", "k3JqXhV8cQ2mN7pL0sT4wY9zB6dF1gH5jR8uE2aC3vM"},
	{"cart", []int{10231, 10987, 11342, 12007, 12563, 13101, 13877, 14209, 15110, 15672, 16034, 16890, 17215, 18002, 18761, 19433, 20118, 20764, 21390, 22047, 22681}},
	{"visits", 42},
}

// writer is the response writer of every benchmark: it keeps the header
// (to measure the session cookie) and the status (to fail a benchmark that
// measures an error path), and drops the body.
type writer struct {
	h    http.Header
	code int
}

func newWriter() *writer { return &writer{h: make(http.Header)} }

func (w *writer) Header() http.Header { return w.h }
func (w *writer) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}
func (w *writer) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *writer) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// reset readies w for the next request.
func (w *writer) reset() {
	clear(w.h)
	w.code = 0
}

// request is a request of a browser holding cookie (none if empty).
func request(cookie string) *http.Request {
	r := httptest.NewRequest("GET", "https://example.com/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return r
}

// seed creates a session holding the payload, logged in if loggedIn, and
// returns the Cookie header that carries it.
func seed(tb testing.TB, lib library, loggedIn bool) string {
	h := lib.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loggedIn {
			lib.Login(w, r, user)
		}
		for _, kv := range payload {
			lib.Put(w, r, kv.key, kv.value)
		}
		io.WriteString(w, "ok")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request(""))
	cookie := sessionCookie(rec.Header())
	if rec.Code != http.StatusOK || cookie == "" {
		tb.Fatalf("seeding a session: status %d, cookie %q, body %q", rec.Code, cookie, rec.Body.String())
	}
	return cookie
}

// sessionCookie returns the name=value of the last cookie h sets, or ""
// when it sets none: what the browser sends from then on.
func sessionCookie(h http.Header) string {
	sets := h.Values("Set-Cookie")
	if len(sets) == 0 {
		return ""
	}
	nv, _, _ := strings.Cut(sets[len(sets)-1], ";")
	return nv
}

// cookieBytes is the size of the session cookie the browser holds after
// the response w answered to r: the one w set, or else the one r carried.
func cookieBytes(w *writer, r *http.Request) int {
	if c := sessionCookie(w.h); c != "" {
		return len(c)
	}
	return len(r.Header.Get("Cookie"))
}

// scenario is one kind of request, measured for every contender.
type scenario struct {
	name string
	// handler returns the handler of one goroutine's requests.
	handler func(lib library) http.HandlerFunc
	// session is the state of the browser's session before the request:
	// none (a new visitor), anonymous (holding the payload but no user)
	// or loggedIn.
	session int
}

const (
	none = iota
	anonymous
	loggedIn
)

var scenarios = []scenario{
	{"ReadOnly", readName, loggedIn},
	{"Write", writeVisits, loggedIn},
	{"Anonymous", readName, none},
	{"Login", login, anonymous},
}

// readName reads one value and writes it out.
func readName(lib library) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, lib.GetString(w, r, "name"))
	}
}

// writeVisits changes one value.
func writeVisits(lib library) http.HandlerFunc {
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		n++
		lib.Put(w, r, "visits", n)
		io.WriteString(w, "ok")
	}
}

// login logs the session in, renewing its id where the library does.
func login(lib library) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lib.Login(w, r, user)
		io.WriteString(w, "ok")
	}
}

func BenchmarkReadOnly(b *testing.B)  { benchScenario(b, scenarios[0], false) }
func BenchmarkWrite(b *testing.B)     { benchScenario(b, scenarios[1], false) }
func BenchmarkAnonymous(b *testing.B) { benchScenario(b, scenarios[2], false) }
func BenchmarkLogin(b *testing.B)     { benchScenario(b, scenarios[3], false) }

func BenchmarkReadOnlyParallel(b *testing.B)  { benchScenario(b, scenarios[0], true) }
func BenchmarkWriteParallel(b *testing.B)     { benchScenario(b, scenarios[1], true) }
func BenchmarkAnonymousParallel(b *testing.B) { benchScenario(b, scenarios[2], true) }
func BenchmarkLoginParallel(b *testing.B)     { benchScenario(b, scenarios[3], true) }

func benchScenario(b *testing.B, sc scenario, parallel bool) {
	for _, c := range contenders {
		b.Run("kind="+c.kind+"/lib="+c.lib, func(b *testing.B) {
			lib := c.open(b)
			if parallel {
				runParallel(b, lib, sc)
			} else {
				run(b, lib, sc)
			}
		})
	}
}

// startSessions returns n Cookie headers for the scenario's starting state.
func startSessions(b *testing.B, lib library, sc scenario, n int) []string {
	cookies := make([]string, n)
	if sc.session == none {
		return cookies
	}
	for i := range cookies {
		cookies[i] = seed(b, lib, sc.session == loggedIn)
	}
	return cookies
}

// run measures the scenario one request at a time. A login consumes its
// session, so each iteration gets its own; the other scenarios reuse one.
func run(b *testing.B, lib library, sc scenario) {
	n := 1
	if sc.session == anonymous {
		n = b.N
	}
	cookies := startSessions(b, lib, sc, n)
	h := lib.Handler(sc.handler(lib))
	w := newWriter()
	req := request(cookies[0])
	base := *req
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// Some libraries keep state in the request they are given; each
		// iteration starts from the same request, as a server's would.
		*req = base
		if n > 1 {
			req.Header["Cookie"][0] = cookies[i]
		}
		w.reset()
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cookieBytes(w, req)), "cookie-bytes")
}

// runParallel measures the scenario from GOMAXPROCS goroutines at once,
// each a browser with its own session (a login, its own each time).
func runParallel(b *testing.B, lib library, sc scenario) {
	n := runtime.GOMAXPROCS(0)
	if sc.session == anonymous {
		n = b.N
	}
	cookies := startSessions(b, lib, sc, n)
	var goroutines, next, size atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		h := lib.Handler(sc.handler(lib))
		w := newWriter()
		g := goroutines.Add(1) - 1
		req := request(cookies[int(g)%len(cookies)])
		base := *req
		for pb.Next() {
			*req = base
			if sc.session == anonymous {
				req.Header["Cookie"][0] = cookies[next.Add(1)-1]
			}
			w.reset()
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Errorf("status %d", w.code)
				return
			}
		}
		size.Store(int64(cookieBytes(w, req)))
	})
	b.StopTimer()
	b.ReportMetric(float64(size.Load()), "cookie-bytes")
}
