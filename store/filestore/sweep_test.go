package filestore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

func TestSweepDeletesOnlyExpiredAndCostsOnlyWhatExpired(t *testing.T) {
	tests := []struct {
		name           string
		live, expiring int
	}{
		{"nothing expired", 300, 0},
		{"few of many expired", 300, 7},
		{"all expired", 0, 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			s, dir := newTestStore(t, Config{Durability: SyncNone}, clock)
			// The first sweep of a Store lists the expiry directory; do it
			// now so that the sweep under test is a routine one.
			if _, err := s.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
			var liveKeys, expiringKeys []string
			for range tt.live {
				k := newKey()
				mustSave(t, s, k, []byte("live"), 0, sesame.SaveOptions{ExpiresAt: clock.Now().Add(time.Hour), User: "u"})
				liveKeys = append(liveKeys, k)
			}
			for i := range tt.expiring {
				k := newKey()
				at := clock.Now().Add(time.Duration(i%3+1) * time.Minute)
				mustSave(t, s, k, []byte("short"), 0, sesame.SaveOptions{ExpiresAt: at, User: "u"})
				expiringKeys = append(expiringKeys, k)
			}
			clock.Advance(5 * time.Minute)

			stats, err := s.Sweep(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if stats.Examined != tt.expiring || stats.Expired != tt.expiring || stats.Stale != 0 {
				t.Fatalf("stats = %+v; want exactly the %d expired records examined and removed", stats, tt.expiring)
			}
			for _, k := range expiringKeys {
				if _, err := os.Stat(filepath.Join(dir, "data", fileName(k))); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("expired record file still there: %v", err)
				}
			}
			for _, k := range liveKeys {
				if _, _, err := s.Load(t.Context(), k); err != nil {
					t.Fatalf("live record: %v", err)
				}
			}
			recs, err := s.UserSessions(t.Context(), "u")
			if err != nil || len(recs) != tt.live {
				t.Fatalf("UserSessions = %d records, %v; want the %d live ones", len(recs), err, tt.live)
			}
			if names, _ := readNames(filepath.Join(dir, "expiry")); len(names) > 2 {
				t.Fatalf("expiry/ holds %v; want only the live records' bucket(s)", names)
			}
			if again, err := s.Sweep(t.Context()); err != nil || again != (SweepStats{}) {
				t.Fatalf("second sweep = %+v, %v; want no work", again, err)
			}
		})
	}
}

func TestRenewalMovesTheExpiryMarker(t *testing.T) {
	clock := newFakeClock()
	s, dir := newTestStore(t, Config{}, clock)
	key := newKey()
	v := mustSave(t, s, key, []byte("a"), 0, sesame.SaveOptions{ExpiresAt: clock.Now().Add(time.Minute)})
	// Renewed within the same minute bucket, then into a later one.
	v = mustSave(t, s, key, []byte("b"), v, sesame.SaveOptions{ExpiresAt: clock.Now().Add(time.Minute + time.Second)})
	mustSave(t, s, key, []byte("c"), v, sesame.SaveOptions{ExpiresAt: clock.Now().Add(time.Hour)})
	buckets, err := readNames(filepath.Join(dir, "expiry"))
	if err != nil {
		t.Fatal(err)
	}
	markers := 0
	for _, b := range buckets {
		names, _ := readNames(filepath.Join(dir, "expiry", b))
		markers += len(names)
	}
	if markers != 1 {
		t.Fatalf("%d expiry markers for one record; want 1", markers)
	}
	clock.Advance(10 * time.Minute)
	stats, err := s.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Examined != 0 {
		t.Fatalf("stats = %+v; a renewed record should leave no marker behind", stats)
	}
	if got, _, err := s.Load(t.Context(), key); err != nil || string(got) != "c" {
		t.Fatalf("Load = %q, %v", got, err)
	}
}

