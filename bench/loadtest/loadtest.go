package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sesame-go/sesame/bench/internal/sessiondproc"
	"github.com/sesame-go/sesame/bench/internal/vuser"
)

// env is a running sessiond with its users created, and the virtual users
// that drive it.
type env struct {
	cfg         config
	log         io.Writer
	tmp         string // everything the run writes: data directory, log, binary
	store       string // what the report calls the store
	redisPrefix string // keys to delete at the end, if the run made them in Redis
	sd          *sessiondproc.Process
	t           *vuser.Target
	tally       *vuser.Tally
	ucfg        vuser.Config
	users       []*vuser.User
	counts      vuser.Counts // everything the tally counted, phase by phase
}

// loadTest runs a whole load test: setup, load, sweep, report.
func loadTest(ctx context.Context, cfg config) (*Report, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.hardLimit())
	defer cancel()
	e, err := newEnv(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer e.close()
	return e.run(ctx)
}

// newEnv makes the temporary directory, builds sessiond if no binary was
// given, creates the users, starts sessiond on 127.0.0.1 and waits until it
// is ready.
func newEnv(ctx context.Context, cfg config) (_ *env, err error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	tmp, err := os.MkdirTemp("", "sesame-loadtest-")
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, log: cfg.Log, tmp: tmp, tally: vuser.NewTally(cfg.Log)}
	e.ucfg = vuser.Config{Seed: cfg.Seed, Devices: cfg.Devices, Mix: cfg.Mix, RaceProb: cfg.RaceProb, Idle: cfg.IdleTimeout}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	bin := cfg.Sessiond
	if bin == "" {
		fmt.Fprintf(e.log, "building %s\n", sessiondproc.Package)
		if bin, err = sessiondproc.Build(ctx, tmp); err != nil {
			return nil, err
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return nil, err
	}
	args := []string{
		"--data-dir", dataDir,
		"--idle-timeout", cfg.IdleTimeout.String(),
		"--shutdown-timeout", "10s",
	}
	storeURL, err := e.storeURL(dataDir)
	if err != nil {
		return nil, err
	}
	if storeURL != "" {
		args = append(args, "--store", storeURL)
	}

	passwords := make([]string, cfg.Users)
	names := make([]string, cfg.Users)
	for i := range cfg.Users {
		passwords[i] = sessiondproc.RandomHex(12)
		names[i] = fmt.Sprintf("lt%05d", i)
	}
	fmt.Fprintf(e.log, "creating %d users with sessiond user add\n", cfg.Users)
	start := time.Now()
	if err := sessiondproc.CreateUsers(ctx, bin, filepath.Join(dataDir, "users"), names, passwords); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.log, "created %d users in %.1fs\n", cfg.Users, time.Since(start).Seconds())
	if e.sd, err = sessiondproc.Start(ctx, bin, args, filepath.Join(tmp, "sessiond.log")); err != nil {
		return nil, err
	}
	e.t = vuser.NewTarget(e.sd.Base(), cfg.Users*2+16, cfg.RequestTimeout, cfg.MaxRequests)
	for i := range cfg.Users {
		e.users = append(e.users, vuser.New(i, names[i], passwords[i], &e.ucfg, e.t, e.tally))
	}
	if err := e.sd.WaitReady(ctx, e.t.Client); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.log, "sessiond (pid %d) ready at %s, store %s\n", e.sd.Pid(), e.sd.Base(), e.store)
	return e, nil
}

// storeURL turns -store into sessiond's --store ("" for its default).
func (e *env) storeURL(dataDir string) (string, error) {
	switch s := e.cfg.Store; s {
	case "mem", "memory":
		e.store = "memory://"
		return e.store, nil
	case "bolt", "":
		e.store = "bolt://" + filepath.Join(dataDir, "sessions.db") + " (the default)"
		return "", nil
	case "file":
		e.store = "file://" + filepath.Join(dataDir, "sessions")
		return e.store, nil
	case "redis":
		host, _, ok := strings.Cut(e.cfg.RedisAddr, ":")
		if !ok || host != "127.0.0.1" {
			return "", fmt.Errorf("-redis-addr %q: want 127.0.0.1:PORT", e.cfg.RedisAddr)
		}
		e.redisPrefix = "sesame-loadtest-" + sessiondproc.RandomHex(8) + ":"
		e.store = "redis://" + e.cfg.RedisAddr + "?prefix=" + e.redisPrefix
		return e.store, nil
	default:
		if !strings.Contains(s, "://") {
			return "", fmt.Errorf("-store %q: want mem, bolt, file, redis or a sessiond --store URL", s)
		}
		e.store = s
		return s, nil
	}
}

