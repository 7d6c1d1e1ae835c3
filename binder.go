package sesame

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
)

// A Binder binds logged-in sessions to the client that holds them, beyond
// the cookie that names them: a session bound to a key the browser keeps,
// which must renew a short-lived cookie by proving that it still holds the
// key (Device Bound Session Credentials, package dbsc), is one kind of
// binding. Set one as Config.Binder; the Manager imports none.
//
// A binding is an opaque value of at most MaxBindingLen bytes, saved in
// the session's record and changed only by Session.Bind. A session
// without one is served as if there were no Binder, at no extra cost. A
// session with one is served only to the requests the Binder allows; from
// the others it is withheld: they see an anonymous session, while the
// session itself and the cookie naming it are left alone, so that the
// client it is bound to can come back with what its binding requires.
//
// The Manager calls these methods in the request's goroutine, with the
// session locked: they must not call the Session's methods.
type Binder interface {
	// Allow reports whether request r may use a session whose binding is
	// binding (never empty). It is called on the first use of such a
	// session in each request. binding aliases the record: Allow must
	// neither change nor keep it.
	Allow(r *http.Request, binding []byte) bool

	// Offer is told of a logged-in session that has no binding, just
	// after a Login of it was saved (login true) or its idle deadline
	// was extended (login false; at most once per IdleTimeout/20), while
	// the response w can still take headers: the Binder may invite the
	// client to bind the session. s describes the session as saved.
	Offer(w http.ResponseWriter, r *http.Request, s SessionInfo, login bool)

	// Ended is told that a session whose binding was binding ended in
	// this request (Destroy, or RevokeAll from its own request), while
	// the response w can still take headers, so that the Binder can tell
	// its client.
	Ended(w http.ResponseWriter, r *http.Request, binding []byte)
}

// ErrBindingTooLarge reports a binding longer than MaxBindingLen.
var ErrBindingTooLarge = errors.New("sesame: binding longer than MaxBindingLen")

// bindState is what a request does with bindings. Nearly every request
// does nothing, so a Session holds it by pointer, made when first needed.
type bindState struct {
	held    loadedRecord                 // a bound session withheld from the request
	update  func([]byte) ([]byte, error) // the update of a Bind being saved
	binding []byte                       // what update returned over the record the save starts from
	ended   []byte                       // the binding of a session this request destroyed
}

// bindState returns the request's bindState, making it if needed. The
// caller holds s.mu.
func (s *Session) bindState() *bindState {
	if s.bind == nil {
		s.bind = &bindState{}
	}
	return s.bind
}

// withheld reports whether the Binder withheld a session from the
// request. The caller holds s.mu.
func (s *Session) withheld() bool {
	return s.bind != nil && s.bind.held.key != ""
}

// dirty reports whether the request changed anything that must be saved:
// its change log, or a binding being saved. The caller holds s.mu.
func (s *Session) dirty() bool {
	return s.log.dirty() || (s.bind != nil && s.bind.update != nil)
}

// Binding returns a copy of the binding of the session the request's
// cookie names, nil if it has none. It does so even when the Binder
// withheld the session from this request: that is how a Binder's own
// endpoint finds the binding a client comes to renew.
func (s *Session) Binding() ([]byte, error) {
	defer s.mu.Unlock()
	if err := s.lock(); err != nil {
		return nil, err
	}
	r := &s.cur
	if s.withheld() {
		r = &s.bind.held
	}
	return bytes.Clone(r.rec.binding), nil
}

// Bind sets the session's binding to what update returns given the
// binding it has now (nil if none), and saves the session at once, with
// the request's other changes, as Commit does. An empty result removes the
// binding. If another request saved the session first, update runs again
// over the fresher record, so that it decides on the binding really
// stored: a Binder that spends a challenge in update spends it once, however
// many requests race. An error from update is returned as it is, and
// the binding is left as it was.
//
// Only a logged-in session can be bound: otherwise, or if the session
// ended meanwhile, Bind returns ErrNotLoggedIn. A session that the Binder
// withheld from this request can be bound, and is then served for the
// rest of the request.
func (s *Session) Bind(update func(binding []byte) ([]byte, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		s.lost = true
		return err
	}
	held := s.cur.key == "" && s.withheld()
	if held {
		s.cur, s.bind.held = s.bind.held, loadedRecord{}
	}
	err := s.saveBinding(update)
	if err != nil && held {
		s.cur, s.bind.held = loadedRecord{}, s.cur
	}
	return err
}

// saveBinding is Bind once the record to bind is s.cur. The caller holds
// s.mu.
func (s *Session) saveBinding(update func([]byte) ([]byte, error)) error {
	if s.cur.key == "" || s.userLocked() == "" {
		return ErrNotLoggedIn
	}
	if s.log.renew || s.log.login != "" {
		// Save the new id first: a binding changes a record in place.
		if err := s.commit(); err != nil {
			return err
		}
	}
	b := s.bindState()
	b.update = update
	err := s.commit()
	b.update, b.binding = nil, nil
	if err == nil && s.cur.key == "" {
		err = ErrNotLoggedIn // ended by another request meanwhile
	}
	return err
}

// applyBind runs the pending Bind update over the record the save starts
// from, for nextRecord to save its result. The caller holds s.mu.
func (s *Session) applyBind() error {
	if s.bind == nil || s.bind.update == nil {
		return nil
	}
	b, err := s.bind.update(s.cur.rec.binding)
	switch {
	case err != nil:
		return err
	case len(b) > MaxBindingLen:
		return fmt.Errorf("%w: %d bytes", ErrBindingTooLarge, len(b))
	}
	s.bind.binding = b
	return nil
}

// withhold hides a bound session from a request its Binder does not
// allow: the request sees an anonymous session, and Bind can still reach
// the record. The caller holds s.mu.
func (s *Session) withhold() {
	if len(s.cur.rec.binding) == 0 {
		return
	}
	if s.m.binder != nil && s.m.binder.Allow(s.req, s.cur.rec.binding) {
		return
	}
	s.bindState().held, s.cur = s.cur, loadedRecord{}
}

// offer tells the Binder of a logged-in session without a binding, just
// saved by a Login or an extension. The caller holds s.mu.
func (s *Session) offer(login bool) {
	if s.m.binder != nil && s.cur.key != "" && len(s.cur.rec.binding) == 0 {
		s.m.binder.Offer(s.out, s.req, infoOf(&s.cur.rec, s.cur.key, true), login)
	}
}
