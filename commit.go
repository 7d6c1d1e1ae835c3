package sesame

import (
	"fmt"
	"time"
)

// commitBeforeHeader commits the session just before the response header
// is written, when a Set-Cookie can still be added. The caller holds s.mu.
func (s *Session) commitBeforeHeader() error {
	err := s.commit()
	s.headerSent = true // under the lock: Session.Commit reads it there
	return err
}

// commitAfterHeader commits the session once the response header has been
// written: changes that need no cookie are saved, the rest are refused
// with ErrHeadersWritten. The caller holds s.mu.
func (s *Session) commitAfterHeader() error {
	s.headerSent = true
	return s.commit()
}

// commit saves what the request changed, through the backend, then sets
// the response's cookie and tells the hooks of a login, an extension or a
// logout. The caller holds s.mu.
func (s *Session) commit() error {
	if !s.loaded {
		return nil
	}
	if s.loadErr != nil {
		if s.dirty() || s.log.ended != "" || s.lost {
			s.log.forget()
			s.log.ended, s.lost = "", false
			return fmt.Errorf("sesame: session changes not saved: %w", s.loadErr)
		}
		return nil
	}
	if !s.headerSent {
		s.varyOnCookie()
	}
	login, logout := s.log.login, s.log.loggedOut
	s.log.loggedOut = nil
	var unbound []byte
	if s.bind != nil {
		unbound, s.bind.ended = s.bind.ended, nil
	}
	extended, err := s.m.backend.save(s)
	if err != nil {
		return err
	}
	if !s.headerSent {
		s.writeCookie()
	}
	if len(s.m.hooks) > 0 || s.m.binder != nil {
		s.tellHooks(login, logout, unbound, extended)
	}
	return nil
}

// tellHooks tells Config.Hooks, and the Binder, of a login that was just
// saved, of a logged-in session whose idle deadline was just extended, or
// of a logged-in session that ended (unbound is its binding, if it had
// one). Hooks set cookies of their own, so they run only while the
// response header can still change.
func (s *Session) tellHooks(login string, logout *SessionInfo, unbound []byte, extended bool) {
	switch {
	case login == "" && logout == nil && !(extended && len(s.cur.rec.user) > 0):
	case s.headerSent && logout != nil:
		s.m.log.WarnContext(s.req.Context(), "sesame: session ended after the response header; Config.Hooks were not told")
	case s.headerSent:
		// A late extension: the hooks hear of the next one.
	case login != "":
		info := s.infoLocked()
		for _, h := range s.m.hooks {
			h.LoggedIn(s.out, s.req, info)
		}
		s.offer(true)
	case logout != nil:
		for _, h := range s.m.hooks {
			h.LoggedOut(s.out, s.req, *logout)
		}
		if unbound != nil && s.m.binder != nil {
			s.m.binder.Ended(s.out, s.req, unbound)
		}
	default:
		info := s.infoLocked()
		for _, h := range s.m.hooks {
			h.Extended(s.out, s.req, info)
		}
		s.offer(false)
	}
}

// varyOnCookie marks the response as depending on the Cookie header.
func (s *Session) varyOnCookie() {
	h := s.out.Header()
	if _, ok := h["Vary"]; ok {
		addVary(h, "Cookie")
		return
	}
	s.reply.vary[0] = "Cookie"
	h["Vary"] = s.reply.vary[:1:1]
}

// writeCookie sets the response's Set-Cookie header for our cookie if this
// response created an id or token, or must clear an invalid or destroyed
// one.
func (s *Session) writeCookie() {
	var v string
	switch {
	case s.reply.line != "" && s.cur.key != "":
		v = s.reply.line
	case s.reply.clear && s.cur.key == "":
		v = s.m.clearLine
	default:
		return
	}
	h := s.out.Header()
	setHeader(h, "Set-Cookie", v, &s.reply.hdrBuf[0])
	keepPrivate(h, &s.reply.hdrBuf[1])
}

// cookieSaveDue begins the save of a session kept in its cookie (sealed,
// or through a CookieCodec): it reports a destruction, and whether a new
// cookie is due, because the request changed the session or its idle
// deadline is due to be extended. Every such save is a Set-Cookie, so a
// change once the response header is out is dropped with
// ErrHeadersWritten.
func (s *Session) cookieSaveDue(now int64) (dirty, due bool, err error) {
	if s.log.ended != "" {
		s.m.emit(s.req.Context(), EventDestroyed, s.log.ended, "")
		s.log.ended = ""
		s.reply.clear = s.reply.hadCookie || s.reply.line != ""
	}
	dirty = s.dirty()
	switch {
	case s.headerSent && dirty:
		s.log.forget()
		return true, false, ErrHeadersWritten
	case s.headerSent, !dirty && !s.touchDue(now):
		return dirty, false, nil
	}
	return dirty, true, nil
}

// cookieEvent is the event a cookie session's save reports: created for a
// new session, renewed for a Renew or Login, none for another change.
func (s *Session) cookieEvent() EventKind {
	switch {
	case s.cur.key == "":
		return EventCreated
	case s.log.renew || s.log.login != "":
		return EventRenewed
	}
	return 0
}

// touchDue reports whether the idle deadline of a session the request
// only read is due to be extended.
func (s *Session) touchDue(now int64) bool {
	return s.cur.key != "" && now-s.cur.rec.lastSeen >= s.m.touchStep
}

// nextRecord returns the header of the record to save: the one read, with
// the request's changes and the idle deadline extended from now. Its data
// is filled in by encode.
func (s *Session) nextRecord(now int64) record {
	h := s.cur.rec
	h.data, h.n = nil, 0
	if h.created == 0 || s.log.login != "" {
		h.created = now
		h.deadline = now + s.m.lifetime
	}
	if s.log.login != "" {
		h.user = []byte(s.log.login)
		h.userAgent = []byte(truncate(s.req.UserAgent(), maxMetaLen))
		h.ip = []byte(truncate(s.m.clientIP(s.req), maxMetaLen))
	}
	switch s.log.persist {
	case persistOn:
		h.flags |= flagRemember
	case persistOff:
		h.flags &^= flagRemember
	}
	if s.bind != nil && s.bind.update != nil {
		h.binding = s.bind.binding
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

// adopt makes a just-saved record, h as encode left it, the session's state.
func (s *Session) adopt(id sessionID, key string, version uint64, h *record) {
	s.cur = loadedRecord{id: id, key: key, version: version, rec: *h}
	s.log.forget()
}

// cookieExpires is when the cookie for the current record expires: zero
// (with the browser session) unless RememberMe is on.
func (s *Session) cookieExpires() time.Time {
	if s.cur.rec.flags&flagRemember != 0 {
		return msTime(s.cur.rec.deadline)
	}
	return time.Time{}
}
