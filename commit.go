package sesame

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/sesame-go/sesame/ticket"
)

// maxAttempts bounds the load-and-save loop of a revocation (sealed.go)
// when saves conflict.
const maxAttempts = 32

// maxConflicts is the safety net of a session save's reload-and-reapply
// loop. Commits of one session inside one process are serialized, so a
// save conflicts at most once unless another process keeps winning; the
// loop then backs off and ends with the request's context, or after this
// many conflicts (several seconds of backing off) if the context never
// ends.
const maxConflicts = 1000

// tombstoneTTL is how long a store may keep the marker left on a renewed
// session's old key if deleting it fails; the marker is dead either way.
const tombstoneTTL = time.Minute

// recordState is what a store held under a key.
type recordState uint8

const (
	recordLive recordState = iota
	recordMissing
	recordCorrupt
	recordDead
	recordExpired
)

// fetch loads and checks the record under key. Only a store failure is an
// error; everything else is a state.
func (m *Manager) fetch(ctx context.Context, key string, now int64) (record, uint64, recordState, error) {
	var rec record
	val, ver, err := m.store.Load(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return rec, 0, recordMissing, nil
	case err != nil:
		return rec, 0, recordMissing, fmt.Errorf("sesame: loading session %s: %w", shortKey(key), err)
	case decodeRecord(val, &rec) != nil:
		return rec, 0, recordCorrupt, nil
	case rec.flags&flagDead != 0:
		return rec, 0, recordDead, nil
	case rec.expired(now):
		return rec, 0, recordExpired, nil
	}
	return rec, ver, recordLive, nil
}

// dirty reports whether the request changed anything that must be saved.
func (s *Session) dirty() bool {
	return len(s.ops) > 0 || s.renew || s.loginUser != "" || s.remember != 0 || s.reissueAfter != 0
}

// forget drops the request's pending changes.
func (s *Session) forget() {
	s.ops, s.renew, s.loginUser, s.remember, s.reissueAfter = s.ops[:0], false, "", 0, 0
}

// commit saves what the request changed. late means the response header
// has been sent, so nothing that needs a Set-Cookie can be done. The
// caller holds s.mu.
func (s *Session) commit(late bool) error {
	if !s.loaded {
		return nil
	}
	if s.loadErr != nil {
		if s.dirty() || s.dropKey != "" || s.lost {
			s.forget()
			s.dropKey, s.lost = "", false
			return fmt.Errorf("sesame: session changes not saved: %w", s.loadErr)
		}
		return nil
	}
	if !late {
		s.addVary()
	}
	login, logout := s.loginUser, s.dropUser
	s.dropUser, s.extended = "", false
	var err error
	if s.m.sealer != nil {
		err = s.commitSealed(late)
	} else {
		err = s.commitStore(late)
	}
	if err == nil && s.m.ticket != nil {
		if login == "" && s.extended {
			login = string(s.rec.user) // keep the ticket as fresh as the session
		}
		s.shareLogin(login, logout, late)
	}
	return err
}

// shareLogin issues the mod_auth_tkt ticket for a login that was just
// saved (or a logged-in session whose idle deadline was just extended), or
// clears it after a logged-in session ended. A failure is logged: the
// session itself is saved and correct.
func (s *Session) shareLogin(login, logout string, late bool) {
	ctx := s.req.Context()
	switch {
	case login == "" && logout == "":
		return
	case late && logout != "":
		s.m.log.WarnContext(ctx, "sesame: session ended after the response header; its ticket cookie could not be cleared")
	case late:
		// The idle deadline was extended after the header: the ticket
		// is refreshed on a later request.
	case login != "":
		t := ticket.Ticket{UID: login}
		if s.m.ticketFor != nil {
			t = s.m.ticketFor(s.req, login)
		}
		if err := s.m.ticket.SetCookie(s.w.ResponseWriter, s.req, t); err != nil {
			s.m.log.WarnContext(ctx, "sesame: issuing the login ticket", "error", err)
		}
	default:
		s.m.ticket.ClearCookie(s.w.ResponseWriter)
	}
}

// commitStore is commit for server-side sessions.
func (s *Session) commitStore(late bool) error {
	ctx := s.req.Context()
	if s.dropKey != "" {
		key := s.dropKey
		s.dropKey = ""
		if err := s.m.store.Delete(ctx, key); err != nil {
			return fmt.Errorf("sesame: destroying session %s: %w", shortKey(key), err)
		}
		s.m.emit(ctx, EventDestroyed, key, "")
		s.clearCookie = s.hadCookie || s.cookieLine != ""
	}
	if s.key == "" && !s.dirty() {
		if !late {
			s.writeCookie() // an anonymous reader: nothing to save, maybe a cookie to clear
		}
		return nil
	}
	now := s.clock()
	needNew := s.dirty() && (s.key == "" || s.renew)
	touch := !s.dirty() && s.key != "" && now-s.rec.lastSeen >= s.m.touchStep
	if late && (needNew || s.remember != 0) {
		s.forget()
		return ErrHeadersWritten
	}
	if s.key != "" && (s.dirty() || touch) {
		// Every conditional save on the record read, and every reload
		// between them, happens under the session's commit lock.
		key := s.key
		l, err := s.m.commits.lock(ctx, key)
		if err != nil {
			if touch {
				return nil // not extended, as when the touch fails
			}
			return fmt.Errorf("sesame: waiting to save session %s: %w", shortKey(key), err)
		}
		defer s.m.commits.unlock(key, l)
	}
	var err error
	switch {
	case needNew:
		err = s.saveNew(ctx, now)
	case s.dirty():
		err = s.saveExisting(ctx, now)
	case touch:
		s.touch(ctx, now)
	}
	if err == nil && !late {
		s.writeCookie()
	}
	return err
}

