package sesame

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CookieCodec keeps the whole session in its cookie in another system's
// format, so that a Go handler and that system share one session through
// the Session API: package beaker's Codec is one, for the cookie sessions
// of Python's Beaker. Set it as Config.CookieCodec.
//
// The Manager serves such sessions as it serves sealed ones: it decodes
// the cookie on first use, checks its own deadlines (IdleTimeout from
// LastSeen, Lifetime from Created, and Expires), keeps the request's
// changes, and encodes a new cookie when something changed or the idle
// deadline is due to be extended. The codec does the format: its
// signature and encryption, its serialization, and its own expiry rules.
//
// A CookieCodec must be safe for concurrent use.
type CookieCodec interface {
	// DecodeCookie authenticates a cookie value and reads the session
	// in it. Any error means the value names no session the Manager may
	// serve (tampered with, written under other keys, expired by the
	// format's own rules, malformed): the request gets a new anonymous
	// session and the cookie is cleared. It must not panic, whatever the
	// value. The Manager keeps Values and State, and passes them back to
	// EncodeCookie for the same session.
	DecodeCookie(value string) (*CookieSession, error)

	// EncodeCookie returns the cookie value for s. It may replace
	// s.State (a new session, or one with Renew set, gets a new identity
	// there) and set s.Expires (a format that gives cookies an expiry of
	// its own), and must change nothing else, nor keep s.Values. It
	// returns an error wrapping ErrTooLarge when the session does not fit
	// the format's own limit; any error refuses the change that needed it.
	// The Manager also calls it to measure a change when Put, Flash or
	// Login makes it, and then discards the result.
	EncodeCookie(s *CookieSession) (string, error)
}

// CookieSession is a session as a CookieCodec reads it from its cookie and
// writes it back: the Session API's view of it, and what the format keeps
// of its own.
type CookieSession struct {
	// Values are the session's keys, each value one JSON document: what
	// Get decodes and Put encodes. A key the Session API cannot name
	// (empty, longer than 255 bytes, or starting with a NUL byte) is kept
	// out of the Session API and passed back to EncodeCookie unchanged,
	// unless the request clears the session.
	Values map[string]json.RawMessage

	// Flashes are the pending flash messages (Session.Flash), oldest
	// first.
	Flashes []string

	// User is the user the session belongs to, "" if anonymous.
	User string

	// Created is when the session began; Login restarts it. The Manager
	// ends the session Config.Lifetime after it.
	Created time.Time

	// LastSeen is when a request last saved the session. The Manager
	// ends the session Config.IdleTimeout after it, and EncodeCookie
	// writes it as the time of this save.
	LastSeen time.Time

	// Expires is when the cookie expires; zero means with the browser
	// session. The Manager ends the session then too. DecodeCookie reads
	// it from the format, if the format keeps one. For EncodeCookie, the
	// Manager sets it to the absolute deadline when the cookie is
	// persistent (Session.RememberMe), and the codec may set a zero one
	// by its own rules; the Set-Cookie header then carries it.
	Expires time.Time

	// Renew, set by the Manager for EncodeCookie, asks for a new identity
	// in the format's terms (a new session id), after Login or Renew.
	Renew bool

	// State is the codec's own (ids, cookie attributes the format keeps
	// in the session, values as it read them), carried by the Manager
	// from DecodeCookie to EncodeCookie of the same session, and from one
	// EncodeCookie to the next within a request. It is nil for a session
	// the Manager begins.
	State any
}

// foreignState is what the Manager keeps of a CookieCodec session besides
// its record: the codec's State, and the keys the Session API cannot name.
type foreignState struct {
	state  any
	hidden map[string]json.RawMessage
}

// codecCookie is the backend of sessions kept in a cookie in another
// system's format (Config.CookieCodec): the record is built from what the
// codec reads, and turned back into the codec's session to write.
type codecCookie struct {
	m     *Manager
	codec CookieCodec
}

