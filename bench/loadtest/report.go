package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/sesame-go/sesame/bench/internal/vuser"
)

// Report is the outcome of a run; -json prints it as is.
type Report struct {
	// Store is the --store URL sessiond ran with, or its default.
	Store string `json:"store"`
	// Users and Devices are the virtual users and the sessions of each.
	Users   int `json:"users"`
	Devices int `json:"devices"`
	// Seed seeded every user's choices.
	Seed uint64 `json:"seed"`
	// Mix is the weights of the operations on a live device.
	Mix string `json:"mix"`
	// IdleTimeout is sessiond's --idle-timeout, in seconds.
	IdleTimeout float64 `json:"idle_timeout_s"`

	// Setup is the first login of every device; Load is the measured
	// run; Sweep is the final check of every session.
	Setup vuser.Phase `json:"setup"`
	Load  vuser.Phase `json:"load"`
	Sweep vuser.Phase `json:"sweep"`

	// SweepLive and SweepEnded are the live and ended sessions the final
	// sweep checked; SweepUnchecked the live ones it skipped because they
	// may have expired by themselves (unused for 90% of the idle timeout).
	SweepLive      int `json:"sweep_live_sessions"`
	SweepEnded     int `json:"sweep_ended_sessions"`
	SweepUnchecked int `json:"sweep_unchecked_sessions"`
	// SweepComplete is false when the sweep could not check every user.
	SweepComplete bool `json:"sweep_complete"`

	// RacingServed and RacingEnded count the victims' reads that ran
	// beside the write ending their sessions: those that still found the
	// session and those that found it ended. Both outcomes are right; a
	// session such a read brought back would fail the checks that follow.
	RacingServed int64 `json:"racing_reads_served"`
	RacingEnded  int64 `json:"racing_reads_ended"`

	// Errors counts unexpected statuses and pages, transport errors,
	// timeouts, ERROR lines in sessiond's log and store errors in its
	// metrics. It must be zero.
	Errors int64 `json:"errors"`
	// ErrorSamples are the first errors.
	ErrorSamples []string `json:"error_samples,omitempty"`
	// LostWrites counts acknowledged writes whose effect a later read did
	// not see: a session gone that nothing ended, an ended session that
	// works or is listed again, a flash never shown. It must be zero.
	LostWrites int64 `json:"lost_writes"`
	// LostSamples are the first lost writes.
	LostSamples []string `json:"lost_samples,omitempty"`
	// BrokenUsers stopped early because the outcome of one of their writes
	// was unknown.
	BrokenUsers int `json:"broken_users"`

	// Sessiond is what sessiond itself says about the run.
	Sessiond Server `json:"sessiond"`

	// Passed is true when nothing went wrong: no errors, no lost writes, a
	// complete sweep, and requests were made.
	Passed bool `json:"passed"`
}