// close stops sessiond if it still runs, deletes the run's Redis keys and
// removes the temporary directory.
func (e *env) close() {
	if e.sd != nil && !e.sd.Exited() {
		e.sd.Kill()
	}
	if e.t != nil {
		e.t.Close()
	}
	if e.redisPrefix != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err := redisDeletePrefix(ctx, e.cfg.RedisAddr, e.redisPrefix)
		cancel()
		if err != nil {
			fmt.Fprintf(e.log, "deleting the run's Redis keys (%s*): %v\n", e.redisPrefix, err)
		} else {
			fmt.Fprintf(e.log, "deleted the run's %d Redis keys (%s*)\n", n, e.redisPrefix)
		}
	}
	if e.cfg.Keep {
		fmt.Fprintf(e.log, "kept %s\n", e.tmp)
		return
	}
	if err := os.RemoveAll(e.tmp); err != nil {
		fmt.Fprintf(e.log, "removing %s: %v\n", e.tmp, err)
	}
}

// forUsers runs f for every user at once and waits for them all.
func (e *env) forUsers(f func(u *vuser.User)) {
	var wg sync.WaitGroup
	for _, u := range e.users {
		wg.Go(func() { f(u) })
	}
	wg.Wait()
}

// sweepReserve is how many requests are kept back from the load phase for
// the final sweep.
func (e *env) sweepReserve() int64 {
	return int64(e.cfg.Users) * vuser.SweepRequests(e.cfg.Devices)
}

