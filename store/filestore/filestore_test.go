package filestore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

func TestNewCreatesPrivateDirectoriesAndFiles(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("Unix permission bits")
	}
	dir := filepath.Join(t.TempDir(), "a", "sessions")
	s, err := New(Config{Dir: dir, SweepInterval: -1})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()
	key := newKey()
	mustSave(t, s, key, []byte("v"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "u"})

	want := map[string]fs.FileMode{
		".":                                  fs.ModeDir | 0o700,
		"data":                               fs.ModeDir | 0o700,
		"tmp":                                fs.ModeDir | 0o700,
		"expiry":                             fs.ModeDir | 0o700,
		"users":                              fs.ModeDir | 0o700,
		"locks":                              fs.ModeDir | 0o700,
		filepath.Join("data", fileName(key)): 0o600,
	}
	for name, mode := range want {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("%s has mode %v; want %v", name, info.Mode(), mode)
		}
	}
	// Every file and directory the store made is private.
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v; want no group or other access", path, info.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no directory", Config{}},
		{"directory is a file", Config{Dir: file}},
		{"below a file", Config{Dir: filepath.Join(file, "x")}},
		{"unknown durability", Config{Dir: t.TempDir(), Durability: Durability(7)}},
		{"negative durability", Config{Dir: t.TempDir(), Durability: Durability(-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded; want an error")
			}
		})
	}
}

