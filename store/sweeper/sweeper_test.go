package sweeper

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

const interval = 10 * time.Second

// call is what a sweep saw: when it began, relative to Start, and its
// context's deadline, relative to when it began (0 if none).
type call struct {
	at, bound time.Duration
}

// TestSweepsEveryInterval checks when sweeps run and what bound their
// contexts have, on the synthetic clock of a synctest bubble.
func TestSweepsEveryInterval(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want []call
	}{{
		name: "default",
		want: []call{{10 * time.Second, interval}, {20 * time.Second, interval}, {30 * time.Second, interval}},
	}, {
		name: "Immediately",
		opts: []Option{Immediately()},
		want: []call{{0, interval}, {10 * time.Second, interval}, {20 * time.Second, interval}, {30 * time.Second, interval}},
	}, {
		name: "WithoutTimeout",
		opts: []Option{WithoutTimeout()},
		want: []call{{10 * time.Second, 0}, {20 * time.Second, 0}, {30 * time.Second, 0}},
	}, {
		name: "Immediately and WithoutTimeout",
		opts: []Option{Immediately(), WithoutTimeout()},
		want: []call{{0, 0}, {10 * time.Second, 0}, {20 * time.Second, 0}, {30 * time.Second, 0}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var got []call
				s := Start(interval, func(ctx context.Context) error {
					c := call{at: time.Since(start)}
					if d, ok := ctx.Deadline(); ok {
						c.bound = time.Until(d)
					}
					got = append(got, c)
					return nil
				}, nil, tt.opts...)
				time.Sleep(35 * time.Second)
				s.Stop()
				if !slices.Equal(got, tt.want) {
					t.Errorf("sweeps %v; want %v", got, tt.want)
				}
			})
		})
	}
}

// TestReportsErrors checks which errors reach onErr: those of sweeps, and
// the deadline of a sweep that overran, but not those caused by Stop.
func TestReportsErrors(t *testing.T) {
	errSweep := errors.New("sweep failed")
	tests := []struct {
		name  string
		opts  []Option
		sweep func(ctx context.Context) error
		want  []error // reported within 25 s, two ticks
	}{{
		name:  "success",
		sweep: func(context.Context) error { return nil },
	}, {
		name:  "failure",
		sweep: func(context.Context) error { return errSweep },
		want:  []error{errSweep, errSweep},
	}, {
		name: "overrun",
		sweep: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		},
		// The first sweep runs from 10 s to its deadline at 20 s; the
		// second, from 20 s, is still running at Stop.
		want: []error{context.DeadlineExceeded},
	}, {
		name: "overrun without timeout",
		opts: []Option{WithoutTimeout()},
		sweep: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err() // only Stop ends it: not reported
		},
	}, {
		name: "failure at Stop",
		opts: []Option{WithoutTimeout()},
		sweep: func(ctx context.Context) error {
			<-ctx.Done()
			return errSweep // say, a driver's error for the cancelled call
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var got []error
				s := Start(interval, tt.sweep, func(err error) { got = append(got, err) }, tt.opts...)
				time.Sleep(25 * time.Second)
				synctest.Wait()
				if !slices.Equal(got, tt.want) {
					t.Errorf("reported %v before Stop; want %v", got, tt.want)
				}
				n := len(got)
				s.Stop()
				if len(got) != n {
					t.Errorf("reported %v at Stop", got[n:])
				}
			})
		})
	}
}

// TestNilOnErr: errors are dropped when there is nowhere to report them.
func TestNilOnErr(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := Start(interval, func(context.Context) error { return errors.New("dropped") }, nil)
		time.Sleep(3 * interval)
		s.Stop()
	})
}

// TestStop checks that Stop ends a sweep in progress, waits for it, is
// idempotent, and that no sweep starts after it.
func TestStop(t *testing.T) {
	tests := []struct {
		name string
		// stop stops s, in a bubble, some time after Start.
		stop func(s *Sweeper)
	}{
		{"once", func(s *Sweeper) { s.Stop() }},
		{"twice", func(s *Sweeper) { s.Stop(); s.Stop() }},
		{"concurrently", func(s *Sweeper) {
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(s.Stop)
			}
			wg.Wait()
		}},
	}
	for _, tt := range tests {
		for _, during := range []bool{false, true} {
			name := tt.name + "/between sweeps"
			if during {
				name = tt.name + "/during a sweep"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var sweeps, finished int
					s := Start(interval, func(ctx context.Context) error {
						sweeps++
						<-ctx.Done()
						time.Sleep(time.Second) // Stop must wait for this
						finished++
						return ctx.Err()
					}, nil, WithoutTimeout())
					if during {
						time.Sleep(interval + time.Second)
					} else {
						time.Sleep(interval - time.Second)
					}
					synctest.Wait()
					tt.stop(s)
					if finished != sweeps {
						t.Errorf("Stop returned with %d of %d sweeps finished", finished, sweeps)
					}
					want := 0
					if during {
						want = 1
					}
					if sweeps != want {
						t.Errorf("%d sweeps; want %d", sweeps, want)
					}
					time.Sleep(10 * interval)
					if sweeps > 1 || finished != sweeps {
						t.Errorf("%d sweeps started, %d finished after Stop", sweeps, finished)
					}
					// synctest.Test fails if the goroutine is still there.
				})
			})
		}
	}
}

// TestStopLeavesNoGoroutine checks on the real clock and the real
// scheduler that Stop returns only once the goroutine is gone.
func TestStopLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	var sweepers []*Sweeper
	for range 10 {
		sweepers = append(sweepers, Start(time.Millisecond, func(ctx context.Context) error {
			time.Sleep(100 * time.Microsecond)
			return ctx.Err()
		}, nil, Immediately()))
	}
	time.Sleep(20 * time.Millisecond)
	for _, s := range sweepers {
		s.Stop()
		s.Stop()
	}
	// Let goroutines of the runtime and of the test framework settle.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Stop; %d before Start:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStopNil(t *testing.T) {
	var s *Sweeper
	s.Stop() // does nothing
}

func TestNonPositiveInterval(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Start(%v) did not panic", d)
				}
			}()
			Start(d, func(context.Context) error { return nil }, nil)
		}()
	}
}
