package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// compare runs the whole comparison and returns its report.
func compare(ctx context.Context, cfg *config) (rep *Report, err error) {
	dir, err := os.MkdirTemp("", "authcmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	e := &env{ctx: ctx, dir: dir, hc: newClient(), redisAddr: cfg.RedisAddr,
		usersFile: filepath.Join(dir, "users"), user: "bench", password: randomHex(12)}
	defer e.hc.CloseIdleConnections()

	var rs *redisCPU
	if slices.ContainsFunc(cfg.Only, func(n string) bool { return strings.Contains(n, "/redis") }) {
		if rs, err = dialRedis(ctx, cfg.RedisAddr); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoRedis, err)
		}
		defer rs.close()
	}
	if err := e.binaries(cfg); err != nil {
		return nil, err
	}
	if e.oidc, err = startProvider(); err != nil {
		return nil, err
	}
	defer e.oidc.stop()
	if err := e.addUser(); err != nil {
		return nil, err
	}

	var cs []*contender
	defer func() {
		for _, c := range cs {
			c.stop(10 * time.Second)
		}
		if rs != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, p := range e.prefixes {
				if derr := rs.deletePrefix(ctx, p); derr != nil {
					err = errors.Join(err, fmt.Errorf("deleting the Redis keys under %s: %w", p, derr))
				}
			}
		}
	}()
	for _, name := range cfg.Only {
		c, err := e.startContender(name)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
		fmt.Fprintf(cfg.Log, "%s: pid %d, http://%s, log %s\n", c.name, c.cmd.Process.Pid, c.addr, c.logPath)
		if c.login == nil {
			continue // the floor
		}
		if err := e.verify(c, "", ""); err != nil {
			return nil, err
		}
	}

	// Logins, the contenders taking turns.
	fmt.Fprintf(cfg.Log, "logging in %d sessions through each of %d contenders\n", cfg.Logins, len(cs))
	cpu0 := make([]time.Duration, len(cs))
	for i, c := range cs {
		if cpu0[i], err = c.runTime(); err != nil {
			return nil, err
		}
	}
	for range cfg.Logins {
		for _, c := range cs {
			if c.login == nil {
				continue
			}
			start := time.Now()
			cookie, err := c.login(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s: login: %w", c.name, err)
			}
			c.loginTimes = append(c.loginTimes, time.Since(start))
			c.sessions = append(c.sessions, cookie)
		}
	}
	for i, c := range cs {
		cpu, err := c.runTime()
		if err != nil {
			return nil, err
		}
		c.loginCPU = cpu - cpu0[i]
		want := e.user
		if strings.HasPrefix(c.name, "oauth2-proxy/") {
			want = providerUser
		}
		if c.login == nil {
			// The floor names its user for any cookie.
			if err := e.verify(c, "any=cookie", "bench"); err != nil {
				return nil, err
			}
			continue
		}
		for _, s := range c.sessions {
			if err := e.verify(c, s, want); err != nil {
				return nil, err
			}
		}
	}

	if cfg.Warmup > 0 {
		fmt.Fprintf(cfg.Log, "warming up, %v each\n", cfg.Warmup)
		for _, c := range cs {
			r, err := loadRound(ctx, c, cfg.Conns, cfg.Warmup, cfg.Timeout, nil)
			if err != nil {
				return nil, err
			}
			if r.errors > 0 {
				return nil, fmt.Errorf("%s: %d checks failed while warming up: %s", c.name, r.errors, strings.Join(r.samples, "; "))
			}
		}
	}
	rounds := make([][]*roundResult, len(cs))
	for round := range cfg.Rounds {
		for k := range cs {
			i := (k + round) % len(cs)
			c := cs[i]
			r, err := loadRound(ctx, c, cfg.Conns, cfg.Duration, cfg.Timeout, rs)
			if err != nil {
				return nil, err
			}
			rounds[i] = append(rounds[i], r)
			fmt.Fprintf(cfg.Log, "round %d/%d  %-20s %8.0f checks/s  p99 %6.2f ms  %5.1f µs CPU/check  errors %d\n",
				round+1, cfg.Rounds, c.name, float64(r.checks)/r.elapsed.Seconds(), ms(percentile(sortedCopy(r.lat), 99)),
				float64(r.cpu.Nanoseconds())/1e3/float64(max(r.checks, 1)), r.errors)
		}
	}

	rep = newReport(cfg, e)
	for i, c := range cs {
		s := summarize(rounds[i])
		rep.Errors += s.Errors
		res := Result{Name: c.name, summary: s, CookieBytes: len(c.sessions[0])}
		if n := len(c.loginTimes); n > 0 {
			slices.Sort(c.loginTimes)
			res.LoginP50 = ms(percentile(c.loginTimes, 50))
			res.LoginMax = ms(c.loginTimes[n-1])
			res.LoginCPUPer = ms(c.loginCPU) / float64(n)
		}
		rep.Contenders = append(rep.Contenders, res)
	}
	rep.compare()
	return rep, nil
}

