package sesame_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// signedJSON is a CookieCodec for the Manager's own tests, which need no
// other system: the session as JSON, signed with HMAC-SHA256, with an id
// of the format's own in State. Package beaker's Codec is the one tested
// against another system (Python's Beaker).
type signedJSON struct {
	key []byte
	// limit, if set, is the format's own limit on a cookie value:
	// EncodeCookie refuses longer ones with an error wrapping ErrTooLarge.
	limit int
	// expiry, if set, gives a session without an Expires one this long
	// after its LastSeen, as a format with an expiry of its own does.
	expiry time.Duration
	// refuse, if set, names a key EncodeCookie refuses to store.
	refuse string
	// suffix is appended to every value EncodeCookie writes: a codec
	// that writes what is not a cookie value.
	suffix string
}

// wire is what signedJSON keeps in its cookie.
type wire struct {
	ID      string                     `json:"id"`
	Values  map[string]json.RawMessage `json:"v"`
	Flashes []string                   `json:"f,omitempty"`
	User    string                     `json:"u,omitempty"`
	Created int64                      `json:"c"`
	Seen    int64                      `json:"s"`
	Expires int64                      `json:"e,omitempty"`
}

func newSignedJSON(t testing.TB) *signedJSON {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return &signedJSON{key: key}
}

func (c *signedJSON) sign(payload string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *signedJSON) read(value string) (wire, error) {
	var w wire
	payload, sig, ok := strings.Cut(value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(c.sign(payload))) {
		return w, errors.New("bad signature")
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return w, err
	}
	return w, json.Unmarshal(data, &w)
}

func (c *signedJSON) DecodeCookie(value string) (*sesame.CookieSession, error) {
	w, err := c.read(value)
	if err != nil {
		return nil, err
	}
	cs := &sesame.CookieSession{Values: w.Values, Flashes: w.Flashes, User: w.User,
		Created: time.UnixMilli(w.Created), LastSeen: time.UnixMilli(w.Seen), State: w.ID}
	if w.Expires != 0 {
		cs.Expires = time.UnixMilli(w.Expires)
	}
	return cs, nil
}

func (c *signedJSON) EncodeCookie(cs *sesame.CookieSession) (string, error) {
	id, _ := cs.State.(string)
	if id == "" || cs.Renew {
		id = rand.Text()
	}
	if _, ok := cs.Values[c.refuse]; ok && c.refuse != "" {
		return "", fmt.Errorf("signedJSON: %q cannot be stored", c.refuse)
	}
	if cs.Expires.IsZero() && c.expiry > 0 {
		cs.Expires = cs.LastSeen.Add(c.expiry)
	}
	w := wire{ID: id, Values: cs.Values, Flashes: cs.Flashes, User: cs.User,
		Created: cs.Created.UnixMilli(), Seen: cs.LastSeen.UnixMilli()}
	if !cs.Expires.IsZero() {
		w.Expires = cs.Expires.UnixMilli()
	}
	data, err := json.Marshal(w)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(data)
	v := payload + "." + c.sign(payload)
	if c.limit > 0 && len(v) > c.limit {
		return "", fmt.Errorf("%w: signedJSON keeps at most %d bytes", sesame.ErrTooLarge, c.limit)
	}
	cs.State = id
	return v + c.suffix, nil
}

func newCodecEnv(t *testing.T, codec *signedJSON, cfg sesame.Config) *env {
	t.Helper()
	cfg.CookieCodec = codec
	return newEnv(t, cfg)
}

