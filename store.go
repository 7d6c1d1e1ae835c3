package sesame

import (
	"context"
	"errors"
	"time"
)

// Store keeps session records as opaque bytes under keys. The Manager never
// hands a store a session id: a key is a hash of the id (see token.go), so a
// leaked store does not leak live sessions.
//
// Every stored value carries a version. Version 0 means "no such record";
// the first successful Save of a key makes a version greater than zero, and
// every later Save changes it. Versions are what make concurrent requests
// safe: a Save names the version its caller read and fails with ErrConflict
// when the store holds anything else.
//
// Implementations must be safe for concurrent use, must honour the context's
// deadline and cancellation on every call, and must reject keys that
// ValidKey refuses with an error wrapping ErrInvalidKey, before touching
// their backing storage.
type Store interface {
	// Load returns the value stored under key and its version. It returns
	// an error wrapping ErrNotFound when there is no record, or when the
	// record's expiry (as given to Save) has passed. The caller must not
	// modify the returned slice; a store may return memory it keeps.
	Load(ctx context.Context, key string) (value []byte, version uint64, err error)

	// Save stores value under key if, and only if, the version stored now
	// equals version: version 0 requires that no live record exists under
	// key. On success it returns the record's new version, which is never 0
	// and never equal to version. Otherwise it returns an error wrapping
	// ErrConflict and changes nothing.
	//
	// The store may discard the record after opts.ExpiresAt. A store that
	// implements UserIndex files the key under opts.User (when not empty)
	// and removes it from any other user's index. The store must not keep
	// a reference to value after Save returns.
	Save(ctx context.Context, key string, value []byte, version uint64, opts SaveOptions) (newVersion uint64, err error)

	// Delete removes the record under key, whatever its version, and its
	// user index entry. Deleting a key that does not exist is not an error.
	Delete(ctx context.Context, key string) error
}

// SaveOptions are the attributes of a saved record that a store needs to
// know about; everything else is inside the opaque value.
type SaveOptions struct {
	// ExpiresAt is when the store may forget the record. The Manager checks
	// deadlines itself on every load, so this is for reclaiming space, not
	// for security; it is never the zero time.
	ExpiresAt time.Time

	// User is the user the session belongs to, or "" for an anonymous
	// session. Stores that implement UserIndex keep an index by it.
	User string
}

// UserIndex is implemented by stores that can find the sessions of a user.
// It is what lets a Manager list a user's sessions, revoke them, and cap
// how many a user may have.
type UserIndex interface {
	// UserSessions returns the live records saved with opts.User equal to
	// user, in no particular order. An unknown user has no sessions and no
	// error. As with Load, callers must not modify the returned values.
	UserSessions(ctx context.Context, user string) ([]StoredRecord, error)

	// DeleteUser deletes every record saved with opts.User equal to user.
	DeleteUser(ctx context.Context, user string) error
}

// Renewer is implemented by stores that can move a record to a new key in
// one call. The Manager renews a session's id (Session.Renew, and every
// Login) with it when the store has it; without it, a renewal takes three
// calls: a conditional Save that marks the old record dead, the Save of
// the new one, and a Delete of the old.
type Renewer interface {
	// Renew deletes the record under oldKey if its version is oldVersion,
	// and stores value under newKey as Save(ctx, newKey, value, 0, opts)
	// would, returning the new record's version. When oldKey holds
	// another version, or no live record, it returns an error wrapping
	// ErrConflict, and leaves the record under oldKey as it was and none
	// under newKey. When a live record exists under newKey, it returns an
	// error wrapping ErrConflict too; the record under oldKey may then be
	// gone (new keys are random: this does not happen).
	//
	// A store whose two keys may live on different servers need not make
	// the move atomic to readers: for a moment both keys, or on conflict
	// the new one, may load. It must never acknowledge a move (return nil)
	// that left the old record live, nor report a conflict that left the
	// new record stored.
	Renew(ctx context.Context, oldKey string, oldVersion uint64, newKey string, value []byte, opts SaveOptions) (newVersion uint64, err error)
}

// StoredRecord is one record as a UserIndex returns it.
type StoredRecord struct {
	Key     string
	Value   []byte
	Version uint64
}

// Errors that stores return, wrapped with detail about which server and
// what failed. Test them with errors.Is.
var (
	// ErrNotFound reports that no live record exists under a key.
	ErrNotFound = errors.New("sesame: record not found")

	// ErrConflict reports that a conditional Save found a version other
	// than the one its caller read.
	ErrConflict = errors.New("sesame: version conflict")

	// ErrInvalidKey reports a store key that ValidKey refuses.
	ErrInvalidKey = errors.New("sesame: invalid store key")
)

// MaxKeyLen is the longest store key ValidKey accepts.
const MaxKeyLen = 128

// ValidKey reports whether key may be used as a store key: 1 to MaxKeyLen
// characters from the base64url alphabet (A–Z, a–z, 0–9, '-' and '_').
// Keys the Manager makes always qualify; the rule lets every store use a
// key as a file name, a Redis key or an SQL value without escaping.
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if !keyChars[key[i]] {
			return false
		}
	}
	return true
}

// keyChars marks the bytes ValidKey accepts. A table lookup is several
// times faster than a comparison chain on random keys.
var keyChars = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	return t
}()
