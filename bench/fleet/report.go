package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// run is one configuration's outcome.
type run struct {
	Store       string `json:"store"`
	MinReplicas int    `json:"min_replicas,omitempty"`
	Config      string `json:"config"`
	Users       int    `json:"users"`
	Devices     int    `json:"devices"`
	// Results has one entry per fault, in the order they ran.
	Results []result `json:"faults"`
	// StopErrors are sessiond processes that did not stop cleanly on
	// SIGTERM at the end.
	StopErrors []string `json:"stop_errors,omitempty"`
	// Err is why the run could not finish.
	Err string `json:"error,omitempty"`
}

// result is what one fault did.
type result struct {
	Fault string `json:"fault"`
	What  string `json:"what"`
	// FaultError is set when the fault itself could not be made or the
	// fleet did not recover from it.
	FaultError string `json:"fault_error,omitempty"`
	// Recovery is how long the fault took, from its start until the fleet
	// was whole again (a process restarted, a replica promoted and the
	// old master rejoined), in seconds.
	Recovery float64 `json:"recovery_s"`
	// Requests were sent during the phase's traffic; P99 and Slowest are
	// their latency percentiles, in milliseconds.
	Requests int64   `json:"requests"`
	P99      float64 `json:"p99_ms"`
	Slowest  float64 `json:"slowest_ms"`
	// Failed counts the requests that failed (transport error, timeout,
	// 5xx), from the fault's start to the end of its checks; FailFrom and
	// FailTo are when the first and the last failed, in seconds after the
	// fault began.
	Failed   int64   `json:"failed_requests"`
	FailFrom float64 `json:"first_failure_s"`
	FailTo   float64 `json:"last_failure_s"`
	// Lost counts acknowledged writes whose effect was lost (logins,
	// revocations, flashes), of which Undone are revocations (revoke,
	// logout, log out everywhere) undone: an ended session that works or
	// is listed again. Each session counts once, however many checks see
	// it. LostByKind splits them by kind, extensions included.
	Lost       int64            `json:"lost_writes"`
	Undone     int64            `json:"revocations_undone"`
	LostByKind map[string]int64 `json:"lost_by_kind,omitempty"`
	// Extensions counts idle-deadline extensions lost. They are not in
	// Lost: sessiond answers a read whose extension failed to save as if
	// it had not been due (the session is merely not extended), so none
	// is acknowledged; a failover can undo one that was saved.
	Extensions int64 `json:"extensions_lost"`
	// Errors are answers that no fault explains.
	Errors int64 `json:"errors"`
	// Ops counts the users' operations, resynchronisations included.
	Ops map[string]int64 `json:"operations,omitempty"`
	// Served counts the forward-auth checks each sessiond answered during
	// the phase (a restarted one: since its restart): all three serve
	// again after a fault.
	Served []float64 `json:"served_auth_checks"`
	// NginxErrors counts [error] lines nginx logged during the phase.
	NginxErrors int `json:"nginx_error_lines"`
	// SweptLive and SweptEnded are the sessions the checks after the
	// fault verified; BrokenUsers stopped because they met an answer they
	// cannot explain.
	SweptLive   int `json:"swept_live"`
	SweptEnded  int `json:"swept_ended"`
	BrokenUsers int `json:"broken_users,omitempty"`

	ErrorSamples []string `json:"error_samples,omitempty"`
	FailSamples  []string `json:"failed_samples,omitempty"`
	LostSamples  []string `json:"lost_samples,omitempty"`
}

// promisesNoLoss says whether the configuration must lose nothing
// acknowledged under every fault: PostgreSQL, and Redis with min-replicas.
// Without it, a Redis failover may lose writes; the run reports them.
func (rn *run) promisesNoLoss() bool { return rn.Store != "redis" || rn.MinReplicas > 0 }

