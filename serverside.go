package sesame

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

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

// serverSide is the backend of server-side sessions: the cookie holds a
// random id, and the record lives in the Manager's Store under a hash of
// it (see token.go).
type serverSide struct {
	m *Manager
}

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

// load reads the record of the id in the cookie. A value that is not a
// well-formed id never reaches the store.
func (b serverSide) load(s *Session, value string) error {
	m, ctx := b.m, s.req.Context()
	id, ok := parseID(value)
	if !ok {
		m.emit(ctx, EventInvalid, "", "")
		s.endedUnseen()
		return nil
	}
	key := storeKey(id)
	rec, ver, rs, err := m.fetch(ctx, key, s.clock())
	if err != nil {
		return err
	}
	switch rs {
	case recordLive:
		s.cur = loadedRecord{id: id, key: key, version: ver, rec: rec}
	case recordExpired:
		m.emit(ctx, EventExpired, key, string(rec.user))
		s.ended(&rec, key)
		// Expired is gone: reclaim it now rather than wait for the store.
		if err := m.store.Delete(ctx, key); err != nil {
			m.log.WarnContext(ctx, "sesame: deleting expired session", "session", shortKey(key), "error", err)
		}
	case recordCorrupt:
		m.log.ErrorContext(ctx, "sesame: ignoring corrupt session record", "session", shortKey(key))
		m.emit(ctx, EventInvalid, key, "")
		s.endedUnseen()
	default:
		// Unknown, revoked, or forgotten by the store at its expiry.
		m.emit(ctx, EventInvalid, key, "")
		s.endedUnseen()
	}
	return nil
}

// save deletes a destroyed record, then saves the request's changes:
// under a new id for a new session, a Renew or a Login, under the id read
// otherwise, or only a later idle deadline for a session the request read.
func (b serverSide) save(s *Session) (bool, error) {
	m, ctx := b.m, s.req.Context()
	if key := s.log.ended; key != "" {
		s.log.ended = ""
		if err := m.store.Delete(ctx, key); err != nil {
			return false, fmt.Errorf("sesame: destroying session %s: %w", shortKey(key), err)
		}
		m.emit(ctx, EventDestroyed, key, "")
		s.reply.clear = s.reply.hadCookie || s.reply.line != ""
	}
	dirty := s.dirty()
	if s.cur.key == "" && !dirty {
		return false, nil // an anonymous reader: nothing to save, maybe a cookie to clear
	}
	now := s.clock()
	needNew := dirty && (s.cur.key == "" || s.log.renew)
	touch := !dirty && s.touchDue(now)
	if s.headerSent && (needNew || s.log.persist != persistUnchanged) {
		s.log.forget()
		return false, ErrHeadersWritten
	}
	if s.cur.key != "" && (dirty || touch) {
		// Every conditional save on the record read, and every reload
		// between them, happens under the session's commit lock.
		key := s.cur.key
		l, err := m.commits.lock(ctx, key)
		if err != nil {
			if touch {
				return false, nil // not extended, as when the touch fails
			}
			return false, fmt.Errorf("sesame: waiting to save session %s: %w", shortKey(key), err)
		}
		defer m.commits.unlock(key, l)
	}
	switch {
	case needNew:
		return false, b.saveNew(ctx, s, now)
	case dirty:
		return false, b.saveExisting(ctx, s, now)
	case touch:
		return b.touch(ctx, s, now), nil
	}
	return false, nil
}

// saveOptions are the store options for saving record h.
func saveOptions(h *record) SaveOptions {
	return SaveOptions{ExpiresAt: time.UnixMilli(h.idleDeadline), User: string(h.user)}
}

