package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	scsmem "github.com/alexedwards/scs/v2/memstore"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/sessions"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/seal"
	"github.com/sesame-go/sesame/store/memstore"
	sesameredis "github.com/sesame-go/sesame/store/redisstore"
	"github.com/sesame-go/sesame/store/storetest"
)

// library is what a scenario asks of a session library. Each adapter
// does what that library's documentation shows for the task, with the
// library's defaults except where a setting is named in the contender's
// comment, so every library runs the same handlers over the same
// scaffolding.
type library interface {
	// Handler wraps h in the library's middleware (or nothing, for a
	// library without one).
	Handler(h http.Handler) http.Handler
	// GetString reads a string value of the request's session.
	GetString(w http.ResponseWriter, r *http.Request, key string) string
	// Put sets one value and arranges for it to be saved.
	Put(w http.ResponseWriter, r *http.Request, key string, v any)
	// Login records user as the session's user, with a new session id
	// where the library has one.
	Login(w http.ResponseWriter, r *http.Request, user string)
}

// contender is one library over one kind of storage.
type contender struct {
	lib  string // sesame, scs, gorilla, floor
	kind string // mem, cookie, redis
	// open returns the library ready for requests, or skips b.
	open func(tb testing.TB) library
}

// contenders are measured in this order; the first of each kind is Sesame,
// the base the others are compared with.
var contenders = []contender{
	{"sesame", "mem", openSesameMem},
	{"scs", "mem", openSCSMem},
	{"sesame", "cookie", openSesameSealed},
	{"gorilla", "cookie", openGorilla},
	{"sesame", "redis", openSesameRedis},
	{"scs", "redis", openSCSRedis},
	// No library: the floor of any on Redis (floor_test.go).
	{"floor", "redis", openFloorRedis},
	// Sesame's Redis store with its client-side cache on, against the same
	// scs: scs has no such cache.
	{"sesame", "rediscache", openSesameRedisCached},
	{"scs", "rediscache", openSCSRedis},
}

// sesameLib is Sesame with its defaults over any backend.
type sesameLib struct{ m *sesame.Manager }

func (l sesameLib) Handler(h http.Handler) http.Handler { return l.m.Handler(h) }

func (sesameLib) GetString(_ http.ResponseWriter, r *http.Request, key string) string {
	s, _ := sesame.FromContext(r.Context())
	v, _ := sesame.Get[string](s, key)
	return v
}

func (sesameLib) Put(_ http.ResponseWriter, r *http.Request, key string, v any) {
	s, _ := sesame.FromContext(r.Context())
	s.Put(key, v)
}

func (sesameLib) Login(_ http.ResponseWriter, r *http.Request, user string) {
	s, _ := sesame.FromContext(r.Context())
	s.Login(user)
}

func newSesame(tb testing.TB, cfg sesame.Config) library {
	m, err := sesame.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return sesameLib{m}
}

func openSesameMem(tb testing.TB) library {
	ms, err := memstore.New(memstore.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ms.Close() })
	return newSesame(tb, sesame.Config{Store: ms})
}

func openSesameSealed(tb testing.TB) library {
	key, err := seal.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := seal.ParseKeyRing(key)
	if err != nil {
		tb.Fatal(err)
	}
	return newSesame(tb, sesame.Config{Seal: ring})
}

func openSesameRedis(tb testing.TB) library {
	return openSesameRedisWith(tb, 0)
}

// openSesameRedisCached serves loads from the store's client-side cache
// for at most two seconds, as its README suggests.
func openSesameRedisCached(tb testing.TB) library {
	return openSesameRedisWith(tb, 2*time.Second)
}

func openSesameRedisWith(tb testing.TB, cache time.Duration) library {
	addr := needRedis(tb)
	rs, err := sesameredis.New(sesameredis.Config{Addrs: []string{addr}, Prefix: runPrefix("sesame"), ClientSideCache: cache})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rs.Close() })
	return newSesame(tb, sesame.Config{Store: rs})
}