// run does the three phases and the report.
func (e *env) run(ctx context.Context) (*Report, error) {
	cfg := &e.cfg
	rep := &Report{
		Store: e.store, Users: cfg.Users, Devices: cfg.Devices, Seed: cfg.Seed,
		Mix: cfg.Mix.String(), IdleTimeout: cfg.IdleTimeout.Seconds(),
	}
	e.t.SetBudget(max(cfg.MaxRequests-e.sweepReserve(), 0))

	// Setup: every device logs in, in turn within a user.
	fmt.Fprintf(e.log, "setup: logging in %d devices\n", cfg.Users*cfg.Devices)
	rec := vuser.NewRecorder()
	start := time.Now()
	e.forUsers(func(u *vuser.User) {
		u.SetRecorder(rec)
		_ = u.LoginAll(ctx)
	})
	rep.Setup = vuser.PhaseOf(rec, time.Since(start), e.take())

	// Load.
	fmt.Fprintf(e.log, "load: %d users for %v\n", cfg.Users, cfg.Duration)
	rec = vuser.NewRecorder()
	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.Duration)
	progressDone := make(chan struct{})
	go e.progress(loadCtx, rec, progressDone)
	start = time.Now()
	e.forUsers(func(u *vuser.User) {
		u.SetRecorder(rec)
		u.Run(ctx, loadCtx.Done())
	})
	elapsed := time.Since(start)
	stopLoad()
	<-progressDone
	rep.Load = vuser.PhaseOf(rec, elapsed, e.take())

	// Sweep.
	fmt.Fprintf(e.log, "sweep: checking every session\n")
	e.t.SetBudget(cfg.MaxRequests)
	rec = vuser.NewRecorder()
	start = time.Now()
	var mu sync.Mutex
	rep.SweepComplete = true
	e.forUsers(func(u *vuser.User) {
		u.SetRecorder(rec)
		if u.Broken {
			return
		}
		if err := u.Sweep(ctx); err != nil {
			mu.Lock()
			rep.SweepComplete = false
			mu.Unlock()
		}
	})
	rep.Sweep = vuser.PhaseOf(rec, time.Since(start), e.take())
	for _, u := range e.users {
		rep.SweepLive += u.SweptLive
		rep.SweepEnded += u.SweptDead
		rep.SweepUnchecked += u.Unchecked
		if u.Broken {
			rep.BrokenUsers++
			rep.SweepComplete = false
		}
	}

	// What sessiond says, then stop it.
	runErr := ctx.Err()
	if runErr != nil {
		runErr = fmt.Errorf("the run did not finish within -timeout %v: %w", cfg.hardLimit(), runErr)
	}
	if runErr == nil {
		if err := e.scrapeMetrics(ctx, &rep.Sessiond); err != nil {
			e.tally.Errorf("reading sessiond's /metrics: %v", err)
		}
	}
	if rss, hwm, err := sessiondproc.ProcMemory(e.sd.Pid()); err == nil {
		rep.Sessiond.PeakRSS, rep.Sessiond.FinalRSS = hwm, rss
	} else {
		fmt.Fprintf(e.log, "sessiond's memory: %v\n", err)
	}
	rep.Sessiond.MaxSampledRSS, rep.Sessiond.RSSSamples = e.sd.SampledRSS()
	if err := e.sd.Stop(20 * time.Second); err != nil {
		e.tally.Errorf("stopping sessiond: %v", err)
	} else {
		rep.Sessiond.Stopped = true
	}
	var firstErrors []string
	rep.Sessiond.ErrorLogLines, rep.Sessiond.WarnLogLines, firstErrors = e.sd.LogLevels(20)
	for _, line := range firstErrors {
		e.tally.Errorf("sessiond logged: %s", line)
	}
	e.tally.AddErrors(int64(rep.Sessiond.ErrorLogLines - len(firstErrors)))
	if rep.Sessiond.StoreErrors > 0 {
		e.tally.Errorf("sessiond counted %g store errors", rep.Sessiond.StoreErrors)
	}
	e.take()

	c := &e.counts
	rep.Errors, rep.ErrorSamples = c.Errors, c.ErrorSamples
	rep.LostWrites, rep.LostSamples = c.LostTotal(), c.LostSamples
	rep.RacingServed, rep.RacingEnded = c.RacingServed, c.RacingEnded
	rep.Passed = runErr == nil && rep.Errors == 0 && rep.LostWrites == 0 && rep.SweepComplete &&
		rep.Load.Requests > 0 && rep.SweepLive+rep.SweepEnded > 0
	return rep, runErr
}

// take adds what the tally counted since the last take to the run's
// counts and returns the operations among it.
func (e *env) take() map[string]int64 {
	c := e.tally.Take()
	e.counts.Add(c)
	return c.Ops
}

// progress prints a line every 10 s of the load phase.
func (e *env) progress(ctx context.Context, rec *vuser.Recorder, done chan<- struct{}) {
	defer close(done)
	start := time.Now()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			rss, _ := e.sd.SampledRSS()
			errs, _, lost := e.tally.Snapshot()
			fmt.Fprintf(e.log, "  %3.0fs: %d requests, sessiond max RSS %s, errors %d, lost writes %d\n",
				time.Since(start).Seconds(), rec.Count(), mib(rss), errs, lost)
		}
	}
}

// scrapeMetrics reads sessiond's store, session and login counters from
// /metrics.
func (e *env) scrapeMetrics(ctx context.Context, s *Server) error {
	text, err := e.sd.Metrics(ctx, e.t.Client)
	if err != nil {
		return err
	}
	s.StoreOps = sessiondproc.MetricByLabel(text, "sessiond_store_duration_seconds_count", "op")
	s.Events = sessiondproc.MetricByLabel(text, "sessiond_session_events_total", "kind")
	s.Logins = sessiondproc.MetricByLabel(text, "sessiond_logins_total", "result")
	for _, v := range sessiondproc.MetricByLabel(text, "sessiond_store_errors_total", "op") {
		s.StoreErrors += v
	}
	return nil
}
