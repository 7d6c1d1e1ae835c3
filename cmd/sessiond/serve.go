package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/datadir"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/ops"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/stores"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
	"github.com/sesame-go/sesame/seal"
)

// cleanup holds the steps that undo what serve has set up. They run last
// first when serve returns, whether it stopped or failed part way, so
// that nothing it opened outlives it.
type cleanup struct{ steps []func() error }

// add appends the step that undoes what was just set up.
func (c *cleanup) add(step func() error) { c.steps = append(c.steps, step) }

// run runs the steps, last first, and returns their errors.
func (c *cleanup) run() error {
	var errs []error
	for i := len(c.steps) - 1; i >= 0; i-- {
		if err := c.steps[i](); err != nil {
			errs = append(errs, err)
		}
	}
	c.steps = nil
	return errors.Join(errs...)
}

// serve runs the service until ctx ends, then shuts down gracefully.
// ready, if not nil, is called with the base URL once it listens.
func serve(ctx context.Context, opt *options, stdout, stderr io.Writer, ready func(base string)) (err error) {
	log := newLogger(opt, stderr)
	var undo cleanup
	defer func() {
		if err = errors.Join(err, undo.run()); err == nil {
			log.Info("stopped")
		}
	}()

	if err := prepareDataDir(opt, log); err != nil {
		return err
	}
	// Users. A first run makes an administrator with a random password,
	// once the service is sure to start, so the password is never lost.
	usersPath := opt.usersPath()
	_, statErr := os.Stat(usersPath)
	firstRun := errors.Is(statErr, os.ErrNotExist)
	db, err := users.Open(usersPath, users.DefaultParams)
	if err != nil {
		return err
	}
	ticketSecret, err := loadTicketSecret(opt, log)
	if err != nil {
		return err
	}
	ring, err := loadSealKeys(opt, log)
	if err != nil {
		return err
	}
	su, st, err := openStore(opt, log, &undo)
	if err != nil {
		return err
	}
	if opt.InsecurePlainHTTP {
		log.Warn("--insecure-plain-http: cookies are sent without Secure; never use this in production")
	}
	srv, err := newServer(opt, parts{store: st, users: db, log: log, metrics: ops.NewMetrics(), ticketSecret: ticketSecret, ring: ring})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", opt.Listen)
	if err != nil {
		return err
	}
	undo.add(func() error { ln.Close(); return nil }) // already closed if hs took it over
	scheme := "http"
	if opt.TLSCert != "" {
		scheme = "https"
	}
	base := scheme + "://" + displayAddr(ln.Addr().String())
	opsBase, err := startOps(opt, srv, &undo)
	if err != nil {
		return err
	}

	var firstPassword string
	if firstRun {
		if firstPassword, err = createFirstUser(usersPath, db); err != nil {
			return err
		}
	}
	// Reread the users file as it changes, ending the sessions of users
	// removed or given a new password, until serve returns.
	watchUsers(ctx, db, log, &undo)
	if db.Len() == 0 {
		log.Warn("the users file has no users: add one with `sessiond user add NAME`", "file", usersPath)
	}

	errc := startServing(opt, srv, ln, log, &undo)
	log.Info("sessiond listening", "url", base+"/", "store", stores.Redact(su.Raw), "data_dir", opt.DataDir, "upstream", opt.Upstream)
	if opsBase != "" {
		log.Info("operations endpoints: /healthz, /readyz, /metrics", "url", opsBase+"/")
		fmt.Fprintf(stdout, "Operations endpoints (/healthz, /readyz, /metrics) on %s/\n", opsBase)
	}
	fmt.Fprintf(stdout, "sessiond is listening on %s/\n", base)
	if firstPassword != "" {
		fmt.Fprintf(stdout, "First run: created user \"admin\" with password %s\n", firstPassword)
		fmt.Fprintf(stdout, "(shown only this once; change it with `sessiond user add admin`, users are in %s)\n", usersPath)
	}
	fmt.Fprintf(stdout, "Log in at %s%s\n", base, pages.PathLogin)
	if note := plainHTTPListenNote(opt, ln.Addr()); note != "" {
		fmt.Fprintln(stdout, note)
		log.Warn("plain HTTP on a non-loopback address: browsers reaching it by another name than localhost drop the session cookie; " + pages.PlainHTTPAdvice)
	}
	if ready != nil {
		ready(base)
	}

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
		// The clean-up shuts the servers down.
		log.Info("shutting down: refusing new connections, finishing requests in flight",
			"drain", opt.DrainTimeout.String(), "timeout", opt.ShutdownTimeout.String())
	}
	return nil
}

// prepareDataDir creates the data directory, or makes it private again.
func prepareDataDir(opt *options, log *slog.Logger) error {
	was, err := datadir.Prepare(opt.DataDir)
	if err != nil {
		return err
	}
	if was != 0 {
		log.Warn("the data directory was open to other users: made it private (0700)", "dir", opt.DataDir, "mode", fmt.Sprintf("%04o", was))
	}
	return nil
}

