package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sesame-go/sesame"
)

// UserSessions returns the live records saved with opts.User equal to
// user, in no particular order. Expired records are left out, and so are
// damaged ones; markers whose record has gone or changed user are
// removed. An unknown or empty user has no sessions.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sesame.StoredRecord, error) {
	names, dir, err := s.userMarkers(ctx, "list user sessions", user)
	if err != nil || names == nil {
		return nil, err
	}
	now := s.now().UnixNano()
	var recs []sesame.StoredRecord
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		key, ok := keyOf(name)
		if !ok {
			continue
		}
		h, v, err := readRecord(s.dataPath(name))
		switch {
		case errors.Is(err, fs.ErrNotExist) || err == nil && string(h.user) != user:
			if err := s.dropUserMarker(ctx, key, name, user, dir); err != nil {
				return nil, err
			}
		case errors.Is(err, ErrCorrupt):
			// Unreadable; Sweep or Delete removes it.
		case err != nil:
			return nil, fmt.Errorf("filestore: list user sessions: %w", err)
		case !h.expired(now):
			recs = append(recs, sesame.StoredRecord{Key: key, Value: v, Version: h.version})
		}
	}
	if len(recs) == 0 {
		_ = os.Remove(dir) // only if no marker is left
	}
	return recs, nil
}

// dropUserMarker removes a user index marker after checking, under the
// record's lock, that its record has really gone or changed user: a Save
// running meanwhile may have just filed it.
func (s *Store) dropUserMarker(ctx context.Context, key, name, user, dir string) error {
	st, err := s.lock(ctx, key)
	if err != nil {
		return fmt.Errorf("filestore: list user sessions: %w", err)
	}
	defer st.unlock()
	h, _, err := readRecord(s.dataPath(name))
	if errors.Is(err, fs.ErrNotExist) || err == nil && string(h.user) != user {
		_ = os.Remove(filepath.Join(dir, name))
	}
	return nil
}

// DeleteUser deletes every record saved with opts.User equal to user,
// whether expired or not, and every damaged record file that the user's
// index points to (its user cannot be read, and a revocation must not
// miss a session). Records saved for the user while DeleteUser runs may
// survive it.
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	names, dir, err := s.userMarkers(ctx, "delete user", user)
	if err != nil || names == nil {
		return err
	}
	deleted := false
	for _, name := range names {
		key, ok := keyOf(name)
		if !ok {
			continue
		}
		removed, err := s.deleteUserRecord(ctx, key, name, user, dir)
		if err != nil {
			return err
		}
		deleted = deleted || removed
	}
	_ = os.Remove(dir) // only if no marker is left
	if deleted {
		return s.syncData("delete user")
	}
	return nil
}

// deleteUserRecord deletes, under its lock, the record a user's marker
// points to if it still belongs to the user (or cannot be read), and the
// marker. It reports whether a record file was removed.
func (s *Store) deleteUserRecord(ctx context.Context, key, name, user, dir string) (bool, error) {
	st, err := s.lock(ctx, key)
	if err != nil {
		return false, fmt.Errorf("filestore: delete user: %w", err)
	}
	defer st.unlock()
	h, _, err := readRecord(s.dataPath(name))
	removed := false
	switch {
	case errors.Is(err, ErrCorrupt) || err == nil && string(h.user) == user:
		if removed, err = s.removeRecord(name); err != nil {
			return false, fmt.Errorf("filestore: delete user: %w", err)
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("filestore: delete user: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return removed, fmt.Errorf("filestore: delete user: removing marker: %w", err)
	}
	return removed, nil
}

// userMarkers checks the Store and context and lists a user's index
// directory. It returns no names for the empty user.
func (s *Store) userMarkers(ctx context.Context, op, user string) ([]string, string, error) {
	if s.closed.Load() {
		return nil, "", ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if user == "" {
		return nil, "", nil
	}
	dir := s.userDir(user)
	names, err := readNames(dir)
	if err != nil {
		return nil, "", fmt.Errorf("filestore: %s: listing %s: %w", op, dir, err)
	}
	return names, dir, nil
}
