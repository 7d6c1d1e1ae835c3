package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// roundResult is one contender's closed-loop run of one round.
type roundResult struct {
	checks  int64
	errors  int64
	samples []string // the first errors
	elapsed time.Duration
	lat     []time.Duration // every check's latency
	cpu     time.Duration   // the server process's CPU time over the round
	client  time.Duration   // this process's CPU time over the round: the load generator's
	redis   time.Duration   // Redis's CPU time over the round (zero unless measured)
}

// loadRound drives c's forward-auth endpoint with conns connections, each
// sending its next check as soon as the last one is answered, for d. Each
// connection carries one of the logged-in sessions, round robin.
func loadRound(ctx context.Context, c *contender, conns int, d, timeout time.Duration, rs *redisCPU) (*roundResult, error) {
	wcs := make([]*wireConn, conns)
	for i := range wcs {
		s := c.sessions[i%len(c.sessions)]
		wcs[i] = &wireConn{addr: c.addr, req: checkRequest(c.addr, c.authPath, s)}
		if err := wcs[i].dial(); err != nil {
			for _, w := range wcs[:i] {
				w.close()
			}
			return nil, fmt.Errorf("%s: connecting: %w", c.name, err)
		}
	}
	defer func() {
		for _, w := range wcs {
			w.close()
		}
	}()
	ws := make([]worker, conns)
	cpu0, err := c.cpuTime()
	if err != nil {
		return nil, err
	}
	redis0, err := rs.read(ctx, c.usesRedis)
	if err != nil {
		return nil, err
	}
	client0, err := cpuTime("self")
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(d)
	for _, wc := range wcs {
		// One deadline for the round, not one per check: setting a
		// deadline costs a timer update, which the client would pay on
		// every check and take from the server's share of the CPU.
		wc.deadline = deadline.Add(timeout)
	}
	var wg sync.WaitGroup
	for i := range ws {
		wg.Go(func() {
			w, wc := &ws[i], wcs[i]
			w.lat = make([]time.Duration, 0, 4096)
			// A check starts when the last one ended: one clock read
			// per check.
			t0 := time.Now()
			defer func() { w.end = t0 }()
			for t0.Before(deadline) && ctx.Err() == nil {
				status, err := wc.check()
				t1 := time.Now()
				lat := t1.Sub(t0)
				t0 = t1
				switch {
				case err != nil:
					w.fail(fmt.Sprintf("%v", err))
				case status != c.okStatus:
					w.fail(fmt.Sprintf("status %d, want %d", status, c.okStatus))
				default:
					w.checks++
					w.lat = append(w.lat, lat)
				}
			}
		})
	}
	wg.Wait()
	end := start
	for _, w := range ws {
		if w.end.After(end) {
			end = w.end
		}
	}
	cpu1, err := c.cpuTime()
	if err != nil {
		return nil, err
	}
	client1, err := cpuTime("self")
	if err != nil {
		return nil, err
	}
	redis1, err := rs.read(ctx, c.usesRedis)
	if err != nil {
		return nil, err
	}
	r := &roundResult{elapsed: end.Sub(start), cpu: cpu1 - cpu0, client: client1 - client0, redis: redis1 - redis0}
	for _, w := range ws {
		r.checks += w.checks
		r.errors += w.errors
		if len(r.samples) < 5 {
			r.samples = append(r.samples, w.samples...)
		}
		r.lat = append(r.lat, w.lat...)
	}
	return r, ctx.Err()
}

// worker is what one connection's loop counts.
type worker struct {
	checks, errors int64
	samples        []string        // the first errors
	lat            []time.Duration // latencies of the checks that passed
	end            time.Time       // when the loop stopped
}

// fail counts an error and keeps the first few.
func (w *worker) fail(msg string) {
	w.errors++
	if len(w.samples) < 3 {
		w.samples = append(w.samples, msg)
	}
}

// percentile returns the p-th percentile (nearest rank) of sorted ds.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted)) + 0.5)
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// summary is a contender's rounds taken together.
type summary struct {
	Checks   int64     `json:"checks"`
	Errors   int64     `json:"errors"`
	Samples  []string  `json:"error_samples,omitempty"`
	PerSec   float64   `json:"checks_per_s"` // all checks over all rounds' time
	Rounds   []float64 `json:"rounds_checks_per_s"`
	P50      float64   `json:"p50_ms"`
	P99      float64   `json:"p99_ms"`
	CPUPer   float64   `json:"cpu_us_per_check"`                 // server process CPU per check
	RedisPer float64   `json:"redis_cpu_us_per_check,omitempty"` // Redis CPU per check
	Client   float64   `json:"client_cpu_us_per_check"`          // the load generator's CPU per check
}

func summarize(rounds []*roundResult) summary {
	var s summary
	var elapsed, cpu, redis, client time.Duration
	var lat []time.Duration
	for _, r := range rounds {
		s.Checks += r.checks
		s.Errors += r.errors
		if len(s.Samples) < 5 {
			s.Samples = append(s.Samples, r.samples...)
		}
		elapsed += r.elapsed
		cpu += r.cpu
		redis += r.redis
		client += r.client
		lat = append(lat, r.lat...)
		s.Rounds = append(s.Rounds, float64(r.checks)/r.elapsed.Seconds())
	}
	slices.Sort(lat)
	if elapsed > 0 {
		s.PerSec = float64(s.Checks) / elapsed.Seconds()
	}
	s.P50 = ms(percentile(lat, 50))
	s.P99 = ms(percentile(lat, 99))
	if s.Checks > 0 {
		s.CPUPer = float64(cpu.Nanoseconds()) / 1e3 / float64(s.Checks)
		s.RedisPer = float64(redis.Nanoseconds()) / 1e3 / float64(s.Checks)
		s.Client = float64(client.Nanoseconds()) / 1e3 / float64(s.Checks)
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