// problems lists what makes the run fail.
func (rn *run) problems() []string {
	var out []string
	add := func(r result, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s: %s", r.Fault, fmt.Sprintf(format, args...)))
	}
	for _, r := range rn.Results {
		if r.FaultError != "" {
			add(r, "the fault failed: %s", r.FaultError)
		}
		if r.Errors > 0 {
			add(r, "%d errors: %q", r.Errors, r.ErrorSamples)
		}
		if r.BrokenUsers > 0 {
			add(r, "%d users stopped", r.BrokenUsers)
		}
		storeFault := r.Fault == "kill-master" || r.Fault == "lagging-failover"
		if r.Lost > 0 && (rn.promisesNoLoss() || !storeFault) {
			add(r, "%d acknowledged writes lost (%d revocations undone): %q", r.Lost, r.Undone, r.LostSamples)
		}
		if (r.Fault == "none" || r.Fault == "rolling-restart") && r.Failed > 0 {
			add(r, "%d requests failed; want none: %q", r.Failed, r.FailSamples)
		}
		if r.Fault == "kill-sessiond" || r.Fault == "rolling-restart" {
			for i, n := range r.Served {
				if n <= 0 {
					add(r, "sessiond %d served nothing after the fault", i)
				}
			}
		}
		if r.Requests == 0 {
			add(r, "no traffic")
		}
	}
	out = append(out, rn.StopErrors...)
	if rn.Err != "" {
		out = append(out, rn.Err)
	}
	return out
}

// writeText prints the runs for people: a Markdown table per
// configuration, then the problems.
func writeText(w io.Writer, runs []*run) {
	for _, rn := range runs {
		fmt.Fprintf(w, "\n%s; %d users x %d devices; 3 sessiond behind nginx\n\n", rn.Config, rn.Users, rn.Devices)
		fmt.Fprintln(w, "| fault | fleet whole again after | requests | failed | failing (s after the fault began) | slowest request | acknowledged writes lost | of which revocations undone | idle extensions lost |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---|---:|---:|---:|---:|")
		for _, r := range rn.Results {
			failing := "–"
			if r.Failed > 0 {
				failing = fmt.Sprintf("%.1f to %.1f", r.FailFrom, r.FailTo)
			}
			recovery := "–"
			if r.Fault != "none" {
				recovery = fmt.Sprintf("%.1f s", r.Recovery)
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %.0f ms | %d | %d | %d |\n",
				r.Fault, recovery, r.Requests, r.Failed, failing, r.Slowest, r.Lost, r.Undone, r.Extensions)
		}
		fmt.Fprintln(w)
		for _, r := range rn.Results {
			fmt.Fprintf(w, "%s: %s\n", r.Fault, r.What)
			fmt.Fprintf(w, "  checked %d live and %d ended sessions after it; operations %s; forward-auth checks per sessiond %v; nginx [error] lines %d; errors %d\n",
				r.SweptLive, r.SweptEnded, formatCounts(r.Ops), r.Served, r.NginxErrors, r.Errors)
			if len(r.LostByKind) > 0 {
				fmt.Fprintf(w, "  lost writes by kind: %s\n", formatCounts(r.LostByKind))
			}
			for _, s := range firstOf(r.LostSamples, 5) {
				fmt.Fprintf(w, "    lost: %s\n", s)
			}
			for _, s := range firstOf(r.FailSamples, 3) {
				fmt.Fprintf(w, "    failed: %s\n", s)
			}
			for _, s := range firstOf(r.ErrorSamples, 5) {
				fmt.Fprintf(w, "    error: %s\n", s)
			}
		}
	}
	var problems []string
	for _, rn := range runs {
		for _, p := range rn.problems() {
			problems = append(problems, rn.Config+": "+p)
		}
	}
	fmt.Fprintln(w)
	if len(problems) == 0 {
		fmt.Fprintln(w, "PASS")
		return
	}
	for _, p := range problems {
		fmt.Fprintln(w, "PROBLEM:", p)
	}
	fmt.Fprintln(w, "FAIL")
}

func firstOf(s []string, n int) []string { return s[:min(n, len(s))] }

func formatCounts[V int64 | float64](m map[string]V) string {
	if len(m) == 0 {
		return "(none)"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, " ")
}