// Server is what the load test learned about sessiond.
type Server struct {
	// PeakRSS is VmHWM, the process's peak resident set, read just before
	// it was stopped; MaxSampledRSS is the largest VmRSS of the samples
	// taken every 200 ms; FinalRSS the VmRSS at the end. All in bytes.
	PeakRSS       int64 `json:"peak_rss_bytes"`
	MaxSampledRSS int64 `json:"max_sampled_rss_bytes"`
	FinalRSS      int64 `json:"final_rss_bytes"`
	RSSSamples    int   `json:"rss_samples"`
	// ErrorLogLines and WarnLogLines count its log lines by level.
	ErrorLogLines int `json:"error_log_lines"`
	WarnLogLines  int `json:"warn_log_lines"`
	// StoreOps counts its store calls by operation, from /metrics
	// (sessiond_store_duration_seconds_count); StoreErrors its failed
	// ones (sessiond_store_errors_total).
	StoreOps    map[string]float64 `json:"store_ops,omitempty"`
	StoreErrors float64            `json:"store_errors"`
	// Events counts session events by kind (created, renewed, destroyed,
	// conflict, ...), from /metrics.
	Events map[string]float64 `json:"session_events,omitempty"`
	// Logins counts logins by result (ok, failed, limited), from /metrics.
	Logins map[string]float64 `json:"logins,omitempty"`
	// Stopped is true when sessiond exited cleanly on SIGTERM.
	Stopped bool `json:"stopped_cleanly"`
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// writeText prints the report for people.
func (r *Report) writeText(w io.Writer) {
	fmt.Fprintf(w, "sessiond load test: store %s, %d users x %d devices, idle timeout %gs, seed %d\n",
		r.Store, r.Users, r.Devices, r.IdleTimeout, r.Seed)
	fmt.Fprintf(w, "mix on a live device: %s\n", r.Mix)
	fmt.Fprintf(w, "\nsetup: %d requests in %.1fs (%d logins, %.1f/s)\n",
		r.Setup.Requests, r.Setup.Seconds, r.Setup.Operations[vuser.OpLogin], float64(r.Setup.Operations[vuser.OpLogin])/max(r.Setup.Seconds, 1e-9))
	fmt.Fprintf(w, "\nload: %d requests in %.1fs: %.0f requests/s\n", r.Load.Requests, r.Load.Seconds, r.Load.PerSecond)
	writeLatencies(w, r.Load)
	fmt.Fprintf(w, "\noperations (user actions; each write is followed by checking reads):\n")
	writeOps(w, r.Load.Operations)
	fmt.Fprintf(w, "\nreads racing a revocation of their session: %d still found it, %d found it ended\n", r.RacingServed, r.RacingEnded)
	fmt.Fprintf(w, "\nsweep: %d requests in %.1fs; %d live sessions and %d ended sessions checked, %d left unchecked, complete: %v\n",
		r.Sweep.Requests, r.Sweep.Seconds, r.SweepLive, r.SweepEnded, r.SweepUnchecked, r.SweepComplete)
	s := r.Sessiond
	fmt.Fprintf(w, "\nsessiond: peak RSS %s (VmHWM); largest sampled VmRSS %s of %d samples; final VmRSS %s\n",
		mib(s.PeakRSS), mib(s.MaxSampledRSS), s.RSSSamples, mib(s.FinalRSS))
	fmt.Fprintf(w, "  store calls %s; store errors %g\n", formatCounts(s.StoreOps), s.StoreErrors)
	fmt.Fprintf(w, "  session events %s; logins %s\n", formatCounts(s.Events), formatCounts(s.Logins))
	fmt.Fprintf(w, "  log: %d ERROR lines, %d WARN lines; stopped cleanly on SIGTERM: %v\n", s.ErrorLogLines, s.WarnLogLines, s.Stopped)
	fmt.Fprintf(w, "\nerrors: %d\n", r.Errors)
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "  %s\n", e)
	}
	fmt.Fprintf(w, "lost writes: %d\n", r.LostWrites)
	for _, e := range r.LostSamples {
		fmt.Fprintf(w, "  %s\n", e)
	}
	if r.BrokenUsers > 0 {
		fmt.Fprintf(w, "users stopped early: %d\n", r.BrokenUsers)
	}
	if r.Passed {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

func writeLatencies(w io.Writer, p vuser.Phase) {
	fmt.Fprintf(w, "  %-32s %9s %8s %8s %8s %8s %8s\n", "request", "count", "share", "p50 ms", "p90 ms", "p99 ms", "max ms")
	row := func(name string, l vuser.Latency) {
		share := 100 * float64(l.Count) / float64(max(p.Requests, 1))
		fmt.Fprintf(w, "  %-32s %9d %7.2f%% %8.2f %8.2f %8.2f %8.2f\n", name, l.Count, share, l.P50, l.P90, l.P99, l.Max)
	}
	row("all", p.Latency)
	kinds := slices.SortedFunc(maps.Keys(p.ByKind), func(a, b string) int {
		return cmp.Or(cmp.Compare(p.ByKind[b].Count, p.ByKind[a].Count), strings.Compare(a, b))
	})
	for _, k := range kinds {
		row(k, p.ByKind[k])
	}
}

func writeOps(w io.Writer, ops map[string]int64) {
	var total int64
	for _, n := range ops {
		total += n
	}
	names := slices.SortedFunc(maps.Keys(ops), func(a, b string) int {
		return cmp.Or(cmp.Compare(ops[b], ops[a]), strings.Compare(a, b))
	})
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %9d %7.2f%%\n", n, ops[n], 100*float64(ops[n])/float64(max(total, 1)))
	}
}

func formatCounts(m map[string]float64) string {
	if len(m) == 0 {
		return "(none)"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%g", k, m[k]))
	}
	return strings.Join(parts, " ")
}
