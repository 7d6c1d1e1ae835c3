package vuser

import (
	"slices"
	"sync"
	"time"
)

// Recorder keeps the latency of every request of a phase, by kind.
type Recorder struct {
	mu  sync.Mutex
	lat map[string][]time.Duration
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{lat: map[string][]time.Duration{}} }

func (r *Recorder) add(kind string, d time.Duration) {
	r.mu.Lock()
	r.lat[kind] = append(r.lat[kind], d)
	r.mu.Unlock()
}

// Count returns how many requests were recorded.
func (r *Recorder) Count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lat {
		n += len(l)
	}
	return int64(n)
}

// Phase is the requests of one phase of a run.
type Phase struct {
	// Seconds is how long the phase took.
	Seconds float64 `json:"seconds"`
	// Requests is how many requests it made, and PerSecond their rate.
	Requests  int64   `json:"requests"`
	PerSecond float64 `json:"requests_per_s"`
	// Latency is over all its requests; ByKind per kind of request
	// ("GET auth", "POST login", ...).
	Latency Latency            `json:"latency"`
	ByKind  map[string]Latency `json:"by_kind,omitempty"`
	// Operations counts the user actions of the phase: reads (home, auth,
	// sessions) and writes (login, logout, revoke, revoke-others,
	// logout-all), not the checking reads each write is followed by.
	Operations map[string]int64 `json:"operations,omitempty"`
}

// Latency summarises request durations, in milliseconds.
type Latency struct {
	// Count is how many requests.
	Count int `json:"count"`
	// P50, P90, P99 and Max are percentiles of their durations.
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// PhaseOf summarises a phase's recorded requests.
func PhaseOf(rec *Recorder, elapsed time.Duration, ops map[string]int64) Phase {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	p := Phase{Seconds: elapsed.Seconds(), ByKind: map[string]Latency{}, Operations: ops}
	var all []time.Duration
	for kind, l := range rec.lat {
		p.ByKind[kind] = LatencyOf(l)
		all = append(all, l...)
	}
	p.Requests = int64(len(all))
	if elapsed > 0 {
		p.PerSecond = float64(len(all)) / elapsed.Seconds()
	}
	p.Latency = LatencyOf(all)
	return p
}

// LatencyOf sorts ds and takes its percentiles (nearest rank).
func LatencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(q*float64(len(ds))+0.999999) - 1
		return ms(ds[min(max(i, 0), len(ds)-1)])
	}
	return Latency{Count: len(ds), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(ds[len(ds)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
