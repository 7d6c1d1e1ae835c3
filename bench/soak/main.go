// Command soak is the memory soak of issue 7. It creates many sessions in a
// store, lets them expire, and waits for the store's own sweeper to remove
// them (nothing is deleted by hand). It reports the heap, resident memory
// and file size of the empty store, of the full one and of the one whose
// sessions all expired, the bytes each live session took, and how long
// creating and sweeping took.
//
//	go run ./soak -store mem
//	go run ./soak -store bolt -json
//
// It stops by itself: after the last session expires it samples every two
// sweep intervals until three samples in a row agree (or -timeout passes),
// and exits with status 1 if the store did not settle.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"
)

func main() {
	cfg := config{}
	flag.StringVar(&cfg.Store, "store", "mem", "store to soak: mem or bolt")
	flag.IntVar(&cfg.Sessions, "sessions", 1_000_000, "sessions to create")
	flag.IntVar(&cfg.ValueSize, "value-size", 300, "bytes of each session's value (a typical encoded record)")
	flag.IntVar(&cfg.UserEvery, "user-every", 4, "every n-th session belongs to a user, so the user index is used (0: none)")
	flag.IntVar(&cfg.PerUser, "per-user", 2, "sessions each of those users has")
	flag.DurationVar(&cfg.TTL, "ttl", time.Minute, "each session expires this long after it is created; must exceed the time creating takes")
	flag.DurationVar(&cfg.Sweep, "sweep", time.Second, "the store's sweep interval")
	flag.IntVar(&cfg.Writers, "writers", 0, "goroutines saving at once (0: GOMAXPROCS for mem, 256 for bolt)")
	flag.Int64Var(&cfg.CompactMin, "compact-min-size", 0, "bolt: Config.CompactMinSize in bytes (0: the store's default, negative: no compaction)")
	flag.StringVar(&cfg.Dir, "dir", "", "bolt: directory for the file (default: a new temporary directory)")
	flag.DurationVar(&cfg.Timeout, "timeout", 10*time.Minute, "longest wait, after the last session expired, for the store to settle")
	asJSON := flag.Bool("json", false, "print the result as JSON instead of a table")
	flag.Parse()
	if cfg.Writers == 0 {
		cfg.Writers = defaultWriters(cfg.Store)
	}
	if cfg.Sessions <= 0 || cfg.ValueSize < 0 || cfg.TTL <= 0 || cfg.Sweep <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -sessions, -ttl and -sweep must be positive, -value-size not negative")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "soak: "+format+"\n", args...)
	}
	res, err := run(ctx, cfg, logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = res.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !res.Settled {
		fmt.Fprintf(os.Stderr, "soak: the store had not settled %v after the last expiry\n", cfg.Timeout)
		os.Exit(1)
	}
}

// print writes res as a table.
func (res result) print(w io.Writer) error {
	cfg := res.Config
	users := "no users"
	if cfg.UserEvery > 0 {
		users = fmt.Sprintf("1 in %d with a user (%d sessions per user)", cfg.UserEvery, max(cfg.PerUser, 1))
	}
	fmt.Fprintf(w, "store %s: %d sessions of %d bytes, %s, TTL %v, sweep every %v, %d writers\n\n",
		cfg.Store, cfg.Sessions, cfg.ValueSize, users, cfg.TTL, cfg.Sweep, cfg.Writers)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tbaseline\tfull\tafter expiry\tafter - baseline\tshare of growth left\tper live session\t")
	row := func(name string, pick func(sample) int64) {
		b, f, e := pick(res.Baseline), pick(res.Full), pick(res.Expired)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, mib(b), mib(f), mib(e), signedMiB(e-b),
			share(e-b, f-b), perSession(f-b, cfg.Sessions))
	}
	row("heap alloc", func(s sample) int64 { return int64(s.HeapAlloc) })
	row("heap in use", func(s sample) int64 { return int64(s.HeapInuse) })
	row("RSS", func(s sample) int64 { return int64(s.RSS) })
	row("runtime, not heap", func(s sample) int64 { return int64(s.Runtime) })
	if cfg.Store == "bolt" {
		row("file", func(s sample) int64 { return s.File })
		row("free in file", func(s sample) int64 { return s.Free })
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	rate := float64(cfg.Sessions) / res.Create.Seconds()
	fmt.Fprintf(w, "\ncreating took %v (%.0f sessions/s); the store settled %v after the last expiry (sampled every %v, %d samples)",
		res.Create.Round(time.Millisecond), rate, res.Settle.Round(time.Millisecond), res.Poll, res.Polls)
	if cfg.Store == "bolt" {
		fmt.Fprintf(w, "; %d compactions", res.Expired.Compactions)
	}
	_, err := fmt.Fprintln(w)
	return err
}

// mib formats bytes as MiB.
func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// signedMiB formats a difference in bytes as MiB, with its sign.
func signedMiB(n int64) string {
	return fmt.Sprintf("%+.2f MiB", float64(n)/(1<<20))
}

// share formats part as a percentage of whole, or "-" for no whole.
func share(part, whole int64) string {
	if whole <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
}

// perSession formats growth per session in bytes.
func perSession(growth int64, sessions int) string {
	return fmt.Sprintf("%.0f B", float64(growth)/float64(sessions))
}
