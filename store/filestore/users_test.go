package filestore

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// userKeys returns the keys UserSessions lists for user, sorted.
func userKeys(t *testing.T, s *Store, user string) []string {
	t.Helper()
	recs, err := s.UserSessions(t.Context(), user)
	if err != nil {
		t.Fatalf("UserSessions: %v", err)
	}
	var keys []string
	for _, r := range recs {
		keys = append(keys, r.Key)
	}
	slices.Sort(keys)
	return keys
}

func sorted(keys ...string) []string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return keys
}

func TestUserIndexFollowsSavesAndDeletes(t *testing.T) {
	s, dir := newTestStore(t, Config{}, nil)
	hour := time.Now().Add(time.Hour)
	a1, a2, b1, anon := newKey(), newKey(), newKey(), newKey()
	va1 := mustSave(t, s, a1, []byte("a1"), 0, sesame.SaveOptions{ExpiresAt: hour, User: "alice"})
	mustSave(t, s, a2, []byte("a2"), 0, sesame.SaveOptions{ExpiresAt: hour, User: "alice"})
	vb1 := mustSave(t, s, b1, []byte("b1"), 0, sesame.SaveOptions{ExpiresAt: hour, User: "bob"})
	mustSave(t, s, anon, []byte("anon"), 0, sesame.SaveOptions{ExpiresAt: hour})

	steps := []struct {
		name        string
		do          func(t *testing.T)
		alice, bobs []string
	}{
		{"initial", func(*testing.T) {}, sorted(a1, a2), sorted(b1)},
		{"b1 logs in as alice", func(t *testing.T) {
			vb1 = mustSave(t, s, b1, []byte("b1"), vb1, sesame.SaveOptions{ExpiresAt: hour, User: "alice"})
		}, sorted(a1, a2, b1), nil},
		{"a1 logs out", func(t *testing.T) {
			va1 = mustSave(t, s, a1, []byte("a1"), va1, sesame.SaveOptions{ExpiresAt: hour})
		}, sorted(a2, b1), nil},
		{"a2 deleted", func(t *testing.T) {
			if err := s.Delete(t.Context(), a2); err != nil {
				t.Fatal(err)
			}
		}, sorted(b1), nil},
		{"b1 file vanishes behind the store's back", func(t *testing.T) {
			if err := os.Remove(filepath.Join(dir, "data", fileName(b1))); err != nil {
				t.Fatal(err)
			}
		}, nil, nil},
	}
	for _, st := range steps {
		st.do(t)
		if got := userKeys(t, s, "alice"); !slices.Equal(got, st.alice) {
			t.Fatalf("after %s: alice has %d sessions, want %d", st.name, len(got), len(st.alice))
		}
		if got := userKeys(t, s, "bob"); !slices.Equal(got, st.bobs) {
			t.Fatalf("after %s: bob has %d sessions, want %d", st.name, len(got), len(st.bobs))
		}
	}
	if got := userKeys(t, s, ""); got != nil {
		t.Fatalf("the anonymous user has %d sessions; want none", len(got))
	}
	// Every marker has been dropped, and the emptied directories too.
	if names, _ := readNames(filepath.Join(dir, "users")); len(names) != 0 {
		t.Fatalf("users/ still holds %d directories", len(names))
	}
}

func TestUserSessionsReturnsValuesAndVersions(t *testing.T) {
	s, _ := newTestStore(t, Config{}, nil)
	key := newKey()
	v := mustSave(t, s, key, []byte("value"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "carol"})
	recs, err := s.UserSessions(t.Context(), "carol")
	if err != nil || len(recs) != 1 {
		t.Fatalf("UserSessions = %d records, %v", len(recs), err)
	}
	if r := recs[0]; r.Key != key || r.Version != v || string(r.Value) != "value" {
		t.Fatalf("record = %s, %d, %q; want %s, %d, %q", r.Key, r.Version, r.Value, key, v, "value")
	}
}

func TestDeleteUserDeletesOnlyThatUsersRecords(t *testing.T) {
	clock := newFakeClock()
	s, dir := newTestStore(t, Config{}, clock)
	hour := clock.Now().Add(time.Hour)
	var mine []string
	for range 5 {
		k := newKey()
		mustSave(t, s, k, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: hour, User: "dave"})
		mine = append(mine, k)
	}
	expired := newKey()
	mustSave(t, s, expired, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: clock.Now().Add(time.Second), User: "dave"})
	other, moved := newKey(), newKey()
	mustSave(t, s, other, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: hour, User: "erin"})
	vm := mustSave(t, s, moved, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: hour, User: "dave"})
	mustSave(t, s, moved, []byte("x"), vm, sesame.SaveOptions{ExpiresAt: hour, User: "erin"})
	clock.Advance(time.Minute)

	if err := s.DeleteUser(t.Context(), "dave"); err != nil {
		t.Fatal(err)
	}
	for _, k := range append(mine, expired) {
		if _, err := os.Stat(filepath.Join(dir, "data", fileName(k))); !os.IsNotExist(err) {
			t.Fatalf("dave's record still on disk: %v", err)
		}
	}
	if got := userKeys(t, s, "erin"); !slices.Equal(got, sorted(other, moved)) {
		t.Fatalf("erin has %d sessions after DeleteUser(dave); want 2", len(got))
	}
	if err := s.DeleteUser(t.Context(), "nobody"); err != nil {
		t.Fatalf("DeleteUser of an unknown user: %v", err)
	}
	if err := s.DeleteUser(t.Context(), ""); err != nil {
		t.Fatalf("DeleteUser of the empty user: %v", err)
	}
	// dave's expired record took its expiry marker with it.
	clock.Advance(2 * time.Hour)
	if stats, err := s.Sweep(t.Context()); err != nil || stats.Expired != 2 || stats.Stale != 0 {
		t.Fatalf("Sweep = %+v, %v; want erin's 2 records expired and no stale markers", stats, err)
	}
}
