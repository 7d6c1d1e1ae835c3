package storetest

import (
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// Expiry is checked on the wall clock. A record expires expiryDelay after
// it is saved; the store then has until expiryGrace after the save to stop
// returning it, which allows for servers whose expiry has 1-second
// resolution.
const (
	expiryDelay = 1200 * time.Millisecond
	expiryGrace = 3500 * time.Millisecond
)

// testExpiry saves one record that expires soon and one that does not,
// waits once for the first to go, and then checks everything that follows
// from its being gone (rule 4 of the design: expired is gone).
func testExpiry(t *testing.T, s sesame.Store) {
	const user = "expiring-user"
	expiring, lasting := newKey(), newKey()
	saved := time.Now()
	opts := sesame.SaveOptions{ExpiresAt: saved.Add(expiryDelay), User: user}
	vOld := save(t, s, expiring, []byte("short-lived"), 0, opts)
	vLasting := save(t, s, lasting, []byte("long-lived"), 0, live(user))
	if time.Since(saved) < expiryDelay/2 {
		// Only meaningful if the saves were quick; a slow server is not
		// wrong, merely too slow to show this.
		wantRecord(t, s, expiring, []byte("short-lived"), vOld)
	}

	if !waitNotFound(t.Context(), s, expiring, saved.Add(expiryGrace)) {
		t.Fatalf("record still loads %v after it was saved with ExpiresAt %v ahead", expiryGrace, expiryDelay)
	}
	t.Logf("expired record gone %v after its save", time.Since(saved).Round(time.Millisecond))

	t.Run("LiveRecordIsKept", func(t *testing.T) {
		wantRecord(t, s, lasting, []byte("long-lived"), vLasting)
	})
	t.Run("ExpiredRecordIsNotListedForItsUser", func(t *testing.T) {
		ui, ok := s.(sesame.UserIndex)
		if !ok {
			t.Skip("the store does not implement sesame.UserIndex")
		}
		wantUserSessions(t, s, ui, user, lasting)
	})
	t.Run("SaveWithVersionOfExpiredRecordConflicts", func(t *testing.T) {
		_, err := s.Save(t.Context(), expiring, []byte("revived"), vOld, live(""))
		wantConflict(t, err, "Save with the version of an expired record")
		wantNotFound(t, s, expiring)
	})
	t.Run("ExpiredKeyCanBeCreatedAgain", func(t *testing.T) {
		v := save(t, s, expiring, []byte("reborn"), 0, live(""))
		wantRecord(t, s, expiring, []byte("reborn"), v)
		if ui, ok := s.(sesame.UserIndex); ok {
			// Re-created as anonymous, it is no longer the user's.
			wantUserSessions(t, s, ui, user, lasting)
		}
	})
}
