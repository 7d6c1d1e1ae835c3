package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/sesame-go/sesame"
)

// userIndexSuite lists the sesame.UserIndex properties, which Run checks
// only for stores that implement it.
func userIndexSuite() []extension[sesame.UserIndex] {
	return []extension[sesame.UserIndex]{
		{"ListsExactlyTheUsersLiveRecords", testUserSessions},
		{"UnknownUserHasNoSessions", testUnknownUser},
		{"SavingUnderAnotherUserMovesTheRecord", testUserMove},
		{"DeleteRemovesTheRecordFromItsUser", testUserDelete},
		{"DeleteUserDeletesOnlyThatUsersRecords", testDeleteUser},
		{"UserNamesAreOpaqueStrings", testUserNames},
		{"DoneContextFails", testUserIndexDoneContext},
	}
}

// wantUserSessions fails the test unless UserSessions(user) lists exactly
// keys, once each, with the value and version that Load returns for them.
func wantUserSessions(t *testing.T, s sesame.Store, ui sesame.UserIndex, user string, keys ...string) {
	t.Helper()
	records, err := ui.UserSessions(t.Context(), user)
	if err != nil {
		t.Fatalf("UserSessions(%q): %v", user, err)
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	seen := map[string]bool{}
	for _, r := range records {
		switch {
		case seen[r.Key]:
			t.Errorf("UserSessions(%q) lists %s twice", user, short(r.Key))
		case !want[r.Key]:
			t.Errorf("UserSessions(%q) lists %s, which is not the user's live record", user, short(r.Key))
		default:
			value, version, err := s.Load(t.Context(), r.Key)
			if err != nil {
				t.Errorf("Load(%s) of a key UserSessions(%q) lists: %v", short(r.Key), user, err)
			} else if r.Version != version || !bytes.Equal(r.Value, value) {
				t.Errorf("UserSessions(%q) has %s at version %d as %s; Load has version %d as %s",
					user, short(r.Key), r.Version, describe(r.Value), version, describe(value))
			}
		}
		seen[r.Key] = true
	}
	for _, k := range keys {
		if !seen[k] {
			t.Errorf("UserSessions(%q) does not list %s", user, short(k))
		}
	}
}

func testUserSessions(t *testing.T, s sesame.Store, ui sesame.UserIndex) {
	a1, a2, b1, anon := newKey(), newKey(), newKey(), newKey()
	v := save(t, s, a1, []byte("alice 1"), 0, live("alice"))
	save(t, s, a2, []byte("alice 2"), 0, live("alice"))
	save(t, s, b1, []byte("bob 1"), 0, live("bob"))
	save(t, s, anon, []byte("anonymous"), 0, live(""))
	wantUserSessions(t, s, ui, "alice", a1, a2)
	wantUserSessions(t, s, ui, "bob", b1)

	// Saving again under the same user lists the record once, as it is now.
	save(t, s, a1, []byte("alice 1, updated"), v, live("alice"))
	wantUserSessions(t, s, ui, "alice", a1, a2)
}

func testUnknownUser(t *testing.T, s sesame.Store, ui sesame.UserIndex) {
	wantUserSessions(t, s, ui, "nobody")
	save(t, s, newKey(), []byte("someone"), 0, live("somebody"))
	wantUserSessions(t, s, ui, "nobody")
}

func testUserMove(t *testing.T, s sesame.Store, ui sesame.UserIndex) {
	tests := []struct{ name, to string }{
		{"to another user", "carol"},
		{"to anonymous", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from := "mover " + tc.name
			key, stays := newKey(), newKey()
			v := save(t, s, key, []byte("moving"), 0, live(from))
			save(t, s, stays, []byte("staying"), 0, live(from))
			v = save(t, s, key, []byte("moved"), v, live(tc.to))
			wantUserSessions(t, s, ui, from, stays)
			if tc.to != "" {
				wantUserSessions(t, s, ui, tc.to, key)
			}

			// Moved back, it is listed under the first user again, and
			// only there.
			save(t, s, key, []byte("back"), v, live(from))
			wantUserSessions(t, s, ui, from, key, stays)
			if tc.to != "" {
				wantUserSessions(t, s, ui, tc.to)
			}
		})
	}
}

