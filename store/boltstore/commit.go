package boltstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"go.etcd.io/bbolt"
)

// Group commit.
//
// Every write (Save, Delete, DeleteUser) is a request to one committer
// goroutine. The committer takes the first request it is waiting for, then
// every further request already queued (up to Config.MaxBatch), and applies
// them in order in one bbolt transaction: one fsync for all of them. There
// is no timer: a lone writer is committed at once, and the writers that
// arrive while a commit is fsyncing are queued for the next one. That is
// what bbolt's own DB.Batch does not do: it waits MaxBatchDelay (10 ms by
// default) for a batch to fill unless MaxBatchSize writers are already
// waiting.
//
// Each request checks its own condition inside the transaction and answers
// with its own result, so a Save that conflicts fails alone: its function
// returns a refusal, which means that it changed nothing, and the others
// in the batch still commit. A request that fails in any other way may
// have changed part of the transaction, so the batch is rolled back and
// each of its requests is run again in a transaction of its own.

// request is one write waiting for the committer.
type request struct {
	apply func(tx *bbolt.Tx) (uint64, error)
	state atomic.Int32  // pending, taken or abandoned
	done  chan response // buffered; the committer answers exactly once
}

// Request states: a caller whose context ends while its request is still
// pending marks it abandoned and returns the context's error; once the
// committer has taken a request, the caller waits for its real outcome,
// which takes at most one commit.
const (
	pending int32 = iota
	taken
	abandoned
)

type response struct {
	version uint64
	err     error
}

// refusal is returned by a request's apply function when the request
// failed before it changed anything (a version conflict, a corrupt record),
// so the rest of its batch may still commit.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

// submit hands apply to the committer and waits for its outcome.
func (s *Store) submit(ctx context.Context, op string, apply func(tx *bbolt.Tx) (uint64, error)) (uint64, error) {
	r := &request{apply: apply, done: make(chan response, 1)}
	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return 0, fmt.Errorf("boltstore: %s in %s: %w", op, s.path, ErrClosed)
	}
	select {
	case s.reqs <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return 0, fmt.Errorf("boltstore: %s in %s: %w", op, s.path, ctx.Err())
	}
	select {
	case res := <-r.done:
		return res.version, s.result(op, res.err)
	case <-ctx.Done():
		if r.state.CompareAndSwap(pending, abandoned) {
			return 0, fmt.Errorf("boltstore: %s in %s: %w", op, s.path, ctx.Err())
		}
		res := <-r.done // taken: the outcome is at most one commit away
		return res.version, s.result(op, res.err)
	}
}

// result wraps a request's error for its caller.
func (s *Store) result(op string, err error) error {
	if err == nil {
		return nil
	}
	return s.wrap(op, err)
}

// commitLoop is the committer goroutine. It ends when Close closes reqs,
// after committing every request that was queued.
func (s *Store) commitLoop() {
	defer s.wg.Done()
	batch := make([]*request, 0, s.cfg.MaxBatch)
	for r := range s.reqs {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commit(batch)
		clear(batch) // drop references for the garbage collector
	}
}

// commit applies a batch in one transaction and answers every request.
func (s *Store) commit(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(pending, taken) {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	results := make([]response, len(live))
	s.commits.Add(1)
	err := s.update(func(tx *bbolt.Tx) error {
		for i, r := range live {
			v, err := r.apply(tx)
			var ref refusal
			if errors.As(err, &ref) {
				results[i] = response{err: ref.err}
				continue
			}
			if err != nil {
				return err
			}
			results[i] = response{version: v}
		}
		return nil
	})
	if err == nil {
		for i, r := range live {
			r.done <- results[i]
		}
		return
	}
	if len(live) == 1 {
		live[0].done <- response{err: err}
		return
	}
	// Something failed that may have changed the transaction before it was
	// rolled back: run each request alone, so that only the ones that fail
	// on their own report a failure.
	for _, r := range live {
		var v uint64
		err := s.update(func(tx *bbolt.Tx) error {
			var err error
			v, err = r.apply(tx)
			var ref refusal
			if errors.As(err, &ref) {
				return ref.err // nothing changed: roll back, no fsync
			}
			return err
		})
		r.done <- response{version: v, err: err}
	}
}
