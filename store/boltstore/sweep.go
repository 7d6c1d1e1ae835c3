package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// Sweep removes every record whose expiry has passed, with its index
// entries, and returns how many it removed. It walks the expiry index from
// its start, where the soonest expiries are, and stops at the first entry
// still in the future, so its work is proportional to what expired, not to
// what is stored. It deletes in transactions of at most 1000 entries, so
// that writers wait little, and checks ctx between them.
//
// The background sweeper calls Sweep every Config.SweepInterval; Load never
// returns an expired record, swept or not.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("boltstore: sweep %s: %w", s.path, ErrClosed)
	}
	if s.readOnly {
		return 0, fmt.Errorf("boltstore: sweep %s: %w", s.path, ErrReadOnly)
	}
	removed := 0
	for {
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("boltstore: sweep %s: %w", s.path, err)
		}
		n, _, more, err := s.sweepBatch(uint64(s.cfg.Now().UnixNano()), sweepBatch)
		removed += n
		if err != nil {
			return removed, s.wrap("sweep", err)
		}
		if !more {
			return removed, nil
		}
	}
}

// sweepBatch removes the records of at most limit expiry entries due at
// now, in one transaction. It reports how many records it removed, how many
// index entries it visited, and whether more may be due.
func (s *Store) sweepBatch(now uint64, limit int) (removed, visited int, more bool, err error) {
	err = s.update(func(tx *bbolt.Tx) error {
		removed, visited, more = 0, 0, false
		recs, exp := tx.Bucket(recordsBucket), tx.Bucket(expiryBucket)
		var due [][]byte
		c := exp.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			visited++
			if len(k) < 8 {
				due = append(due, append([]byte(nil), k...)) // not an index entry: drop it
				continue
			}
			if binary.BigEndian.Uint64(k) > now {
				break
			}
			if len(due) == limit {
				more = true
				break
			}
			due = append(due, append([]byte(nil), k...))
		}
		for _, k := range due {
			if len(k) >= 8 {
				key := k[8:]
				if b := recs.Get(key); b != nil {
					h, _, err := decodeRecord(b)
					// The record may have been saved again with a new expiry;
					// then this entry is stale and the record stays.
					if err == nil && h.expires == binary.BigEndian.Uint64(k) && h.expired(now) {
						if err := deleteTx(tx, key); err != nil {
							return err
						}
						removed++
						continue // deleteTx removed this entry too
					}
				}
			}
			if err := exp.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return removed, visited, more, err
}
