package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sesame-go/sesame/bench/internal/sessiondproc"
	"github.com/sesame-go/sesame/bench/internal/vuser"
)

// fleetSize is how many sessiond processes nginx balances over.
const fleetSize = 3

// fleet is one configuration under test: a store, three sessiond
// processes sharing it, nginx in front of them and of the protected
// application, and the virtual users.
type fleet struct {
	cfg   *config
	store string // which store: "redis" or "postgres"
	min   int    // Redis: min-replicas
	log   io.Writer
	tmp   string

	cluster  *cluster  // store "redis"
	pg       *postgres // store "postgres"
	storeURL string

	members  []*member
	nginx    *proc
	nginxDir string
	app      *http.Server

	admin *http.Client // readiness and metrics, straight to each sessiond
	t     *vuser.Target
	tally *vuser.Tally
	ucfg  vuser.Config
	users []*vuser.User
}

// member is one sessiond of the fleet, on a port of its own that stays
// the same across restarts (nginx knows it by that port).
type member struct {
	n       int
	addr    string
	args    []string
	logPath string
	p       *sessiondproc.Process
	served  float64 // forward-auth checks answered, at the last count
}

// logf prints a line of progress, with the time.
func (f *fleet) logf(format string, args ...any) {
	fmt.Fprintf(f.log, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// newFleet starts everything one configuration needs. It returns an
// error wrapping errMissing when a server program is not installed.
func newFleet(ctx context.Context, cfg *config, bin, store string, minReplicas int) (_ *fleet, err error) {
	f := &fleet{cfg: cfg, store: store, min: minReplicas, log: cfg.Log}
	if f.log == nil {
		f.log = io.Discard
	}
	if f.tmp, err = os.MkdirTemp("", "sesame-fleet-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	switch store {
	case "redis":
		if f.cluster, err = startCluster(ctx, f.tmp); err != nil {
			return nil, err
		}
		f.storeURL = "redis-cluster://" + strings.Join(f.cluster.addrs(), ",") + "?prefix=fleet:"
		if minReplicas > 0 {
			f.storeURL += fmt.Sprintf("&min-replicas=%d&replica-timeout=%v", minReplicas, cfg.ReplicaTimeout)
		}
		f.logf("Redis Cluster of 3 masters and 3 replicas on %s", strings.Join(f.cluster.addrs(), ","))
	case "postgres":
		if f.pg, err = startPostgres(ctx); err != nil {
			return nil, err
		}
		f.storeURL = f.pg.url()
		f.logf("PostgreSQL on 127.0.0.1:%d (data in %s)", f.pg.port, f.pg.dir)
	default:
		return nil, fmt.Errorf("unknown store %q: want redis or postgres", store)
	}

	names := make([]string, cfg.Users)
	passwords := make([]string, cfg.Users)
	for i := range names {
		names[i] = fmt.Sprintf("fleet%04d", i)
		passwords[i] = sessiondproc.RandomHex(12)
	}
	usersFile := filepath.Join(f.tmp, "users")
	if err := writeUsers(usersFile, names, passwords); err != nil {
		return nil, err
	}
	var appAddr string
	if f.app, appAddr, err = startApp(); err != nil {
		return nil, err
	}

	// No keep-alive: an idle connection of the harness's would hold a
	// sessiond's graceful drain for its whole timeout.
	f.admin = &http.Client{Transport: &http.Transport{DialContext: vuser.LoopbackDialer(), DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for n := range fleetSize {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dataDir := filepath.Join(f.tmp, fmt.Sprintf("sessiond%d", n))
		m := &member{
			n:    n,
			addr: "127.0.0.1:" + strconv.Itoa(port),
			args: []string{
				"--listen", "127.0.0.1:" + strconv.Itoa(port),
				"--data-dir", dataDir, "--users-file", usersFile, "--store", f.storeURL,
				"--idle-timeout", cfg.IdleTimeout.String(), "--shutdown-timeout", shutdownTimeout.String(),
				"--trusted-proxies", "127.0.0.1",
			},
			logPath: filepath.Join(f.tmp, fmt.Sprintf("sessiond%d.log", n)),
		}
		// One at a time: the first creates the PostgreSQL table.
		if err := f.startMember(ctx, bin, m); err != nil {
			return nil, err
		}
		f.members = append(f.members, m)
	}
	f.nginxDir = filepath.Join(f.tmp, "nginx")
	if err := os.Mkdir(f.nginxDir, 0o700); err != nil {
		return nil, err
	}
	var addrs []string
	for _, m := range f.members {
		addrs = append(addrs, m.addr)
	}
	var base string
	if f.nginx, base, err = startNginx(ctx, f.nginxDir, addrs, appAddr); err != nil {
		return nil, err
	}
	f.t = vuser.NewTarget(base, cfg.Users*2+64, cfg.RequestTimeout, 1<<62)
	f.logf("nginx on %s in front of sessiond on %s, protecting the application on %s", base, strings.Join(addrs, ", "), appAddr)

	f.tally = vuser.NewTally(f.log)
	f.ucfg = vuser.Config{
		Seed: cfg.Seed, Devices: cfg.Devices, Mix: cfg.Mix, RaceProb: 0.5, Idle: cfg.IdleTimeout,
		AuthPath: "/app/whoami", Tolerant: true, Think: cfg.Think, ForwardedFor: true,
	}
	for i := range names {
		f.users = append(f.users, vuser.New(i, names[i], passwords[i], &f.ucfg, f.t, f.tally))
	}
	return f, nil
}

// shutdownTimeout is sessiond's --shutdown-timeout: how long it may take
// to finish the requests in flight after SIGTERM.
const shutdownTimeout = 10 * time.Second

// startMember starts (or restarts) a sessiond and waits until it is ready.
func (f *fleet) startMember(ctx context.Context, bin string, m *member) error {
	p, err := sessiondproc.Start(ctx, bin, m.args, m.logPath)
	if err != nil {
		return fmt.Errorf("sessiond %d: %w", m.n, err)
	}
	if err := p.WaitReady(ctx, f.admin); err != nil {
		p.Kill()
		return fmt.Errorf("sessiond %d: %w", m.n, err)
	}
	m.p, m.served = p, 0
	return nil
}

// waitServing waits until nginx sends a restarted sessiond forward-auth
// checks again: nginx takes a process that failed out of rotation for
// fail_timeout, then tries it again.
func (f *fleet) waitServing(ctx context.Context, m *member) error {
	start := time.Now()
	err := waitFor(ctx, 30*time.Second, fmt.Sprintf("sessiond %d serving again", m.n), func() bool {
		text, err := m.p.Metrics(ctx, f.admin)
		if err != nil {
			return false
		}
		for _, v := range sessiondproc.MetricByLabel(text, "sessiond_auth_checks_total", "result") {
			if v > 0 {
				return true
			}
		}
		return false
	})
	if err == nil {
		f.logf("sessiond %d serving again %.1fs after it started", m.n, time.Since(start).Seconds())
	}
	return err
}

// close stops everything and removes the temporary directory, unless
// -keep.
func (f *fleet) close() {
	if f.t != nil {
		f.t.Close()
	}
	if f.admin != nil {
		f.admin.CloseIdleConnections()
	}
	if f.nginx != nil {
		f.nginx.kill()
	}
	for _, m := range f.members {
		if m.p != nil && !m.p.Exited() {
			m.p.Kill()
		}
	}
	if f.app != nil {
		f.app.Close()
	}
	if f.cluster != nil {
		f.cluster.stop()
	}
	if f.pg != nil {
		f.pg.stop()
	}
	if f.cfg.Keep {
		f.logf("kept %s", f.tmp)
		return
	}
	os.RemoveAll(f.tmp)
}

// forUsers runs fn for every user at once and waits for them all.
func (f *fleet) forUsers(fn func(i int, u *vuser.User)) {
	var wg sync.WaitGroup
	for i, u := range f.users {
		wg.Go(func() { fn(i, u) })
	}
	wg.Wait()
}

// setup logs every device in.
func (f *fleet) setup(ctx context.Context) error {
	f.logf("setup: logging in %d users x %d devices through nginx", len(f.users), f.cfg.Devices)
	start := time.Now()
	f.forUsers(func(_ int, u *vuser.User) { _ = u.LoginAll(ctx) })
	c := f.tally.Take()
	f.logf("setup: %d logins in %.1fs; %d failed requests, %d errors", c.Ops[vuser.OpLogin], time.Since(start).Seconds(), c.Failed, c.Errors)
	if c.Failed > 0 || c.Errors > 0 || c.LostTotal() > 0 {
		return fmt.Errorf("the setup, before any fault, had %d failed requests, %d errors and %d lost writes: %q",
			c.Failed, c.Errors, c.LostTotal(), append(append(c.ErrorSamples, c.FailSamples...), c.LostSamples...))
	}
	f.countServed(ctx)
	return nil
}

// countServed reads how many forward-auth checks each running sessiond
// has answered since it last counted (or started), from its /metrics.
func (f *fleet) countServed(ctx context.Context) []float64 {
	out := make([]float64, len(f.members))
	for i, m := range f.members {
		if m.p == nil || m.p.Exited() {
			continue
		}
		text, err := m.p.Metrics(ctx, f.admin)
		if err != nil {
			f.logf("sessiond %d /metrics: %v", m.n, err)
			continue
		}
		total := 0.0
		for _, v := range sessiondproc.MetricByLabel(text, "sessiond_auth_checks_total", "result") {
			total += v
		}
		out[i] = total - m.served
		m.served = total
	}
	return out
}

// phase runs the traffic with one fault in the middle of it: cfg.Lead of
// traffic, the fault (which returns once the fleet has recovered), and
// cfg.Tail more. Then every user whose writes' outcome is unknown
// resynchronises, half the users log out everywhere (a revocation
// acknowledged after the fault, which must end the sessions made before
// it), and every user sweeps: what the run found, from the fault's start
// to the end of the sweep, is the fault's.
func (f *fleet) phase(ctx context.Context, n int, flt fault) result {
	r := result{Fault: flt.Name, What: flt.What}
	rec := vuser.NewRecorder()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, u := range f.users {
		u.SetRecorder(rec)
		wg.Go(func() { u.Run(ctx, stop) })
	}
	progress, stopProgress := context.WithCancel(ctx)
	go f.progress(progress, rec)
	nginxBefore := nginxErrors(f.nginxDir)
	sleep(ctx, f.cfg.Lead)
	begin := time.Now()
	f.logf("fault %q: %s", flt.Name, flt.What)
	if flt.run != nil {
		if err := flt.run(ctx, f); err != nil {
			r.FaultError = err.Error()
			f.logf("fault %q failed: %v", flt.Name, err)
		}
	}
	r.Recovery = time.Since(begin).Seconds()
	f.logf("fault %q over after %.1fs; traffic goes on for %v", flt.Name, r.Recovery, f.cfg.Tail)
	sleep(ctx, f.cfg.Tail)
	close(stop)
	wg.Wait()
	stopProgress()
	load := vuser.PhaseOf(rec, time.Since(begin)+f.cfg.Lead, nil)
	r.Requests, r.P99, r.Slowest = load.Requests, load.Latency.P99, load.Latency.Max

	// Settle and check.
	check := vuser.NewRecorder()
	settle, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	f.forUsers(func(i int, u *vuser.User) {
		u.SetRecorder(check)
		if u.Unsure() || i%2 == n%2 {
			if err := u.Resync(settle); err != nil && !u.Broken {
				f.tally.Errorf("%s: could not log out everywhere after the fault: %v", u.Name(), err)
			}
		}
	})
	var sweptLive, sweptDead int
	for _, u := range f.users {
		sweptLive, sweptDead = sweptLive-u.SweptLive, sweptDead-u.SweptDead
	}
	f.forUsers(func(_ int, u *vuser.User) {
		if !u.Broken {
			_ = u.Sweep(settle)
		}
	})
	for _, u := range f.users {
		sweptLive, sweptDead = sweptLive+u.SweptLive, sweptDead+u.SweptDead
		if u.Broken {
			r.BrokenUsers++
		}
	}
	r.SweptLive, r.SweptEnded = sweptLive, sweptDead
	c := f.tally.Take()
	r.Failed, r.Errors, r.Undone = c.Failed, c.Errors, c.Lost[vuser.Undone]
	r.Extensions = c.Lost[vuser.LostExtension]
	r.Lost = c.LostTotal() - r.Extensions
	r.LostByKind, r.Ops = c.Lost, c.Ops
	r.ErrorSamples, r.FailSamples, r.LostSamples = c.ErrorSamples, c.FailSamples, c.LostSamples
	if c.Failed > 0 {
		r.FailFrom, r.FailTo = c.FirstFail.Sub(begin).Seconds(), c.LastFail.Sub(begin).Seconds()
	}
	r.Served = f.countServed(ctx)
	r.NginxErrors = nginxErrors(f.nginxDir) - nginxBefore
	f.logf("fault %q: %d requests, %d failed, %d lost writes (%d revocations undone), %d errors; sessiond served %v forward-auth checks",
		flt.Name, r.Requests, r.Failed, r.Lost, r.Undone, r.Errors, r.Served)
	return r
}

// progress prints a line every five seconds of traffic.
func (f *fleet) progress(ctx context.Context, rec *vuser.Recorder) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			errs, failed, lost := f.tally.Snapshot()
			f.logf("  %d requests, %d failed, %d lost writes, %d errors", rec.Count(), failed, lost, errs)
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// runFleet runs one configuration: every fault of its store, in turn.
func runFleet(ctx context.Context, cfg *config, bin, store string, minReplicas int) (*run, error) {
	f, err := newFleet(ctx, cfg, bin, store, minReplicas)
	if err != nil {
		return nil, err
	}
	defer f.close()
	rn := &run{Store: store, MinReplicas: minReplicas, Users: cfg.Users, Devices: cfg.Devices}
	rn.Config = f.describe()
	if err := f.setup(ctx); err != nil {
		return rn, err
	}
	faults, err := faultsFor(store, cfg.Faults)
	if err != nil {
		return rn, err
	}
	for i, flt := range faults {
		if ctx.Err() != nil {
			return rn, ctx.Err()
		}
		rn.Results = append(rn.Results, f.phase(ctx, i, flt))
	}
	// sessiond must stop cleanly, every one of them. nginx goes first, so
	// that its idle connections do not hold their drains.
	f.nginx.kill()
	errs := make([]error, len(f.members))
	var wg sync.WaitGroup
	for i, m := range f.members {
		wg.Go(func() { errs[i] = m.p.Stop(shutdownTimeout + 5*time.Second) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			rn.StopErrors = append(rn.StopErrors, fmt.Sprintf("sessiond %d: %v; its log ends:\n%s", i, err, f.members[i].p.LogTail(5)))
		}
	}
	return rn, nil
}

// describe names the configuration for the report.
func (f *fleet) describe() string {
	switch f.store {
	case "redis":
		if f.min > 0 {
			return fmt.Sprintf("Redis Cluster, 3 masters + 3 replicas, min-replicas=%d (replica-timeout %v)", f.min, f.cfg.ReplicaTimeout)
		}
		return "Redis Cluster, 3 masters + 3 replicas, no min-replicas"
	default:
		return "PostgreSQL"
	}
}
