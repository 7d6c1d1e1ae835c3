// Package users is sessiond's users file: names with argon2id password
// hashes, checked at login, reread while the server runs, and the stamp
// that ties a session to the entry whose password logged it in.
package users

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/datadir"
	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters, kept in each hash so they can
// change without invalidating existing passwords.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams is RFC 9106's second recommended option (64 MiB, 3 passes)
// with two lanes.
var DefaultParams = Params{Memory: 64 * 1024, Time: 3, Threads: 2}

const (
	argonSaltLen = 16
	argonKeyLen  = 32
	// MaxPasswordLen bounds what is hashed; longer input is refused.
	MaxPasswordLen = 1024
	// MaxNameLen bounds a user name (see ValidName).
	MaxNameLen = 64
)

// hashPassword returns password's argon2id hash in the PHC string format:
// $argon2id$v=19$m=65536,t=3,p=2$salt$hash.
func hashPassword(password string, p Params) string {
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

var errBadHash = errors.New("not an argon2id hash")

// parseHash splits a PHC argon2id string, refusing parameters that would
// make verification absurdly expensive.
func parseHash(h string) (p Params, salt, key []byte, err error) {
	f := strings.Split(h, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, errBadHash
	}
	var threads uint32
	if _, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil {
		return p, nil, nil, errBadHash
	}
	if p.Memory < 8 || p.Memory > 1<<20 || p.Time < 1 || p.Time > 20 || threads < 1 || threads > 16 {
		return p, nil, nil, errBadHash
	}
	p.Threads = uint8(threads)
	salt, err1 := base64.RawStdEncoding.DecodeString(f[4])
	key, err2 := base64.RawStdEncoding.DecodeString(f[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// verifyPassword reports whether password matches the PHC hash h.
func verifyPassword(h, password string) bool {
	p, salt, key, err := parseHash(h)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// ValidName accepts 1 to 64 printable characters without ':' or
// white space, which keeps the users file, headers and tickets unambiguous.
func ValidName(u string) bool {
	if u == "" || len(u) > MaxNameLen || !utf8.ValidString(u) {
		return false
	}
	for _, r := range u {
		if r <= ' ' || r == 0x7f || r == ':' || r == '!' || r == ',' || r == '\u0085' || r == '\u00a0' ||
			(r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// userStamp names one version of a user's entry in the users file: a
// short hash of the password hash, which changes with every `user add`
// (each has a new salt). A session keeps the stamp of the entry its
// password was checked against, and ends once the entry has another (a
// new password, or a removal and a new user of the same name), whether
// the server saw the change happen or was stopped at the time.
func userStamp(hash string) string {
	sum := sha256.Sum256([]byte("sessiond users-file entry\x00" + hash))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// DB is the users file: one "name:hash" line per user, "#" comments.
// A running server rereads it when it changes, so `sessiond user add` and
// `user remove` take effect without a restart.
type DB struct {
	path string

	mu      sync.Mutex
	users   map[string]string // name → hash
	stamps  map[string]string // name → userStamp of the hash
	file    os.FileInfo       // the file as last read; nil if it was missing
	checked time.Time

	// OnChange, if set, is called after a reload with the users whose
	// entry changed or went away. Set it before the DB is shared.
	OnChange func(users []string)

	// dummy is hashed for unknown users so that their failures take as
	// long as wrong passwords.
	dummy string
	// sem bounds concurrent hashing, each of which takes Memory KiB and
	// keeps Threads CPUs busy (see hashSlots).
	sem chan struct{}
	// hashes counts the passwords Verify has hashed (see Hashes).
	hashes atomic.Uint64
}

// hashSlots is how many password hashes run at once: as many as the CPUs
// can run without one slowing the others, between 1 and 8. More would only
// make each login slower, take another 64 MiB each, and starve every
// other request of CPU; the logins over that wait their turn.
func hashSlots(cpus int, p Params) int {
	return min(8, max(1, cpus/int(p.Threads)))
}

// Open loads the users file at path; unknown users are checked against a
// dummy hash made with the given parameters.
func Open(path string, dummy Params) (*DB, error) {
	db := &DB{path: path, dummy: hashPassword(datadir.RandomString(16), dummy), sem: make(chan struct{}, hashSlots(runtime.GOMAXPROCS(0), DefaultParams))}
	if err := db.reload(true); err != nil {
		return nil, err
	}
	return db, nil
}

// ReadFile parses the users file at path into names and hashes; a missing
// file is an empty set.
func ReadFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	users := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || !ValidName(name) {
			return nil, fmt.Errorf("%s:%d: want name:hash", path, n)
		}
		if _, _, _, err := parseHash(hash); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		users[name] = hash
	}
	return users, sc.Err()
}

// writeUsersFile replaces path with users, sorted by name, mode 0600.
func writeUsersFile(path string, users map[string]string) error {
	var b strings.Builder
	b.WriteString("# sessiond users: name:argon2id hash. Edit with `sessiond user add|remove NAME`.\n")
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		b.WriteString(n + ":" + users[n] + "\n")
	}
	return datadir.WriteFileAtomic(path, []byte(b.String()), false)
}

// Reload rereads the file now, changed or not, then tells OnChange whose
// entry changed or went away.
func (db *DB) Reload() error { return db.reload(true) }

// reload rereads the file if it changed (checked at most once a second
// unless force, which also rereads an unchanged file), then tells OnChange
// whose entry changed or went away.
func (db *DB) reload(force bool) error {
	db.mu.Lock()
	changed, err := db.refresh(force)
	db.mu.Unlock()
	if len(changed) > 0 && db.OnChange != nil {
		db.OnChange(changed)
	}
	return err
}

// refresh is reload's work under db.mu. A file replaced by another (as
// `sessiond user add` does, by a rename) counts as changed even when its
// size and time are the same.
func (db *DB) refresh(force bool) (changed []string, err error) {
	now := time.Now()
	if !force && now.Sub(db.checked) < time.Second {
		return nil, nil
	}
	db.checked = now
	st, err := os.Stat(db.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if !force && sameFile(st, db.file) {
		return nil, nil
	}
	users, err := ReadFile(db.path)
	if err != nil {
		return nil, err
	}
	stamps := make(map[string]string, len(users))
	for name, hash := range users {
		stamps[name] = userStamp(hash)
	}
	for name, old := range db.stamps {
		if stamps[name] != old {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	db.users, db.stamps, db.file = users, stamps, st
	return changed, nil
}

// sameFile reports whether a and b (nil for a missing file) are the same
// file, unmodified.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// Watch rereads the file about every interval until ctx ends, so that
// changes take effect (and end sessions) without waiting for a request.
// A file that cannot be read is logged once; the last good users stay.
func (db *DB) Watch(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := db.reload(false)
		switch {
		case err != nil && err.Error() != lastErr:
			log.Error("reading the users file; keeping the users read before", "file", db.path, "err", err)
			lastErr = err.Error()
		case err == nil && lastErr != "":
			log.Info("the users file can be read again", "file", db.path)
			lastErr = ""
		}
	}
}

// Stamp returns the stamp of user's entry (see userStamp), and false if
// there is no such user.
func (db *DB) Stamp(user string) (string, bool) {
	_ = db.reload(false) // on a read error, keep the last good set
	db.mu.Lock()
	defer db.mu.Unlock()
	st, ok := db.stamps[user]
	return st, ok
}

// Len returns how many users there are.
func (db *DB) Len() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.users)
}

// Hashes returns how many passwords Verify has hashed, unknown users'
// included: what the login limiter bounds.
func (db *DB) Hashes() uint64 { return db.hashes.Load() }

// HoldHashing takes every hashing slot until release is called, so that
// the Verify calls made meanwhile wait at the password check, as they do
// when the slots are busy. Tests use it to hold logins in flight.
func (db *DB) HoldHashing() (release func()) {
	for range cap(db.sem) {
		db.sem <- struct{}{}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for range cap(db.sem) {
				<-db.sem
			}
		})
	}
}

// Verify checks a password, taking as long for an unknown user as for a
// known one. Hashes run a few at a time (hashSlots); if ctx ends while
// Verify waits for its turn, it returns ctx's error without hashing. A
// session logged in with it keeps stamp, the stamp of the entry the
// password matched (see userStamp).
func (db *DB) Verify(ctx context.Context, user, password string) (stamp string, ok bool, err error) {
	_ = db.reload(false)
	db.mu.Lock()
	h, ok := db.users[user]
	stamp = db.stamps[user]
	db.mu.Unlock()
	if !ok {
		h = db.dummy
	}
	if len(password) > MaxPasswordLen {
		password = ""
		ok = false
	}
	select {
	case db.sem <- struct{}{}:
	case <-ctx.Done():
		return "", false, ctx.Err()
	}
	defer func() { <-db.sem }()
	db.hashes.Add(1)
	if !verifyPassword(h, password) || !ok {
		return "", false, nil
	}
	return stamp, true, nil
}

// Add sets user's password in the file at path.
func Add(path, user, password string, p Params) error {
	if !ValidName(user) {
		return fmt.Errorf("invalid user name %q: 1-%d characters, no spaces, ':', '!' or ','", user, MaxNameLen)
	}
	if len(password) < 8 || len(password) > MaxPasswordLen {
		return fmt.Errorf("password must be 8 to %d bytes long", MaxPasswordLen)
	}
	hash := hashPassword(password, p) // slow on purpose: before the lock
	return updateUsersFile(path, func(users map[string]string) error {
		users[user] = hash
		return nil
	})
}

// Remove deletes user from the file at path.
func Remove(path, user string) error {
	return updateUsersFile(path, func(users map[string]string) error {
		if _, ok := users[user]; !ok {
			return fmt.Errorf("no user %q in %s", user, path)
		}
		delete(users, user)
		return nil
	})
}

// updateUsersFile applies change to the users in the file at path and
// writes them back, holding the file's lock throughout.
func updateUsersFile(path string, change func(users map[string]string) error) error {
	unlock, err := lockUsersFile(path)
	if err != nil {
		return fmt.Errorf("locking %s: %w", path, err)
	}
	defer unlock()
	users, err := ReadFile(path)
	if err != nil {
		return err
	}
	if err := change(users); err != nil {
		return err
	}
	return writeUsersFile(path, users)
}