// wireOf reads a cookie the Manager wrote.
func wireOf(t *testing.T, codec *signedJSON, rec *httptest.ResponseRecorder) wire {
	t.Helper()
	c := sessionCookie(rec)
	if c == nil || c.MaxAge < 0 {
		t.Fatalf("no session cookie: %v", rec.Header())
	}
	w, err := codec.read(c.Value)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// The Session API over a CookieCodec: values, flash messages and the user
// go into the codec's session and come back; the codec's State (its own
// id) is kept across writes and renewed by Login and Renew; a read-only
// request writes nothing; no store is used.
func TestCookieCodecRoundTrip(t *testing.T) {
	codec := newSignedJSON(t)
	e := newCodecEnv(t, codec, sesame.Config{})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		s.Put("cart", []string{"apple"})
		s.Flash("saved")
	})
	first := wireOf(t, codec, rec)
	if string(first.Values["cart"]) != `["apple"]` || len(first.Values) != 1 || first.Flashes[0] != "saved" ||
		first.User != "" || first.Created != e.clock.Now().UnixMilli() || first.Seen != first.Created || first.Expires != 0 {
		t.Fatalf("the codec was given %+v", first)
	}
	if !e.sawEvent(sesame.EventCreated) || e.store.calls() != 0 {
		t.Errorf("events %v, store calls %d", e.events, e.store.calls())
	}
	cookie := sessionCookie(rec).Value

	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if v, err := sesame.Get[[]string](s, "cart"); err != nil || v[0] != "apple" {
			t.Errorf("Get = %v, %v", v, err)
		}
	})
	if len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Error("a read-only request wrote the cookie")
	}

	e.clock.Advance(time.Second)
	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if msgs, _ := s.Flashes(); len(msgs) != 1 || msgs[0] != "saved" {
			t.Errorf("Flashes = %q", msgs)
		}
		s.Put("n", 1)
		s.Delete("cart")
	})
	second := wireOf(t, codec, rec)
	if second.ID != first.ID || second.Created != first.Created || second.Seen != e.clock.Now().UnixMilli() ||
		second.Flashes != nil || string(second.Values["n"]) != "1" || len(second.Values) != 1 {
		t.Fatalf("after a write the codec was given %+v (first %+v)", second, first)
	}
	cookie = sessionCookie(rec).Value

	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Renew() })
	renewed := wireOf(t, codec, rec)
	if renewed.ID == first.ID || renewed.Created != first.Created || !e.sawEvent(sesame.EventRenewed) {
		t.Fatalf("Renew gave the codec %+v", renewed)
	}
	e.clock.Advance(time.Second)
	rec = e.do(sessionCookie(rec).Value, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Login("alice") })
	loggedIn := wireOf(t, codec, rec)
	if loggedIn.ID == renewed.ID || loggedIn.User != "alice" || loggedIn.Created != e.clock.Now().UnixMilli() || string(loggedIn.Values["n"]) != "1" {
		t.Fatalf("Login gave the codec %+v", loggedIn)
	}
	var user string
	var keys []string
	e.do(sessionCookie(rec).Value, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		user = s.User()
		keys, _ = s.Keys()
	})
	if user != "alice" || len(keys) != 1 || keys[0] != "n" {
		t.Errorf("User = %q, Keys = %q", user, keys)
	}
}

// A CookieCodec session ends at the Manager's own deadlines, whatever the
// codec accepts: idle, absolute, and the cookie's Expires. The hooks hear
// whose session ended. A value the codec refuses gives an anonymous
// session, and the cookie is cleared.
func TestCookieCodecDeadlines(t *testing.T) {
	tests := []struct {
		name      string
		codec     func(*signedJSON)
		cfg       sesame.Config
		deadline  time.Duration // after the login
		keepAlive bool          // write every IdleTimeout - 1s until then
	}{
		{"idle", nil, sesame.Config{IdleTimeout: time.Minute}, time.Minute, false},
		{"absolute", nil, sesame.Config{IdleTimeout: time.Minute, Lifetime: 2 * time.Minute}, 2 * time.Minute, true},
		{"the codec's expiry", func(c *signedJSON) { c.expiry = 30 * time.Second }, sesame.Config{IdleTimeout: time.Minute}, 30 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			codec := newSignedJSON(t)
			if tt.codec != nil {
				tt.codec(codec)
			}
			h := &recordingHook{}
			tt.cfg.Hooks = []sesame.Hook{h}
			e := newCodecEnv(t, codec, tt.cfg)
			rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Login("alice") })
			cookie := sessionCookie(rec).Value
			h.take()
			left := tt.deadline
			for step := tt.cfg.IdleTimeout - time.Second; tt.keepAlive && left > step; left -= step {
				e.clock.Advance(step)
				rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("t", 1) })
				cookie = sessionCookie(rec).Value
			}
			e.clock.Advance(left - time.Millisecond)
			if u := userOf(e, cookie); u != "alice" {
				t.Fatalf("a millisecond before the deadline the user is %q", u)
			}
			h.take()
			e.clock.Advance(time.Millisecond)
			var user string
			rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { user = s.User() })
			if c := sessionCookie(rec); user != "" || c == nil || c.MaxAge >= 0 || !e.sawEvent(sesame.EventExpired) {
				t.Errorf("at the deadline: user %q, cookie %v, events %v", user, c, e.events)
			}
			if got := h.take(); len(got) != 1 || got[0] != "out alice" {
				t.Errorf("hooks heard %q", got)
			}
		})
	}

	codec := newSignedJSON(t)
	e := newCodecEnv(t, codec, sesame.Config{})
	cookie := e.newSession("k", 1)
	for _, bad := range []string{cookie + "x", "x" + cookie[1:], "no signature", strings.Repeat("A", 4096)} {
		var keys []string
		rec := e.do(bad, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { keys, _ = s.Keys() })
		if c := sessionCookie(rec); len(keys) != 0 || c == nil || c.MaxAge >= 0 {
			t.Errorf("cookie %.20q: keys %q, Set-Cookie %v", bad, keys, rec.Header().Values("Set-Cookie"))
		}
	}
	if e.count(sesame.EventInvalid) != 4 {
		t.Errorf("%d invalid events, want 4", e.count(sesame.EventInvalid))
	}
}