// loadTicketSecret returns the ticket secret with --ticket: from the flag,
// else generated once in the data dir.
func loadTicketSecret(opt *options, log *slog.Logger) (string, error) {
	if !opt.Ticket {
		return "", nil
	}
	if opt.TicketSecret != "" {
		return opt.TicketSecret, nil
	}
	p := filepath.Join(opt.DataDir, "ticket-secret")
	s, created, err := datadir.LoadOrCreateSecret(p, datadir.RandomSecret)
	if err != nil {
		return "", fmt.Errorf("ticket secret: %w", err)
	}
	if created {
		log.Info("generated a ticket secret; give Apache the same TKTAuthSecret", "file", p)
	}
	return s, nil
}

// loadSealKeys returns the sealing keys with --sealed, else nil: from the
// flag, else generated once in the data dir.
func loadSealKeys(opt *options, log *slog.Logger) (*seal.KeyRing, error) {
	if !opt.Sealed {
		return nil, nil
	}
	text := opt.SealKeys
	if text == "" {
		p := filepath.Join(opt.DataDir, "seal-keys")
		s, created, err := datadir.LoadOrCreateSecret(p, seal.GenerateKey)
		if err != nil {
			return nil, fmt.Errorf("seal keys: %w", err)
		}
		if created {
			log.Info("generated a sealing key", "file", p)
		}
		text = s
	}
	ring, err := seal.ParseKeyRing(text)
	if err != nil {
		return nil, fmt.Errorf("seal keys: %w", err)
	}
	return ring, nil
}

// openStore opens the store --store names, or the default one in the data
// directory, to be closed by the clean-up.
func openStore(opt *options, log *slog.Logger, undo *cleanup) (stores.URL, sesame.Store, error) {
	reg := stores.Builtin()
	su := stores.Default(opt.DataDir)
	if opt.Store != "" {
		var err error
		if su, err = reg.Parse(opt.Store); err != nil {
			return su, nil, err
		}
		su = reg.In(su, opt.DataDir)
	}
	st, closer, err := reg.Open(su, log)
	if err != nil {
		return su, nil, fmt.Errorf("opening store %s: %w", stores.Redact(su.Raw), err)
	}
	undo.add(func() error {
		if err := closer.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
		return nil
	})
	return su, st, nil
}

// startOps serves the operations endpoints on --ops-listen, if given, until
// the clean-up; it returns their base URL, or "".
func startOps(opt *options, srv *server, undo *cleanup) (string, error) {
	if opt.OpsListen == "" {
		return "", nil
	}
	oln, err := net.Listen("tcp", opt.OpsListen)
	if err != nil {
		return "", err
	}
	opsSrv := &http.Server{Handler: srv.opsHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = opsSrv.Serve(oln) }()
	undo.add(func() error {
		_ = shutdown(opsSrv, oln, opt.ShutdownTimeout)
		return nil
	})
	return "http://" + displayAddr(oln.Addr().String()), nil
}

// createFirstUser adds the user "admin" with a random password, which it
// returns, to the users file at path, and has db read it.
func createFirstUser(path string, db *users.DB) (string, error) {
	password := datadir.RandomString(15)
	err := users.Add(path, "admin", password, users.DefaultParams)
	if err == nil {
		err = db.Reload()
	}
	if err != nil {
		return "", fmt.Errorf("creating the first user: %w", err)
	}
	return password, nil
}

// watchUsers rereads the users file as it changes until the clean-up.
func watchUsers(ctx context.Context, db *users.DB, log *slog.Logger, undo *cleanup) {
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { db.Watch(watchCtx, time.Second, log); close(watched) }()
	undo.add(func() error { stopWatch(); <-watched; return nil })
}

// startServing serves srv on ln until the clean-up shuts it down,
// gracefully: the listener stops (the connections the kernel had queued
// are served, see stoppableListener), the open connections are drained
// (see drainer), then the requests in flight finish. The channel receives
// why serving ended.
func startServing(opt *options, srv *server, ln net.Listener, log *slog.Logger, undo *cleanup) <-chan error {
	hs := &http.Server{
		Handler:           srv.handler(),
		ConnState:         srv.drain.connState,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
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
	undo.add(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), opt.ShutdownTimeout)
		defer cancel()
		if err := sl.stop(); err != nil {
			log.Warn("stopping the listener", "err", err)
		}
		srv.drain.drain(ctx, opt.DrainTimeout)
		err := hs.Shutdown(ctx)
		ln.Close() // an error if hs closed it already
		if err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		return nil
	})
	return errc
}

// shutdown stops hs gracefully, letting the requests in flight finish for
// up to timeout, and closes ln, which hs may not have taken over yet.
func shutdown(hs *http.Server, ln net.Listener, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := hs.Shutdown(ctx)
	ln.Close() // an error if hs closed it already
	return err
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

// plainHTTPListenNote is the start-up note for a plain-HTTP listener on an
// address browsers may reach under another name than localhost; "" when
// there is nothing to say.
func plainHTTPListenNote(opt *options, addr net.Addr) string {
	if opt.TLSCert != "" || opt.InsecurePlainHTTP {
		return ""
	}
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil && ap.Addr().Unmap().IsLoopback() {
		return ""
	}
	return "Note: browsers keep sessiond's Secure session cookie only over HTTPS or on http://localhost and http://127.0.0.1.\n" +
		"Opened as http://<any other host>, logging in leads back to the login form. To use it that way, " + pages.PlainHTTPAdvice + "."
}
