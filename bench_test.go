package sesame_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
)

// benchWriter is the response writer every benchmark uses, so that the
// baseline and the session benchmarks pay the same scaffolding costs.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header               { return w.h }
func (w *benchWriter) Write(b []byte) (int, error)       { return len(b), nil }
func (w *benchWriter) WriteHeader(int)                   {}
func (w *benchWriter) WriteString(s string) (int, error) { return len(s), nil }

// benchSetup returns a Manager over a memstore and a request carrying the
// cookie of a session that holds five small values.
func benchSetup(b *testing.B) (*sesame.Manager, *http.Request) {
	ms := newMemStore(b, memstore.Config{})
	return benchSetupConfig(b, sesame.Config{Store: ms})
}

func benchSetupConfig(b *testing.B, cfg sesame.Config) (*sesame.Manager, *http.Request) {
	m, err := sesame.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		s.Login("user-12345")
		s.Put("name", "Alice Example")
		s.Put("theme", "dark")
		s.Put("cart", []int{101, 202, 303})
		s.Put("visits", 42)
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	req := httptest.NewRequest("GET", "/", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	return m, req
}

func run(b *testing.B, h http.Handler, req *http.Request) {
	w := &benchWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

// BenchmarkBaseline is a bare handler doing the same response work with
// no session: the numbers the other benchmarks are compared with.
func BenchmarkBaseline(b *testing.B) {
	_, req := benchSetup(b)
	name := "Alice Example"
	run(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}), req)
}

// readHandler reads one key of the session.
var readHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	s, _ := sesame.FromContext(r.Context())
	name, _ := sesame.Get[string](s, "name")
	io.WriteString(w, name)
})

// writeHandler writes one key of the session.
func writeHandler() http.Handler {
	i := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		i++
		s.Put("visits", i)
		io.WriteString(w, "ok")
	})
}

// BenchmarkReadOnly reads one key of an existing session.
func BenchmarkReadOnly(b *testing.B) {
	m, req := benchSetup(b)
	run(b, m.Handler(readHandler), req)
}

// BenchmarkWrite writes one key of an existing session.
func BenchmarkWrite(b *testing.B) {
	m, req := benchSetup(b)
	run(b, m.Handler(writeHandler()), req)
}

// BenchmarkAnonymous is a visitor without a cookie whose handler looks at
// the session and writes nothing: it must cost next to nothing.
func BenchmarkAnonymous(b *testing.B) {
	m, _ := benchSetup(b)
	req := httptest.NewRequest("GET", "/", nil)
	run(b, m.Handler(readHandler), req)
}

func sealedSetup(b *testing.B) (*sesame.Manager, *http.Request) {
	return benchSetupConfig(b, sesame.Config{Seal: newRing(b, genKey(b))})
}

// BenchmarkSealedReadOnly reads one key of a sealed-cookie session.
func BenchmarkSealedReadOnly(b *testing.B) {
	m, req := sealedSetup(b)
	run(b, m.Handler(readHandler), req)
}

// BenchmarkSealedWrite writes one key of a sealed-cookie session.
func BenchmarkSealedWrite(b *testing.B) {
	m, req := sealedSetup(b)
	run(b, m.Handler(writeHandler()), req)
}
