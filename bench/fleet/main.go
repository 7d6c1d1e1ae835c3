// Command fleet runs three sessiond processes behind real nginx, sharing
// one store, under traffic from hundreds of virtual users, and breaks
// things in the middle of it: a sessiond killed, a rolling restart, a
// Redis master killed, a failover to a replica that lagged, PostgreSQL
// restarted. For each fault it reports how many requests failed and for
// how long, and how many acknowledged writes were lost, revocations
// undone included, checked by every user after the fault.
//
// The store is a Redis Cluster of three masters with a replica each, or a
// PostgreSQL server, both of the run's own, on loopback ports from the
// operating system; nginx balances round-robin over the sessiond
// processes and protects an application with auth_request. Everything
// binds to 127.0.0.1.
//
//	go run ./bench/fleet                        # every store and fault (minutes)
//	go run ./bench/fleet -stores redis -min-replicas 1 -users 50
//	go run ./bench/fleet -json > fleet.json
//
// It exits with status 1 when a configuration broke a promise (an error,
// a lost write where none may be lost, a failed request in the rolling
// restart), and 2 when it could not run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sesame-go/sesame/bench/internal/sessiondproc"
	"github.com/sesame-go/sesame/bench/internal/vuser"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is a run's settings.
type config struct {
	Sessiond       string        // sessiond binary; "" builds one
	Stores         []string      // "redis", "postgres"
	MinReplicas    []int         // the Redis configurations: min-replicas of each
	Users          int           // virtual users
	Devices        int           // devices (sessions) of each
	Think          time.Duration // pause between two operations of a user
	Lead, Tail     time.Duration // traffic before each fault, and after it is over
	Lag            time.Duration // how long a replica lags before its master is killed
	ReplicaTimeout time.Duration // sessiond's replica-timeout with min-replicas
	IdleTimeout    time.Duration // sessiond's --idle-timeout
	RequestTimeout time.Duration // one request's limit
	Timeout        time.Duration // the whole run's limit
	Faults         []string      // which faults; empty: all
	Seed           uint64
	Mix            vuser.Mix
	JSON           bool
	Keep           bool
	Log            io.Writer // progress; nil discards it

	bin string // the sessiond binary run
}

// fleetMix writes more than the load test's default: revocations, logouts
// and logins are what a failover can lose.
func fleetMix() vuser.Mix {
	m := vuser.DefaultMix()
	if err := m.Set("home=20,auth=60,sessions=12,revoke=3,revoke-others=1,logout=3,logout-all=1"); err != nil {
		panic(err) // a constant
	}
	return m
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{Mix: fleetMix()}
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stores := fs.String("stores", "redis,postgres", "stores to run the fleet on: redis (a Redis Cluster of the run's own, 3 masters + 3 replicas) and postgres (a PostgreSQL server of the run's own)")
	mins := fs.String("min-replicas", "1,0", "Redis runs, one per value: sessiond's min-replicas (acknowledge a write only once this many replicas have it; 0: off)")
	faults := fs.String("faults", "", "faults to run, comma-separated, of "+faultNames()+" (default: all that apply to the store)")
	fs.StringVar(&c.Sessiond, "sessiond", "", "sessiond binary (default: go build github.com/sesame-go/sesame/cmd/sessiond into a temporary directory)")
	fs.IntVar(&c.Users, "users", 300, "virtual users, each with its own account")
	fs.IntVar(&c.Devices, "devices", 3, "devices (sessions) per user")
	fs.DurationVar(&c.Think, "think", 100*time.Millisecond, "pause between two operations of a user (±50%)")
	fs.DurationVar(&c.Lead, "lead", 5*time.Second, "traffic before each fault")
	fs.DurationVar(&c.Tail, "tail", 5*time.Second, "traffic after each fault is over")
	fs.DurationVar(&c.Lag, "lag", 3*time.Second, "how long a replica lags (stopped, its link cut) before its master is killed")
	fs.DurationVar(&c.ReplicaTimeout, "replica-timeout", 500*time.Millisecond, "sessiond's replica-timeout with min-replicas")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", time.Minute, "sessiond's --idle-timeout (reads extend sessions every idle-timeout/20)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 30*time.Second, "time limit of one request")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Minute, "time limit of the whole run")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of every user's random choices")
	fs.Var(&c.Mix, "mix", "operation weights on a live device, name=weight,... of "+c.Mix.Names())
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&c.Keep, "keep", false, "keep the temporary directories (logs, configuration)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.Stores = splitList(*stores)
	c.Faults = splitList(*faults)
	for _, s := range splitList(*mins) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-min-replicas %q: want numbers, 0 or more", *mins)
		}
		c.MinReplicas = append(c.MinReplicas, n)
	}
	return c, c.check()
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// check refuses settings that cannot make a meaningful run.
func (c *config) check() error {
	var errs []error
	for _, s := range c.Stores {
		if s != "redis" && s != "postgres" {
			errs = append(errs, fmt.Errorf("-stores: unknown store %q, want redis or postgres", s))
		}
	}
	if len(c.Stores) == 0 || c.Users < 1 || c.Devices < 2 || c.Devices > 16 {
		errs = append(errs, errors.New("want a store, at least one user, and 2 to 16 devices each"))
	}
	if c.Lead <= 0 || c.Tail <= 0 || c.Lag <= 0 || c.Think < 0 || c.IdleTimeout < time.Second || c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("-lead, -tail, -lag and -request-timeout must be positive, -think not negative, -idle-timeout at least 1s"))
	}
	if c.ReplicaTimeout < time.Millisecond {
		errs = append(errs, errors.New("-replica-timeout must be at least 1ms"))
	}
	if c.Mix.Total() <= 0 {
		errs = append(errs, errors.New("-mix needs a positive weight"))
	}
	for _, s := range c.Stores {
		if _, err := faultsFor(s, c.Faults); err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// runMain is the whole program; it returns the exit status.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
		return 2
	}
	cfg.Log = stderr
	runs, err := runAll(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(runs)
	} else {
		writeText(stdout, runs)
	}
	if err != nil || len(runs) == 0 {
		return 2
	}
	for _, rn := range runs {
		if len(rn.problems()) > 0 {
			return 1
		}
	}
	return 0
}

// runAll runs every configuration, one after the other. A configuration
// whose servers cannot start ends the run with an error.
func runAll(ctx context.Context, cfg *config) ([]*run, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cfg.bin = cfg.Sessiond
	if cfg.bin == "" {
		dir, err := os.MkdirTemp("", "sesame-fleet-bin-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintf(cfg.Log, "building %s\n", sessiondproc.Package)
		if cfg.bin, err = sessiondproc.Build(ctx, dir); err != nil {
			return nil, err
		}
	} else if abs, err := filepath.Abs(cfg.bin); err == nil {
		cfg.bin = abs
	}
	var runs []*run
	for _, store := range cfg.Stores {
		mins := []int{0}
		if store == "redis" {
			mins = cfg.MinReplicas
		}
		for _, min := range mins {
			rn, err := runFleet(ctx, cfg, cfg.bin, store, min)
			if rn != nil {
				if err != nil {
					rn.Err = err.Error()
				}
				runs = append(runs, rn)
			}
			if err != nil {
				return runs, err
			}
		}
	}
	return runs, nil
}
