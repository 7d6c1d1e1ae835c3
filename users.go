package sesame

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrNoUserIndex reports a user operation on a store that keeps no user index.
var ErrNoUserIndex = errors.New("sesame: the store keeps no user index")

// ErrNotLoggedIn reports a user operation on a session that has no user.
var ErrNotLoggedIn = errors.New("sesame: session is not logged in")

// SessionInfo describes one of a user's sessions, for a "your sessions"
// page. It holds nothing that could be used to take the session over.
type SessionInfo struct {
	// Handle names the session for Revoke; it is not the session id.
	Handle string
	// User is the user the session belongs to ("" if anonymous).
	User string
	// Created is when the session began (at login).
	Created time.Time
	// LastSeen is when a request last used it, to within IdleTimeout/20.
	LastSeen time.Time
	// IdleDeadline and Deadline are when it ends if unused, and at the latest.
	IdleDeadline, Deadline time.Time
	// UserAgent and IP are what the client sent and where from, at login.
	UserAgent, IP string
	// Current is true for the session of the request whose context was
	// passed to Sessions.
	Current bool
	// Bound is true for a session that carries a binding (see Binder):
	// one bound to a device's key, with package dbsc.
	Bound bool
}

func infoOf(r *record, handle string, current bool) SessionInfo {
	return SessionInfo{
		Handle:       handle,
		User:         string(r.user),
		Created:      msTime(r.created),
		LastSeen:     msTime(r.lastSeen),
		IdleDeadline: msTime(r.idleDeadline),
		Deadline:     msTime(r.deadline),
		UserAgent:    string(r.userAgent),
		IP:           string(r.ip),
		Current:      current,
		Bound:        len(r.binding) > 0,
	}
}

// Sessions returns the live sessions of user, newest first. If ctx is a
// request's context under Handler, that request's session is marked Current.
func (m *Manager) Sessions(ctx context.Context, user string) ([]SessionInfo, error) {
	recs, err := m.userRecords(ctx, user)
	if err != nil {
		return nil, err
	}
	current := ""
	if s, err := FromContext(ctx); err == nil {
		current = s.Info().Handle
	}
	infos := make([]SessionInfo, 0, len(recs))
	for _, r := range recs {
		infos = append(infos, infoOf(&r.record, r.key, r.key == current))
	}
	slices.SortFunc(infos, func(a, b SessionInfo) int { return b.Created.Compare(a.Created) })
	return infos, nil
}

// userRecord is a live record found through the user index.
type userRecord struct {
	record
	key string
}

// userRecords returns user's live sessions, skipping index entries whose
// record is dead, expired, corrupt or filed under another user.
func (m *Manager) userRecords(ctx context.Context, user string) ([]userRecord, error) {
	if m.users == nil {
		return nil, ErrNoUserIndex
	}
	stored, err := m.users.UserSessions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("sesame: listing sessions of a user: %w", err)
	}
	now := m.nowMS()
	out := make([]userRecord, 0, len(stored))
	for _, sr := range stored {
		var r record
		if decodeRecord(sr.Value, &r) != nil || r.flags&flagDead != 0 || r.expired(now) || string(r.user) != user {
			continue
		}
		out = append(out, userRecord{record: r, key: sr.Key})
	}
	return out, nil
}

// Revoke ends user's session named by handle (from SessionInfo.Handle).
// It returns ErrNotFound if user has no such session, so one user cannot
// end another's.
func (m *Manager) Revoke(ctx context.Context, user, handle string) error {
	if m.users == nil {
		return ErrNoUserIndex
	}
	if !ValidKey(handle) {
		return fmt.Errorf("sesame: revoke: %w", ErrNotFound)
	}
	rec, _, state, err := m.fetch(ctx, handle, m.nowMS())
	if err != nil {
		return err
	}
	if state != recordLive || string(rec.user) != user {
		return fmt.Errorf("sesame: revoke: %w", ErrNotFound)
	}
	return m.destroy(ctx, handle, user)
}

// RevokeOthers ends every session of the current request's user except
// the current one: "log out my other devices". ctx must be a request's
// context under Handler. With sealed sessions it needs Config.Revocations
// and re-seals the current session, so it must run before the response
// header is written.
func (m *Manager) RevokeOthers(ctx context.Context) error {
	s, err := FromContext(ctx)
	if err != nil {
		return err
	}
	user := s.User()
	if user == "" {
		return ErrNotLoggedIn
	}
	return m.backend.revokeOthers(ctx, s, user)
}

// RevokeAll ends every session of user: "log out everywhere". A request in
// flight with one of them cannot save it again. With sealed sessions it
// needs Config.Revocations.
//
// If ctx is a request's context under Handler and that request's session
// belongs to user, it ends too, as by Destroy: the request sees an
// anonymous session from then on, and its response clears the cookie, so
// call RevokeAll before the response header is written. The application
// need not call Destroy as well.
func (m *Manager) RevokeAll(ctx context.Context, user string) error {
	// Load the request's own session before its record is gone.
	s, err := FromContext(ctx)
	own := err == nil && s.m == m && s.User() == user
	if err := m.backend.revokeAll(ctx, user); err != nil {
		return err
	}
	if own {
		s.destroyIfUser(user)
	}
	return nil
}

func (m *Manager) destroy(ctx context.Context, key, user string) error {
	if err := m.store.Delete(ctx, key); err != nil {
		return fmt.Errorf("sesame: revoking session %s: %w", shortKey(key), err)
	}
	m.emit(ctx, EventDestroyed, key, user)
	return nil
}

// enforceCap evicts user's oldest sessions beyond MaxSessionsPerUser,
// never the one just created (keep). Failures are logged: the login that
// triggered it has already succeeded.
func (m *Manager) enforceCap(ctx context.Context, user, keep string) {
	recs, err := m.userRecords(ctx, user)
	if err == nil && len(recs) > m.maxUser {
		slices.SortFunc(recs, func(a, b userRecord) int {
			return cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.key, b.key))
		})
		excess := len(recs) - m.maxUser
		for _, r := range recs {
			if excess == 0 {
				break
			}
			if r.key == keep {
				continue
			}
			if err = m.destroy(ctx, r.key, user); err != nil {
				break
			}
			excess--
		}
	}
	if err != nil {
		m.log.WarnContext(ctx, "sesame: enforcing MaxSessionsPerUser", "error", err)
	}
}