// addVary marks the response as depending on the Cookie header.
func (s *Session) addVary() {
	h := s.w.Header()
	if _, ok := h["Vary"]; ok {
		addVary(h, "Cookie")
		return
	}
	s.vary[0] = "Cookie"
	h["Vary"] = s.vary[:1:1]
}

// header returns the header of the record to save: the one read, with the
// request's changes and the idle deadline extended from now.
func (s *Session) header(now int64) record {
	h := s.rec
	h.data, h.n = nil, 0
	if h.created == 0 || s.loginUser != "" {
		h.created = now
		h.deadline = now + s.m.lifetime
	}
	if s.loginUser != "" {
		h.user = []byte(s.loginUser)
		h.userAgent = []byte(truncate(s.req.UserAgent(), maxMetaLen))
		h.ip = []byte(truncate(s.m.clientIP(s.req), maxMetaLen))
	}
	switch s.remember {
	case 1:
		h.flags |= flagRemember
	case -1:
		h.flags &^= flagRemember
	}
	h.lastSeen = now
	h.idleDeadline = min(now+s.m.idle, h.deadline)
	return h
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// encode returns the record to save: header h and the data as it stands.
// It also points h's data region into the result, so that h describes
// the encoded record exactly (see adopt).
func (s *Session) encode(h *record) []byte {
	size := 48 + len(h.user) + len(h.userAgent) + len(h.ip) + len(s.rec.data)
	for _, o := range s.ops {
		size += len(o.key) + len(o.value) + 4
	}
	// The entry count ends the header but is known only after the walk:
	// write 0, a one-byte varint, and patch it (widening it only for
	// sessions of 128 keys or more).
	b := appendRecordHeader(make([]byte, 0, size), h, 0)
	countAt, count := len(b)-1, 0
	for it := s.iter(); ; count++ {
		kb, ks, v, ok := it.next()
		switch {
		case !ok:
			var v [binary.MaxVarintLen64]byte
			n := binary.PutUvarint(v[:], uint64(count))
			b = slices.Replace(b, countAt, countAt+1, v[:n]...)
			h.data, h.n = b[countAt+n:], count
			return b
		case kb != nil:
			b = appendEntry(b, kb, v)
		default:
			b = appendEntry(b, ks, v)
		}
	}
}

// adopt makes a just-saved record, h as encode left it, the session's state.
func (s *Session) adopt(id sessionID, key string, version uint64, h *record) {
	s.id, s.key, s.version, s.rec = id, key, version, *h
	s.forget()
}

// opts are the store options for saving header h.
func opts(h *record) SaveOptions {
	return SaveOptions{ExpiresAt: time.UnixMilli(h.idleDeadline), User: string(h.user)}
}

// saveNew saves the session under a new id: a new session's first save, a
// Renew or a Login. The old record, if any, is retired first, conditionally
// on the version read, so that a concurrent change is folded in rather than
// lost and no request holding the old id can write it again.
func (s *Session) saveNew(ctx context.Context, now int64) error {
	oldKey := ""
	if s.renew && s.key != "" {
		if err := s.retire(ctx, now); err != nil {
			return err
		}
		oldKey = s.key
	}
	h := s.header(now)
	enc := s.encode(&h)
	for attempt := 0; ; attempt++ {
		id, err := newID(s.m.rand)
		if err != nil {
			return err
		}
		key := storeKey(id)
		ver, err := s.m.store.Save(ctx, key, enc, 0, opts(&h))
		if errors.Is(err, ErrConflict) && attempt < 2 {
			continue // an id collision: astronomically unlikely, but cheap to handle
		}
		if err != nil {
			return fmt.Errorf("sesame: saving new session %s: %w", shortKey(key), err)
		}
		login := s.loginUser != ""
		s.adopt(id, key, ver, &h)
		s.cookieLine = s.idCookie()
		if oldKey == "" {
			s.m.emit(ctx, EventCreated, key, string(h.user))
		} else {
			if err := s.m.store.Delete(ctx, oldKey); err != nil {
				s.m.log.WarnContext(ctx, "sesame: deleting renewed session's tombstone", "session", shortKey(oldKey), "error", err)
			}
			s.m.emit(ctx, EventRenewed, key, string(h.user))
		}
		if login && s.m.maxUser > 0 {
			s.m.enforceCap(ctx, string(h.user), key)
		}
		return nil
	}
}

// retire marks the record the request read as dead, conditionally on its
// version. On conflict it reloads (keeping the request's changes, which
// apply to the fresher data) and tries again; if the session ended
// meanwhile, there is nothing to retire and s.key becomes "".
func (s *Session) retire(ctx context.Context, now int64) error {
	for attempt := 0; ; attempt++ {
		tomb := record{flags: flagDead, created: s.rec.created, lastSeen: now, idleDeadline: now, deadline: now}
		enc := appendRecordHeader(nil, &tomb, 0)
		_, err := s.m.store.Save(ctx, s.key, enc, s.version, SaveOptions{ExpiresAt: time.UnixMilli(now).Add(tombstoneTTL)})
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("sesame: renewing session %s: %w", shortKey(s.key), err)
		}
		if live, err := s.rebase(ctx, now, attempt); err != nil || !live {
			return err
		}
	}
}

