package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// Expiry is checked on the wall clock, to the millisecond. A record is
// saved to expire expiryDelay ahead, at a whole millisecond as the Manager
// makes deadlines. Load must return it at every probe that returns before
// ExpiresAt, and must report it gone at the first probe that starts a
// millisecond after. The delay is a whole second: a store that rounds a
// server's TTL up to whole seconds then gets the least slack from the
// rounding, which shows a server clock that ticks once a second.
const (
	expiryDelay = time.Second
	expiryProbe = 10 * time.Millisecond // between probes before ExpiresAt
)

// testExpiry saves one record that expires soon and one that does not,
// checks that the first loads until its ExpiresAt and not after, and then
// checks everything that follows from its being gone (rule 4 of the
// design: expired is gone).
func testExpiry(t *testing.T, s sesame.Store) {
	const user = "expiring-user"
	expiring, lasting := newKey(), newKey()
	expiresAt := time.Now().Add(expiryDelay).Truncate(time.Millisecond)
	opts := sesame.SaveOptions{ExpiresAt: expiresAt, User: user}
	vOld := save(t, s, expiring, []byte("short-lived"), 0, opts)
	vLasting := save(t, s, lasting, []byte("long-lived"), 0, live(user))

	// Until ExpiresAt: a probe that returns before it must find the
	// record. One that returns later proves nothing, however slow the
	// machine, so the probes stop there.
	probes, last := 0, time.Duration(0)
	for {
		got, v, err := s.Load(t.Context(), expiring)
		left := time.Until(expiresAt)
		if left <= 0 {
			break
		}
		switch {
		case err != nil:
			t.Fatalf("Load %v before the record's ExpiresAt: %v; want the record", left, err)
		case v != vOld || string(got) != "short-lived":
			t.Fatalf("Load %v before the record's ExpiresAt = %s, version %d; want the saved record, version %d", left, describe(got), v, vOld)
		}
		probes, last = probes+1, left
		time.Sleep(min(expiryProbe, left))
	}
	t.Logf("%d probes found the record, the last %v before its ExpiresAt", probes, last.Round(time.Microsecond))

	// After ExpiresAt: gone at once, whatever the server's own expiry.
	time.Sleep(time.Until(expiresAt.Add(time.Millisecond)))
	for time.Now().Before(expiresAt.Add(time.Millisecond)) {
		time.Sleep(time.Millisecond) // a coarse timer may wake early
	}
	got, v, err := s.Load(t.Context(), expiring)
	if !errors.Is(err, sesame.ErrNotFound) {
		t.Fatalf("Load after the record's ExpiresAt = %s, version %d, error %v; want an error wrapping ErrNotFound", describe(got), v, err)
	}

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
