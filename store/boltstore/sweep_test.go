package boltstore

import (
	"errors"
	"fmt"
	"sync/atomic"
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
			if _, err := saveTx(tx, []byte(fmt.Sprint(prefix, i)), encodeRecord(0, expires, opts.User, []byte("v")), 0, expires, opts.User, uint64(time.Now().UnixNano())); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConfigNowDecidesExpiry: with a clock of its own, the store decides
// expiry by that clock alone, in Load, Save, UserSessions and Sweep: a
// record whose expiry the real clock has long passed lives until the
// store's clock reaches it.
func TestConfigNowDecidesExpiry(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().Add(-time.Hour).UnixNano())
	s := openTest(t, Config{SweepInterval: -1, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	ctx := t.Context()
	expires := time.Unix(0, clock.Load()).Add(time.Second) // an hour ago by the real clock
	v, err := s.Save(ctx, "k", []byte("v"), 0, sesame.SaveOptions{ExpiresAt: expires, User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := s.Load(ctx, "k"); err != nil || got != v {
		t.Fatalf("before its expiry by the store's clock: version %d, %v; want %d", got, err, v)
	}
	if recs, err := s.UserSessions(ctx, "u"); err != nil || len(recs) != 1 {
		t.Fatalf("before its expiry: %d sessions of the user, %v; want 1", len(recs), err)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep before its expiry removed %d records, %v", n, err)
	}

	clock.Store(expires.UnixNano())
	if _, _, err := s.Load(ctx, "k"); !errors.Is(err, sesame.ErrNotFound) {
		t.Fatalf("at its expiry by the store's clock: %v, want ErrNotFound", err)
	}
	if recs, err := s.UserSessions(ctx, "u"); err != nil || len(recs) != 0 {
		t.Fatalf("at its expiry: %d sessions of the user, %v; want none", len(recs), err)
	}
	if _, err := s.Save(ctx, "k", []byte("w"), 0, sesame.SaveOptions{ExpiresAt: expires.Add(time.Second)}); err != nil {
		t.Fatalf("a new record over the expired one: %v", err)
	}
	clock.Store(expires.Add(time.Second).UnixNano())
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("a sweep after its expiry removed %d records, %v; want 1", n, err)
	}
}
