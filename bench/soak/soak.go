package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/boltstore"
	"github.com/sesame-go/sesame/store/memstore"
)

// config is what one soak does.
type config struct {
	Store      string        `json:"store"`             // "mem" or "bolt"
	Sessions   int           `json:"sessions"`          // how many to create
	ValueSize  int           `json:"value_size"`        // bytes of each session's value
	UserEvery  int           `json:"user_every"`        // every UserEvery-th session has a user; 0: none has
	PerUser    int           `json:"sessions_per_user"` // sessions each of those users has
	TTL        time.Duration `json:"ttl_ns"`            // each session expires this long after it is created
	Sweep      time.Duration `json:"sweep_interval_ns"` // the store's sweep interval
	Writers    int           `json:"writers"`           // goroutines saving at once
	CompactMin int64         `json:"compact_min_size"`  // bolt: Config.CompactMinSize; 0: its default
	Dir        string        `json:"-"`                 // bolt: directory of the file; "": a temporary one
	Timeout    time.Duration `json:"-"`                 // longest wait for the store to settle after the last expiry

	// Clock, when set, is the clock of the sessions' expiries and of the
	// store's sweeper, in place of the real one: the soak moves it past
	// the last expiry instead of waiting, so how long creating takes
	// does not matter. The sweeper still runs every Sweep of real time.
	Clock *clock `json:"-"`
}

// clock is a clock that moves only when told to.
type clock struct{ ns atomic.Int64 }

// newClock returns a clock that reads t.
func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now reads the clock.
func (c *clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// now is the soak's clock: cfg.Clock, or the real one.
func (cfg config) now() time.Time {
	if cfg.Clock != nil {
		return cfg.Clock.Now()
	}
	return time.Now()
}

// waitUntil returns once the soak's clock has reached t: it moves
// cfg.Clock there, or sleeps until the real clock has. It returns when, by
// the real clock, the clock reached t.
func (cfg config) waitUntil(ctx context.Context, t time.Time) (time.Time, error) {
	if cfg.Clock != nil {
		cfg.Clock.ns.Store(t.UnixNano())
		return time.Now(), ctx.Err()
	}
	return t, sleep(ctx, time.Until(t))
}

// result is what a soak measured.
type result struct {
	Config   config `json:"config"`
	Baseline sample `json:"baseline"`     // the empty store
	Full     sample `json:"full"`         // every session created and live
	Expired  sample `json:"after_expiry"` // every session expired and the store settled

	Create  time.Duration `json:"create_ns"`  // saving every session
	Settle  time.Duration `json:"settle_ns"`  // from the last expiry until the store settled (at most one poll late)
	Settled bool          `json:"settled"`    // false: Timeout passed first
	Polls   int           `json:"polls"`      // samples taken while waiting
	Poll    time.Duration `json:"poll_ns"`    // time between those samples
	Started time.Time     `json:"started_at"` // when the soak began
}

// errTTLTooShort reports that sessions began to expire before all of them
// had been created and measured, so the "full" sample would undercount.
var errTTLTooShort = errors.New("the first sessions expired before the store was full: raise -ttl")

// subject is a store under soak and how to watch it.
type subject struct {
	store sesame.Store
	stats func() (file, free, compactions int64, err error) // nil for a store without a file
	close func() error
}

// open opens the store the config names, empty, with its sweeper running
// every cfg.Sweep.
func open(cfg config) (*subject, error) {
	switch cfg.Store {
	case "mem":
		s, err := memstore.New(memstore.Config{SweepInterval: cfg.Sweep, Now: cfg.storeClock()})
		if err != nil {
			return nil, err
		}
		return &subject{store: s, close: s.Close}, nil
	case "bolt":
		dir, cleanup := cfg.Dir, func() error { return nil }
		if dir == "" {
			tmp, err := os.MkdirTemp("", "sesame-soak-")
			if err != nil {
				return nil, err
			}
			dir, cleanup = tmp, func() error { return os.RemoveAll(tmp) }
		}
		path := filepath.Join(dir, "soak.db")
		if _, err := os.Stat(path); err == nil {
			return nil, fmt.Errorf("%s exists: remove it or choose another -dir", path)
		}
		s, err := boltstore.New(boltstore.Config{Path: path, SweepInterval: cfg.Sweep, CompactMinSize: cfg.CompactMin, Now: cfg.storeClock()})
		if err != nil {
			return nil, errors.Join(err, cleanup())
		}
		stats := func() (int64, int64, int64, error) {
			st, err := s.Stats()
			return st.FileSize, st.FreeSize, st.Compactions, err
		}
		closeAll := func() error {
			err := s.Close()
			return errors.Join(err, os.Remove(path), cleanup())
		}
		return &subject{store: s, stats: stats, close: closeAll}, nil
	}
	return nil, fmt.Errorf("unknown store %q: want mem or bolt", cfg.Store)
}

// storeClock is the clock a store under soak reads: cfg.Clock's, or nil
// for the real one.
func (cfg config) storeClock() func() time.Time {
	if cfg.Clock != nil {
		return cfg.Clock.Now
	}
	return nil
}

// sample measures the process and the subject's file.
func (sub *subject) sample() (sample, error) {
	s := measure()
	if sub.stats == nil {
		return s, nil
	}
	var err error
	s.File, s.Free, s.Compactions, err = sub.stats()
	return s, err
}

// run creates cfg.Sessions sessions in a fresh store, lets them expire and
// waits for the store's own sweeper to remove them, sampling memory and
// file size before, in between and after. logf reports progress.
func run(ctx context.Context, cfg config, logf func(format string, args ...any)) (res result, err error) {
	res = result{Config: cfg, Started: time.Now()}
	sub, err := open(cfg)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, sub.close()) }()

	if res.Baseline, err = sub.sample(); err != nil {
		return res, err
	}
	logf("creating %d sessions in %s", cfg.Sessions, cfg.Store)
	start := time.Now()
	first, last, err := fill(ctx, sub.store, cfg)
	if err != nil {
		return res, err
	}
	res.Create = time.Since(start)
	logf("created in %v; measuring", res.Create.Round(time.Millisecond))
	if res.Full, err = sub.sample(); err != nil {
		return res, err
	}
	if !cfg.now().Before(first) {
		return res, fmt.Errorf("%w (creating and measuring took %v, -ttl is %v)", errTTLTooShort, time.Since(start).Round(time.Millisecond), cfg.TTL)
	}

	logf("waiting for the sessions to expire (the last at %s) and for the sweeper", last.Format(time.TimeOnly))
	expired, err := cfg.waitUntil(ctx, last)
	if err != nil {
		return res, err
	}
	res.Expired, err = settle(ctx, sub, &res, expired)
	return res, err
}