func userOf(e *env, cookie string) string {
	var user string
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { user = s.User() })
	return user
}

// Put, Flash and Login refuse a change that would make the cookie larger
// than browsers keep, or than the codec's format keeps, and a value the
// codec cannot store; the session stays as it was. Nothing can revoke
// CookieCodec sessions.
func TestCookieCodecRefusals(t *testing.T) {
	codec := newSignedJSON(t)
	codec.refuse = "forbidden"
	e := newCodecEnv(t, codec, sesame.Config{})
	cookie := e.newSession("small", "x")
	rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Put("big", strings.Repeat("x", 3100)); !errors.Is(err, sesame.ErrTooLarge) {
			t.Errorf("Put of a value beyond the browser's limit = %v", err)
		}
		if err := s.Flash(strings.Repeat("x", 3100)); !errors.Is(err, sesame.ErrTooLarge) {
			t.Errorf("Flash of a message beyond the browser's limit = %v", err)
		}
		if err := s.Put("forbidden", 1); err == nil || !strings.Contains(err.Error(), "cannot be stored") {
			t.Errorf("Put of a value the codec refuses = %v", err)
		}
		if err := e.m.RevokeAll(r.Context(), "alice"); !errors.Is(err, sesame.ErrNoRevocations) {
			t.Errorf("RevokeAll = %v", err)
		}
	})
	if len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Error("refused changes wrote the cookie")
	}
	// A format whose own limit is below the browser's.
	codec.limit = 3000
	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Put("big", strings.Repeat("x", 2500)); !errors.Is(err, sesame.ErrTooLarge) {
			t.Errorf("Put beyond the format's limit = %v", err)
		}
		if err := s.Login(strings.Repeat("u", 255)); err != nil {
			t.Errorf("Login within the limits = %v", err)
		}
	})
	if w := wireOf(t, codec, rec); w.User != strings.Repeat("u", 255) || w.Values["big"] != nil {
		t.Errorf("the codec was given %+v", w)
	}

	// A codec that writes what a Set-Cookie header cannot carry as it is
	// does not get to add attributes to the cookie.
	codec.suffix = "; Domain=evil.example"
	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Put("n", 1); err == nil || !strings.Contains(err.Error(), "not a cookie value") {
			t.Errorf("Put through a codec writing %q = %v", codec.suffix, err)
		}
	})
	if lines := rec.Header().Values("Set-Cookie"); len(lines) != 0 {
		t.Errorf("Set-Cookie %q", lines)
	}
}

