package sesame

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Errors returned by the Session API.
var (
	// ErrNoSession reports a context that did not come through Manager.Handler.
	ErrNoSession = errors.New("sesame: no session in context (is the handler wrapped by Manager.Handler?)")

	// ErrNoValue reports a key that the session does not hold.
	ErrNoValue = errors.New("sesame: no such key in session")

	// ErrBadKey reports a data key that is empty, longer than 255 bytes or
	// starts with a NUL byte (reserved for the session's own use).
	ErrBadKey = errors.New("sesame: invalid session key")

	// ErrBadUser reports a user name that is empty, longer than 255 bytes or
	// contains a NUL byte.
	ErrBadUser = errors.New("sesame: invalid user name")
)

// Session is one visitor's session during one request. Get it with
// FromContext. Its methods are safe for concurrent use by the request's
// goroutines; it must not be kept after the request ends.
//
// Nothing is loaded until the first method call, and nothing is saved
// unless something changed (or the idle deadline is due to be extended).
type Session struct {
	mu  sync.Mutex
	m   *Manager
	req *http.Request
	out http.ResponseWriter // the response under the middleware: commit sets its headers

	loadErr    error
	loaded     bool
	lost       bool // a change was refused because the session could not be loaded
	headerSent bool // the response header is out: no Set-Cookie any more

	cur   loadedRecord // the record the request works on
	bind  *bindState   // what the request does with bindings (see Binder); nil for most
	log   changeLog    // what the request changed since it was loaded or saved
	reply cookieReply  // what the response says about the cookie
	now   int64        // the request's time in Unix ms, read once
}

// loadedRecord is the record a request works on: what it read, or what it
// last saved. key is "" for a session that has no record (yet).
type loadedRecord struct {
	id      sessionID // server-side: the id in the cookie
	key     string    // server-side: the store key; cookie sessions: a handle for logs
	version uint64    // server-side: the store's version of the record
	rec     record
	foreign *foreignState // CookieCodec: what the codec carries, and keys the API cannot name
}

// cookieReply is the response's side of the session: whether the request
// carried our cookie, and the Set-Cookie line to send.
type cookieReply struct {
	hadCookie bool   // the request carried a cookie under our name
	clear     bool   // that cookie must be cleared
	line      string // the Set-Cookie value for a new id or token

	vary   [1]string    // backing for the Vary header, saving an allocation
	hdrBuf [2][1]string // backing for Set-Cookie and Cache-Control
}

type ctxKey struct{}

// FromContext returns the session of the request whose context ctx is. It
// returns ErrNoSession, never panics, when the request did not pass
// through Manager.Handler.
func FromContext(ctx context.Context) (*Session, error) {
	if s, ok := ctx.Value(ctxKey{}).(*Session); ok && s != nil {
		return s, nil
	}
	return nil, ErrNoSession
}

