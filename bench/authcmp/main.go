// Command authcmp measures sessiond's forward auth against oauth2-proxy's,
// in the same run, with the same load generator, on the same machine.
//
// It builds sessiond from the workspace and oauth2-proxy at the version
// of the bench module's tool directive, starts a mock OpenID Connect
// provider (mockoidc) in this process, and starts every contender on
// 127.0.0.1 and a port of the OS's choosing: oauth2-proxy with cookie
// sessions and with its Redis session store, sessiond on bolt (its
// default), on Redis and with sealed cookies. It logs users in through
// each (oauth2-proxy through the provider's OIDC code flow, sessiond
// through its login form), timing every login, and checks that each
// contender names the user for a session and refuses a request without
// one.
//
// Then it drives each forward-auth endpoint (oauth2-proxy's /oauth2/auth,
// sessiond's /_sessiond/auth) in a closed loop: -conns keep-alive
// connections, each sending its next check as soon as the last is
// answered, for -duration. The contenders take turns, -rounds times, in
// an order that rotates each round, so that whatever else the machine does
// falls on all of them. It reports checks per second, the latencies' p50
// and p99, and the server's CPU time per check (user plus system time of
// the process, from /proc, over the checks answered), which a shared
// machine measures more fairly than throughput; for the Redis
// configurations also Redis's CPU time per check. Every check must be
// answered as a logged-in user's; any other answer is an error, and the
// run then exits with status 1.
//
//	go run ./bench/authcmp                           # 5 rounds of 5s each
//	go run ./bench/authcmp -rounds 3 -duration 10s -conns 32
//	go run ./bench/authcmp -only sessiond/redis,oauth2-proxy/redis
//	go run ./bench/authcmp -json > run.json
//	go run ./bench/authcmp -from run.json -markdown  # bench/README.md's tables
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
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	serveFloorIfAsked()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the flags set.
type config struct {
	Only      []string
	Rounds    int
	Duration  time.Duration
	Warmup    time.Duration
	Conns     int
	Logins    int
	Timeout   time.Duration
	RedisAddr string
	Sessiond  string // a prebuilt binary, or "" to build one
	Proxy     string // a prebuilt binary, or "" to build one
	JSON      bool
	Markdown  bool
	From      string // a -json report to print instead of measuring
	Log       io.Writer
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("authcmp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", strings.Join(contenderNames, ","), "comma-separated contenders to run")
	fs.IntVar(&cfg.Rounds, "rounds", 5, "rounds: each contender runs once per round, in turn")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "how long each contender is driven in each round")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "an unmeasured run of each contender before the first round")
	fs.IntVar(&cfg.Conns, "conns", 16, "connections, each sending its next check when the last is answered")
	fs.IntVar(&cfg.Logins, "logins", 16, "logins through each contender, timed; the checks use these sessions, round robin over the connections")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "a check still unanswered this long after its round's end is an error")
	fs.StringVar(&cfg.RedisAddr, "redis", "127.0.0.1:6379", "the Redis server (on 127.0.0.1) of the Redis configurations")
	fs.StringVar(&cfg.Sessiond, "sessiond", "", "a sessiond binary to run instead of building one")
	fs.StringVar(&cfg.Proxy, "oauth2-proxy", "", "an oauth2-proxy binary to run instead of building the bench module's tool")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.BoolVar(&cfg.Markdown, "markdown", false, "print the report as the README's Markdown table")
	fs.StringVar(&cfg.From, "from", "", "print the report of an earlier -json run, from this file, instead of measuring")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for n := range strings.SplitSeq(*only, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(contenderNames, n) {
			return nil, fmt.Errorf("-only: unknown contender %q (want some of %s)", n, strings.Join(contenderNames, ", "))
		}
		if !slices.Contains(cfg.Only, n) {
			cfg.Only = append(cfg.Only, n)
		}
	}
	switch {
	case len(cfg.Only) == 0:
		return nil, errors.New("-only names no contender")
	case cfg.Rounds < 1, cfg.Conns < 1, cfg.Logins < 1:
		return nil, errors.New("-rounds, -conns and -logins must be at least 1")
	case cfg.Duration <= 0, cfg.Warmup < 0, cfg.Timeout <= 0:
		return nil, errors.New("-duration and -timeout must be positive, -warmup not negative")
	case cfg.JSON && cfg.Markdown:
		return nil, errors.New("-json and -markdown do not go together")
	}
	return cfg, nil
}

// run is the whole program; it returns the exit status: 0, 1 when a check
// or a login failed, 2 when the comparison could not run.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "authcmp:", err)
		return 2
	}
	cfg.Log = stderr
	var rep *Report
	if cfg.From != "" {
		rep, err = readReport(cfg.From)
	} else {
		rep, err = compare(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, "authcmp:", err)
		return 2
	}
	switch {
	case cfg.JSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "authcmp:", err)
			return 2
		}
	case cfg.Markdown:
		rep.writeMarkdown(stdout)
	default:
		rep.writeText(stdout)
	}
	if rep.Errors > 0 {
		fmt.Fprintf(stderr, "authcmp: %d checks failed\n", rep.Errors)
		return 1
	}
	return 0
}
