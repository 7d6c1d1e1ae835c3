package vuser

import (
	"fmt"
	"io"
	"maps"
	"sync"
	"time"
)

// maxSamples bounds the problem messages a Tally keeps between two Takes.
const maxSamples = 20

// Kinds of lost writes: the effect of a write that sessiond acknowledged is
// not what a later read sees.
const (
	// LostSession: a session that an acknowledged login made, and that no
	// acknowledged write ended, is gone (401, sent to log in, not listed).
	LostSession = "session lost"
	// Undone: a session that an acknowledged revocation, logout or log
	// out everywhere ended works again, or is listed again. The worst
	// outcome: someone believed logged out is not.
	Undone = "revocation undone"
	// LostFlash: a flash an acknowledged revocation wrote is not shown.
	LostFlash = "flash lost"
	// LostExtension: a page shows an idle deadline older than one a
	// request extended it to.
	LostExtension = "extension lost"
)

// Tally counts what happened to all users, until it is taken.
type Tally struct {
	log io.Writer // problems are printed here as they happen, up to maxSamples

	mu sync.Mutex
	c  Counts
}

// Counts is what a Tally counted.
type Counts struct {
	// Errors are unexpected answers: a wrong page or status, a cookie
	// set where none should be, a session nobody made. A run must have
	// none.
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	// Failed are requests that failed while a fault was expected: a
	// transport error or timeout, or a 5xx. Only users that tolerate
	// failures count them; for the others they are errors.
	Failed      int64     `json:"failed_requests"`
	FailSamples []string  `json:"failed_samples,omitempty"`
	FirstFail   time.Time `json:"first_failure,omitzero"`
	LastFail    time.Time `json:"last_failure,omitzero"`
	// Lost counts lost writes by kind (LostSession, Undone, ...).
	Lost        map[string]int64 `json:"lost_writes,omitempty"`
	LostSamples []string         `json:"lost_samples,omitempty"`
	// Ops counts the operations of the mix.
	Ops map[string]int64 `json:"operations,omitempty"`
	// RacingServed and RacingEnded count the victims' reads that ran
	// beside the write ending their sessions: those that still found the
	// session and those that found it ended.
	RacingServed int64 `json:"racing_reads_served"`
	RacingEnded  int64 `json:"racing_reads_ended"`
}

// LostTotal is the number of lost writes of every kind.
func (c *Counts) LostTotal() int64 {
	var n int64
	for _, v := range c.Lost {
		n += v
	}
	return n
}

// NewTally returns a Tally that prints the first problems to log.
func NewTally(log io.Writer) *Tally {
	t := &Tally{log: log}
	t.reset()
	return t
}

func (t *Tally) reset() { t.c = Counts{Lost: map[string]int64{}, Ops: map[string]int64{}} }

// Errorf counts an error.
func (t *Tally) Errorf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.c.Errors++
	t.sample(&t.c.ErrorSamples, "ERROR", fmt.Sprintf(format, args...))
}

// AddErrors counts n errors described elsewhere.
func (t *Tally) AddErrors(n int64) {
	t.mu.Lock()
	t.c.Errors += n
	t.mu.Unlock()
}

// failf counts a failed request.
func (t *Tally) failf(format string, args ...any) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.c.Failed++
	if t.c.FirstFail.IsZero() {
		t.c.FirstFail = now
	}
	t.c.LastFail = now
	t.sample(&t.c.FailSamples, "FAILED", fmt.Sprintf(format, args...))
}

// lostf counts a lost write of the given kind.
func (t *Tally) lostf(kind, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.c.Lost[kind]++
	t.sample(&t.c.LostSamples, "LOST WRITE", kind+": "+fmt.Sprintf(format, args...))
}

// sample keeps and prints the first maxSamples messages of a kind. t.mu
// is held.
func (t *Tally) sample(samples *[]string, label, msg string) {
	if len(*samples) < maxSamples {
		*samples = append(*samples, msg)
		fmt.Fprintf(t.log, "%s: %s\n", label, msg)
	}
}

// op counts one operation of the mix.
func (t *Tally) op(name string) {
	t.mu.Lock()
	t.c.Ops[name]++
	t.mu.Unlock()
}

// raced counts a racing read by what it found.
func (t *Tally) raced(served bool) {
	t.mu.Lock()
	if served {
		t.c.RacingServed++
	} else {
		t.c.RacingEnded++
	}
	t.mu.Unlock()
}

// Snapshot returns the errors, failed requests and lost writes counted
// since the last Take.
func (t *Tally) Snapshot() (errs, failed, lost int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c.Errors, t.c.Failed, t.c.LostTotal()
}

// Take returns what was counted since the last Take and starts afresh.
func (t *Tally) Take() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.c
	t.reset()
	return c
}

// Add adds o's counts to c, keeping up to maxSamples samples of each kind.
func (c *Counts) Add(o Counts) {
	c.Errors += o.Errors
	c.Failed += o.Failed
	c.RacingServed += o.RacingServed
	c.RacingEnded += o.RacingEnded
	c.ErrorSamples = appendSamples(c.ErrorSamples, o.ErrorSamples)
	c.FailSamples = appendSamples(c.FailSamples, o.FailSamples)
	c.LostSamples = appendSamples(c.LostSamples, o.LostSamples)
	if c.FirstFail.IsZero() || (!o.FirstFail.IsZero() && o.FirstFail.Before(c.FirstFail)) {
		c.FirstFail = o.FirstFail
	}
	if o.LastFail.After(c.LastFail) {
		c.LastFail = o.LastFail
	}
	if c.Lost == nil {
		c.Lost = map[string]int64{}
	}
	for k, v := range o.Lost {
		c.Lost[k] += v
	}
	if c.Ops == nil {
		c.Ops = maps.Clone(o.Ops)
		return
	}
	for k, v := range o.Ops {
		c.Ops[k] += v
	}
}

func appendSamples(a, b []string) []string {
	return append(a, b[:min(len(b), max(maxSamples-len(a), 0))]...)
}