// saveNew saves the session under a new id: a new session's first save, a
// Renew or a Login. The old record, if any, is replaced conditionally on
// the version read, so that a concurrent change is folded in rather than
// lost and no request holding the old id can write it again: in one call
// when the store is a Renewer, else retired first and deleted after.
func (b serverSide) saveNew(ctx context.Context, s *Session, now int64) error {
	m := b.m
	oldKey := ""
	if s.log.renew && s.cur.key != "" {
		if r, ok := m.store.(Renewer); ok {
			if moved, err := b.move(ctx, s, now, r); moved || err != nil {
				return err
			}
			// The session ended meanwhile: what is left is saved anew.
		} else {
			if err := b.retire(ctx, s, now); err != nil {
				return err
			}
			oldKey = s.cur.key
		}
	}
	h := s.nextRecord(now)
	enc := s.encode(&h)
	for attempt := 0; ; attempt++ {
		id, err := newID(m.rand)
		if err != nil {
			return err
		}
		key := storeKey(id)
		ver, err := m.store.Save(ctx, key, enc, 0, saveOptions(&h))
		if errors.Is(err, ErrConflict) && attempt < 2 {
			continue // an id collision: astronomically unlikely, but cheap to handle
		}
		if err != nil {
			return fmt.Errorf("sesame: saving new session %s: %w", shortKey(key), err)
		}
		if oldKey != "" {
			if err := m.store.Delete(ctx, oldKey); err != nil {
				m.log.WarnContext(ctx, "sesame: deleting renewed session's tombstone", "session", shortKey(oldKey), "error", err)
			}
		}
		b.adoptNew(ctx, s, id, key, ver, &h, oldKey != "")
		return nil
	}
}

// adoptNew makes the record saved under a new id the session's, sets its
// cookie, reports it, and enforces the per-user cap after a login.
func (b serverSide) adoptNew(ctx context.Context, s *Session, id sessionID, key string, ver uint64, h *record, renewed bool) {
	m := b.m
	login := s.log.login != ""
	s.adopt(id, key, ver, h)
	s.reply.line = b.idCookie(s)
	if renewed {
		m.emit(ctx, EventRenewed, key, string(h.user))
	} else {
		m.emit(ctx, EventCreated, key, string(h.user))
	}
	if login && m.maxUser > 0 {
		m.enforceCap(ctx, string(h.user), key)
	}
}

// move renews the session's id with the store's Renewer: the record read
// is replaced by the request's under a new id in one call, conditionally
// on its version. On conflict it reloads (keeping the request's changes)
// and tries again. It reports false, with s.cur empty, when the session
// ended meanwhile.
func (b serverSide) move(ctx context.Context, s *Session, now int64, r Renewer) (bool, error) {
	for attempt := 0; ; attempt++ {
		h := s.nextRecord(now)
		enc := s.encode(&h)
		id, err := newID(b.m.rand)
		if err != nil {
			return false, err
		}
		key := storeKey(id)
		ver, err := r.Renew(ctx, s.cur.key, s.cur.version, key, enc, saveOptions(&h))
		if err == nil {
			b.adoptNew(ctx, s, id, key, ver, &h, true)
			return true, nil
		}
		if !errors.Is(err, ErrConflict) {
			return false, fmt.Errorf("sesame: renewing session %s: %w", shortKey(s.cur.key), err)
		}
		if live, err := b.rebase(ctx, s, now, attempt); err != nil || !live {
			return false, err
		}
	}
}

// retire marks the record the request read as dead, conditionally on its
// version. On conflict it reloads (keeping the request's changes, which
// apply to the fresher data) and tries again; if the session ended
// meanwhile, there is nothing to retire and s.cur becomes empty.
func (b serverSide) retire(ctx context.Context, s *Session, now int64) error {
	for attempt := 0; ; attempt++ {
		tomb := record{flags: flagDead, created: s.cur.rec.created, lastSeen: now, idleDeadline: now, deadline: now}
		enc := appendRecordHeader(nil, &tomb, 0)
		_, err := b.m.store.Save(ctx, s.cur.key, enc, s.cur.version, SaveOptions{ExpiresAt: time.UnixMilli(now).Add(tombstoneTTL)})
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("sesame: renewing session %s: %w", shortKey(s.cur.key), err)
		}
		if live, err := b.rebase(ctx, s, now, attempt); err != nil || !live {
			return err
		}
	}
}

