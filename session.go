package sesame

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
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

// opKind is the kind of one entry in a request's change log.
type opKind uint8

const (
	opSet    opKind = iota // key = value
	opDelete               // key removed
	opClear                // every key removed
	opFlash                // value appended to the flash list
)

// op is one change a request made. The log of them is applied over the
// record the request read, and applied again over a fresher one when a
// concurrent request saved first.
type op struct {
	kind  opKind
	key   string
	value []byte
}

// flashKey holds the flash messages; data keys cannot start with NUL.
const flashKey = "\x00flash"

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
	w   *responseWriter

	loaded  bool
	loadErr error

	// The record this request works on: what it read, or what it last
	// saved. key is "" for a session that has no record (yet).
	id      sessionID
	key     string
	version uint64
	rec     record

	// The request's changes since the last save.
	ops       []op
	renew     bool   // give the session a new id at commit
	loginUser string // set by Login: bind to this user, restart the clocks, record the client
	remember  int8   // +1 or -1: RememberMe changed the cookie's persistence
	dropKey   string // a destroyed record to delete at commit
	dropUser  string // the user of a destroyed session, whose ticket to clear

	hadCookie   bool   // the request carried a cookie under our name
	clearCookie bool   // that cookie must be cleared
	cookieLine  string // the Set-Cookie value this response carries for a new id or token
	lost        bool   // a change was refused because the session could not be loaded
	extended    bool   // this commit only extended the idle deadline

	reissueAfter int64 // sealed mode: RevokeOthers revoked up to here; re-seal this session after it

	now    int64        // the request's time in Unix ms, read once
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

// load reads the session on first use. The caller holds s.mu. A cookie
// that is malformed, ambiguous, unknown, dead or expired gives a fresh
// anonymous session and is cleared; it never reaches the store unless it
// is a well-formed id.
func (s *Session) load() error {
	if s.loaded {
		return s.loadErr
	}
	s.loaded = true
	if s.m.sealer != nil {
		return s.loadSealed()
	}
	id, state := readCookie(s.req.Header, s.m.cookie.Name)
	if state == cookieNone {
		return nil
	}
	s.hadCookie = true
	s.clearCookie = true
	if state == cookieMalformed {
		s.m.emit(s.req.Context(), EventInvalid, "", "")
		return nil
	}
	ctx := s.req.Context()
	key := storeKey(id)
	rec, ver, rs, err := s.m.fetch(ctx, key, s.clock())
	if err != nil {
		s.loadErr = err
		return err
	}
	switch rs {
	case recordLive:
		s.id, s.key, s.version, s.rec = id, key, ver, rec
		s.clearCookie = false
		return nil
	case recordExpired:
		s.m.emit(ctx, EventExpired, key, string(rec.user))
		// Expired is gone: reclaim it now rather than wait for the store.
		if err := s.m.store.Delete(ctx, key); err != nil {
			s.m.log.WarnContext(ctx, "sesame: deleting expired session", "session", shortKey(key), "error", err)
		}
	case recordCorrupt:
		s.m.log.ErrorContext(ctx, "sesame: ignoring corrupt session record", "session", shortKey(key))
		s.m.emit(ctx, EventInvalid, key, "")
	default:
		s.m.emit(ctx, EventInvalid, key, "")
	}
	return nil
}

// clock returns the request's time: read once, so that one request sees
// one instant and pays for one clock read.
func (s *Session) clock() int64 {
	if s.now == 0 {
		s.now = s.m.nowMS()
	}
	return s.now
}

// lock locks s and loads it if needed.
func (s *Session) lock() error {
	s.mu.Lock()
	return s.load()
}

// current returns the value key has now: the last change the request made
// to it, or what the record holds, plus any flash messages appended since.
func (s *Session) current(key string) ([]byte, bool) {
	i := len(s.ops) - 1
	for ; i >= 0; i-- {
		o := &s.ops[i]
		if o.kind == opClear || (o.key == key && o.kind != opFlash) {
			break
		}
	}
	var v []byte
	ok := false
	switch {
	case i < 0:
		v, ok = s.rec.lookup(key)
	case s.ops[i].kind == opSet:
		v, ok = s.ops[i].value, true
	}
	if key == flashKey {
		for _, o := range s.ops[i+1:] {
			if o.kind == opFlash {
				v, ok = appendJSONArray(v, o.value), true
			}
		}
	}
	return v, ok
}

// appendJSONArray returns a new JSON array: list (a JSON array, or nil)
// with elem appended.
func appendJSONArray(list, elem []byte) []byte {
	out := make([]byte, 0, len(list)+len(elem)+2)
	if len(list) >= 2 && list[len(list)-1] == ']' {
		out = append(out, list[:len(list)-1]...)
		if len(list) > 2 {
			out = append(out, ',')
		}
	} else {
		out = append(out, '[')
	}
	out = append(out, elem...)
	return append(out, ']')
}

// entryIter walks the entries the session holds now, in a stable order:
// the record's first, then new keys in the order they were first set. A
// key from the record comes as bytes aliasing it (kb), a new one as a
// string (ks), so that walking allocates nothing.
type entryIter struct {
	s       *Session
	d       decoder
	base    int // record entries still to read
	op      int // next op to look at
	cleared bool
}

func (s *Session) iter() entryIter {
	it := entryIter{s: s, d: decoder{b: s.rec.data}, base: s.rec.n}
	for _, o := range s.ops {
		it.cleared = it.cleared || o.kind == opClear
	}
	if it.cleared {
		it.base = 0
	}
	return it
}

