package boltstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/sesame-go/sesame"
	"go.etcd.io/bbolt"
)

// UserSessions returns the live records saved with opts.User equal to
// user. It reads one snapshot and visits only that user's index entries.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sesame.StoredRecord, error) {
	if err := s.checkUser(ctx, "list user sessions"); err != nil {
		return nil, err
	}
	var out []sesame.StoredRecord
	err := s.view(func(tx *bbolt.Tx) error {
		recs := tx.Bucket(recordsBucket)
		now := uint64(s.cfg.Now().UnixNano())
		return scanUser(tx, user, func(key []byte) error {
			b := recs.Get(key)
			if b == nil {
				return nil
			}
			h, v, err := decodeRecord(b)
			if err != nil || h.expired(now) || string(h.user) != user {
				return nil // a corrupt or expired record is not live
			}
			out = append(out, sesame.StoredRecord{Key: string(key), Value: bytes.Clone(v), Version: h.version})
			if out[len(out)-1].Value == nil {
				out[len(out)-1].Value = []byte{}
			}
			return nil
		})
	})
	if err != nil {
		return nil, s.wrap("list user sessions", err)
	}
	return out, nil
}

// DeleteUser deletes every record saved with opts.User equal to user, in
// one durable transaction shared with concurrent writes.
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	if err := s.checkUser(ctx, "delete user"); err != nil {
		return err
	}
	if s.readOnly {
		return fmt.Errorf("boltstore: delete user in %s: %w", s.path, ErrReadOnly)
	}
	_, err := s.submit(ctx, "delete user", func(tx *bbolt.Tx) (uint64, error) {
		var keys [][]byte
		if err := scanUser(tx, user, func(key []byte) error {
			keys = append(keys, bytes.Clone(key))
			return nil
		}); err != nil {
			return 0, err
		}
		recs, users := tx.Bucket(recordsBucket), tx.Bucket(usersBucket)
		for _, key := range keys {
			if b := recs.Get(key); b != nil {
				if h, _, err := decodeRecord(b); err == nil && string(h.user) == user {
					if err := deleteTx(tx, key); err != nil {
						return 0, err
					}
				}
			}
			// deleteTx removed the entry of a record that was the user's;
			// this removes one whose record is gone or is someone else's.
			if err := users.Delete(userKey(user, string(key))); err != nil {
				return 0, err
			}
		}
		return 0, nil
	})
	return err
}

// scanUser calls fn with the key of every user index entry of user. The
// key aliases bbolt's memory.
func scanUser(tx *bbolt.Tx, user string, fn func(key []byte) error) error {
	prefix := append([]byte(user), 0)
	c := tx.Bucket(usersBucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		key := k[len(prefix):]
		// An entry of a longer user name that starts with user+0x00 has a
		// 0x00 after the prefix; a store key never does.
		if !sesame.ValidKey(string(key)) {
			continue
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	return nil
}

// checkUser validates the arguments of the user index calls.
func (s *Store) checkUser(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %s in %s: %w", op, s.path, err)
	}
	if s.closed.Load() {
		return fmt.Errorf("boltstore: %s in %s: %w", op, s.path, ErrClosed)
	}
	return nil
}