// rebase handles a lost race: it reports the conflict, waits a little, and
// reloads the record the request works on, keeping the change log. It
// reports whether the session still lives; if not, it is now empty. It
// gives up when the context ends or after maxConflicts conflicts.
func (b serverSide) rebase(ctx context.Context, s *Session, now int64, attempt int) (bool, error) {
	m := b.m
	m.emit(ctx, EventConflict, s.cur.key, string(s.cur.rec.user))
	if attempt+1 >= maxConflicts {
		return false, fmt.Errorf("sesame: saving session %s: gave up after %d conflicting saves: %w", shortKey(s.cur.key), maxConflicts, ErrConflict)
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
	rec, ver, state, err := m.fetch(ctx, s.cur.key, now)
	if err != nil {
		return false, err
	}
	if state != recordLive {
		s.cur = loadedRecord{}
		return false, nil
	}
	s.cur.version, s.cur.rec = ver, rec
	return true, nil
}

// saveExisting saves the request's changes under the same id,
// conditionally on the version read. On conflict it reloads and re-applies
// them; if the session was destroyed or renewed meanwhile, the changes are
// dropped: writing them would bring the session back.
func (b serverSide) saveExisting(ctx context.Context, s *Session, now int64) error {
	for attempt := 0; ; attempt++ {
		if err := s.applyBind(); err != nil {
			return err
		}
		h := s.nextRecord(now)
		enc := s.encode(&h)
		ver, err := b.m.store.Save(ctx, s.cur.key, enc, s.cur.version, saveOptions(&h))
		if err == nil {
			persist := s.log.persist != persistUnchanged
			s.adopt(s.cur.id, s.cur.key, ver, &h)
			if persist {
				s.reply.line = b.idCookie(s)
			}
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return fmt.Errorf("sesame: saving session %s: %w", shortKey(s.cur.key), err)
		}
		key, read := s.cur.key, s.cur.rec
		live, err := b.rebase(ctx, s, now, attempt)
		if err != nil {
			return err
		}
		if !live {
			b.m.log.InfoContext(ctx, "sesame: session ended by another request; dropping this request's changes", "session", shortKey(key))
			s.log.forget()
			s.reply.clear = true
			s.ended(&read, key)
			return nil
		}
	}
}

// touch extends the idle deadline of a session the request only read, and
// reports whether it did. A failure does not fail the request: the session
// is merely not extended.
func (b serverSide) touch(ctx context.Context, s *Session, now int64) bool {
	h := s.nextRecord(now)
	enc := s.encode(&h)
	ver, err := b.m.store.Save(ctx, s.cur.key, enc, s.cur.version, saveOptions(&h))
	switch {
	case err == nil:
		s.adopt(s.cur.id, s.cur.key, ver, &h)
		return true
	case errors.Is(err, ErrConflict):
		// Another request saved the session: it is alive and extended.
	default:
		b.m.log.WarnContext(ctx, "sesame: extending idle deadline", "session", shortKey(s.cur.key), "error", err)
	}
	return false
}

// idCookie returns the Set-Cookie value carrying the session's id.
func (b serverSide) idCookie(s *Session) string {
	c := b.m.cookieStart(tokenLen)
	c = base64.RawURLEncoding.AppendEncode(c, s.cur.id[:])
	return b.m.cookieLine(c, s.cookieExpires())
}

// checkSize accepts every size: a store keeps what it is given, and
// reports its own limits when it saves.
func (serverSide) checkSize(*Session) error { return nil }

// revokeAll deletes every record of user through the user index.
func (b serverSide) revokeAll(ctx context.Context, user string) error {
	if b.m.users == nil {
		return ErrNoUserIndex
	}
	if err := b.m.users.DeleteUser(ctx, user); err != nil {
		return fmt.Errorf("sesame: revoking all sessions of a user: %w", err)
	}
	b.m.emit(ctx, EventDestroyed, "", user)
	return nil
}

// revokeOthers deletes every record of user but s's.
func (b serverSide) revokeOthers(ctx context.Context, s *Session, user string) error {
	s.mu.Lock()
	current := s.cur.key
	s.mu.Unlock()
	recs, err := b.m.userRecords(ctx, user)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.key != current {
			if err := b.m.destroy(ctx, r.key, user); err != nil {
				return err
			}
		}
	}
	return nil
}
