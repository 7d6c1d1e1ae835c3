// Command sessiond is a runnable session service built on Sesame: login
// pages, a "your sessions" page with revocation, a forward-auth endpoint
// for nginx, Traefik and Caddy, a reverse proxy that protects an upstream
// application, and optional mod_auth_tkt tickets for Apache neighbours.
//
// With no configuration it keeps its sessions, users and keys in
// $XDG_DATA_HOME/sessiond (~/.local/share/sessiond) and listens on
// http://127.0.0.1:8080. Run "sessiond --help" for every flag; each has an
// environment variable too. See README.md beside this file.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sesame-go/sesame/seal"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, getenvOS))
}

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && args[0] == "user" {
		if err := userCommand(args[1:], stdin, stdout, stderr, getenv); err != nil {
			if errors.Is(err, errHelp) {
				return 0
			}
			fmt.Fprintln(stderr, "sessiond:", err)
			return 2
		}
		return 0
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	opt, err := parseOptions(args, getenv, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "sessiond:", err)
		return 2
	}
	if err := serve(ctx, opt, stdout, stderr, nil); err != nil {
		fmt.Fprintln(stderr, "sessiond:", err)
		return 1
	}
	return 0
}

// newLogger builds the slog logger the options ask for.
func newLogger(opt *options, w io.Writer) *slog.Logger {
	lvl, _ := parseLevel(opt.LogLevel)
	ho := &slog.HandlerOptions{Level: lvl}
	if opt.LogJSON {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// serve runs the service until ctx ends, then shuts down gracefully.
// ready, if not nil, is called with the base URL once it listens.
func serve(ctx context.Context, opt *options, stdout, stderr io.Writer, ready func(base string)) error {
	log := newLogger(opt, stderr)
	if was, err := ensureDataDir(opt.DataDir); err != nil {
		return err
	} else if was != 0 {
		log.Warn("the data directory was open to other users: made it private (0700)", "dir", opt.DataDir, "mode", fmt.Sprintf("%04o", was))
	}

	// Users. A first run makes an administrator with a random password,
	// once the service is sure to start, so the password is never lost.
	usersPath := opt.usersPath()
	_, statErr := os.Stat(usersPath)
	firstRun := errors.Is(statErr, os.ErrNotExist)
	users, err := newUserDB(usersPath, defaultArgon)
	if err != nil {
		return err
	}

	// Ticket secret: from the flag, else generated once in the data dir.
	var ticketSecret string
	if opt.Ticket {
		ticketSecret = opt.TicketSecret
		if ticketSecret == "" {
			p := filepath.Join(opt.DataDir, "ticket-secret")
			s, created, err := loadOrCreateSecret(p, randomSecret)
			if err != nil {
				return fmt.Errorf("ticket secret: %w", err)
			}
			if created {
				log.Info("generated a ticket secret; give Apache the same TKTAuthSecret", "file", p)
			}
			ticketSecret = s
		}
	}

	// Sealing keys: from the flag, else generated once in the data dir.
	var ring *seal.KeyRing
	if opt.Sealed {
		text := opt.SealKeys
		if text == "" {
			p := filepath.Join(opt.DataDir, "seal-keys")
			s, created, err := loadOrCreateSecret(p, seal.GenerateKey)
			if err != nil {
				return fmt.Errorf("seal keys: %w", err)
			}
			if created {
				log.Info("generated a sealing key", "file", p)
			}
			text = s
		}
		if ring, err = seal.ParseKeyRing(text); err != nil {
			return fmt.Errorf("seal keys: %w", err)
		}
	}

	// Store.
	su := defaultStore(opt.DataDir)
	if opt.Store != "" {
		if su, err = parseStoreURL(opt.Store); err != nil {
			return err
		}
	}
	st, closer, err := openStore(su, log)
	if err != nil {
		return fmt.Errorf("opening store %s: %w", redactURL(su.Raw), err)
	}
	defer func() {
		if err := closer.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()
	if opt.InsecurePlainHTTP {
		log.Warn("--insecure-plain-http: cookies are sent without Secure; never use this in production")
	}

	m := newMetrics()
	srv, err := newServer(opt, st, users, log, m, ticketSecret, ring)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", opt.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.handler(),
		ConnState:         srv.drain.connState,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if opt.TLSCert != "" {
		scheme = "https"
	}
	base := scheme + "://" + displayAddr(ln.Addr().String())

	var metricsSrv *http.Server
	if opt.MetricsListen != "" {
		mln, err := net.Listen("tcp", opt.MetricsListen)
		if err != nil {
			ln.Close()
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.metricsHandler())
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = metricsSrv.Serve(mln) }()
		log.Info("metrics", "url", "http://"+displayAddr(mln.Addr().String())+"/metrics")
	}

	var firstPassword string
	if firstRun {
		firstPassword = randomString(15)
		err := addUser(usersPath, "admin", firstPassword, defaultArgon)
		if err == nil {
			err = users.reload(true)
		}
		if err != nil {
			ln.Close()
			return fmt.Errorf("creating the first user: %w", err)
		}
	}
	if users.Len() == 0 {
		log.Warn("the users file has no users: add one with `sessiond user add NAME`", "file", usersPath)
	}

	sl := newStoppableListener(ln)
	errc := make(chan error, 1)
	go func() {
		if opt.TLSCert != "" {
			errc <- hs.ServeTLS(sl, opt.TLSCert, opt.TLSKey)
		} else {
			errc <- hs.Serve(sl)
		}
	}()

	log.Info("sessiond listening", "url", base+"/", "store", redactURL(su.Raw), "data_dir", opt.DataDir, "upstream", opt.Upstream)
	fmt.Fprintf(stdout, "sessiond is listening on %s/\n", base)
	if firstPassword != "" {
		fmt.Fprintf(stdout, "First run: created user \"admin\" with password %s\n", firstPassword)
		fmt.Fprintf(stdout, "(shown only this once; change it with `sessiond user add admin`, users are in %s)\n", usersPath)
	}
	fmt.Fprintf(stdout, "Log in at %s%s\n", base, pathLogin)
	if ready != nil {
		ready(base)
	}

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
		log.Info("shutting down: refusing new connections, finishing requests in flight",
			"drain", opt.DrainTimeout.String(), "timeout", opt.ShutdownTimeout.String())
		sctx, cancel := context.WithTimeout(context.Background(), opt.ShutdownTimeout)
		defer cancel()
		// New connections are refused from now on (those the kernel had
		// queued are served: see stoppableListener); the open ones get
		// their next request answered, then closed (see drainer).
		if err := sl.stop(); err != nil {
			log.Warn("stopping the listener", "err", err)
		}
		srv.drain.drain(sctx, opt.DrainTimeout)
		if metricsSrv != nil {
			_ = metricsSrv.Shutdown(sctx)
		}
		if err := hs.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		log.Info("stopped")
	}
	return nil
}

// displayAddr turns a listener address into one a browser can open.
func displayAddr(a string) string {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return a
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// redactURL hides a password in a store URL for logs.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	cred := rest[:at]
	if user, _, hasPw := strings.Cut(cred, ":"); hasPw {
		cred = user + ":xxxxx"
	}
	return scheme + "://" + cred + rest[at:]
}

// userCommand is `sessiond user add|remove|list`.
func userCommand(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	uf, pos, err := parseUserFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New("usage: sessiond user add|remove|list [NAME] (see --help)")
	}
	path := uf.usersPath()
	switch {
	case pos[0] == "list" && len(pos) == 1:
		users, err := readUsersFile(path)
		if err != nil {
			return err
		}
		for _, n := range sortedKeys(users) {
			fmt.Fprintln(stdout, n)
		}
		return nil
	case pos[0] == "remove" && len(pos) == 2:
		if err := removeUser(path, pos[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %q from %s; a running sessiond ends their sessions on their next request\n", pos[1], path)
		return nil
	case pos[0] == "add" && len(pos) == 2:
		if uf.UsersFile == "" {
			if was, err := ensureDataDir(uf.DataDir); err != nil {
				return err
			} else if was != 0 {
				fmt.Fprintf(stderr, "sessiond: the data directory %s had mode %04o: made it private (0700)\n", uf.DataDir, was)
			}
		} else if err := ensureDir(filepath.Dir(path)); err != nil {
			return err
		}
		var password string
		if uf.Generate {
			password = randomString(15)
		} else if password, err = readPassword(stdin, stderr); err != nil {
			return err
		}
		if err := addUser(path, pos[1], password, defaultArgon); err != nil {
			return err
		}
		if uf.Generate {
			fmt.Fprintf(stdout, "user %q, password %s\n", pos[1], password)
		} else {
			fmt.Fprintf(stdout, "set the password of %q in %s\n", pos[1], path)
		}
		return nil
	}
	return fmt.Errorf("usage: sessiond user add|remove NAME, or sessiond user list (got %q)", strings.Join(pos, " "))
}

// readPassword prompts twice on a terminal, or reads one line otherwise.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, maxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