// errNoRedis says that the Redis server the Redis configurations need
// does not answer.
var errNoRedis = errors.New("no Redis server")

func sortedCopy(ds []time.Duration) []time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s
}

// binaries builds what was not given, both at once.
func (e *env) binaries(cfg *config) error {
	e.sessiond, e.proxy = cfg.Sessiond, cfg.Proxy
	var wg sync.WaitGroup
	var errS, errP error
	if e.sessiond == "" {
		fmt.Fprintf(cfg.Log, "building %s\n", sessiondPackage)
		wg.Go(func() { e.sessiond, errS = build(e.ctx, e.dir, sessiondPackage, "sessiond") })
	}
	if e.proxy == "" {
		fmt.Fprintf(cfg.Log, "building %s\n", oauth2ProxyPackage)
		wg.Go(func() { e.proxy, errP = build(e.ctx, e.dir, oauth2ProxyPackage, "oauth2-proxy") })
	}
	wg.Wait()
	return errors.Join(errS, errP)
}

// Report is the outcome of a run; -json prints it as is.
type Report struct {
	Date        string       `json:"date"`
	Machine     string       `json:"machine"`
	Go          string       `json:"go"`
	OAuth2Proxy string       `json:"oauth2_proxy_version"`
	Conns       int          `json:"conns"`
	Rounds      int          `json:"rounds"`
	Duration    float64      `json:"round_duration_s"`
	Logins      int          `json:"logins"`
	Errors      int64        `json:"errors"`
	Contenders  []Result     `json:"contenders"`
	Ratios      []Comparison `json:"comparisons"`
}

// Result is one contender's numbers.
type Result struct {
	Name string `json:"name"`
	summary
	LoginP50    float64 `json:"login_p50_ms"`
	LoginMax    float64 `json:"login_max_ms"`
	LoginCPUPer float64 `json:"login_cpu_ms"` // server CPU per login
	CookieBytes int     `json:"cookie_bytes"` // the Cookie header a check sends
}

// Comparison is sessiond's numbers over oauth2-proxy's in one comparable
// pair of configurations.
type Comparison struct {
	comparison
	Throughput float64 `json:"throughput_ratio"` // checks/s, sessiond ÷ oauth2-proxy
	P99        float64 `json:"p99_ratio"`        // p99, sessiond ÷ oauth2-proxy
	CPU        float64 `json:"cpu_ratio"`        // oauth2-proxy's CPU per check ÷ sessiond's
	GoalMet    bool    `json:"goal_met"`         // throughput ≥ 5× at a p99 ≤ half
}

func newReport(cfg *config, e *env) *Report {
	return &Report{
		Date:        time.Now().UTC().Format(time.DateOnly),
		Machine:     machine(),
		Go:          fmt.Sprintf("%s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH),
		OAuth2Proxy: moduleVersion(e.proxy),
		Conns:       cfg.Conns,
		Rounds:      cfg.Rounds,
		Duration:    cfg.Duration.Seconds(),
		Logins:      cfg.Logins,
	}
}

// machine names the CPU model and counts the cores.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s (%d cores)", model, runtime.NumCPU())
}

func (r *Report) result(name string) *Result {
	for i := range r.Contenders {
		if r.Contenders[i].Name == name {
			return &r.Contenders[i]
		}
	}
	return nil
}

// compare fills in the ratios of the pairs whose both sides ran.
func (r *Report) compare() {
	for _, p := range comparisons {
		s, o := r.result(p.Sessiond), r.result(p.Proxy)
		if s == nil || o == nil || o.PerSec == 0 || o.P99 == 0 || s.CPUPer == 0 {
			continue
		}
		c := Comparison{comparison: p, Throughput: s.PerSec / o.PerSec, P99: s.P99 / o.P99, CPU: o.CPUPer / s.CPUPer}
		c.GoalMet = c.Throughput >= 5 && c.P99 <= 0.5
		r.Ratios = append(r.Ratios, c)
	}
}