// settle samples every two sweep intervals until three samples in a row
// agree: the heap within a small tolerance, the file's size, free space and
// compactions exactly. It fills in res's timing fields and returns the last
// sample. The sweeper removes everything due in one run, so two intervals
// without change mean it is done.
func settle(ctx context.Context, sub *subject, res *result, lastExpiry time.Time) (sample, error) {
	res.Poll = max(2*res.Config.Sweep, 100*time.Millisecond)
	growth := absDiff(res.Full.HeapAlloc, res.Baseline.HeapAlloc)
	tolerance := growth/100 + 256<<10
	same := func(a, b sample) bool {
		return absDiff(a.HeapAlloc, b.HeapAlloc) <= tolerance &&
			a.File == b.File && a.Free == b.Free && a.Compactions == b.Compactions
	}
	deadline := time.Now().Add(res.Config.Timeout)
	var (
		prev     sample
		stableAt time.Time // when the run of agreeing samples began
		agreeing int
	)
	for {
		s, err := sub.sample()
		if err != nil {
			return s, err
		}
		res.Polls++
		now := time.Now()
		if res.Polls > 1 && same(prev, s) {
			agreeing++
		} else {
			agreeing, stableAt = 0, now
		}
		prev = s
		if agreeing == 2 {
			res.Settled = true
			res.Settle = stableAt.Sub(lastExpiry)
			return s, nil
		}
		if now.After(deadline) {
			res.Settle = now.Sub(lastExpiry)
			return s, nil
		}
		if err := sleep(ctx, res.Poll); err != nil {
			return s, err
		}
	}
}

// fill saves cfg.Sessions new sessions from cfg.Writers goroutines, each
// expiring cfg.TTL after its save, and returns the first and last expiry.
func fill(ctx context.Context, st sesame.Store, cfg config) (first, last time.Time, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	first = cfg.now().Add(cfg.TTL) // no session expires before this
	for range max(cfg.Writers, 1) {
		wg.Go(func() {
			var latest time.Time
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Sessions {
					break
				}
				opts := sesame.SaveOptions{ExpiresAt: cfg.now().Add(cfg.TTL), User: userOf(cfg, i)}
				if _, err := st.Save(ctx, sessionKey(i), value, 0, opts); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("save session %d: %w", i, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				latest = opts.ExpiresAt
			}
			mu.Lock()
			if latest.After(last) {
				last = latest
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return first, last, firstErr
}

// sessionKey returns a key shaped like the Manager's, 43 base64url
// characters of a SHA-256, different for each i.
func sessionKey(i int) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// userOf returns the user of session i: every cfg.UserEvery-th session
// belongs to a user, and each user has cfg.PerUser of them.
func userOf(cfg config, i int) string {
	if cfg.UserEvery <= 0 || i%cfg.UserEvery != 0 {
		return ""
	}
	return "user-" + strconv.Itoa(i/(cfg.UserEvery*max(cfg.PerUser, 1)))
}

// defaultWriters is how many goroutines save at once when -writers is 0:
// one per processor for memory; for bolt, enough to give its committer
// full batches.
func defaultWriters(store string) int {
	if store == "bolt" {
		return 2 * boltstore.DefaultMaxBatch
	}
	return runtime.GOMAXPROCS(0)
}

// sleep waits d, or until ctx ends, and then returns ctx's error.
func sleep(ctx context.Context, d time.Duration) error {
	timer, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	<-timer.Done()
	return ctx.Err()
}

// absDiff returns |a-b|.
func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}
