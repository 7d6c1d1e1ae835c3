package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"go.etcd.io/bbolt"
)

// filled opens a store (without a background sweeper) holding records
// key(0)…key(n-1), each with a 300-byte value, every fourth with a user,
// and returns it with the version of each record. It saves them in one
// transaction, through the same code as Save.
func filled(t *testing.T, cfg Config, n int) (*Store, map[string]uint64) {
	t.Helper()
	cfg.SweepInterval = -1
	s := openTest(t, cfg)
	value := []byte(strings.Repeat("v", 300))
	expires := unixNano(time.Now().Add(time.Hour))
	versions := make(map[string]uint64, n)
	err := s.update(func(tx *bbolt.Tx) error {
		for i := range n {
			v, err := saveTx(tx, []byte(key(i)), encodeRecord(0, expires, userOf(i), value), 0, expires, userOf(i), uint64(time.Now().UnixNano()))
			if err != nil {
				return err
			}
			versions[key(i)] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, versions
}

// userOf is the user of test record i: every fourth record has one, and
// each user has two records.
func userOf(i int) string {
	if i%4 != 0 {
		return ""
	}
	return fmt.Sprint("user-", i/8)
}

// stats returns s.Stats(), failing the test on error.
func stats(t *testing.T, s *Store) Stats {
	t.Helper()
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// compactLeftovers lists the temporary files of compactions in dir.
func compactLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*"+compactSuffix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

// TestCompactKeepsEverythingAndShrinksTheFile deletes part of a store's
// records, compacts it, and checks that every remaining record, version,
// user index entry and expiry index entry is still there, that versions
// go on growing, that the file is smaller and free of free pages, and that
// the compacted file is what a restart opens.
func TestCompactKeepsEverythingAndShrinksTheFile(t *testing.T) {
	tests := []struct {
		name            string
		records, delete int
	}{
		{"empty file", 0, 0},
		{"nothing deleted", 2000, 0},
		{"most deleted", 4000, 3600},
		{"all deleted", 4000, 4000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, versions := filled(t, Config{}, tc.records)
			err := s.update(func(tx *bbolt.Tx) error {
				for i := range tc.delete {
					if err := deleteTx(tx, []byte(key(i))); err != nil {
						return err
					}
					delete(versions, key(i))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// One record that has expired but was not swept: the
			// compacted expiry index must still lead the sweeper to it.
			mustSave(t, s, "expired", "x", 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Second), User: "gone"})
			if err := os.Chmod(s.Path(), 0o640); err != nil {
				t.Fatal(err)
			}
			before := stats(t, s)
			var last uint64
			for _, v := range versions {
				last = max(last, v)
			}

			if err := s.Compact(ctx); err != nil {
				t.Fatalf("Compact: %v", err)
			}

			after := stats(t, s)
			t.Logf("file %d → %d bytes, free %d → %d", before.FileSize, after.FileSize, before.FreeSize, after.FreeSize)
			if after.Compactions != 1 || after.FreeSize > int64(4*s.pageSize) {
				t.Errorf("after Compact: %d compactions, %d bytes free; want 1 and (almost) none", after.Compactions, after.FreeSize)
			}
			if tc.delete > tc.records/2 && after.FileSize >= before.FileSize/2 {
				t.Errorf("the file went from %d to %d bytes; want less than half, as most records are gone", before.FileSize, after.FileSize)
			}
			if fi, err := os.Stat(s.Path()); err != nil || fi.Mode().Perm() != 0o640 {
				t.Errorf("the compacted file's mode: %v, %v; want the old file's 0640", fi.Mode().Perm(), err)
			}
			if left := compactLeftovers(t, filepath.Dir(s.Path())); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
			checkRecords(t, s, versions)
			if n, err := s.Sweep(ctx); n != 1 || err != nil {
				t.Errorf("Sweep after Compact = %d, %v; want the one expired record", n, err)
			}
			if list, _ := s.UserSessions(ctx, "gone"); len(list) != 0 {
				t.Errorf("the swept record's user still lists %d", len(list))
			}
			v := mustSave(t, s, "new", "n", 0, live(""))
			if v <= last {
				t.Errorf("first version after Compact = %d; want more than %d", v, last)
			}
			versions["new"] = v

			// A restart opens the compacted file.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = New(Config{Path: s.Path(), SweepInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			checkRecords(t, s, versions)
		})
	}
}

// mustLoadVersion returns the version stored under k.
func mustLoadVersion(t *testing.T, s *Store, k string) uint64 {
	t.Helper()
	_, v, err := s.Load(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkRecords fails the test unless s holds exactly the records of
// versions (with filled's values and users), and nothing under the keys
// that filled made and that are not in versions.
func checkRecords(t *testing.T, s *Store, versions map[string]uint64) {
	t.Helper()
	perUser := map[string]int{}
	for k, v := range versions {
		_, got, err := s.Load(ctx, k)
		if err != nil || got != v {
			t.Fatalf("Load(%s) = version %d, %v; want %d", k, got, err, v)
		}
		var i int
		if _, err := fmt.Sscanf(k, "key-%d", &i); err == nil && userOf(i) != "" {
			perUser[userOf(i)]++
		}
	}
	for user, n := range perUser {
		list, err := s.UserSessions(ctx, user)
		if err != nil || len(list) != n {
			t.Fatalf("UserSessions(%s) = %d records, %v; want %d", user, len(list), err, n)
		}
	}
}

// TestCompactUnderTraffic compacts the file again and again while
// goroutines load, save and delete: run it with -race. Every call
// succeeds, every load sees the writer's latest value, and nothing written
// is lost.
func TestCompactUnderTraffic(t *testing.T) {
	s, _ := filled(t, Config{}, 500)
	const writers, compactions = 8, 5
	stop := make(chan struct{})
	var wg sync.WaitGroup
	finals := make([]uint64, writers)
	for w := range writers {
		wg.Go(func() {
			k := fmt.Sprint("writer-", w)
			var v uint64
			for i := 0; ; i++ {
				select {
				case <-stop:
					finals[w] = v
					return
				default:
				}
				var err error
				if v, err = s.Save(ctx, k, []byte(fmt.Sprint(i)), v, live(fmt.Sprint("user-", w))); err != nil {
					t.Errorf("writer %d: Save: %v", w, err)
					return
				}
				got, gotV, err := s.Load(ctx, k)
				if err != nil || gotV != v || string(got) != fmt.Sprint(i) {
					t.Errorf("writer %d: Load = %q, %d, %v; want %d, %d", w, got, gotV, err, i, v)
					return
				}
				if err := s.Delete(ctx, key(w*50+i%50)); err != nil {
					t.Errorf("writer %d: Delete: %v", w, err)
					return
				}
				if _, err := s.UserSessions(ctx, fmt.Sprint("user-", w)); err != nil {
					t.Errorf("writer %d: UserSessions: %v", w, err)
					return
				}
			}
		})
	}
	for range compactions {
		time.Sleep(20 * time.Millisecond)
		if err := s.Compact(ctx); err != nil {
			t.Errorf("Compact: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	if n := stats(t, s).Compactions; n != compactions {
		t.Errorf("%d compactions counted; want %d", n, compactions)
	}
	for w, v := range finals {
		if v == 0 {
			continue // the writer failed, and said so
		}
		if got := mustLoadVersion(t, s, fmt.Sprint("writer-", w)); got != v {
			t.Errorf("writer %d: version %d after the traffic; want its last, %d", w, got, v)
		}
	}
}

// TestFailedCompactKeepsTheOldFile makes Compact fail before it writes
// anything and after it has copied everything: it reports the error,
// removes its temporary file, and the store goes on with the old file.
func TestFailedCompactKeepsTheOldFile(t *testing.T) {
	tests := []struct {
		name string
		// breakIt makes the compaction of the store at path fail, and
		// returns what repairs the damage, if anything can.
		breakIt func(t *testing.T, path string) (repair func())
	}{
		{"the directory cannot take a new file", func(t *testing.T, path string) func() {
			// The store's directory moves away: there is nowhere to create
			// the new file, and the open file goes on working.
			dir := filepath.Dir(path)
			moved := dir + "-moved"
			if err := os.Rename(dir, moved); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := os.Rename(moved, dir); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"the new file cannot take the old one's name", func(t *testing.T, path string) func() {
			// A directory takes the file's name: the copy succeeds, the
			// rename over it fails.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, versions := filled(t, Config{}, 200)
			repair := tc.breakIt(t, s.Path())
			err := s.Compact(ctx)
			if err == nil || !strings.Contains(err.Error(), s.Path()) {
				t.Fatalf("Compact: %v; want an error naming %s", err, s.Path())
			}
			// The store works on, on the old file.
			checkRecords(t, s, versions)
			versions[key(0)] = mustSave(t, s, key(0), "changed", versions[key(0)], live(userOf(0)))
			checkRecords(t, s, versions)
			if repair != nil {
				repair()
			}
			if left := compactLeftovers(t, filepath.Dir(s.Path())); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
			if s.compactions.Load() != 0 {
				t.Errorf("a failed compaction was counted")
			}
			if repair == nil {
				return
			}
			// Repaired, Compact succeeds and keeps the writes made meanwhile.
			if err := s.Compact(ctx); err != nil {
				t.Fatalf("Compact after the repair: %v", err)
			}
			checkRecords(t, s, versions)
		})
	}
}

// TestSweeperCompactsWhenWorthIt runs the sweeper's decision, a sweep and
// then compactIfMostlyFree, on files of different sizes and shares of free
// pages, under different settings.
func TestSweeperCompactsWhenWorthIt(t *testing.T) {
	// A file under 16 MiB grows in powers of two, so up to half of it
	// lies past its last page; Stats counts that tail as free, so the
	// default share decides as it says.
	tests := []struct {
		name           string
		cfg            Config
		records, dying int
		want           bool
	}{
		{"mostly free and large enough", Config{CompactMinSize: 1 << 20}, 10000, 9500, true},
		{"mostly free but small", Config{}, 10000, 9500, false},
		{"large enough but mostly live", Config{CompactMinSize: 1 << 20}, 5000, 1000, false},
		{"a lower share suffices", Config{CompactMinSize: 1 << 20, CompactFreeShare: 0.05}, 5000, 1000, true},
		{"turned off", Config{CompactMinSize: -1}, 10000, 9500, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := filled(t, tc.cfg, tc.records-tc.dying)
			fill(t, s, "dying-", tc.dying, sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Second), User: "u"})
			if n, err := s.Sweep(ctx); n != tc.dying || err != nil {
				t.Fatalf("Sweep = %d, %v; want %d", n, err, tc.dying)
			}
			before := stats(t, s)
			if err := s.compactIfMostlyFree(ctx); err != nil {
				t.Fatal(err)
			}
			after := stats(t, s)
			t.Logf("file %d bytes, %d free → %d bytes", before.FileSize, before.FreeSize, after.FileSize)
			if got := after.Compactions == 1; got != tc.want {
				t.Fatalf("compacted: %v; want %v", got, tc.want)
			}
			if tc.want && after.FileSize >= before.FileSize {
				t.Errorf("compacting did not shrink the file")
			}
			// Right after a compaction nothing is free: the next sweep
			// leaves the file alone.
			if err := s.compactIfMostlyFree(ctx); err != nil || stats(t, s).Compactions > 1 {
				t.Errorf("a second try compacted again (%v)", err)
			}
		})
	}
}

// TestFailedAutomaticCompactionPauses: after an automatic compaction
// fails, the sweeper leaves the file alone for compactRetrySweeps sweeps,
// and then tries again.
func TestFailedAutomaticCompactionPauses(t *testing.T) {
	// A name so long that the temporary file's name, which adds to it,
	// is too long for the file system: every compaction fails, early.
	path := filepath.Join(t.TempDir(), strings.Repeat("s", 240))
	s, err := New(Config{Path: path, SweepInterval: -1, CompactMinSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fill(t, s, "dying-", 2000, sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Second)})
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.compactIfMostlyFree(ctx); err == nil {
		t.Fatal("a compaction that cannot create its file succeeded")
	}
	for i := range compactRetrySweeps {
		if err := s.compactIfMostlyFree(ctx); err != nil {
			t.Fatalf("sweep %d after the failure tried again: %v; want a pause", i+1, err)
		}
	}
	if err := s.compactIfMostlyFree(ctx); err == nil {
		t.Fatal("after the pause, no new try")
	}
	if err := s.Compact(ctx); err == nil {
		t.Fatal("Compact succeeded")
	}
	if s.compactions.Load() != 0 {
		t.Fatal("failed compactions were counted")
	}
}

// TestBackgroundSweeperCompacts: with nothing but the background sweeper
// at work, a file whose records all expired is swept and compacted.
func TestBackgroundSweeperCompacts(t *testing.T) {
	s := openTest(t, Config{SweepInterval: 20 * time.Millisecond, CompactMinSize: 1 << 20})
	fill(t, s, "dying-", 5000, sesame.SaveOptions{ExpiresAt: time.Now().Add(300 * time.Millisecond), User: "u"})
	full := stats(t, s).FileSize
	deadline := time.Now().Add(5 * time.Second)
	for stats(t, s).Compactions == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not compacted 5 s after the records expired: %+v", stats(t, s))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := stats(t, s); st.FileSize >= full/4 {
		t.Fatalf("file of %d bytes after compaction; it had %d full", st.FileSize, full)
	}
}

// TestNewRemovesCompactLeftovers: New for writing removes the temporary
// files of compactions of its file that a crash interrupted, and nothing
// else; a read-only New removes nothing.
func TestNewRemovesCompactLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sessions.db")
	s, err := New(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ours := filepath.Join(dir, "sessions.db"+compactSuffix+"123")
	others := []string{filepath.Join(dir, "other.db"+compactSuffix+"123"), filepath.Join(dir, "sessions.db.bak")}
	for _, name := range append([]string{ours}, others...) {
		if err := os.WriteFile(name, []byte("half a copy"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		cfg      Config
		removed  bool
		whatOpen string
	}{
		{"read-only", Config{ReadOnly: true}, false, "a read-only New"},
		{"writable", Config{}, true, "New"},
	}
	for _, tc := range tests {
		cfg := tc.cfg
		cfg.Path = path
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := os.Stat(ours); errors.Is(err, os.ErrNotExist) != tc.removed {
			t.Errorf("after %s, the leftover: %v; want removed %v", tc.whatOpen, err, tc.removed)
		}
	}
	for _, name := range others {
		if _, err := os.Stat(name); err != nil {
			t.Errorf("New removed %s, which is not its leftover: %v", name, err)
		}
	}
}

// TestNewWaitingDuringCompactionOpensTheNewFile: a second Store that is
// waiting for the file's lock while the first compacts must not end up
// with the old file, which the first lets go of once the new one is in
// place: it must open the new one, and see what was written to it.
func TestNewWaitingDuringCompactionOpensTheNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	first, err := New(Config{Path: path, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, first, "before", "b", 0, live(""))
	type opened struct {
		s   *Store
		err error
	}
	second := make(chan opened, 1)
	go func() {
		s, err := New(Config{Path: path, SweepInterval: -1, OpenTimeout: 10 * time.Second})
		second <- opened{s, err}
	}()
	time.Sleep(200 * time.Millisecond) // let the second New wait for the lock
	if err := first.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	v := mustSave(t, first, "after", "a", 0, live(""))
	time.Sleep(200 * time.Millisecond) // the old file's lock is free now
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	o := <-second
	if o.err != nil {
		t.Fatal(o.err)
	}
	defer o.s.Close()
	wantRecord(t, o.s, "after", "a", v)
}

// TestCompactWithFinishedContextDoesNothing: Compact with a context that
// is already done returns its error and leaves the file alone. (Compact
// on a closed or read-only store is checked with the other calls, in
// TestClosedStoreFailsClearly and TestReadOnlyReopenRefusesWrites.)
func TestCompactWithFinishedContextDoesNothing(t *testing.T) {
	s := openTest(t, Config{})
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Compact(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Compact with a finished context: %v; want context.Canceled", err)
	}
	if n := stats(t, s).Compactions; n != 0 {
		t.Errorf("%d compactions; want none", n)
	}
}

// TestStatsCountsTheUnusedTailAsFree deletes every record and checks that
// Stats calls nearly the whole file free, and that the sweeper's automatic
// compaction therefore shrinks it. bbolt grows a file ahead of what it
// allocates, so part of the file lies beyond its last allocated page, on
// no free list; a FreeSize without that tail kept files of only expired
// records under CompactFreeShare, never compacted.
func TestStatsCountsTheUnusedTailAsFree(t *testing.T) {
	for _, n := range []int{1000, 3000, 5000, 9000} {
		t.Run(fmt.Sprint(n, " records"), func(t *testing.T) {
			s, _ := filled(t, Config{CompactMinSize: 1}, n)
			err := s.update(func(tx *bbolt.Tx) error {
				for i := range n {
					if err := deleteTx(tx, []byte(key(i))); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// What an empty store's file keeps in use: the meta pages,
			// the freelist and the buckets' root pages.
			const bookkeeping = 64 << 10
			st := stats(t, s)
			if st.FreeSize < st.FileSize-bookkeeping {
				t.Fatalf("every record deleted, yet Stats says %d of the file's %d bytes are free", st.FreeSize, st.FileSize)
			}
			if err := s.compactIfMostlyFree(t.Context()); err != nil {
				t.Fatal(err)
			}
			if after := stats(t, s); after.Compactions != 1 || after.FileSize > bookkeeping {
				t.Errorf("after the sweeper's compaction check: %+v; want one compaction and a file of at most %d bytes", after, bookkeeping)
			}
		})
	}
}

// TestSweeperLeavesAGrowingFileAlone: while a file only grows (new
// sessions, none deleted or expired), bbolt's growth ahead of need is
// room about to be filled, and the sweeper's check after every sweep must
// not compact it; once the sessions are gone and the file has stopped
// growing, the same check compacts it.
func TestSweeperLeavesAGrowingFileAlone(t *testing.T) {
	s := openTest(t, Config{SweepInterval: -1, CompactMinSize: 64 << 10})
	for round := range 40 {
		fill(t, s, fmt.Sprintf("r%d-", round), 500, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "u"})
		if err := s.compactIfMostlyFree(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := stats(t, s); st.Compactions != 0 {
		t.Fatalf("a file that only grew, to %d bytes, was compacted %d times", st.FileSize, st.Compactions)
	}
	if err := s.DeleteUser(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.compactIfMostlyFree(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st := stats(t, s); st.Compactions != 1 {
		t.Fatalf("after every session was deleted: %d compactions, want 1 (file %d bytes, %d free)", st.Compactions, st.FileSize, st.FreeSize)
	}
}
