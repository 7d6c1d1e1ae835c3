package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// env is a running sessiond with its users created, and the virtual users
// that drive it.
type env struct {
	cfg         config
	log         io.Writer
	tmp         string // everything the run writes: data directory, log, binary
	store       string // what the report calls the store
	redisPrefix string // keys to delete at the end, if the run made them in Redis
	sd          *sessiond
	t           *target
	tally       *tally
	users       []*vuser
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
	e := &env{cfg: cfg, log: cfg.Log, tmp: tmp, tally: newTally(cfg.Log)}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	bin := cfg.Sessiond
	if bin == "" {
		fmt.Fprintf(e.log, "building %s\n", sessiondPackage)
		if bin, err = buildSessiond(ctx, tmp); err != nil {
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
	e.t = newTarget("", cfg.Users*2+16, cfg.RequestTimeout, cfg.MaxRequests)
	for i := range cfg.Users {
		passwords[i] = randomHex(12)
		u := newUser(i, passwords[i], &e.cfg, e.t, e.tally)
		names[i] = u.name
		e.users = append(e.users, u)
	}
	fmt.Fprintf(e.log, "creating %d users with sessiond user add\n", cfg.Users)
	start := time.Now()
	if err := createUsers(ctx, bin, filepath.Join(dataDir, "users"), names, passwords); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.log, "created %d users in %.1fs\n", cfg.Users, time.Since(start).Seconds())
	if e.sd, err = startSessiond(ctx, bin, args, filepath.Join(tmp, "sessiond.log")); err != nil {
		return nil, err
	}
	e.t.base = e.sd.base
	if err := e.sd.waitReady(ctx, e.t.hc); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.log, "sessiond (pid %d) ready at %s, store %s\n", e.sd.cmd.Process.Pid, e.sd.base, e.store)
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
		e.redisPrefix = "sesame-loadtest-" + randomHex(8) + ":"
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
	if e.sd != nil && !e.sd.exited() {
		e.sd.kill()
	}
	if e.t != nil {
		e.t.close()
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
func (e *env) forUsers(f func(u *vuser)) {
	var wg sync.WaitGroup
	for _, u := range e.users {
		wg.Go(func() { f(u) })
	}
	wg.Wait()
}

// sweepReserve is how many requests are kept back from the load phase for
// the final sweep.
func (e *env) sweepReserve() int64 {
	return int64(e.cfg.Users) * int64(2*e.cfg.Devices+maxDead)
}

// run does the three phases and the report.
func (e *env) run(ctx context.Context) (*Report, error) {
	cfg := &e.cfg
	rep := &Report{
		Store: e.store, Users: cfg.Users, Devices: cfg.Devices, Seed: cfg.Seed,
		Mix: cfg.Mix.String(), IdleTimeout: cfg.IdleTimeout.Seconds(),
	}
	e.t.max.Store(max(cfg.MaxRequests-e.sweepReserve(), 0))

	// Setup: every device logs in, in turn within a user.
	fmt.Fprintf(e.log, "setup: logging in %d devices\n", cfg.Users*cfg.Devices)
	rec := newRecorder()
	start := time.Now()
	e.forUsers(func(u *vuser) {
		u.rec = rec
		for _, d := range u.devs {
			if err := u.login(ctx, d); err != nil {
				return
			}
		}
	})
	rep.Setup = phaseOf(rec, time.Since(start), e.tally.takeOps())

	// Load.
	fmt.Fprintf(e.log, "load: %d users for %v\n", cfg.Users, cfg.Duration)
	rec = newRecorder()
	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.Duration)
	progressDone := make(chan struct{})
	go e.progress(loadCtx, rec, progressDone)
	start = time.Now()
	e.forUsers(func(u *vuser) {
		u.rec = rec
		u.run(ctx, loadCtx.Done())
	})
	elapsed := time.Since(start)
	stopLoad()
	<-progressDone
	rep.Load = phaseOf(rec, elapsed, e.tally.takeOps())

	// Sweep.
	fmt.Fprintf(e.log, "sweep: checking every session\n")
	e.t.max.Store(cfg.MaxRequests)
	rec = newRecorder()
	start = time.Now()
	var mu sync.Mutex
	rep.SweepComplete = true
	e.forUsers(func(u *vuser) {
		u.rec = rec
		if u.broken {
			return
		}
		if err := u.sweep(ctx); err != nil {
			mu.Lock()
			rep.SweepComplete = false
			mu.Unlock()
		}
	})
	rep.Sweep = phaseOf(rec, time.Since(start), e.tally.takeOps())
	for _, u := range e.users {
		rep.SweepLive += u.sweptLive
		rep.SweepEnded += u.sweptDead
		rep.SweepUnchecked += u.unchecked
		if u.broken {
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
			e.tally.errorf("reading sessiond's /metrics: %v", err)
		}
	}
	if rss, hwm, err := procMemory(e.sd.cmd.Process.Pid); err == nil {
		rep.Sessiond.PeakRSS, rep.Sessiond.FinalRSS = hwm, rss
	} else {
		fmt.Fprintf(e.log, "sessiond's memory: %v\n", err)
	}
	rep.Sessiond.MaxSampledRSS, rep.Sessiond.RSSSamples = e.sd.sampledRSS()
	if err := e.sd.stop(20 * time.Second); err != nil {
		e.tally.errorf("stopping sessiond: %v", err)
	} else {
		rep.Sessiond.Stopped = true
	}
	var firstErrors []string
	rep.Sessiond.ErrorLogLines, rep.Sessiond.WarnLogLines, firstErrors = e.sd.logLevels()
	for _, line := range firstErrors {
		e.tally.errorf("sessiond logged: %s", line)
	}
	if n := rep.Sessiond.ErrorLogLines - len(firstErrors); n > 0 {
		e.tally.mu.Lock()
		e.tally.errors += int64(n)
		e.tally.mu.Unlock()
	}
	if rep.Sessiond.StoreErrors > 0 {
		e.tally.errorf("sessiond counted %g store errors", rep.Sessiond.StoreErrors)
	}

	t := e.tally
	t.mu.Lock()
	rep.Errors, rep.ErrorSamples = t.errors, t.errSamples
	rep.LostWrites, rep.LostSamples = t.lost, t.lostSamples
	rep.RacingServed, rep.RacingEnded = t.raceServed, t.raceEnded
	t.mu.Unlock()
	rep.Passed = runErr == nil && rep.Errors == 0 && rep.LostWrites == 0 && rep.SweepComplete &&
		rep.Load.Requests > 0 && rep.SweepLive+rep.SweepEnded > 0
	return rep, runErr
}

// progress prints a line every 10 s of the load phase.
func (e *env) progress(ctx context.Context, rec *recorder, done chan<- struct{}) {
	defer close(done)
	start := time.Now()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			rss, _ := e.sd.sampledRSS()
			errs, lost := e.tally.snapshot()
			fmt.Fprintf(e.log, "  %3.0fs: %d requests, sessiond max RSS %s, errors %d, lost writes %d\n",
				time.Since(start).Seconds(), rec.count(), mib(rss), errs, lost)
		}
	}
}

// scrapeMetrics reads sessiond's store, session and login counters from
// /metrics.
func (e *env) scrapeMetrics(ctx context.Context, s *Server) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.sd.ops+"/metrics", nil)
	if err != nil {
		return err
	}
	res, err := e.t.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return errors.New(res.Status)
	}
	text := string(b)
	s.StoreOps = metricByLabel(text, "sessiond_store_duration_seconds_count", "op")
	s.Events = metricByLabel(text, "sessiond_session_events_total", "kind")
	s.Logins = metricByLabel(text, "sessiond_logins_total", "result")
	for _, v := range metricByLabel(text, "sessiond_store_errors_total", "op") {
		s.StoreErrors += v
	}
	return nil
}

// metricByLabel returns the samples of a Prometheus text-format metric by
// the value of one label.
func metricByLabel(text, name, label string) map[string]float64 {
	out := map[string]float64{}
	for line := range strings.Lines(text) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), name+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			continue
		}
		for kv := range strings.SplitSeq(labels, ",") {
			k, val, _ := strings.Cut(kv, "=")
			if k == label {
				out[strings.Trim(val, `"`)] += v
			}
		}
	}
	return out
}
