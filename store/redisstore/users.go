package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/sesame-go/sesame"
)

// indexGrace is how long an index entry is kept after it was filed even
// when its record is missing or belongs to another user: in a cluster a
// Save's index entry and its record are written by two commands that may
// land a little apart, and the entry must not be cleaned in between.
const indexGrace = time.Minute

// entry is one session key listed in a user's index, with the score (the
// time it was filed) that the lazy cleaner checks before removing it.
type entry struct {
	key   string
	score string
}

// entries reads a user's index in one round trip.
func (s *Store) entries(ctx context.Context, op, user string) ([]entry, error) {
	c := s.client
	var zs []rueidis.ZScore
	err := retry(ctx, func() (err error) {
		zs, err = c.Do(ctx, c.B().Zrange().Key(s.userKey(user)).Min("0").Max("-1").Withscores().Build()).AsZScores()
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, op, "", fmt.Errorf("read user index: %w", err))
	}
	es := make([]entry, 0, len(zs))
	for _, z := range zs {
		if !sesame.ValidKey(z.Member) {
			continue // not ours; never turned into a Redis key
		}
		es = append(es, entry{key: z.Member, score: strconv.FormatFloat(z.Score, 'f', -1, 64)})
	}
	return es, nil
}

// UserSessions returns the live records saved with user, in two round trips
// (the index, then every record at once; in a cluster the records are read
// from their nodes in parallel), each retried as Load is. Index entries
// whose record is gone or now belongs to another user are not returned,
// and are removed from the index in a third round trip.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sesame.StoredRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: user sessions: %w", err)
	}
	if user == "" {
		return nil, nil
	}
	es, err := s.entries(ctx, "user sessions", user)
	if err != nil || len(es) == 0 {
		return nil, err
	}
	c := s.client
	var rs []rueidis.RedisResult
	err = retry(ctx, func() error {
		cmds := make(rueidis.Commands, len(es))
		for i, e := range es {
			cmds[i] = c.B().Get().Key(s.recordKey(e.key)).Build()
		}
		rs = c.DoMulti(ctx, cmds...)
		for _, r := range rs {
			if err := r.Error(); transient(err) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(ctx, "user sessions: load", "", err)
	}
	var records []sesame.StoredRecord
	var stale []entry
	for i, r := range rs {
		rec, err := r.ToString()
		if rueidis.IsRedisNil(err) {
			stale = append(stale, es[i])
			continue
		}
		if err != nil {
			return nil, s.fail(ctx, "user sessions: load", es[i].key, err)
		}
		version, owner, value, err := decodeRecord(rec)
		if err != nil {
			return nil, s.fail(ctx, "user sessions: load", es[i].key, err)
		}
		if owner != user {
			stale = append(stale, es[i])
			continue
		}
		records = append(records, sesame.StoredRecord{Key: es[i].key, Value: []byte(value), Version: version})
	}
	if err := s.unindex(ctx, user, stale); err != nil {
		return nil, s.fail(ctx, "user sessions: clean index", "", err)
	}
	return records, nil
}

// DeleteUser deletes every record saved with user, in three round trips:
// it reads the user's index, deletes each listed record that still belongs
// to the user (a script per record, all pipelined; with MinReplicas, each
// on a connection of its own, followed by WAIT, all at once), then removes
// the entries from the index.
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: delete user: %w", err)
	}
	if user == "" {
		return nil
	}
	es, err := s.entries(ctx, "delete user", user)
	if err != nil || len(es) == 0 {
		return err
	}
	if s.cache > 0 {
		for _, e := range es {
			s.wrote.add(e.key, 0, s.cache)
		}
	}
	var errs []error
	if s.minReplicas > 0 {
		errs = s.deleteReplicated(ctx, user, es)
	} else {
		c := s.client
		cmds := make(rueidis.Commands, len(es))
		for i, e := range es {
			cmds[i] = deleteIfOwnerScript.cmd(c, []string{s.recordKey(e.key)}, user)
		}
		for i, r := range c.DoMulti(ctx, cmds...) {
			if noScript(r) {
				r = c.Do(ctx, deleteIfOwnerScript.eval(c, []string{s.recordKey(es[i].key)}, user))
			}
			if err := r.Error(); err != nil {
				errs = append(errs, s.fail(ctx, "delete user: delete", es[i].key, err))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := s.unindex(ctx, user, es); err != nil {
		return s.fail(ctx, "delete user: clean index", "", err)
	}
	return nil
}

// maxWaiting bounds the deletes of one DeleteUser that wait for replicas at
// once, each on a connection of its own.
const maxWaiting = 16

// deleteReplicated deletes each listed record that still belongs to user,
// and waits for MinReplicas replicas of the master of each one's slot.
func (s *Store) deleteReplicated(ctx context.Context, user string, es []entry) []error {
	errs := make([]error, len(es))
	sem := make(chan struct{}, maxWaiting)
	var wg sync.WaitGroup
	for i, e := range es {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r, werr := s.runReplicated(ctx, deleteIfOwnerScript, []string{s.recordKey(e.key)}, user)
			if err := cmp.Or(r.Error(), werr); err != nil {
				errs[i] = s.fail(ctx, "delete user: delete", e.key, err)
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

// unindex removes stale entries from user's index in one round trip,
// leaving those filed again since they were read or filed within
// indexGrace.
func (s *Store) unindex(ctx context.Context, user string, stale []entry) error {
	if len(stale) == 0 {
		return nil
	}
	args := make([]string, 0, 1+2*len(stale))
	args = append(args, strconv.FormatInt(indexGrace.Milliseconds(), 10))
	for _, e := range stale {
		args = append(args, e.key, e.score)
	}
	return unindexScript.run(ctx, s.client, []string{s.userKey(user)}, args...).Error()
}
