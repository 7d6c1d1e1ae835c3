// Command loadtest drives a real sessiond on loopback with many virtual
// users, each with its own account and several devices (cookie jars),
// mixing reads, writes, logins and logouts for a bounded time, and checks
// afterwards that no acknowledged write was lost.
//
// It starts the sessiond binary it is given (or builds one with go build),
// creates the users with `sessiond user add`, logs every device in, runs
// the load, and then sweeps every device: each session the program believes
// live must authenticate as its user and be listed on its user's sessions
// page, and each session it ended (revoked, logged out) must stay ended. It
// reports requests per second, latency percentiles overall and per request
// kind, the mix of operations, errors, lost writes and sessiond's peak
// resident memory. It exits with status 1 when there was any error or lost
// write, and 2 when the test could not run.
//
// Each virtual user acts sequentially, so the state it expects is exact;
// the users run concurrently. Everything binds to or dials 127.0.0.1 only,
// and the run stops by itself: at -duration, at -max-requests, or at
// -timeout, when sessiond is killed.
//
//	go run ./bench/loadtest -store mem -users 100 -duration 60s
//	go run ./bench/loadtest -store bolt -json > bolt.json
//	go run ./bench/loadtest -store redis -sessiond ./sessiond
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
	"syscall"
	"time"

	"github.com/sesame-go/sesame/bench/internal/vuser"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return 2
	}
	cfg.Log = stderr
	rep, err := loadTest(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
	}
	if rep == nil {
		return 2
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return 2
		}
	} else {
		rep.writeText(stdout)
	}
	if err != nil {
		return 2
	}
	if !rep.Passed {
		return 1
	}
	return 0
}

// config is one run's settings.
type config struct {
	Sessiond       string        // sessiond binary; "" builds one
	Store          string        // mem, bolt, file, redis, or a --store URL
	RedisAddr      string        // the Redis server the name "redis" means
	Users          int           // virtual users, each with its own account
	Devices        int           // sessions (cookie jars) per user
	Duration       time.Duration // length of the load phase
	MaxRequests    int64         // hard cap on requests, all phases together
	Seed           uint64        // seeds every user's choices
	Mix            vuser.Mix     // weights of the operations on a live device
	RaceProb       float64       // chance that victims read while being revoked
	IdleTimeout    time.Duration // sessiond --idle-timeout
	RequestTimeout time.Duration // one request's limit
	Timeout        time.Duration // the whole run's limit; 0: computed
	JSON           bool          // print the report as JSON
	Keep           bool          // keep the temporary directory
	Log            io.Writer     // progress and problems as they happen; nil discards them
}

// hardLimit is how long the whole run may take before sessiond is killed:
// -timeout, or enough for setup (argon2id logins are slow), the load, the
// sweep and the shutdown.
func (c *config) hardLimit() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	logins := time.Duration(c.Users*c.Devices) * 500 * time.Millisecond
	users := time.Duration(c.Users) * 500 * time.Millisecond
	return 3*time.Minute + users + logins + 2*c.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{Mix: vuser.DefaultMix()}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Sessiond, "sessiond", "", "sessiond binary to run (default: go build github.com/sesame-go/sesame/cmd/sessiond into a temporary directory)")
	fs.StringVar(&c.Store, "store", "bolt", "store: mem, bolt (sessiond's default, in the data directory), file, redis (on -redis-addr, with a key prefix unique to the run), or a sessiond --store URL")
	fs.StringVar(&c.RedisAddr, "redis-addr", "127.0.0.1:6379", "Redis server for -store redis (loopback only)")
	fs.IntVar(&c.Users, "users", 50, "virtual users, each with its own account")
	fs.IntVar(&c.Devices, "devices", 3, "devices (sessions) per user")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "length of the load phase")
	fs.Int64Var(&c.MaxRequests, "max-requests", 2_000_000, "hard cap on requests (setup, load and sweep together)")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of every user's random choices")
	fs.Var(&c.Mix, "mix", "operation weights on a live device, name=weight,... of "+c.Mix.Names())
	fs.Float64Var(&c.RaceProb, "race", 0.5, "probability that the victims of a revocation send a read at the same time")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", time.Minute, "sessiond --idle-timeout; short, so that reads also extend sessions (one store write per live session every idle-timeout/20)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 30*time.Second, "time limit of one request (logins queue behind argon2id)")
	fs.DurationVar(&c.Timeout, "timeout", 0, "time limit of the whole run, after which sessiond is killed (default: computed from the other flags)")
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&c.Keep, "keep", false, "keep the temporary directory (data directory, sessiond log)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, c.check()
}

// check refuses settings that cannot make a meaningful run.
func (c *config) check() error {
	var errs []error
	if c.Users < 1 || c.Users > 100_000 {
		errs = append(errs, errors.New("-users must be between 1 and 100000"))
	}
	if c.Devices < 1 || c.Devices > 64 {
		errs = append(errs, errors.New("-devices must be between 1 and 64"))
	}
	if c.Duration <= 0 {
		errs = append(errs, errors.New("-duration must be positive"))
	}
	if c.MaxRequests < 1 {
		errs = append(errs, errors.New("-max-requests must be positive"))
	}
	if c.RaceProb < 0 || c.RaceProb > 1 {
		errs = append(errs, errors.New("-race must be between 0 and 1"))
	}
	if c.IdleTimeout < time.Second {
		errs = append(errs, errors.New("-idle-timeout must be at least 1s"))
	}
	if c.RequestTimeout <= 0 || c.Timeout < 0 {
		errs = append(errs, errors.New("-request-timeout must be positive and -timeout not negative"))
	}
	if c.Mix.Total() <= 0 {
		errs = append(errs, errors.New("-mix needs a positive weight"))
	}
	return errors.Join(errs...)
}