// load decodes the cookie into the session's record. A value the codec
// refuses, or whose session has passed one of the Manager's deadlines,
// leaves the session anonymous.
func (b codecCookie) load(s *Session, value string) error {
	m, ctx := b.m, s.req.Context()
	cs, err := b.codec.DecodeCookie(value)
	if err == nil && cs == nil {
		err = errors.New("no session and no error")
	}
	var rec record
	var f *foreignState
	if err == nil {
		rec, f, err = b.record(cs)
	}
	if err != nil {
		m.log.DebugContext(ctx, "sesame: ignoring session cookie", "error", err)
		m.emit(ctx, EventInvalid, "", "")
		s.endedUnseen()
		return nil
	}
	key := cookieHandle(value)
	if rec.expired(s.clock()) {
		m.emit(ctx, EventExpired, key, string(rec.user))
		s.ended(&rec, key)
		return nil
	}
	s.cur = loadedRecord{key: key, rec: rec, foreign: f}
	return nil
}

// record builds the record of a decoded session: its deadlines from the
// Manager's timeouts, its entries in a stable order.
func (b codecCookie) record(cs *CookieSession) (record, *foreignState, error) {
	m := b.m
	var rec record
	if cs.Created.IsZero() || cs.LastSeen.IsZero() {
		return rec, nil, errors.New("the codec gave no creation or last-seen time")
	}
	if cs.User != "" && (len(cs.User) > maxUserLen || strings.IndexByte(cs.User, 0) >= 0) {
		return rec, nil, fmt.Errorf("%w: the cookie's user is not one Login accepts", ErrBadUser)
	}
	rec.created, rec.lastSeen = cs.Created.UnixMilli(), cs.LastSeen.UnixMilli()
	rec.deadline = rec.created + m.lifetime
	if !cs.Expires.IsZero() {
		rec.flags |= flagRemember
		rec.deadline = min(rec.deadline, cs.Expires.UnixMilli())
	}
	rec.idleDeadline = min(rec.lastSeen+m.idle, rec.deadline)
	rec.user = []byte(cs.User)
	f := &foreignState{state: cs.State}
	keys := make([]string, 0, len(cs.Values))
	for k, v := range cs.Values {
		if checkKey(k) != nil {
			if f.hidden == nil {
				f.hidden = make(map[string]json.RawMessage)
			}
			f.hidden[k] = v
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var data []byte
	for _, k := range keys {
		data = appendEntry(data, k, cs.Values[k])
	}
	rec.n = int32(len(keys))
	if len(cs.Flashes) > 0 {
		list, err := json.Marshal(cs.Flashes)
		if err != nil {
			return rec, nil, err
		}
		data = appendEntry(data, flashKey, list)
		rec.n++
	}
	rec.data = data
	return rec, f, nil
}

// cookieHandle names a CookieCodec session in logs and events: a short
// hash of its cookie, useless as a credential. It changes at every write.
func cookieHandle(value string) string {
	sum := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(sum[:16])[:22]
}

// save encodes the session into a new cookie when the request changed it
// or the idle deadline is due to be extended. Every save is a Set-Cookie,
// so late changes are refused.
func (b codecCookie) save(s *Session) (bool, error) {
	m, ctx := b.m, s.req.Context()
	now := s.clock()
	dirty, due, err := s.cookieSaveDue(now)
	if !due {
		return false, err
	}
	h := s.nextRecord(now)
	value, cs, err := b.encode(s, &h)
	switch {
	case err != nil && !dirty:
		// Only extending the idle deadline: the session, as the other
		// system wrote it, no longer fits the Manager's limits. The
		// request goes on; the session is not extended.
		m.log.WarnContext(ctx, "sesame: extending idle deadline", "session", shortKey(s.cur.key), "error", err)
		return false, nil
	case err != nil:
		s.log.forget()
		return false, err
	}
	if !cs.Expires.IsZero() {
		// The codec may give a cookie an expiry of its own: the session
		// ends then, and the cookie carries it.
		h.flags |= flagRemember
		h.deadline = min(h.deadline, cs.Expires.UnixMilli())
		h.idleDeadline = min(h.idleDeadline, h.deadline)
	}
	kind := s.cookieEvent()
	hidden := s.visibleHidden()
	s.adopt(sessionID{}, cookieHandle(value), 0, &h)
	s.cur.foreign = &foreignState{state: cs.State, hidden: hidden}
	c := m.cookieStart(len(value))
	c = append(c, value...)
	s.reply.line = m.cookieLine(c, s.cookieExpires())
	if kind != 0 {
		m.emit(ctx, kind, s.cur.key, string(h.user))
	}
	return !dirty, nil
}

// visibleHidden returns the keys the Session API cannot name that the
// session still holds: those it read, unless the request cleared it.
func (s *Session) visibleHidden() map[string]json.RawMessage {
	if s.cur.foreign == nil {
		return nil
	}
	for _, o := range s.log.ops {
		if o.kind == opClear {
			return nil
		}
	}
	return s.cur.foreign.hidden
}

// encode returns the cookie value for record header h with the request's
// changes, and the CookieSession the codec encoded (with the State and
// Expires it chose). It fills in h's data as Session.encode does. An
// encoding too large for a cookie is refused with ErrTooLarge.
func (b codecCookie) encode(s *Session, h *record) (string, *CookieSession, error) {
	s.encode(h)
	cs := &CookieSession{
		Values:   make(map[string]json.RawMessage, h.n),
		User:     string(h.user),
		Created:  msTime(h.created),
		LastSeen: msTime(h.lastSeen),
		Renew:    s.log.renew,
	}
	if h.flags&flagRemember != 0 {
		cs.Expires = msTime(h.deadline)
	}
	if f := s.cur.foreign; f != nil {
		cs.State = f.state
	}
	var err error
	h.entries(func(k, v []byte) bool {
		if string(k) == flashKey {
			err = json.Unmarshal(v, &cs.Flashes)
			return err == nil
		}
		cs.Values[string(k)] = v
		return true
	})
	if err != nil {
		return "", nil, fmt.Errorf("sesame: flash messages: %w", err)
	}
	for k, v := range s.visibleHidden() {
		cs.Values[k] = v
	}
	value, err := b.codec.EncodeCookie(cs)
	if err != nil {
		return "", nil, fmt.Errorf("sesame: encoding the session cookie: %w", err)
	}
	if !validCookieValue(value) {
		return "", nil, errors.New("sesame: the CookieCodec wrote a value that is not a cookie value (empty, or a byte outside RFC 6265's cookie-octets)")
	}
	if size := len(b.m.cookie.Name) + 1 + len(value); size > maxCookieSize {
		return "", nil, fmt.Errorf("%w: the cookie would be %d bytes (name and value), more than %d", ErrTooLarge, size, maxCookieSize)
	}
	return value, cs, nil
}

// validCookieValue reports whether v is a non-empty run of RFC 6265
// cookie-octets, which a Set-Cookie header carries as they are.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return v != ""
}

// checkSize encodes the session with the request's changes so far and
// returns the codec's error, or ErrTooLarge if the cookie would be larger
// than browsers keep. It costs one encoding (serialization, encryption
// and signature of the whole session) for each Put, Flash and Login.
func (b codecCookie) checkSize(s *Session) error {
	h := s.nextRecord(s.clock())
	_, _, err := b.encode(s, &h)
	return err
}

// revokeAll cannot end cookie sessions: nothing on the server knows them.
func (codecCookie) revokeAll(context.Context, string) error { return ErrNoRevocations }

// revokeOthers cannot either.
func (codecCookie) revokeOthers(context.Context, *Session, string) error { return ErrNoRevocations }
