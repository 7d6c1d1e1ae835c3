package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// floorLib is no session library but the least a server-side session can
// cost on Redis, the bound of what any library there can reach: the id
// from the cookie, one GET of the session as JSON, and after the handler
// one unconditional SET with its expiry when it changed (a login: the SET
// under a new id and the DEL of the old, pipelined in one round trip),
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
		h.ServeHTTP(w, r.WithContext(context.WithValue(ctx, floorKey{}, s)))
		if s.dirty {
			if err := l.save(ctx, s); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		}
	})
}

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
