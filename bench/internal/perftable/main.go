// Command perftable turns the output of the bench module's benchmarks into
// the Markdown table of bench/README.md: the median of
// each measurement, every other library's time as a multiple of Sesame's
// for the same scenario and storage, and the targets, each marked
// met or missed.
//
//	go run ./internal/perftable libs.txt
//
// The exit status is 0 even when a target is missed: the table says so.
package main

import (
	"bufio"
	"cmp"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// key names one benchmark of the comparison.
type key struct {
	scenario, kind, lib string
}

// sample holds one benchmark's measurements, one per -count run.
type sample map[string][]float64 // unit → values

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: perftable FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	results, err := read(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "perftable:", err)
		os.Exit(1)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "perftable: no benchmark results of the form Scenario/kind=K/lib=L")
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	write(w, results)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "perftable:", err)
		os.Exit(1)
	}
}

// read parses benchmark output files into samples by key.
func read(files []string) (map[key]sample, error) {
	results := map[key]sample{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		err = readFrom(f, name, results)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

// readFrom adds the results of the comparison in benchmark output r to
// results.
func readFrom(r io.Reader, name string, results map[key]sample) error {
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		k, ok := parseName(res.Name)
		if !ok {
			continue
		}
		s := results[k]
		if s == nil {
			s = sample{}
			results[k] = s
		}
		for _, v := range res.Values {
			s[v.Unit] = append(s[v.Unit], v.Value)
		}
	}
	return br.Err()
}

// parseName reads Scenario/kind=K/lib=L (with an optional -N GOMAXPROCS
// suffix) from a benchmark name.
func parseName(n benchfmt.Name) (key, bool) {
	base, parts := n.Parts()
	k := key{scenario: string(base)}
	for _, p := range parts {
		name, value, ok := strings.Cut(strings.TrimPrefix(string(p), "/"), "=")
		if !ok {
			continue
		}
		switch name {
		case "kind":
			k.kind = value
		case "lib":
			k.lib = value
		}
	}
	return k, k.kind != "" && k.lib != ""
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// libNames are shown in the table.
var libNames = map[string]string{
	"sesame":  "Sesame",
	"scs":     "scs",
	"gorilla": "gorilla/sessions",
	// No library: the least a server-side session costs on Redis.
	"floor": "floor (no library)",
}

var kindNames = map[string]string{
	"mem":    "memory",
	"cookie": "cookie",
	"redis":  "Redis",
	// Sesame's client-side cache on; scs, which has none, as in "redis".
	"rediscache": "Redis, client-side cache",
}

// scenarioOrder and kindOrder give the table its order.
var (
	scenarioOrder = []string{"ReadOnly", "Write", "Anonymous", "Login", "ReadOnlyParallel", "WriteParallel", "AnonymousParallel", "LoginParallel",
		"StoreLoad", "StoreSave", "StoreLoadParallel", "StoreSaveParallel"}
	kindOrder = []string{"mem", "cookie", "redis", "rediscache"}
)

func order(list []string, s string) int {
	if i := slices.Index(list, s); i >= 0 {
		return i
	}
	return len(list)
}

func write(w io.Writer, results map[key]sample) {
	keys := make([]key, 0, len(results))
	for k := range results {
		if k.lib != "sesame" {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(
			cmp.Compare(order(scenarioOrder, a.scenario), order(scenarioOrder, b.scenario)),
			cmp.Compare(a.scenario, b.scenario),
			cmp.Compare(order(kindOrder, a.kind), order(kindOrder, b.kind)),
			cmp.Compare(a.lib, b.lib))
	})
	fmt.Fprint(w, "Medians of all runs. The last column is the other library's time as a multiple of Sesame's.\n\n")
	fmt.Fprintln(w, "| Scenario | Storage | Sesame | allocs | cookie | Other | Other's time | allocs | cookie | Other / Sesame |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|---:|---:|---:|---:|")
	for _, k := range keys {
		base, ok := results[key{k.scenario, k.kind, "sesame"}]
		if !ok {
			continue
		}
		other := results[k]
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | **%s** |\n",
			k.scenario, kindNames[k.kind],
			duration(median(base["sec/op"])), count(median(base["allocs/op"])), bytes(median(base["cookie-bytes"])),
			libNames[k.lib],
			duration(median(other["sec/op"])), count(median(other["allocs/op"])), bytes(median(other["cookie-bytes"])),
			ratio(median(other["sec/op"]), median(base["sec/op"])))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Targets:")
	fmt.Fprintln(w)
	for _, t := range targets {
		fmt.Fprintln(w, "- "+t.check(results))
	}
}

// target is one of the goals the comparison must show.
type target struct {
	what     string
	scenario string
	kind     string
	other    string
	unit     string
	atLeast  float64 // other/sesame must be at least this
}

var targets = []target{
	{"read-only request, memory: at least 10× faster than scs", "ReadOnly", "mem", "scs", "sec/op", 10},
	{"read-only request, sealed cookie: at least 10× faster than gorilla/sessions", "ReadOnly", "cookie", "gorilla", "sec/op", 10},
	{"write request, memory: at least 5× faster than scs", "Write", "mem", "scs", "sec/op", 5},
	{"write request, sealed cookie: at least 5× faster than gorilla/sessions", "Write", "cookie", "gorilla", "sec/op", 5},
	{"allocations per read-only request: at most a tenth of scs's", "ReadOnly", "mem", "scs", "allocs/op", 10},
	{"read-only request, Redis: at least 1.5× faster than scs", "ReadOnly", "redis", "scs", "sec/op", 1.5},
	{"write request, Redis: at least 1.5× faster than scs", "Write", "redis", "scs", "sec/op", 1.5},
	{"login, Redis: at least 1.5× faster than scs", "Login", "redis", "scs", "sec/op", 1.5},
	{"new visitor, Redis: at least 1.5× faster than scs", "Anonymous", "redis", "scs", "sec/op", 1.5},
	{"read-only requests on all cores, Redis: at least 1.5× faster than scs", "ReadOnlyParallel", "redis", "scs", "sec/op", 1.5},
	{"write requests on all cores, Redis: at least 1.5× faster than scs", "WriteParallel", "redis", "scs", "sec/op", 1.5},
	{"logins on all cores, Redis: at least 1.5× faster than scs", "LoginParallel", "redis", "scs", "sec/op", 1.5},
	{"read-only request, Redis with the client-side cache: at least 1.5× faster than scs", "ReadOnly", "rediscache", "scs", "sec/op", 1.5},
	{"write request, Redis with the client-side cache: at least 1.5× faster than scs", "Write", "rediscache", "scs", "sec/op", 1.5},
}

func (t target) check(results map[key]sample) string {
	base, ok1 := results[key{t.scenario, t.kind, "sesame"}]
	other, ok2 := results[key{t.scenario, t.kind, t.other}]
	if !ok1 || !ok2 {
		return t.what + ": not measured in this run"
	}
	// Judged as shown, to a tenth.
	r := math.Round(10*median(other[t.unit])/median(base[t.unit])) / 10
	verdict := "met"
	if r < t.atLeast {
		verdict = fmt.Sprintf("**missed** by %.0f%%", 100*(1-r/t.atLeast))
	}
	line := fmt.Sprintf("%s: %.1f× (%s)", t.what, r, verdict)
	// Where the floor (no library at all) ran the same scenario, what it
	// reaches against the other library bounds what any library can.
	if floor, ok := results[key{t.scenario, t.kind, "floor"}]; ok {
		line += fmt.Sprintf("; the floor, no library at all, is %.1f×", math.Round(10*median(other[t.unit])/median(floor[t.unit]))/10)
	}
	return line
}

func ratio(other, base float64) string {
	if base == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f×", other/base)
}

func duration(sec float64) string {
	ns := sec * 1e9
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}

func count(n float64) string { return fmt.Sprintf("%.0f", n) }

func bytes(n float64) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f B", n)
}
