package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// floorLib is no session library but the least a server-side session can
// cost on Redis, the bound of what any library there can reach: the id
// from the cookie, one GET of the session as JSON, and before the response
// goes out one unconditional SET with its expiry when it changed (a login:
// the SET under a new id and the DEL of the old, pipelined in one round trip),
// through rueidis with its defaults, as Sesame's store uses it. It
// checks no version, so concurrent requests overwrite each other's
// changes; it sets no idle deadline and keeps no user index: everything a
// library does beyond its two round trips is left out. TestContenders
// holds it to the same behaviour as the libraries.
type floorLib struct {
	c      rueidis.Client
	prefix string
}

// floorCookie names the floor's cookie; floorTTL is its records' lifetime,
// scs's default.
const (
	floorCookie = "floor"
	floorTTL    = 24 * time.Hour
)

// floorSession is one request's session.
type floorSession struct {
	id    string // "" until the session is saved once
	old   string // the id a login replaced, deleted with the save
	data  map[string]any
	dirty bool
}

type floorKey struct{}

func openFloorRedis(tb testing.TB) library {
	addr := needRedis(tb)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return floorLib{c: c, prefix: runPrefix("floor")}
}

func (l floorLib) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s := &floorSession{}
		if ck, err := r.Cookie(floorCookie); err == nil {
			b, err := l.c.Do(ctx, l.c.B().Get().Key(l.prefix+ck.Value).Build()).AsBytes()
			switch {
			case err == nil:
				if err := json.Unmarshal(b, &s.data); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				s.id = ck.Value
			case !rueidis.IsRedisNil(err):
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		fw := &floorWriter{ResponseWriter: w, l: l, ctx: ctx, s: s}
		h.ServeHTTP(fw, r.WithContext(context.WithValue(ctx, floorKey{}, s)))
		fw.commit()
	})
}

// floorWriter saves the session before the response goes out, as a
// library must for its Set-Cookie to count, and answers 500 instead when
// the save fails, which fails a benchmark.
type floorWriter struct {
	http.ResponseWriter
	l      floorLib
	ctx    context.Context
	s      *floorSession
	done   bool
	failed bool
}

// commit saves a changed session, once, and reports whether the response
// may go on.
func (w *floorWriter) commit() bool {
	if !w.done {
		w.done = true
		if w.s.dirty {
			if err := w.l.save(w.ctx, w.s); err != nil {
				w.failed = true
				http.Error(w.ResponseWriter, err.Error(), http.StatusInternalServerError)
			}
		}
	}
	return !w.failed
}

func (w *floorWriter) WriteHeader(code int) {
	if w.commit() {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *floorWriter) Write(b []byte) (int, error) {
	if !w.commit() {
		return 0, errFloorSave
	}
	return w.ResponseWriter.Write(b)
}

// errFloorSave is what the handler's writes get after a failed save.
var errFloorSave = errors.New("floor: the session was not saved")

// save writes s under its id, setting its cookie first if the id is new.
func (l floorLib) save(ctx context.Context, s *floorSession) error {
	b, err := json.Marshal(s.data)
	if err != nil {
		return err
	}
	set := l.c.B().Set().Key(l.prefix + s.id).Value(rueidis.BinaryString(b)).PxMilliseconds(floorTTL.Milliseconds()).Build()
	if s.old == "" {
		return l.c.Do(ctx, set).Error()
	}
	for _, res := range l.c.DoMulti(ctx, set, l.c.B().Del().Key(l.prefix+s.old).Build()) {
		if err := res.Error(); err != nil {
			return err
		}
	}
	return nil
}

func floorFrom(r *http.Request) *floorSession { return r.Context().Value(floorKey{}).(*floorSession) }

func (floorLib) GetString(_ http.ResponseWriter, r *http.Request, key string) string {
	v, _ := floorFrom(r).data[key].(string)
	return v
}

func (floorLib) Put(w http.ResponseWriter, r *http.Request, key string, v any) {
	s := floorFrom(r)
	if s.data == nil {
		s.data = map[string]any{}
	}
	s.data[key] = v
	if s.id == "" {
		renew(w, s)
	}
	s.dirty = true
}

func (floorLib) Login(w http.ResponseWriter, r *http.Request, user string) {
	s := floorFrom(r)
	if s.data == nil {
		s.data = map[string]any{}
	}
	s.data["user"] = user
	s.old = s.id
	renew(w, s)
	s.dirty = true
}

// renew gives s a new random id and sets it as the browser's cookie.
func renew(w http.ResponseWriter, s *floorSession) {
	b := make([]byte, 32)
	rand.Read(b)
	s.id = hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: floorCookie, Value: s.id, Path: "/", MaxAge: int(floorTTL.Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

// TestFloorFailsLoudly: a floor whose save fails answers 500 before the
// handler's body goes out, so a benchmark cannot measure a failing floor.
func TestFloorFailsLoudly(t *testing.T) {
	lib := openFloorRedis(t).(floorLib)
	lib.c.Close() // every command fails from now on
	rec := httptest.NewRecorder()
	lib.Handler(writeVisits(lib)).ServeHTTP(rec, request(""))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "ok") {
		t.Errorf("a failed save answered %d %q, want 500 without the handler's body", rec.Code, rec.Body)
	}
}
