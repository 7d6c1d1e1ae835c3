package sesame

import "context"

// backend keeps sessions: it turns the value of a request's cookie into a
// record, and a request's changes into a saved record and the cookie that
// names it. It is the one seam between the two kinds of session, so that
// nothing else in the Manager asks which kind it serves:
//
//   - serverSide (serverside.go): the cookie holds a random id; the record
//     lives in a Store under a hash of it.
//   - sealed (sealed.go): the cookie holds the record itself, encrypted
//     and authenticated.
//
// Every method is called with the session's mu held, except the revoke
// methods, which take it themselves where they need it.
type backend interface {
	// load fills s.cur from the cookie value the request carried. A value
	// that names no live session leaves s.cur empty, after reporting why
	// (EventInvalid, EventExpired); only a failure to reach the storage
	// behind it is an error.
	load(s *Session, value string) error

	// save makes the request's changes (s.log) part of the session, or
	// extends the idle deadline of a session the request only read when
	// that is due, and sets s.reply for the cookie to send. Once the
	// response header is out (s.headerSent), a change that needs a new
	// cookie is refused with ErrHeadersWritten. It reports whether it only
	// extended the idle deadline.
	save(s *Session) (extended bool, err error)

	// checkSize returns ErrTooLarge if the session, with the request's
	// changes so far, would no longer fit where the backend keeps it.
	checkSize(s *Session) error

	// revokeAll ends every session of user.
	revokeAll(ctx context.Context, user string) error

	// revokeOthers ends every session of user except s.
	revokeOthers(ctx context.Context, s *Session, user string) error
}
