package users

import (
	"log/slog"
	"net/http"

	"github.com/sesame-go/sesame"
)

// entryKey is the session value holding the stamp of the users-file entry
// whose password logged the session in (see userStamp).
const entryKey = "sessiond.user-entry"

// LogIn logs sess in as user, whose password matched the users-file entry
// with the given stamp (as Verify returned it).
func LogIn(sess *sesame.Session, user, stamp string) error {
	if err := sess.Login(user); err != nil {
		return err
	}
	return sess.Put(entryKey, stamp)
}

// Current returns the request's logged-in user, or "". A session whose
// user has since been removed from the users file, or given a new
// password, is ended (and log says so): its stamp is no longer the user's.
func (db *DB) Current(r *http.Request, log *slog.Logger) (string, *sesame.Session, error) {
	sess, err := sesame.FromContext(r.Context())
	if err != nil {
		return "", nil, err
	}
	u := sess.User()
	if err := sess.Err(); err != nil {
		return "", sess, err
	}
	if u == "" {
		return "", sess, nil
	}
	stamp, _ := sesame.Get[string](sess, entryKey)
	if current, ok := db.Stamp(u); !ok || stamp != current {
		log.Info("ending a session: its user was removed or given a new password since it logged in", "user", u)
		_ = sess.Destroy()
		return "", sess, nil
	}
	return u, sess, nil
}