// rebase handles a lost race: it reports the conflict, waits a little, and
// reloads the record the request works on, keeping the change log. It
// reports whether the session still lives; if not, it is now empty. It
// gives up when the context ends or after maxConflicts conflicts.
func (s *Session) rebase(ctx context.Context, now int64, attempt int) (bool, error) {
	s.m.emit(ctx, EventConflict, s.key, string(s.rec.user))
	if attempt+1 >= maxConflicts {
		return false, fmt.Errorf("sesame: saving session %s: gave up after %d conflicting saves: %w", shortKey(s.key), maxConflicts, ErrConflict)
	}
	if attempt > 0 {
		// Spread out requests that keep colliding: up to 2^attempt × 50µs, capped.
		d := time.Duration(rand.Int64N(int64(50*time.Microsecond) << min(attempt, 8)))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
	rec, ver, state, err := s.m.fetch(ctx, s.key, now)
	if err != nil {
		return false, err
	}
	if state != recordLive {
		s.key, s.version, s.rec = "", 0, record{}
		return false, nil
	}
	s.version, s.rec = ver, rec
	return true, nil
}

// saveExisting saves the request's changes under the same id,
// conditionally on the version read. On conflict it reloads and re-applies
// them; if the session was destroyed or renewed meanwhile, the changes are
// dropped: writing them would bring the session back.
func (s *Session) saveExisting(ctx context.Context, now int64) error {
	for attempt := 0; ; attempt++ {
		h := s.header(now)
		enc := s.encode(&h)
		ver, err := s.m.store.Save(ctx, s.key, enc, s.version, opts(&h))
		if err == nil {
			remember := s.remember != 0
			s.adopt(s.id, s.key, ver, &h)
			if remember {
				s.cookieLine = s.idCookie()
			}
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("sesame: saving session %s: %w", shortKey(s.key), err)
		}
		key := s.key
		live, err := s.rebase(ctx, now, attempt)
		if err != nil {
			return err
		}
		if !live {
			s.m.log.InfoContext(ctx, "sesame: session ended by another request; dropping this request's changes", "session", shortKey(key))
			s.forget()
			s.clearCookie = true
			return nil
		}
	}
}

// touch extends the idle deadline of a session the request only read. A
// failure does not fail the request: the session is merely not extended.
func (s *Session) touch(ctx context.Context, now int64) {
	h := s.header(now)
	enc := s.encode(&h)
	ver, err := s.m.store.Save(ctx, s.key, enc, s.version, opts(&h))
	switch {
	case err == nil:
		s.adopt(s.id, s.key, ver, &h)
		s.extended = true
	case errors.Is(err, ErrConflict):
		// Another request saved the session: it is alive and extended.
	default:
		s.m.log.WarnContext(ctx, "sesame: extending idle deadline", "session", shortKey(s.key), "error", err)
	}
}

// writeCookie sets the response's Set-Cookie header for our cookie if this
// response created an id or must clear an invalid or destroyed one.
func (s *Session) writeCookie() {
	var v string
	switch {
	case s.cookieLine != "" && s.key != "":
		v = s.cookieLine
	case s.clearCookie && s.key == "":
		v = s.m.clearLine
	default:
		return
	}
	h := s.w.Header()
	setHeader(h, "Set-Cookie", v, &s.hdrBuf[0])
	keepPrivate(h, &s.hdrBuf[1])
}

// expires is when the cookie for the current record expires: zero (with
// the browser session) unless RememberMe is on.
func (s *Session) expires() time.Time {
	if s.rec.flags&flagRemember != 0 {
		return msTime(s.rec.deadline)
	}
	return time.Time{}
}

// idCookie returns the Set-Cookie value carrying the session's id.
func (s *Session) idCookie() string {
	b := s.m.cookieStart(tokenLen)
	b = base64.RawURLEncoding.AppendEncode(b, s.id[:])
	return s.m.cookieEnd(b, s.expires(), false)
}

// discardWriter is handed to the error handler once the response has begun.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header {
	if d.h == nil {
		return http.Header{}
	}
	return d.h
}
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