func TestSweepChecksRealExpiryBeforeDeleting(t *testing.T) {
	clock := newFakeClock()
	s, dir := newTestStore(t, Config{}, clock)
	renewed, gone, orphan := newKey(), newKey(), newKey()
	soon := sesame.SaveOptions{ExpiresAt: clock.Now().Add(time.Minute)}
	mustSave(t, s, renewed, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: clock.Now().Add(time.Hour)})
	mustSave(t, s, gone, []byte("x"), 0, soon)
	if err := os.Remove(filepath.Join(dir, "data", fileName(gone))); err != nil {
		t.Fatal(err)
	}
	// Stale markers, as a crash between writing a marker and renaming the
	// record, or an external edit, leaves them.
	bucket := filepath.Join(dir, "expiry", strconv.FormatInt(minuteOf(soon.ExpiresAt.UnixNano()), 10))
	for _, k := range []string{renewed, orphan} {
		if err := os.WriteFile(filepath.Join(bucket, fileName(k)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bucket, "not-a-key-name"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Minute)
	stats, err := s.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Stale != 3 || stats.Expired != 0 {
		t.Fatalf("stats = %+v; want 3 stale markers and nothing deleted", stats)
	}
	if _, _, err := s.Load(t.Context(), renewed); err != nil {
		t.Fatalf("renewed record was deleted: %v", err)
	}
	if _, err := os.Stat(bucket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("swept bucket still there: %v", err)
	}
}

func TestSweepFindsOldBucketsAfterRestart(t *testing.T) {
	clock := newFakeClock()
	dir := t.TempDir()
	first, err := newStore(Config{Dir: dir, SweepInterval: -1}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey()
	mustSave(t, first, key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: clock.Now().Add(time.Minute)})
	first.Close()

	clock.Advance(30 * 24 * time.Hour) // far beyond the minutes Sweep steps through
	second, err := newStore(Config{Dir: dir, SweepInterval: -1}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	stats, err := second.Sweep(t.Context())
	if err != nil || stats.Expired != 1 {
		t.Fatalf("Sweep = %+v, %v; want the old record removed", stats, err)
	}
}

func TestAlreadyExpiredSaveIsSwept(t *testing.T) {
	clock := newFakeClock()
	s, dir := newTestStore(t, Config{}, clock)
	if _, err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	key := newKey()
	mustSave(t, s, key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: clock.Now().Add(-time.Hour)})
	if _, _, err := s.Load(t.Context(), key); !errors.Is(err, sesame.ErrNotFound) {
		t.Fatalf("Load of a record saved already expired: %v", err)
	}
	clock.Advance(2 * time.Minute)
	if stats, err := s.Sweep(t.Context()); err != nil || stats.Expired != 1 {
		t.Fatalf("Sweep = %+v, %v; want the record removed", stats, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", fileName(key))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("record file still there: %v", err)
	}
}

func TestSweepRemovesOnlyOldTempFiles(t *testing.T) {
	clock := newFakeClock()
	s, dir := newTestStore(t, Config{}, clock)
	tmp := filepath.Join(dir, "tmp")
	files := []struct {
		name string
		age  time.Duration
		gone bool
	}{
		{"crash-left.123", 2 * time.Hour, true},
		{"crash-left.456", tempMaxAge + time.Minute, true},
		{"in-progress.789", time.Second, false},
		// A file just written keeps the time the file system gave it:
		// the store's clock must agree with it.
		{"just-written.012", 0, false},
	}
	for _, f := range files {
		path := filepath.Join(tmp, f.name)
		if err := os.WriteFile(path, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if f.age == 0 {
			continue
		}
		mtime := clock.Now().Add(-f.age)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := s.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stats.TempFiles != 2 {
		t.Errorf("stats = %+v; want 2 temporary files removed", stats)
	}
	for _, f := range files {
		_, err := os.Stat(filepath.Join(tmp, f.name))
		if gone := errors.Is(err, os.ErrNotExist); gone != f.gone {
			t.Errorf("%s: removed = %v; want %v", f.name, gone, f.gone)
		}
	}
}

func TestSweepStopsWhenContextEnds(t *testing.T) {
	clock := newFakeClock()
	s, _ := newTestStore(t, Config{}, clock)
	for range 5 {
		mustSave(t, s, newKey(), []byte("x"), 0, sesame.SaveOptions{ExpiresAt: clock.Now().Add(time.Minute)})
	}
	clock.Advance(5 * time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Sweep(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sweep with a cancelled context: %v", err)
	}
	if stats, err := s.Sweep(t.Context()); err != nil || stats.Expired != 5 {
		t.Fatalf("next Sweep = %+v, %v; want it to finish the work", stats, err)
	}
}

func TestHourlyListingFindsMarkersInSweptBuckets(t *testing.T) {
	clock := newFakeClock()
	s, dir := newTestStore(t, Config{}, clock)
	if _, err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	key := newKey()
	at := clock.Now().Add(time.Minute)
	mustSave(t, s, key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: at})
	// Move the marker to a bucket the sweep has already passed, as a Save
	// stalled for minutes would have put it.
	oldBucket := filepath.Join(dir, "expiry", strconv.FormatInt(minuteOf(clock.Now().UnixNano())-10, 10))
	if err := os.MkdirAll(oldBucket, 0o700); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "expiry", strconv.FormatInt(minuteOf(at.UnixNano()), 10), fileName(key))
	if err := os.Rename(marker, filepath.Join(oldBucket, fileName(key))); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Minute)
	if stats, err := s.Sweep(t.Context()); err != nil || stats.Expired != 0 {
		t.Fatalf("routine Sweep = %+v, %v; want it not to look back", stats, err)
	}
	clock.Advance(relistInterval)
	if stats, err := s.Sweep(t.Context()); err != nil || stats.Expired != 1 {
		t.Fatalf("Sweep an hour later = %+v, %v; want the record found and removed", stats, err)
	}
}
