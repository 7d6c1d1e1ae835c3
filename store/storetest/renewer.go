package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// renewerSuite lists the sesame.Renewer properties, in the order Run
// checks them.
func renewerSuite() []extension[sesame.Renewer] {
	return []extension[sesame.Renewer]{
		{"RenewMovesTheRecordAndItsUser", testRenewMoves},
		{"RenewWithWrongVersionConflictsAndChangesNothing", testRenewWrongVersion},
		{"RenewOfMissingOrDeletedKeyConflicts", testRenewMissing},
		{"RenewOfExpiredRecordConflicts", testRenewExpired},
		{"RenewOntoLiveKeyConflictsAndKeepsIt", testRenewOntoLive},
		{"RenewOntoExpiredKeyReplacesIt", testRenewOntoExpired},
		{"OldVersionCannotBeSavedAfterRenew", testRenewNoResurrection},
		{"ConcurrentRenewsHaveExactlyOneWinner", testConcurrentRenews},
		{"RenewRacingSaveHasExactlyOneWinner", testRenewRacingSave},
		{"RenewRejectsInvalidKeysAndDoneContexts", testRenewRefusals},
	}
}

// renew calls Renew and fails the test on error or a zero version.
func renew(t *testing.T, r sesame.Renewer, oldKey string, version uint64, newKey string, value []byte, opts sesame.SaveOptions) uint64 {
	t.Helper()
	v, err := r.Renew(t.Context(), oldKey, version, newKey, value, opts)
	if err != nil {
		t.Fatalf("Renew(%s, version %d, to %s): %v", short(oldKey), version, short(newKey), err)
	}
	if v == 0 {
		t.Fatalf("Renew(%s, version %d, to %s) returned version 0", short(oldKey), version, short(newKey))
	}
	return v
}

// wantListed checks, when s keeps a user index, that user's sessions are
// exactly keys.
func wantListed(t *testing.T, s sesame.Store, user string, keys ...string) {
	t.Helper()
	if ui, ok := s.(sesame.UserIndex); ok {
		wantUserSessions(t, s, ui, user, keys...)
	}
}

func testRenewMoves(t *testing.T, s sesame.Store, r sesame.Renewer) {
	for _, c := range []struct{ name, from, to string }{
		{"AnonymousToUser", "", "alice"},
		{"SameUser", "alice", "alice"},
		{"UserToOtherUser", "alice", "bob"},
	} {
		t.Run(c.name, func(t *testing.T) {
			old, next := newKey(), newKey()
			v := save(t, s, old, []byte("old"), 0, live(c.from))
			nv := renew(t, r, old, v, next, []byte("new"), live(c.to))
			wantNotFound(t, s, old)
			wantRecord(t, s, next, []byte("new"), nv)
			wantListed(t, s, c.to, next)
			if c.from != c.to && c.from != "" {
				wantListed(t, s, c.from)
			}
			// The new record is an ordinary one: saved over, then deleted.
			nv2 := save(t, s, next, []byte("newer"), nv, live(c.to))
			wantRecord(t, s, next, []byte("newer"), nv2)
			if err := s.Delete(t.Context(), next); err != nil {
				t.Fatal(err)
			}
			wantNotFound(t, s, next)
			wantListed(t, s, c.to)
		})
	}
}

func testRenewWrongVersion(t *testing.T, s sesame.Store, r sesame.Renewer) {
	old, next := newKey(), newKey()
	v1 := save(t, s, old, []byte("first"), 0, live("alice"))
	v2 := save(t, s, old, []byte("second"), v1, live("alice"))
	_, err := r.Renew(t.Context(), old, v1, next, []byte("new"), live("alice"))
	wantConflict(t, err, "Renew with the version before the last save")
	wantRecord(t, s, old, []byte("second"), v2)
	wantNotFound(t, s, next)
	wantListed(t, s, "alice", old)
}

func testRenewMissing(t *testing.T, s sesame.Store, r sesame.Renewer) {
	missing, next := newKey(), newKey()
	_, err := r.Renew(t.Context(), missing, 1, next, []byte("new"), live("alice"))
	wantConflict(t, err, "Renew of a key never saved")
	wantNotFound(t, s, next)

	deleted := newKey()
	v := save(t, s, deleted, []byte("x"), 0, live("alice"))
	if err := s.Delete(t.Context(), deleted); err != nil {
		t.Fatal(err)
	}
	_, err = r.Renew(t.Context(), deleted, v, next, []byte("new"), live("alice"))
	wantConflict(t, err, "Renew of a deleted key with its last version")
	wantNotFound(t, s, next)
	wantNotFound(t, s, deleted)
	wantListed(t, s, "alice")
}

// testRenewExpired renews a record right after its expiry, with the
// version it had: a session that expired must not move to a new id.
func testRenewExpired(t *testing.T, s sesame.Store, r sesame.Renewer) {
	old, next := newKey(), newKey()
	expires := time.Now().Add(300 * time.Millisecond)
	v := save(t, s, old, []byte("short-lived"), 0, sesame.SaveOptions{ExpiresAt: expires, User: "alice"})
	time.Sleep(time.Until(expires) + 10*time.Millisecond)
	_, err := r.Renew(t.Context(), old, v, next, []byte("new"), live("alice"))
	wantConflict(t, err, "Renew of an expired record")
	wantNotFound(t, s, next)
}

func testRenewOntoLive(t *testing.T, s sesame.Store, r sesame.Renewer) {
	old, taken := newKey(), newKey()
	v := save(t, s, old, []byte("old"), 0, live(""))
	tv := save(t, s, taken, []byte("taken"), 0, live("bob"))
	_, err := r.Renew(t.Context(), old, v, taken, []byte("new"), live("alice"))
	wantConflict(t, err, "Renew onto a key with a live record")
	wantRecord(t, s, taken, []byte("taken"), tv)
	wantListed(t, s, "bob", taken)
	wantListed(t, s, "alice")
}