// TestSweepIntervalZeroIsTheDefault checks that the zero Config runs a
// sweeper, as the zero value of every store's Config does, and that only
// a negative SweepInterval turns it off.
func TestSweepIntervalZeroIsTheDefault(t *testing.T) {
	tests := []struct {
		interval time.Duration
		sweeper  bool
	}{
		{0, true},
		{time.Hour, true},
		{-1, false},
	}
	for _, tt := range tests {
		s, err := New(Config{Dir: t.TempDir(), SweepInterval: tt.interval})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.sweeper != nil; got != tt.sweeper {
			t.Errorf("SweepInterval %v: sweeper running %v; want %v", tt.interval, got, tt.sweeper)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPathTraversalKeysAreRejectedBeforeTouchingDisk(t *testing.T) {
	s, dir := newTestStore(t, Config{}, nil)
	outside := filepath.Dir(dir)
	before := listTree(t, outside)
	keys := []string{
		"", ".", "..", "../x", "../../etc/passwd", "a/b", `a\b`, "/abs", "data/../x",
		"a\x00b", "a.b", "%2e%2e", "clé", strings.Repeat("a", sesame.MaxKeyLen+1),
	}
	for _, key := range keys {
		ops := map[string]func() error{
			"Load": func() error { _, _, err := s.Load(t.Context(), key); return err },
			"Save": func() error {
				_, err := s.Save(t.Context(), key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
				return err
			},
			"Delete": func() error { return s.Delete(t.Context(), key) },
		}
		for name, op := range ops {
			err := op()
			if !errors.Is(err, sesame.ErrInvalidKey) {
				t.Errorf("%s(%q): error %v; want ErrInvalidKey", name, key, err)
			}
			if err != nil && key != "" && strings.Contains(err.Error(), key) {
				t.Errorf("%s(%q): error %q quotes the key", name, key, err)
			}
		}
	}
	if after := listTree(t, outside); !equalStrings(before, after) {
		t.Errorf("files changed:\nbefore %q\nafter  %q", before, after)
	}
}

// listTree lists every path below dir.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		paths = append(paths, path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

// TestKeysThatDifferOnlyInCaseHaveDifferentFiles: on a file system that
// folds case, keys that differ only in case must still not share a file.
// That such keys are distinct records is checked by the conformance suite.
func TestKeysThatDifferOnlyInCaseHaveDifferentFiles(t *testing.T) {
	if strings.EqualFold(fileName("abc"), fileName("ABC")) {
		t.Fatalf("file names %q and %q differ only in case", fileName("abc"), fileName("ABC"))
	}
}

func TestFileNamesRoundTrip(t *testing.T) {
	for _, key := range []string{"a", "Z", "-", "_", newKey(), strings.Repeat("Az09-_", 30)[:sesame.MaxKeyLen]} {
		name := fileName(key)
		if len(name) > 255-20 {
			t.Errorf("file name for a %d-byte key is %d bytes; too long for a temporary name", len(key), len(name))
		}
		if got, ok := keyOf(name); !ok || got != key {
			t.Errorf("keyOf(fileName(%q)) = %q, %v", key, got, ok)
		}
	}
	for _, name := range []string{"", "x", "0", "..", "zz", "0123456789abcdefghijklmnopqrstuvwxyz", "c5h66p35"} {
		if key, ok := keyOf(name); ok && fileName(key) != name {
			t.Errorf("keyOf(%q) accepted a name fileName does not make", name)
		}
	}
}

// TestVersionsAre63Bit checks the documented shape of filestore versions:
// random 63-bit numbers. That they never repeat for a key is checked by
// the conformance suite (storetest's KeyNeverGetsAVersionItHadBefore).
func TestVersionsAre63Bit(t *testing.T) {
	s, _ := newTestStore(t, Config{}, nil)
	key := newKey()
	opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}
	var v uint64
	for range 50 {
		v = mustSave(t, s, key, []byte("a"), v, opts)
		if v>>63 != 0 {
			t.Fatalf("version %d has the top bit set; want 63-bit versions", v)
		}
	}
}

func TestDurabilityLevelsAllRoundTrip(t *testing.T) {
	for _, d := range []Durability{SyncFull, SyncFile, SyncNone} {
		t.Run(d.String(), func(t *testing.T) {
			s, dir := newTestStore(t, Config{Durability: d}, nil)
			key := newKey()
			v := mustSave(t, s, key, []byte("value"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
			got, gv, err := s.Load(t.Context(), key)
			if err != nil || string(got) != "value" || gv != v {
				t.Fatalf("Load = %q, %d, %v", got, gv, err)
			}
			if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) != 0 {
				t.Errorf("tmp/ holds %d files after a Save; want none", len(left))
			}
		})
	}
	if got := Durability(9).String(); got != "Durability(9)" {
		t.Errorf("String of an unknown level = %q", got)
	}
}

func TestZeroExpiryNeverExpires(t *testing.T) {
	clock := newFakeClock()
	s, dir := newTestStore(t, Config{}, clock)
	key := newKey()
	v := mustSave(t, s, key, []byte("forever"), 0, sesame.SaveOptions{})
	clock.Advance(100 * 365 * 24 * time.Hour)
	if _, err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, got, err := s.Load(t.Context(), key); err != nil || got != v {
		t.Fatalf("Load = %d, %v; want version %d", got, err, v)
	}
	if buckets, _ := os.ReadDir(filepath.Join(dir, "expiry")); len(buckets) != 0 {
		t.Errorf("expiry/ has %d buckets for a record that never expires", len(buckets))
	}
}

func TestExtremeExpiryTimesAreClamped(t *testing.T) {
	clock := newFakeClock()
	s, _ := newTestStore(t, Config{}, clock)
	tests := []struct {
		name    string
		at      time.Time
		expired bool
	}{
		{"year 2", time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"epoch", time.Unix(0, 0), true},
		{"year 9999", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := newKey()
			mustSave(t, s, key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: tt.at})
			_, _, err := s.Load(t.Context(), key)
			if gotExpired := errors.Is(err, sesame.ErrNotFound); gotExpired != tt.expired || (err != nil && !gotExpired) {
				t.Fatalf("Load: %v; want expired=%v", err, tt.expired)
			}
		})
	}
	if _, err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestSaveStoresOnlyWhatItWasGiven(t *testing.T) {
	s, dir := newTestStore(t, Config{}, nil)
	key := newKey()
	value := []byte("secret-value")
	mustSave(t, s, key, value, 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "alice@example.com"})
	value[0] = 'X' // the store must have copied it
	got, _, err := s.Load(t.Context(), key)
	if err != nil || string(got) != "secret-value" {
		t.Fatalf("Load = %q, %v", got, err)
	}
	// No path names the user or the value.
	for _, p := range listTree(t, dir) {
		if strings.Contains(p, "alice") || strings.Contains(p, "secret") {
			t.Errorf("path %s reveals a user name or value", p)
		}
	}
}

func TestClosedStore(t *testing.T) {
	s, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	key := newKey()
	mustSave(t, s, key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "u"})
	for range 3 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	ctx := t.Context()
	ops := map[string]func() error{
		"Load":         func() error { _, _, err := s.Load(ctx, key); return err },
		"Save":         func() error { _, err := s.Save(ctx, key, nil, 0, sesame.SaveOptions{}); return err },
		"Delete":       func() error { return s.Delete(ctx, key) },
		"Sweep":        func() error { _, err := s.Sweep(ctx); return err },
		"UserSessions": func() error { _, err := s.UserSessions(ctx, "u"); return err },
		"DeleteUser":   func() error { return s.DeleteUser(ctx, "u") },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v; want ErrClosed", name, err)
		}
	}
}

