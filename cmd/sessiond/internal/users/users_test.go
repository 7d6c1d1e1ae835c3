package users

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// cheapArgon keeps password hashing fast in tests.
var cheapArgon = Params{Memory: 64, Time: 1, Threads: 1}

func TestPasswordsAndUsersFile(t *testing.T) {
	h := hashPassword("s3cret pass", cheapArgon)
	if !verifyPassword(h, "s3cret pass") || verifyPassword(h, "s3cret pasS") {
		t.Fatal("verify")
	}
	for _, bad := range []string{"", "$argon2id$v=19$m=99999999,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "$2a$10$bcrypt", h + "$x"} {
		if verifyPassword(bad, "") {
			t.Errorf("verified against %q", bad)
		}
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := Add(path, "carol", "longenough", cheapArgon); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v", st.Mode().Perm())
	}
	for _, bad := range []struct{ user, pw string }{{"a:b", "longenough"}, {"", "longenough"}, {"dave", "short"}, {"with space", "longenough"}} {
		if err := Add(path, bad.user, bad.pw, cheapArgon); err == nil {
			t.Errorf("Add(%q, %q) accepted", bad.user, bad.pw)
		}
	}
	db, err := Open(path, cheapArgon)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		user, password string
		want           bool
	}{{"carol", "longenough", true}, {"carol", "nope", false}, {"nobody", "longenough", false}} {
		if _, got, err := db.Verify(t.Context(), tt.user, tt.password); got != tt.want || err != nil {
			t.Errorf("Verify(%q, %q) = %v, %v; want %v", tt.user, tt.password, got, err, tt.want)
		}
	}
	// A login that waits for a hashing slot gives up when its request ends.
	release := db.HoldHashing()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, ok, err := db.Verify(ctx, "carol", "longenough"); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with every slot taken and the request gone = %v, %v", ok, err)
	}
	release()
	release() // a second release is harmless
	if _, ok, err := db.Verify(t.Context(), "carol", "longenough"); !ok || err != nil {
		t.Errorf("Verify after the slots were released = %v, %v", ok, err)
	}
	if err := Remove(path, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := Remove(path, "carol"); err == nil {
		t.Error("removing a missing user succeeded")
	}
	os.WriteFile(path, []byte("broken line\n"), 0o600)
	if _, err := ReadFile(path); err == nil {
		t.Error("broken users file accepted")
	}
}

func TestHashSlots(t *testing.T) {
	tests := []struct{ cpus, want int }{{1, 1}, {2, 1}, {3, 1}, {4, 2}, {8, 4}, {16, 8}, {64, 8}}
	for _, tt := range tests {
		if got := hashSlots(tt.cpus, DefaultParams); got != tt.want {
			t.Errorf("%d CPUs: %d hashes at once, want %d", tt.cpus, got, tt.want)
		}
	}
}

// TestConcurrentUserAdds runs user adds at once on one users file: every
// user must be in it afterwards (each command rewrites the whole file).
func TestConcurrentUserAdds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := Add(path, fmt.Sprintf("user%02d", i), "longenough", cheapArgon); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	users, err := ReadFile(path)
	if err != nil || len(users) != n {
		t.Fatalf("%d users after %d concurrent adds (%v): %v", len(users), n, err, slices.Sorted(maps.Keys(users)))
	}
}