// scsLib is scs with a Secure cookie (its default is not) and otherwise
// its defaults: 24 h lifetime and no idle timeout. With an idle timeout
// scs writes the session back on every request.
type scsLib struct{ m *scs.SessionManager }

func newSCS(store scs.Store) library {
	m := scs.New()
	m.Store = store
	m.Cookie.Secure = true
	return scsLib{m}
}

func (l scsLib) Handler(h http.Handler) http.Handler { return l.m.LoadAndSave(h) }

func (l scsLib) GetString(_ http.ResponseWriter, r *http.Request, key string) string {
	return l.m.GetString(r.Context(), key)
}

func (l scsLib) Put(_ http.ResponseWriter, r *http.Request, key string, v any) {
	l.m.Put(r.Context(), key, v)
}

func (l scsLib) Login(w http.ResponseWriter, r *http.Request, user string) {
	if err := l.m.RenewToken(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	l.m.Put(r.Context(), "user", user)
}

// openSCSMem's store runs no cleanup goroutine: scs's StopCleanup races
// with the goroutine's start, and a sweep once a minute does not change
// the measurements.
func openSCSMem(tb testing.TB) library {
	return newSCS(scsmem.NewWithCleanupInterval(0))
}

func openSCSRedis(tb testing.TB) library {
	addr := needRedis(tb)
	pool := &redis.Pool{
		MaxIdle:     64,
		IdleTimeout: time.Minute,
		Dial:        func() (redis.Conn, error) { return redis.Dial("tcp", addr) },
	}
	tb.Cleanup(func() { pool.Close() })
	return newSCS(redisstore.NewWithPrefix(pool, runPrefix("scs")))
}

// gorillaLib is gorilla/sessions' CookieStore with a hash key and a block
// key, so that its cookie is encrypted as well as signed like Sesame's
// sealed cookie, HttpOnly and SameSite=Lax as Sesame's are by default.
// Gorilla saves only when asked, so Put and Login save.
type gorillaLib struct{ store *sessions.CookieStore }

const gorillaName = "session"

func openGorilla(tb testing.TB) library {
	store := sessions.NewCookieStore(randomKey(tb, 32), randomKey(tb, 32))
	store.Options.HttpOnly = true
	store.Options.SameSite = http.SameSiteLaxMode
	return gorillaLib{store}
}

func (gorillaLib) Handler(h http.Handler) http.Handler { return h }

func (l gorillaLib) session(w http.ResponseWriter, r *http.Request) *sessions.Session {
	s, err := l.store.Get(r, gorillaName)
	if err != nil && !s.IsNew {
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
	return s
}

func (l gorillaLib) GetString(w http.ResponseWriter, r *http.Request, key string) string {
	v, _ := l.session(w, r).Values[key].(string)
	return v
}

func (l gorillaLib) Put(w http.ResponseWriter, r *http.Request, key string, v any) {
	s := l.session(w, r)
	s.Values[key] = v
	if err := s.Save(r, w); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (l gorillaLib) Login(w http.ResponseWriter, r *http.Request, user string) {
	l.Put(w, r, "user", user)
}

func randomKey(tb testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// runPrefix is a key prefix of its own for each store a run opens, so runs
// never read each other's sessions on a shared server.
func runPrefix(lib string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "bench:" + lib + ":" + hex.EncodeToString(b) + ":"
}

// needRedis returns the Redis address (SESAME_REDIS_ADDR, default
// 127.0.0.1:6379), or skips tb when nothing answers there; with
// SESAME_REQUIRE_SERVERS=1 that is a failure instead.
func needRedis(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv("SESAME_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err == nil {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, err = io.WriteString(conn, "PING\r\n")
		if err == nil {
			buf := make([]byte, 7)
			_, err = io.ReadFull(conn, buf)
		}
		conn.Close()
	}
	if err != nil {
		storetest.ServerMissing(tb, "no Redis at "+addr+": "+err.Error())
	}
	return addr
}