func TestCloseStopsTheSweeper(t *testing.T) {
	before := runtime.NumGoroutine()
	var stores []*Store
	for range 5 {
		s, err := New(Config{Dir: t.TempDir(), SweepInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	time.Sleep(20 * time.Millisecond)
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Close waits for the sweeper, so the count is back at once; allow
	// the runtime a moment for unrelated goroutines.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close; %d before New", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBackgroundSweeperReportsErrors(t *testing.T) {
	errs := make(chan error, 10)
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, SweepInterval: 5 * time.Millisecond, SweepErrors: func(err error) {
		select {
		case errs <- err:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Replace tmp/ by a file so that listing it fails.
	if err := os.Remove(filepath.Join(dir, "tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tmp"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "tmp") {
			t.Errorf("sweep error %q does not name the directory", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no sweep error reported")
	}
}

func TestLockWaitHonoursContext(t *testing.T) {
	if !crossProcess {
		t.Skip("no lock files on this platform")
	}
	// A second Store on the same directory has its own lock files, so
	// holding a stripe in one makes the other wait, as another process
	// would.
	a, dir := newTestStore(t, Config{}, nil)
	b, err := New(Config{Dir: dir, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	key := newKey()
	st, err := a.lock(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = b.Save(ctx, key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Save while another Store holds the lock: %v; want DeadlineExceeded", err)
	}
	st.unlock()
	if _, err := b.Save(t.Context(), key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Save after the lock was released: %v", err)
	}
}

func TestTwoStoresOnOneDirectoryLoseNoUpdates(t *testing.T) {
	if !crossProcess {
		t.Skip("only one Store may use a directory on this platform")
	}
	a, dir := newTestStore(t, Config{Durability: SyncNone}, nil)
	b, err := New(Config{Dir: dir, SweepInterval: -1, Durability: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	key := newKey()
	const perWriter = 100
	done := make(chan error, 4)
	for _, s := range []*Store{a, b, a, b} {
		go func() {
			for range perWriter {
				if err := increment(t.Context(), s, key); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := counter(t, a, key); got != 4*perWriter {
		t.Fatalf("counter = %d; want %d", got, 4*perWriter)
	}
}

func TestCorruptValueNotQuotedInErrors(t *testing.T) {
	s, dir := newTestStore(t, Config{}, nil)
	key := newKey()
	mustSave(t, s, key, []byte("PRIVATE-VALUE"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "PRIVATE-USER"})
	path := filepath.Join(dir, "data", fileName(key))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Load(t.Context(), key)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load: %v; want ErrCorrupt naming %s", err, path)
	}
	if msg := err.Error(); strings.Contains(msg, "PRIVATE") {
		t.Fatalf("error %q quotes the record", msg)
	}
	if !bytes.Contains(b, []byte("PRIVATE-VALUE")) {
		t.Fatal("test bug: value not in file")
	}
}
