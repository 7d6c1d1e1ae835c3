package boltstore

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"go.etcd.io/bbolt"
)

var ctx = context.Background()

// key returns a valid store key for test record i.
func key(i int) string { return "key-" + strconv.Itoa(i) }

func live(user string) sesame.SaveOptions {
	return sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: user}
}

func mustSave(t testing.TB, s *Store, key string, value string, version uint64, opts sesame.SaveOptions) uint64 {
	t.Helper()
	v, err := s.Save(ctx, key, []byte(value), version, opts)
	if err != nil {
		t.Fatalf("Save(%s, %d): %v", key, version, err)
	}
	return v
}

func wantRecord(t testing.TB, s *Store, key, value string, version uint64) {
	t.Helper()
	got, v, err := s.Load(ctx, key)
	if err != nil || string(got) != value || v != version {
		t.Fatalf("Load(%s) = %q, %d, %v; want %q, %d", key, got, v, err, value, version)
	}
}

func TestRecordsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := New(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		key, value, user string
		version          uint64
	}
	recs := []rec{{key: "a", value: "alice's", user: "alice"}, {key: "b", value: "anonymous"}, {key: "c", value: ""}}
	var last uint64
	for i := range recs {
		recs[i].version = mustSave(t, s, recs[i].key, "first", 0, live(recs[i].user))
		recs[i].version = mustSave(t, s, recs[i].key, recs[i].value, recs[i].version, live(recs[i].user))
		last = max(last, recs[i].version)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = New(Config{Path: path})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	for _, r := range recs {
		wantRecord(t, s, r.key, r.value, r.version)
	}
	list, err := s.UserSessions(ctx, "alice")
	if err != nil || len(list) != 1 || list[0].Key != "a" || list[0].Version != recs[0].version {
		t.Fatalf("UserSessions(alice) after restart = %v, %v; want record a", list, err)
	}
	// The version counter survives too: versions never repeat.
	if v := mustSave(t, s, "d", "new", 0, live("")); v <= last {
		t.Fatalf("first version after restart = %d; want more than %d, the last before it", v, last)
	}
}

func TestFileIsPrivate(t *testing.T) {
	s := openTest(t, Config{})
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("file mode %v; want 0600", mode)
	}
}

// TestClosedStoreFailsClearly: every call after Close fails with ErrClosed
// and an error that names the file; Close may be repeated.
func TestClosedStoreFailsClearly(t *testing.T) {
	s, err := New(Config{Path: filepath.Join(t.TempDir(), "closed.db")})
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, s, "k", "v", 0, live("u"))
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close %d: %v", i+1, err)
		}
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Load", func() error { _, _, err := s.Load(ctx, "k"); return err }},
		{"Save", func() error { _, err := s.Save(ctx, "k", nil, 0, live("")); return err }},
		{"Delete", func() error { return s.Delete(ctx, "k") }},
		{"UserSessions", func() error { _, err := s.UserSessions(ctx, "u"); return err }},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, "u") }},
		{"Sweep", func() error { _, err := s.Sweep(ctx); return err }},
		{"Compact", func() error { return s.Compact(ctx) }},
		{"Stats", func() error { _, err := s.Stats(); return err }},
	}
	for _, c := range calls {
		err := c.call()
		if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), s.Path()) {
			t.Errorf("%s after Close: %v; want ErrClosed naming %s", c.name, err, s.Path())
		}
	}
}