// A session is extended like any other: a read IdleTimeout/20 after the
// last write encodes a new cookie. A session the codec read but cannot
// write again (another system wrote it with more than the Manager
// writes) is still served, and a read of it does not fail.
func TestCookieCodecExtension(t *testing.T) {
	codec := newSignedJSON(t)
	e := newCodecEnv(t, codec, sesame.Config{})
	cookie := e.newSession("k", strings.Repeat("x", 2000))
	e.clock.Advance(sesame.DefaultIdleTimeout / 20)
	rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.User() })
	if w := wireOf(t, codec, rec); w.Seen != e.clock.Now().UnixMilli() {
		t.Errorf("extension wrote LastSeen %d, want %d", w.Seen, e.clock.Now().UnixMilli())
	}
	codec.limit = 1000
	e.clock.Advance(sesame.DefaultIdleTimeout / 20)
	var v string
	rec = e.do(sessionCookie(rec).Value, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		v, _ = sesame.Get[string](s, "k")
	})
	if rec.Code != http.StatusOK || len(v) != 2000 || len(rec.Header().Values("Set-Cookie")) != 0 || len(e.errors()) != 0 {
		t.Errorf("a read whose extension the codec refuses: %d, %d bytes, %q, errors %v", rec.Code, len(v), rec.Header().Values("Set-Cookie"), e.errors())
	}
}

// Keys the Session API cannot name (empty, too long, starting with NUL)
// are kept from the handler and given back to the codec unchanged, until
// the session is cleared.
func TestCookieCodecKeepsKeysTheAPICannotName(t *testing.T) {
	codec := newSignedJSON(t)
	e := newCodecEnv(t, codec, sesame.Config{})
	now := e.clock.Now().UnixMilli()
	foreign := map[string]json.RawMessage{"": []byte(`1`), strings.Repeat("k", 256): []byte(`2`), "\x00x": []byte(`3`), "ok": []byte(`4`)}
	data, _ := json.Marshal(wire{ID: "theirs", Values: foreign, Created: now, Seen: now})
	payload := base64.RawURLEncoding.EncodeToString(data)
	cookie := payload + "." + codec.sign(payload)

	var keys []string
	rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		keys, _ = s.Keys()
		if err := s.Put("mine", 5); err != nil {
			t.Error(err)
		}
	})
	w := wireOf(t, codec, rec)
	if len(keys) != 1 || keys[0] != "ok" || len(w.Values) != 5 || w.ID != "theirs" {
		t.Fatalf("handler saw %q; codec given %d values, id %q", keys, len(w.Values), w.ID)
	}
	for k, v := range foreign {
		if string(w.Values[k]) != string(v) {
			t.Errorf("key %q came back as %s", k, w.Values[k])
		}
	}
	rec = e.do(sessionCookie(rec).Value, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Clear() })
	if w := wireOf(t, codec, rec); len(w.Values) != 0 {
		t.Errorf("after Clear the codec was given %q", w.Values)
	}
}

// The codec may give a cookie an expiry of its own; RememberMe gives the
// absolute deadline. The Set-Cookie header carries either.
func TestCookieCodecExpires(t *testing.T) {
	codec := newSignedJSON(t)
	codec.expiry = time.Hour
	e := newCodecEnv(t, codec, sesame.Config{})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("k", 1) })
	if c := sessionCookie(rec); !c.Expires.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("cookie expires %v, want the codec's hour", c.Expires)
	}
	codec.expiry = 0
	e2 := newCodecEnv(t, codec, sesame.Config{})
	rec = e2.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		s.Put("k", 1)
		s.RememberMe(true)
	})
	w := wireOf(t, codec, rec)
	want := e2.clock.Now().Add(sesame.DefaultLifetime)
	if c := sessionCookie(rec); !c.Expires.Equal(want) || w.Expires != want.UnixMilli() {
		t.Errorf("RememberMe: cookie expires %v, codec given %d; want %v", c.Expires, w.Expires, want)
	}
}

// Concurrent requests of one browser each read the cookie and write their
// own; none fails, and none sees another's half-made change.
func TestCookieCodecConcurrentRequests(t *testing.T) {
	codec := newSignedJSON(t)
	e := newCodecEnv(t, codec, sesame.Config{})
	cookie := e.newSession("n", 0)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if _, err := sesame.Get[int](s, "n"); err != nil {
					t.Error(err)
				}
				if err := s.Put(fmt.Sprintf("k%d", i), hex.EncodeToString([]byte{byte(i)})); err != nil {
					t.Error(err)
				}
				if i%4 == 0 {
					s.Login("alice")
				}
			})
		})
	}
	wg.Wait()
	if errs := e.errors(); len(errs) != 0 {
		t.Fatal(errs)
	}
}