func (it *entryIter) next() (kb []byte, ks string, v []byte, ok bool) {
	s := it.s
	for it.base > 0 {
		it.base--
		k := it.d.bytes(maxDataKeyLen)
		v := it.d.bytes(len(it.d.b))
		if !s.changed(string(k), len(s.ops)) {
			return k, "", v, true
		}
		if cv, ok := s.current(string(k)); ok {
			return k, "", cv, true
		}
	}
	for it.op < len(s.ops) {
		o := &s.ops[it.op]
		it.op++
		if o.kind == opClear || s.changed(o.key, it.op-1) {
			continue // a clear, or a key already seen
		}
		if !it.cleared {
			if _, inRecord := s.rec.lookup(o.key); inRecord {
				continue
			}
		}
		if cv, ok := s.current(o.key); ok {
			return nil, o.key, cv, true
		}
	}
	return nil, "", nil, false
}

// changed reports whether any of the first n ops names key.
func (s *Session) changed(key string, n int) bool {
	for _, o := range s.ops[:n] {
		if o.kind != opClear && o.key == key {
			return true
		}
	}
	return false
}

// keys returns every key the session holds now, in a stable order.
func (s *Session) keys() []string {
	var keys []string
	it := s.iter()
	for {
		kb, ks, _, ok := it.next()
		switch {
		case !ok:
			return keys
		case kb != nil:
			keys = append(keys, string(kb))
		default:
			keys = append(keys, ks)
		}
	}
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

// change appends o to the change log, unless it would make a sealed
// session too large for its cookie.
func (s *Session) change(o op) error {
	defer s.mu.Unlock()
	if err := s.lock(); err != nil {
		s.lost = true
		return err
	}
	s.ops = append(s.ops, o)
	if o.kind == opSet || o.kind == opFlash {
		if err := s.checkSize(); err != nil {
			s.ops = s.ops[:len(s.ops)-1]
			return err
		}
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
// sealed sessions, a value that would make the cookie too large is
// refused with ErrTooLarge, and the session is left as it was.
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
	if err := s.lock(); err != nil {
		s.lost = true
		return err
	}
	s.renew = s.key != ""
	return nil
}

// Destroy ends the session: its record is deleted at commit and the cookie
// cleared. Values put after Destroy start a new session with a new id.
func (s *Session) Destroy() error {
	defer s.mu.Unlock()
	if err := s.lock(); err != nil {
		s.lost = true
		return err
	}
	s.destroyLocked()
	return nil
}

// destroyIfUser destroys the session if it belongs to user, or is being
// logged in as user.
func (s *Session) destroyIfUser(user string) {
	defer s.mu.Unlock()
	if s.lock() == nil && cmp.Or(s.loginUser, string(s.rec.user)) == user {
		s.destroyLocked()
	}
}

func (s *Session) destroyLocked() {
	if s.key != "" {
		s.dropKey = s.key
	}
	if u := cmp.Or(s.loginUser, string(s.rec.user)); u != "" {
		s.dropUser = u
	}
	s.key, s.version, s.rec = "", 0, record{}
	s.ops, s.renew, s.loginUser, s.remember = nil, false, "", 0
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
	if err := s.lock(); err != nil {
		s.lost = true
		return err
	}
	renew, loginUser := s.renew, s.loginUser
	s.renew, s.loginUser = true, user
	if err := s.checkSize(); err != nil {
		s.renew, s.loginUser = renew, loginUser
		return err
	}
	return nil
}

// Logout ends the session: it is Destroy, for symmetry with Login.
func (s *Session) Logout() error { return s.Destroy() }

// RememberMe makes the cookie persistent (on) or end with the browser
// session (off, the default). A persistent cookie expires at the session's
// absolute deadline; the idle deadline still applies on the server.
func (s *Session) RememberMe(on bool) error {
	defer s.mu.Unlock()
	if err := s.lock(); err != nil {
		s.lost = true
		return err
	}
	s.remember = -1
	if on {
		s.remember = 1
	}
	return nil
}

// timeOf returns one of the record's times; zero on a load failure.
func (s *Session) timeOf(f func(*record) int64) time.Time {
	defer s.mu.Unlock()
	if s.lock() != nil {
		return time.Time{}
	}
	return msTime(f(&s.rec))
}

// User returns the user the session belongs to, or "" for an anonymous
// session (or one that could not be loaded: see Err).
func (s *Session) User() string {
	defer s.mu.Unlock()
	if s.lock() != nil {
		return ""
	}
	if s.loginUser != "" {
		return s.loginUser
	}
	return string(s.rec.user)
}

// Created returns when the session began, or the zero time for a session
// that has not been saved yet.
func (s *Session) Created() time.Time {
	return s.timeOf(func(r *record) int64 { return r.created })
}

// LastSeen returns when a request last extended the idle deadline. It is
// updated at most once per IdleTimeout/20, so it is that precise.
func (s *Session) LastSeen() time.Time {
	return s.timeOf(func(r *record) int64 { return r.lastSeen })
}

// IdleDeadline returns when the session ends unless used again.
func (s *Session) IdleDeadline() time.Time {
	return s.timeOf(func(r *record) int64 { return r.idleDeadline })
}

// Deadline returns when the session ends however much it is used.
func (s *Session) Deadline() time.Time {
	return s.timeOf(func(r *record) int64 { return r.deadline })
}

// Handle returns an identifier of the session that is safe to show, log or
// put in a form: it names the session in Manager.Sessions and
// Manager.Revoke but cannot be used as a cookie. It is "" until the
// session has been saved.
func (s *Session) Handle() string {
	defer s.mu.Unlock()
	if s.lock() != nil {
		return ""
	}
	return s.key
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
	if s.w != nil && s.w.wroteHeader {
		return s.commit(true)
	}
	return s.commit(false)
}
