package sqlstoretest

import (
	"errors"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/sqlstore"
)

// renewOntoTakenKey checks what a SQL store promises beyond
// sesame.Renewer when a row exists under the new key: a live one is a
// conflict that leaves the old row as it was (Renew is one statement,
// which the primary key fails), and an expired one is replaced, as Save
// with version 0 replaces it.
func renewOntoTakenKey(t *testing.T, srv Server) {
	hour := time.Now().Add(time.Hour)
	t.Run("Live", func(t *testing.T) {
		s, table := NewStore(t, srv, sqlstore.Config{SweepInterval: -1})
		old, taken := newKey(), newKey()
		v := saveNew(t, s, old, "old", sesame.SaveOptions{ExpiresAt: hour, User: "alice"})
		tv := saveNew(t, s, taken, "taken", sesame.SaveOptions{ExpiresAt: hour, User: "bob"})
		_, err := s.Renew(t.Context(), old, v, taken, []byte("new"), sesame.SaveOptions{ExpiresAt: hour, User: "alice"})
		if !errors.Is(err, sesame.ErrConflict) {
			t.Fatalf("Renew onto a live row: error %v; want one wrapping ErrConflict", err)
		}
		wantRow(t, s, old, "old", v)
		wantRow(t, s, taken, "taken", tv)
		if n := count(t, srv, table); n != 2 {
			t.Fatalf("%d rows after a renewal that conflicted; want the 2 saved", n)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		s, table := NewStore(t, srv, sqlstore.Config{SweepInterval: -1})
		old, stale := newKey(), newKey()
		v := saveNew(t, s, old, "old", sesame.SaveOptions{ExpiresAt: hour})
		saveNew(t, s, stale, "stale", sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Hour), User: "bob"})
		nv, err := s.Renew(t.Context(), old, v, stale, []byte("new"), sesame.SaveOptions{ExpiresAt: hour, User: "alice"})
		if err != nil {
			t.Fatalf("Renew onto an expired row: %v", err)
		}
		wantRow(t, s, stale, "new", nv)
		if _, _, err := s.Load(t.Context(), old); !errors.Is(err, sesame.ErrNotFound) {
			t.Fatalf("Load of the renewed key: error %v; want ErrNotFound", err)
		}
		if recs, err := s.UserSessions(t.Context(), "alice"); err != nil || len(recs) != 1 || recs[0].Key != stale {
			t.Fatalf("UserSessions(alice) = %v, %v; want the renewed row alone", recs, err)
		}
		if n := count(t, srv, table); n != 1 {
			t.Fatalf("%d rows after a renewal onto an expired row; want 1", n)
		}
	})
}

// saveNew saves value under key with version 0, failing the test on an
// error, and returns the version.
func saveNew(t *testing.T, s *sqlstore.Store, key, value string, opts sesame.SaveOptions) uint64 {
	t.Helper()
	v, err := s.Save(t.Context(), key, []byte(value), 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantRow checks that key loads value at version.
func wantRow(t *testing.T, s *sqlstore.Store, key, value string, version uint64) {
	t.Helper()
	got, v, err := s.Load(t.Context(), key)
	if err != nil || string(got) != value || v != version {
		t.Fatalf("Load = %q, version %d, %v; want %q, version %d", got, v, err, value, version)
	}
}
