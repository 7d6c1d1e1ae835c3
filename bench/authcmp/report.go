package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
)

// readReport reads a report that -json printed.
func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.Contenders) == 0 {
		return nil, fmt.Errorf("%s: no contenders: not a report of authcmp -json", path)
	}
	return &r, nil
}

func (r *Report) about() string {
	return fmt.Sprintf("%s, %s, %s, oauth2-proxy %s; %d connections, %d rounds of %gs per contender, %d logins each",
		r.Date, r.Machine, r.Go, r.OAuth2Proxy, r.Conns, r.Rounds, r.Duration, r.Logins)
}

// writeText prints the report for a terminal.
func (r *Report) writeText(w io.Writer) {
	fmt.Fprintf(w, "authcmp: %s\n\n", r.about())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "contender\tchecks/s\trounds min–max\tp50 ms\tp99 ms\tCPU µs/check\tRedis CPU µs/check\tclient CPU µs/check\tlogin p50 ms\tlogin CPU ms\tcookie bytes\terrors\t")
	for _, c := range r.Contenders {
		lo, hi := slices.Min(c.Rounds), slices.Max(c.Rounds)
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f–%.0f\t%.2f\t%.2f\t%.1f\t%s\t%.1f\t%s\t%s\t%d\t%d\t\n",
			c.Name, c.PerSec, lo, hi, c.P50, c.P99, c.CPUPer, redisCell(c), c.Client,
			orDash(c.LoginP50, "%.1f"), orDash(c.LoginCPUPer, "%.2f"), c.CookieBytes, c.Errors)
	}
	tw.Flush()
	if len(r.Ratios) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "sessiond against oauth2-proxy\tchecks/s\tp99\tCPU per check\tgoal: ≥ 5×, p99 ≤ ½\t")
		for _, c := range r.Ratios {
			fmt.Fprintf(tw, "%s (%s vs %s)\t%.2f×\t%.2f×\t%.2f× less\t%s\t\n", c.Label, c.Sessiond, c.Proxy, c.Throughput, c.P99, c.CPU, c.verdict())
		}
		tw.Flush()
	}
	for _, c := range r.Contenders {
		for _, s := range c.Samples {
			fmt.Fprintf(w, "%s: error: %s\n", c.Name, s)
		}
	}
}

// writeMarkdown prints the tables for the README.
func (r *Report) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Measured %s.\n\n", r.about())
	fmt.Fprintln(w, "| contender | checks/s | p50 | p99 | CPU per check | Redis CPU per check | login (p50) | CPU per login | cookie |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range r.Contenders {
		fmt.Fprintf(w, "| %s | %.0f | %.2f ms | %.2f ms | %.1f µs | %s | %s | %s | %d B |\n",
			c.Name, c.PerSec, c.P50, c.P99, c.CPUPer, mdRedis(c), orDash(c.LoginP50, "%.1f ms"), orDash(c.LoginCPUPer, "%.2f ms"), c.CookieBytes)
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| sessiond against oauth2-proxy | checks/s | p99 | CPU per check | goal: ≥ 5×, p99 ≤ ½ |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---|")
		for _, c := range r.Ratios {
			fmt.Fprintf(w, "| %s (%s vs %s) | %.1f× | %.2f× | %.1f× less | %s |\n", c.Label, c.Sessiond, c.Proxy, c.Throughput, c.P99, c.CPU, c.verdict())
		}
	}
}

// orDash formats v, or gives a dash for no value.
func orDash(v float64, format string) string {
	if v == 0 {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

func redisCell(c Result) string {
	if c.RedisPer == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f", c.RedisPer)
}

func mdRedis(c Result) string {
	if c.RedisPer == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f µs", c.RedisPer)
}

// verdict says whether the pair meets the goal; for the floor, whether
// any Go server could on this machine.
func (c Comparison) verdict() string {
	switch {
	case c.Sessiond == floorName && c.GoalMet:
		return "reachable"
	case c.Sessiond == floorName:
		return "unreachable by any Go server here"
	case c.GoalMet:
		return "met"
	}
	return "missed"
}
