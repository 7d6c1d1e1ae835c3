// Package sweeper runs a store's background sweep: a goroutine that calls
// a sweep function every interval until it is stopped.
//
// Sesame checks every session's deadlines itself on each load, so a store
// sweeps only to reclaim space: memstore, filestore, boltstore, pgstore and
// mysqlstore sweep with it, and a store written outside this repository
// may too. It holds the plumbing: the ticker, the context that Stop
// cancels, the bound on each sweep, the error callback, and an idempotent
// Stop that waits for the goroutine. What a sweep does, and in what
// batches, stays in the store's sweep function:
//
//	s.sweeper = sweeper.Start(cfg.SweepInterval, s.deleteExpired, s.logError)
//	...
//	s.sweeper.Stop() // in Close
package sweeper

import (
	"context"
	"time"
)

// A Sweeper calls a sweep function every interval, on a goroutine of its
// own, until Stop. Make one with Start.
type Sweeper struct {
	interval  time.Duration
	sweep     func(context.Context) error
	onErr     func(error)
	immediate bool // sweep once at Start, before the first tick
	bounded   bool // give each sweep at most one interval

	ctx    context.Context    // ends at Stop
	cancel context.CancelFunc // Stop calls it
	done   chan struct{}      // closed when the goroutine returns
}

// An Option changes how a Sweeper sweeps.
type Option func(*Sweeper)

// Immediately makes the Sweeper sweep once as soon as it runs, and then
// every interval, instead of waiting one interval for the first sweep.
func Immediately() Option {
	return func(s *Sweeper) { s.immediate = true }
}

// WithoutTimeout lets a sweep run for as long as it takes: its context
// ends only at Stop, not one interval after the sweep began. Ticks that
// pass during a long sweep are dropped, as with a time.Ticker.
func WithoutTimeout() Option {
	return func(s *Sweeper) { s.bounded = false }
}

// Start starts a goroutine that calls sweep every interval until Stop.
//
// Each call of sweep gets a context that ends one interval after the call
// began (unless WithoutTimeout is given) or when Stop is called, whichever
// comes first; a sweep that overruns its interval should stop and leave
// the rest to the next one. If sweep returns an error and onErr is not
// nil, onErr is called with it on the Sweeper's goroutine, except when
// Stop has been called meanwhile: an error caused by stopping is not a
// failure. Calls of sweep and onErr never overlap. The interval must be
// positive.
func Start(interval time.Duration, sweep func(ctx context.Context) error, onErr func(error), opts ...Option) *Sweeper {
	if interval <= 0 {
		panic("sweeper: non-positive interval")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sweeper{
		interval: interval,
		sweep:    sweep,
		onErr:    onErr,
		bounded:  true,
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	go s.run()
	return s
}

// run sweeps every interval until Stop, and then returns.
func (s *Sweeper) run() {
	defer close(s.done)
	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()
	if s.immediate && s.ctx.Err() == nil {
		s.sweepOnce()
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-ticker.C:
		}
		if s.ctx.Err() != nil {
			return // stopped as the tick came: do not start another sweep
		}
		s.sweepOnce()
	}
}

// sweepOnce calls sweep once, bounded as configured, and reports its
// error unless Stop caused it.
func (s *Sweeper) sweepOnce() {
	ctx, cancel := s.ctx, context.CancelFunc(func() {})
	if s.bounded {
		ctx, cancel = context.WithTimeout(s.ctx, s.interval)
	}
	err := s.sweep(ctx)
	cancel()
	if err != nil && s.ctx.Err() == nil && s.onErr != nil {
		s.onErr(err)
	}
}

// Stop cancels the context of a sweep in progress and waits until the
// Sweeper's goroutine has returned; no sweep starts after Stop. Stop may
// be called more than once and from several goroutines: each call
// returns once the goroutine is gone. Stop on a nil *Sweeper does
// nothing, so a store whose sweeper is turned off may keep a nil one.
func (s *Sweeper) Stop() {
	if s == nil {
		return
	}
	s.cancel()
	<-s.done
}
