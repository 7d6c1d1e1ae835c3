package boltstore

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"go.etcd.io/bbolt"
)

// TestSweepVisitsOnlyExpired: with many live records and a few expired
// ones, a sweep visits the expired entries and the first live one, no more.
func TestSweepVisitsOnlyExpired(t *testing.T) {
	tests := []struct {
		name          string
		live, expired int
		limit         int
		wantBatches   int
	}{
		{"nothing expired", 500, 0, 1000, 1},
		{"few expired among many", 2000, 30, 1000, 1},
		{"batches bounded", 200, 25, 10, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, Config{SweepInterval: -1})
			past := sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Second), User: "gone"}
			fill(t, s, "live-", tc.live, live("stays"))
			fill(t, s, "dead-", tc.expired, past)
			now := uint64(time.Now().UnixNano())
			removed, visited, batches := 0, 0, 0
			for more := true; more; {
				var n, v int
				var err error
				n, v, more, err = s.sweepBatch(now, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				removed, visited, batches = removed+n, visited+v, batches+1
			}
			if removed != tc.expired {
				t.Errorf("removed %d; want %d", removed, tc.expired)
			}
			// Each batch looks at one entry past what it deletes: the first
			// live one, or the one it leaves for the next batch.
			if want := tc.expired + batches; visited != want || batches != tc.wantBatches {
				t.Errorf("visited %d entries in %d batches; want %d in %d", visited, batches, want, tc.wantBatches)
			}
			for i := range tc.expired {
				if _, _, err := s.Load(ctx, fmt.Sprint("dead-", i)); !errors.Is(err, sesame.ErrNotFound) {
					t.Fatalf("expired record loads after the sweep: %v", err)
				}
			}
			if list, _ := s.UserSessions(ctx, "gone"); len(list) != 0 {
				t.Errorf("the swept records' user still lists %d", len(list))
			}
			if list, _ := s.UserSessions(ctx, "stays"); len(list) != tc.live {
				t.Errorf("UserSessions(stays) lists %d; want %d", len(list), tc.live)
			}
			if n, err := s.Sweep(ctx); n != 0 || err != nil {
				t.Errorf("a second Sweep = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

// TestBackgroundSweeperRemovesExpired: the goroutine New starts sweeps by
// itself, and Close stops it.
func TestBackgroundSweeperRemovesExpired(t *testing.T) {
	s := openTest(t, Config{SweepInterval: 20 * time.Millisecond})
	mustSave(t, s, "dead", "v", 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Second)})
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		s.view(func(tx *bbolt.Tx) error { n = tx.Bucket(recordsBucket).Stats().KeyN; return nil })
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired record is still in the file after 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fill saves n new records named prefix0, prefix1, … in one transaction,
// through the same code as Save, without an fsync for each.
func fill(t *testing.T, s *Store, prefix string, n int, opts sesame.SaveOptions) {
	t.Helper()
	expires := unixNano(opts.ExpiresAt)
	err := s.update(func(tx *bbolt.Tx) error {
		for i := range n {
			if _, err := saveTx(tx, []byte(fmt.Sprint(prefix, i)), encodeRecord(0, expires, opts.User, []byte("v")), 0, expires, opts.User); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
