package dbsc

import (
	"context"
	"log/slog"
)

// EventKind says what happened.
type EventKind uint8

// The events a Binder reports through Config.OnEvent.
const (
	// EventOffered: a response invited the browser to bind its session.
	EventOffered EventKind = iota + 1
	// EventRegistered: a session was bound to the browser's key.
	EventRegistered
	// EventRefreshed: a browser proved it holds the key and got a fresh
	// bound cookie.
	EventRefreshed
	// EventChallenged: a refresh came without a proof, or with one for a
	// challenge that cannot be accepted any more, and was answered with a
	// new challenge to sign.
	EventChallenged
	// EventRefused: a registration or refresh was refused; Err says why.
	EventRefused
	// EventTerminated: a browser was told to end its bound session,
	// because the session it was bound to has ended.
	EventTerminated
	// EventWithheld: a request came without a valid bound cookie, and its
	// bound session was withheld from it (a refresh excepted).
	EventWithheld
)

var eventNames = [...]string{"", "offered", "registered", "refreshed", "challenged", "refused", "terminated", "withheld"}

// String returns the event's name in lower case, as used in logs and metrics.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return "unknown"
}

// Event is one thing that happened to a device-bound session.
type Event struct {
	Kind EventKind
	// User is the session's user, when the request showed one.
	User string
	// Err says why, for EventRefused and EventWithheld.
	Err error
}

func (b *Binder) emit(ctx context.Context, ev Event) {
	if b.onEvent != nil {
		b.onEvent(ctx, ev)
	}
	if ev.Kind == EventRefused {
		b.log.LogAttrs(ctx, slog.LevelInfo, "dbsc: refused", slog.String("user", ev.User), slog.Any("error", ev.Err))
	}
}