func testUserDelete(t *testing.T, s sesame.Store, ui sesame.UserIndex) {
	gone, kept := newKey(), newKey()
	save(t, s, gone, []byte("gone"), 0, live("dave"))
	save(t, s, kept, []byte("kept"), 0, live("dave"))
	if err := s.Delete(t.Context(), gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantUserSessions(t, s, ui, "dave", kept)

	// Re-created anonymously, the key does not come back to the user.
	save(t, s, gone, []byte("anonymous now"), 0, live(""))
	wantUserSessions(t, s, ui, "dave", kept)
}

func testDeleteUser(t *testing.T, s sesame.Store, ui sesame.UserIndex) {
	e1, e2, moved, f1, anon := newKey(), newKey(), newKey(), newKey(), newKey()
	save(t, s, e1, []byte("erin 1"), 0, live("erin"))
	save(t, s, e2, []byte("erin 2"), 0, live("erin"))
	v := save(t, s, moved, []byte("was erin's"), 0, live("erin"))
	vMoved := save(t, s, moved, []byte("now frank's"), v, live("frank"))
	vF1 := save(t, s, f1, []byte("frank 1"), 0, live("frank"))
	vAnon := save(t, s, anon, []byte("anonymous"), 0, live(""))

	if err := ui.DeleteUser(t.Context(), "erin"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	wantNotFound(t, s, e1)
	wantNotFound(t, s, e2)
	wantUserSessions(t, s, ui, "erin")
	wantRecord(t, s, moved, []byte("now frank's"), vMoved)
	wantRecord(t, s, f1, []byte("frank 1"), vF1)
	wantRecord(t, s, anon, []byte("anonymous"), vAnon)
	wantUserSessions(t, s, ui, "frank", moved, f1)

	// The user can log in again afterwards, and deleting a user twice, or
	// one who never had a session, is not an error.
	again := save(t, s, e1, []byte("erin again"), 0, live("erin"))
	wantRecord(t, s, e1, []byte("erin again"), again)
	wantUserSessions(t, s, ui, "erin", e1)
	for _, user := range []string{"nobody", "nobody"} {
		if err := ui.DeleteUser(t.Context(), user); err != nil {
			t.Fatalf("DeleteUser(%q) of a user without sessions: %v", user, err)
		}
	}
	wantUserSessions(t, s, ui, "frank", moved, f1)
}

// testUserNames gives users names that differ only in ways a careless
// index (a prefix scan, a glob, a LIKE pattern, case folding) would merge.
func testUserNames(t *testing.T, s sesame.Store, ui sesame.UserIndex) {
	users := []string{
		"user", "User", "user ", "use", "user:1", "user:", "user*", "user%", "user_",
		"user'; DROP TABLE sessions; --", "zoë@example.org", "用户", "a\x00b", "a\nb",
	}
	keys := make([]string, len(users))
	for i, user := range users {
		keys[i] = newKey()
		save(t, s, keys[i], []byte(user), 0, live(user))
	}
	for i, user := range users {
		wantUserSessions(t, s, ui, user, keys[i])
	}
	if err := ui.DeleteUser(t.Context(), "user*"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for i, user := range users {
		if user == "user*" {
			wantNotFound(t, s, keys[i])
			continue
		}
		wantUserSessions(t, s, ui, user, keys[i])
	}
}

func testUserIndexDoneContext(t *testing.T, s sesame.Store, ui sesame.UserIndex) {
	key := newKey()
	v := save(t, s, key, []byte("kept"), 0, live("grace"))
	for _, c := range doneContexts(t) {
		t.Run(c.name, func(t *testing.T) {
			calls := []struct {
				name string
				call func(ctx context.Context) error
			}{
				{"UserSessions", func(ctx context.Context) error {
					_, err := ui.UserSessions(ctx, "grace")
					return err
				}},
				{"DeleteUser", func(ctx context.Context) error { return ui.DeleteUser(ctx, "grace") }},
			}
			for _, call := range calls {
				if err := call.call(c.ctx); !errors.Is(err, c.want) {
					t.Errorf("%s with a %s context: error %v; want an error wrapping %v", call.name, c.name, err, c.want)
				}
			}
			wantRecord(t, s, key, []byte("kept"), v)
			wantUserSessions(t, s, ui, "grace", key)
		})
	}
}