// raw returns the encoded value of key.
func (s *Session) raw(key string) ([]byte, error) {
	if err := s.lock(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	v, ok := s.current(key)
	s.mu.Unlock()
	if !ok {
		return nil, ErrNoValue
	}
	return v, nil
}

// change appends o to the change log, unless it would make the session
// too large for where it is kept (a sealed session's cookie).
func (s *Session) change(o op) error {
	defer s.mu.Unlock()
	if err := s.lock(); err != nil {
		s.lost = true
		return err
	}
	s.log.ops = append(s.log.ops, o)
	if o.kind == opSet || o.kind == opFlash {
		if err := s.m.backend.checkSize(s); err != nil {
			s.log.ops = s.log.ops[:len(s.log.ops)-1]
			return err
		}
	}
	return nil
}

// lockLoaded locks s and loads it, for a method that changes the session
// without a log entry; a load failure marks the change lost. The caller
// unlocks s.
func (s *Session) lockLoaded() error {
	if err := s.lock(); err != nil {
		s.lost = true
		return err
	}
	return nil
}

func checkKey(key string) error {
	if key == "" || len(key) > maxDataKeyLen || key[0] == 0 {
		return fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return nil
}

// Get returns the value of key decoded into a T. It returns ErrNoValue if
// the session has no such key, and an error if the stored JSON does not
// fit a T. Values are decoded only when asked for.
func Get[T any](s *Session, key string) (T, error) {
	raw, err := s.raw(key)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := decodeValue[T](raw)
	if err != nil {
		return v, fmt.Errorf("sesame: value of %q: %w", key, err)
	}
	return v, nil
}

// Pop returns the value of key like Get, and deletes it.
func Pop[T any](s *Session, key string) (T, error) {
	v, err := Get[T](s, key)
	if err == nil {
		err = s.Delete(key)
	}
	return v, err
}

// Put sets key to value, which may be any value encoding/json can encode.
// The value is encoded now, so later changes to it are not seen. With
// sealed and CookieCodec sessions, a value that would make the cookie too
// large is refused with ErrTooLarge, and the session is left as it was;
// so is one the CookieCodec's format cannot store, with its error.
func (s *Session) Put(key string, value any) error {
	if err := checkKey(key); err != nil {
		return err
	}
	b, err := encodeValue(value)
	if err != nil {
		return fmt.Errorf("sesame: value of %q: %w", key, err)
	}
	return s.change(op{kind: opSet, key: key, value: b})
}

// Delete removes key. Removing a key the session does not hold is not an error.
func (s *Session) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.change(op{kind: opDelete, key: key})
}

// Clear removes every key, including flash messages; the session itself,
// its id and its user stay.
func (s *Session) Clear() error {
	return s.change(op{kind: opClear})
}

// Keys returns the session's keys in a stable order.
func (s *Session) Keys() ([]string, error) {
	defer s.mu.Unlock()
	if err := s.lock(); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(s.keys(), func(k string) bool { return k == flashKey }), nil
}

// Flash adds a message to show on a later request, such as "Saved." after
// a redirect. Flashes returns and removes the messages. Like Put, it
// returns ErrTooLarge for a message a sealed session's cookie cannot hold.
func (s *Session) Flash(msg string) error {
	b, err := encodeValue(msg)
	if err != nil {
		return err
	}
	return s.change(op{kind: opFlash, key: flashKey, value: b})
}

// Flashes returns the pending flash messages, oldest first, and removes
// them. It returns an empty slice, not an error, when there are none.
func (s *Session) Flashes() ([]string, error) {
	msgs, err := Get[[]string](s, flashKey)
	if errors.Is(err, ErrNoValue) {
		return nil, nil
	}
	if err == nil {
		err = s.change(op{kind: opDelete, key: flashKey})
	}
	return msgs, err
}

// Renew gives the session a new id at commit, keeping its data. Call it
// whenever the session's privileges change; Login does. The old id stops
// working, including for requests that are in flight with it. A session
// that has no record yet gets a new id when it is first saved anyway, so
// Renew does nothing to it (and creates no record).
func (s *Session) Renew() error {
	defer s.mu.Unlock()
	if err := s.lockLoaded(); err != nil {
		return err
	}
	s.log.renew = s.cur.key != ""
	return nil
}

// Destroy ends the session: logging out is destroying the session. Its
// record is deleted at commit, the cookie cleared, and Config.Hooks told
// of the logout if it had a user. Values put after Destroy start a new,
// anonymous session with a new id.
func (s *Session) Destroy() error {
	defer s.mu.Unlock()
	if err := s.lockLoaded(); err != nil {
		return err
	}
	s.destroyLocked()
	return nil
}

// destroyIfUser destroys the session if it belongs to user, or is being
// logged in as user.
func (s *Session) destroyIfUser(user string) {
	defer s.mu.Unlock()
	if s.lock() == nil && s.userLocked() == user {
		s.destroyLocked()
	}
}

func (s *Session) destroyLocked() {
	if s.cur.key != "" {
		s.log.ended = s.cur.key
	}
	if u := s.userLocked(); u != "" {
		info := infoOf(&s.cur.rec, s.cur.key, true)
		info.User = u
		s.log.loggedOut = &info
	}
	if len(s.cur.rec.binding) > 0 {
		s.bindState().ended = bytes.Clone(s.cur.rec.binding)
	}
	s.cur = loadedRecord{}
	s.log.ops, s.log.renew, s.log.login, s.log.persist = nil, false, "", persistUnchanged
}

// Login binds the session to user and renews its id, so that an id known
// before login (planted by an attacker, say) is worthless after it. The
// session's clocks restart, and the client's user agent and address are
// recorded for Manager.Sessions. Data already in the session is kept.
// With sealed sessions, a Login whose user and client details would make
// the cookie too large is refused with ErrTooLarge.
func (s *Session) Login(user string) error {
	if user == "" || len(user) > maxUserLen || strings.IndexByte(user, 0) >= 0 {
		return fmt.Errorf("%w: %q", ErrBadUser, user)
	}
	defer s.mu.Unlock()
	if err := s.lockLoaded(); err != nil {
		return err
	}
	renew, login := s.log.renew, s.log.login
	s.log.renew, s.log.login = true, user
	if err := s.m.backend.checkSize(s); err != nil {
		s.log.renew, s.log.login = renew, login
		return err
	}
	return nil
}

// RememberMe makes the cookie persistent (on) or end with the browser
// session (off, the default). A persistent cookie expires at the session's
// absolute deadline; the idle deadline still applies on the server.
func (s *Session) RememberMe(on bool) error {
	defer s.mu.Unlock()
	if err := s.lockLoaded(); err != nil {
		return err
	}
	s.log.persist = persistOff
	if on {
		s.log.persist = persistOn
	}
	return nil
}

// User returns the user the session belongs to, or "" for an anonymous
// session (or one that could not be loaded: see Err).
func (s *Session) User() string {
	defer s.mu.Unlock()
	if s.lock() != nil {
		return ""
	}
	return s.userLocked()
}

// userLocked is User for a caller that holds s.mu: the user a Login of
// this request binds the session to, or else the record's.
func (s *Session) userLocked() string {
	return cmp.Or(s.log.login, string(s.cur.rec.user))
}

// Info describes the session as Manager.Sessions would list it (marked
// Current): its Handle, which names it safely in Sessions and Revoke, when
// it began, was last seen and ends, and the client it logged in from. It
// works for every store and for sealed sessions, which Sessions cannot
// list. The times are those of the record the request read or last saved;
// a session not saved yet, or that could not be loaded (see Err), gives
// the zero SessionInfo.
func (s *Session) Info() SessionInfo {
	defer s.mu.Unlock()
	if s.lock() != nil {
		return SessionInfo{}
	}
	return s.infoLocked()
}

// infoLocked is Info for a caller that holds s.mu.
func (s *Session) infoLocked() SessionInfo {
	return infoOf(&s.cur.rec, s.cur.key, true)
}

// Err returns the error that prevented loading the session, if any.
func (s *Session) Err() error {
	defer s.mu.Unlock()
	return s.lock()
}

// Commit saves the session now and sets its cookie header, instead of
// just before the response header is written. Call it before streaming a
// response; changes made after it are saved when the handler returns (or
// refused with ErrHeadersWritten if they need a new cookie).
func (s *Session) Commit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commit()
}
