package sesame_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
)

// countingStore wraps a real store and counts the calls that reach it, so
// tests can prove which requests cost a store round trip.
type countingStore struct {
	sesame.Store
	loads, saves, deletes, renews atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, key)
}

func (c *countingStore) Save(ctx context.Context, key string, v []byte, ver uint64, o sesame.SaveOptions) (uint64, error) {
	c.saves.Add(1)
	return c.Store.Save(ctx, key, v, ver, o)
}

func (c *countingStore) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.Store.Delete(ctx, key)
}

func (c *countingStore) UserSessions(ctx context.Context, user string) ([]sesame.StoredRecord, error) {
	return c.Store.(sesame.UserIndex).UserSessions(ctx, user)
}

func (c *countingStore) DeleteUser(ctx context.Context, user string) error {
	return c.Store.(sesame.UserIndex).DeleteUser(ctx, user)
}

// keepsExpired is a store that never forgets a record, as a store whose
// sweeper has not run yet, or whose TTL is longer than the Manager's
// deadlines, behaves: the Manager's own deadline checks must catch what
// it returns.
type keepsExpired struct{ *countingStore }

func (k keepsExpired) Save(ctx context.Context, key string, v []byte, ver uint64, o sesame.SaveOptions) (uint64, error) {
	o.ExpiresAt = time.Time{}
	return k.countingStore.Save(ctx, key, v, ver, o)
}

func keepExpired(s sesame.Store) sesame.Store { return keepsExpired{s.(*countingStore)} }

func (c *countingStore) calls() int64 {
	return c.loads.Load() + c.saves.Load() + c.deletes.Load() + c.renews.Load()
}

// renewingStore is a countingStore that also passes on the wrapped
// store's sesame.Renewer, which countingStore hides: with it the Manager
// renews an id in one call, without it in three.
type renewingStore struct{ *countingStore }

func (r renewingStore) Renew(ctx context.Context, oldKey string, oldVersion uint64, newKey string, v []byte, o sesame.SaveOptions) (uint64, error) {
	r.renews.Add(1)
	return r.Store.(sesame.Renewer).Renew(ctx, oldKey, oldVersion, newKey, v, o)
}

// renewPaths runs test once for each way the Manager renews an id: with
// a store that is a sesame.Renewer, and with one that is not.
func renewPaths(t *testing.T, test func(t *testing.T, wrap func(sesame.Store) sesame.Store)) {
	t.Run("Renewer", func(t *testing.T) {
		test(t, func(s sesame.Store) sesame.Store { return renewingStore{s.(*countingStore)} })
	})
	t.Run("ThreeCalls", func(t *testing.T) { test(t, nil) })
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newMemStore returns a memstore with cfg, closed when the test ends.
func newMemStore(t testing.TB, cfg memstore.Config) *memstore.Store {
	t.Helper()
	ms, err := memstore.New(cfg)
	if err != nil {
		t.Fatalf("memstore.New: %v", err)
	}
	t.Cleanup(func() { ms.Close() })
	return ms
}

// env is a Manager over a counting memstore, a fake clock, and recorded
// events and errors.
type env struct {
	t      *testing.T
	m      *sesame.Manager
	store  *countingStore
	clock  *clock
	mu     sync.Mutex
	events []sesame.EventKind
	errs   []error
}

func newEnv(t *testing.T, cfg sesame.Config) *env {
	t.Helper()
	return newEnvWrapping(t, cfg, nil)
}

// newEnvWrapping is newEnv with the store wrapped by wrap (nil: not
// wrapped) before the Manager gets it.
func newEnvWrapping(t *testing.T, cfg sesame.Config, wrap func(sesame.Store) sesame.Store) *env {
	t.Helper()
	// The test clock starts from the real time, never from a fixed date,
	// and the store reads the same clock as the Manager: a store that
	// judged expiry by the real clock would disagree with the Manager
	// as soon as a test advances its clock, and a fixed date rots once
	// the calendar passes it. No test may depend on the calendar date,
	// on the machine's speed or on a fixed free port.
	// It starts on a whole second because records keep milliseconds and
	// cookies keep seconds: tests then compare deadlines exactly.
	c := &clock{now: time.Now().Truncate(time.Second)}
	ms := newMemStore(t, memstore.Config{Now: c.Now})
	e := &env{t: t, store: &countingStore{Store: ms}, clock: c}
	if cfg.Store == nil && cfg.Seal == nil && cfg.CookieCodec == nil {
		cfg.Store = e.store
		if wrap != nil {
			cfg.Store = wrap(e.store)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.OnEvent = func(_ context.Context, ev sesame.Event) {
		e.mu.Lock()
		e.events = append(e.events, ev.Kind)
		e.mu.Unlock()
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			e.mu.Lock()
			e.errs = append(e.errs, err)
			e.mu.Unlock()
			if !strings.Contains(err.Error(), "after the response header") {
				http.Error(w, "session error", http.StatusInternalServerError)
			}
		}
	}
	m, err := sesame.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sesame.SetClock(m, e.clock.Now)
	e.m = m
	return e
}

func (e *env) sawEvent(k sesame.EventKind) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, got := range e.events {
		if got == k {
			return true
		}
	}
	return false
}

// count returns how many events of kind k the Manager reported.
func (e *env) count(k sesame.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, got := range e.events {
		if got == k {
			n++
		}
	}
	return n
}

// sibling returns an env whose Manager serves e's store on e's clock: a
// second process in front of the same store, with its own commit locks,
// events and errors.
func (e *env) sibling() *env {
	e.t.Helper()
	o := newEnvWrapping(e.t, sesame.Config{}, func(sesame.Store) sesame.Store { return e.store })
	o.store, o.clock = e.store, e.clock
	sesame.SetClock(o.m, e.clock.Now)
	return o
}

func (e *env) errors() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

// do runs one request through the Manager with fn as the handler and the
// given cookie value (none if ""). fn may be nil.
func (e *env) do(cookie string, fn func(s *sesame.Session, w http.ResponseWriter, r *http.Request)) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest("GET", "https://example.test/", nil)
	req.Header.Set("User-Agent", "TestAgent/1.0")
	if cookie != "" {
		req.Header.Set("Cookie", sesame.DefaultCookieName+"="+cookie)
	}
	rec := httptest.NewRecorder()
	e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fn == nil {
			return
		}
		s, err := sesame.FromContext(r.Context())
		if err != nil {
			e.t.Errorf("FromContext under Handler: %v", err)
			return
		}
		fn(s, w, r)
	})).ServeHTTP(rec, req)
	return rec
}

// sessionCookie returns our cookie from a response, or nil.
func sessionCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == sesame.DefaultCookieName {
			return c
		}
	}
	return nil
}

// newSession creates a session holding key=value and returns its cookie value.
func (e *env) newSession(key string, value any) string {
	e.t.Helper()
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Put(key, value); err != nil {
			e.t.Fatal(err)
		}
	})
	c := sessionCookie(rec)
	if c == nil || c.Value == "" {
		e.t.Fatalf("no session cookie after Put; headers %v", rec.Header())
	}
	return c.Value
}

// get reads key from the session named by cookie.
func get[T any](e *env, cookie, key string) (T, error) {
	var v T
	var err error
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		v, err = sesame.Get[T](s, key)
	})
	return v, err
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