// TestCloseDuringWritesAnswersEveryCaller closes the store while writers
// are busy: each gets a success or ErrClosed, nothing hangs or panics, and
// every write that succeeded is in the file afterwards.
func TestCloseDuringWritesAnswersEveryCaller(t *testing.T) {
	path := filepath.Join(t.TempDir(), "closing.db")
	s, err := New(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 50
	var (
		mu    sync.Mutex
		saved = map[string]uint64{}
		wg    sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				k := key(w*each + i)
				v, err := s.Save(ctx, k, []byte(k), 0, live(""))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Save: %v; want success or ErrClosed", err)
					return
				}
				mu.Lock()
				saved[k] = v
				mu.Unlock()
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	s, err = New(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for k, v := range saved {
		wantRecord(t, s, k, k, v)
	}
	t.Logf("%d of %d saves succeeded before Close", len(saved), writers*each)
}

// TestReadOnlyReopenRefusesWrites: a file opened read-only serves loads;
// every write fails with ErrReadOnly, naming the file, and changes nothing.
func TestReadOnlyReopenRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	s, err := New(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	v := mustSave(t, s, "k", "kept", 0, live("u"))
	s.Close()

	ro, err := New(Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	writes := []struct {
		name string
		call func() error
	}{
		{"Save", func() error { _, err := ro.Save(ctx, "k", []byte("changed"), v, live("u")); return err }},
		{"Save new", func() error { _, err := ro.Save(ctx, "new", []byte("x"), 0, live("")); return err }},
		{"Delete", func() error { return ro.Delete(ctx, "k") }},
		{"DeleteUser", func() error { return ro.DeleteUser(ctx, "u") }},
		{"Sweep", func() error { _, err := ro.Sweep(ctx); return err }},
		{"Compact", func() error { return ro.Compact(ctx) }},
	}
	for _, w := range writes {
		err := w.call()
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s on a read-only store: %v; want ErrReadOnly naming %s", w.name, err, path)
		}
	}
	wantRecord(t, ro, "k", "kept", v)
	if list, err := ro.UserSessions(ctx, "u"); err != nil || len(list) != 1 {
		t.Errorf("UserSessions on a read-only store = %v, %v; want the one record", list, err)
	}
	if st, err := ro.Stats(); err != nil || st.FileSize == 0 {
		t.Errorf("Stats on a read-only store = %+v, %v; want the file's size", st, err)
	}
}

func TestNewFailsClearly(t *testing.T) {
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked.db")
	s, err := New(Config{Path: locked})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not bolt"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		cfg        Config
		want       string
	}{
		{"no path", "", Config{}, "Config.Path"},
		{"file locked by another Store", locked, Config{OpenTimeout: 50 * time.Millisecond}, "locked"},
		{"not a bbolt file", garbage, Config{}, "invalid"},
		{"missing directory", filepath.Join(dir, "no", "such.db"), Config{}, "no such file"},
		{"read-only open of a missing file", filepath.Join(dir, "missing.db"), Config{ReadOnly: true}, "no such file"},
		{"free share above one", filepath.Join(dir, "share.db"), Config{CompactFreeShare: 1.5}, "CompactFreeShare"},
		{"negative free share", filepath.Join(dir, "share.db"), Config{CompactFreeShare: -0.5}, "CompactFreeShare"},
		{"free share not a number", filepath.Join(dir, "share.db"), Config{CompactFreeShare: math.NaN()}, "CompactFreeShare"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Path = tc.path
			s, err := New(cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v; want an error naming %s and saying %q", err, tc.path, tc.want)
			}
		})
	}
}

// TestCorruptRecordIsAnError: a record that cannot be decoded is reported
// as ErrCorrupt by Load and Save, never a panic, and can be deleted.
func TestCorruptRecordIsAnError(t *testing.T) {
	s := openTest(t, Config{})
	for i, b := range [][]byte{{}, {1, 2, 3}, append([]byte{9}, make([]byte, 30)...), append([]byte{1}, make([]byte, 30)...)} {
		k := key(i)
		if err := s.update(func(tx *bbolt.Tx) error { return tx.Bucket(recordsBucket).Put([]byte(k), b) }); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Load(ctx, k); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Load of corrupt record %d: %v; want ErrCorrupt", i, err)
		}
		if _, err := s.Save(ctx, k, []byte("x"), 0, live("")); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Save over corrupt record %d: %v; want ErrCorrupt", i, err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete of corrupt record %d: %v", i, err)
		}
		mustSave(t, s, k, "fine", 0, live(""))
	}
}

func TestOversizedUserIsRefused(t *testing.T) {
	s := openTest(t, Config{})
	_, err := s.Save(ctx, "k", []byte("v"), 0, live(strings.Repeat("u", MaxUserLen+1)))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Save with a %d-byte user: %v; want ErrTooLarge", MaxUserLen+1, err)
	}
	mustSave(t, s, "k", "v", 0, live(strings.Repeat("u", MaxUserLen)))
}
