package sesame

import (
	"context"
	"log/slog"
)

// EventKind says what happened to a session.
type EventKind uint8

// The events a Manager reports through Config.OnEvent.
const (
	// EventCreated: a new session was saved for the first time.
	EventCreated EventKind = iota + 1
	// EventRenewed: a session got a new id (Renew or Login); the old id is dead.
	EventRenewed
	// EventDestroyed: a session was destroyed (Destroy or a revocation).
	EventDestroyed
	// EventExpired: a request presented a session past its idle or absolute deadline.
	EventExpired
	// EventInvalid: a request presented a cookie that is malformed, ambiguous
	// or names no session; it was ignored and cleared.
	EventInvalid
	// EventConflict: a save lost a race with another request; the Manager
	// reloaded and re-applied the changes, or dropped them if the session
	// had ended meanwhile.
	EventConflict
)

var eventNames = [...]string{"", "created", "renewed", "destroyed", "expired", "invalid", "conflict"}

// String returns the event's name in lower case, as used in logs and metrics.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return "unknown"
}

// Event is one thing that happened to a session.
type Event struct {
	Kind EventKind
	// Session is a short hash identifying the session in logs; it is not
	// the id and cannot be used as one. Empty for an invalid token.
	Session string
	// User is the session's user, if it had one.
	User string
}

// emit reports an event to OnEvent and, at debug level, to the log.
func (m *Manager) emit(ctx context.Context, kind EventKind, key, user string) {
	if m.onEvent != nil {
		m.onEvent(ctx, Event{Kind: kind, Session: shortKey(key), User: user})
	}
	if m.log.Enabled(ctx, slog.LevelDebug) {
		m.log.LogAttrs(ctx, slog.LevelDebug, "sesame: "+kind.String(),
			slog.String("session", shortKey(key)), slog.String("user", user))
	}
}
