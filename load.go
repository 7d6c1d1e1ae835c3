package sesame

// load reads the session on first use: the cookie under our name, then
// the record the backend keeps for it. The caller holds s.mu. A cookie
// that is malformed, ambiguous, unknown, dead, expired or revoked gives a
// fresh anonymous session and is cleared; a bound session that the Binder
// does not allow this request gives one too, but is kept, and so is its
// cookie. Only a failure to reach the session's storage is an error,
// which the request then reports.
func (s *Session) load() error {
	if s.loaded {
		return s.loadErr
	}
	s.loaded = true
	value, state := readCookieValue(s.req.Header, s.m.cookie.Name)
	if state == cookieNone {
		return nil
	}
	s.reply.hadCookie, s.reply.clear = true, true
	if state == cookieMalformed {
		s.m.emit(s.req.Context(), EventInvalid, "", "")
		s.endedUnseen()
		return nil
	}
	if err := s.m.backend.load(s, value); err != nil {
		s.loadErr = err
		return err
	}
	s.withhold()
	s.reply.clear = s.cur.key == "" && !s.withheld()
	return nil
}

// ended records that the cookie named a session of rec that has ended
// (expired, or revoked with its user known), so that the hooks hear of
// it. An anonymous session's end concerns no hook.
func (s *Session) ended(rec *record, handle string) {
	if len(rec.user) > 0 {
		info := infoOf(rec, handle, true)
		s.log.loggedOut = &info
	}
}

// endedUnseen records that the cookie names no live session, and that
// what it named cannot be known: it may have been logged in, so the
// hooks hear of a logout whose user is unknown.
func (s *Session) endedUnseen() {
	s.log.loggedOut = &SessionInfo{}
}

// lock locks s and loads it if needed.
func (s *Session) lock() error {
	s.mu.Lock()
	return s.load()
}

// clock returns the request's time: read once, so that one request sees
// one instant and pays for one clock read.
func (s *Session) clock() int64 {
	if s.now == 0 {
		s.now = s.m.nowMS()
	}
	return s.now
}