// testRenewOntoExpiredKey renews onto a key whose record has expired: as
// for Save with version 0, an expired record is no record.
func testRenewOntoExpired(t *testing.T, s sesame.Store, r sesame.Renewer) {
	old, stale := newKey(), newKey()
	expires := time.Now().Add(300 * time.Millisecond)
	save(t, s, stale, []byte("expired"), 0, sesame.SaveOptions{ExpiresAt: expires, User: "bob"})
	v := save(t, s, old, []byte("old"), 0, live(""))
	time.Sleep(time.Until(expires) + 10*time.Millisecond)
	nv := renew(t, r, old, v, stale, []byte("new"), live("alice"))
	wantNotFound(t, s, old)
	wantRecord(t, s, stale, []byte("new"), nv)
	wantListed(t, s, "alice", stale)
	wantListed(t, s, "bob")
}

// testRenewNoResurrection checks that a request still holding the old
// key and version cannot write it back after the move.
func testRenewNoResurrection(t *testing.T, s sesame.Store, r sesame.Renewer) {
	old, next := newKey(), newKey()
	v := save(t, s, old, []byte("old"), 0, live("alice"))
	renew(t, r, old, v, next, []byte("new"), live("alice"))
	_, err := s.Save(t.Context(), old, []byte("stale write"), v, live("alice"))
	wantConflict(t, err, "Save with the renewed record's old version")
	wantNotFound(t, s, old)
}

// testConcurrentRenews starts several renewals of one record at once, each
// to a key of its own, as logins racing in several requests would: one
// wins; the others conflict and leave nothing behind.
func testConcurrentRenews(t *testing.T, s sesame.Store, r sesame.Renewer) {
	const rounds, racers = 20, 8
	for range rounds {
		old := newKey()
		v := save(t, s, old, []byte("old"), 0, live(""))
		keys := make([]string, racers)
		versions := make([]uint64, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			keys[i] = newKey()
			wg.Go(func() {
				<-start
				versions[i], errs[i] = r.Renew(t.Context(), old, v, keys[i], []byte("racer "+strconv.Itoa(i)), live("alice"))
			})
		}
		close(start)
		wg.Wait()
		winner := oneWinner(t, "renewal", errs)
		wantNotFound(t, s, old)
		for i, k := range keys {
			if i == winner {
				wantRecord(t, s, k, []byte("racer "+strconv.Itoa(i)), versions[i])
			} else {
				wantNotFound(t, s, k)
			}
		}
		wantListed(t, s, "alice", keys[winner])
		if err := s.Delete(t.Context(), keys[winner]); err != nil {
			t.Fatal(err)
		}
	}
}

// testRenewRacingSave races a renewal and a conditional save of one
// record from the same version: exactly one of them takes effect.
func testRenewRacingSave(t *testing.T, s sesame.Store, r sesame.Renewer) {
	const rounds = 30
	won := map[string]int{}
	for range rounds {
		old, next := newKey(), newKey()
		v := save(t, s, old, []byte("old"), 0, live("alice"))
		var renewErr, saveErr error
		var rv, sv uint64
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-start; rv, renewErr = r.Renew(t.Context(), old, v, next, []byte("renewed"), live("alice")) })
		wg.Go(func() { <-start; sv, saveErr = s.Save(t.Context(), old, []byte("saved"), v, live("alice")) })
		close(start)
		wg.Wait()
		switch {
		case renewErr == nil && saveErr == nil:
			t.Fatalf("both the renewal and the save of version %d succeeded", v)
		case renewErr == nil:
			wantConflict(t, saveErr, "Save that lost to a Renew")
			wantNotFound(t, s, old)
			wantRecord(t, s, next, []byte("renewed"), rv)
			wantListed(t, s, "alice", next)
			won["renew"]++
		case saveErr == nil:
			wantConflict(t, renewErr, "Renew that lost to a Save")
			wantRecord(t, s, old, []byte("saved"), sv)
			wantNotFound(t, s, next)
			wantListed(t, s, "alice", old)
			won["save"]++
		default:
			t.Fatalf("neither succeeded: renew %v, save %v", renewErr, saveErr)
		}
		for _, k := range []string{old, next} {
			if err := s.Delete(t.Context(), k); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("of %d races, won: %v", rounds, won)
}

func testRenewRefusals(t *testing.T, s sesame.Store, r sesame.Renewer) {
	old := newKey()
	v := save(t, s, old, []byte("kept"), 0, live("alice"))
	for _, bad := range invalidKeys {
		for _, c := range []struct{ from, to string }{{bad.key, newKey()}, {old, bad.key}} {
			_, err := r.Renew(t.Context(), c.from, v, c.to, []byte("new"), live("alice"))
			if !errors.Is(err, sesame.ErrInvalidKey) {
				t.Fatalf("Renew(%q, to %q): error %v; want an error wrapping ErrInvalidKey", short(c.from), short(c.to), err)
			}
		}
	}
	for _, c := range doneContexts(t) {
		next := newKey()
		_, err := r.Renew(c.ctx, old, v, next, []byte("new"), live("alice"))
		if !errors.Is(err, c.want) {
			t.Fatalf("Renew with a %s context: error %v; want an error wrapping %v", c.name, err, c.want)
		}
		wantNotFound(t, s, next)
	}
	wantRecord(t, s, old, []byte("kept"), v)
	wantListed(t, s, "alice", old)
}
