package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// postgres is a private PostgreSQL server of the run: its own data
// directory under a temporary directory and a loopback port from the
// operating system, so that restarting it disturbs nobody else.
type postgres struct {
	bin     string // the directory of initdb, pg_ctl and postgres
	dir     string // its own temporary directory (data, socket, log)
	port    int
	asUser  []string // runuser -u postgres -- when running as root
	ownerID int      // the uid and gid that own dir; -1 when not root
	groupID int
}

// pgBinDir finds the newest installed PostgreSQL's programs.
func pgBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("initdb is %w (Debian package postgresql; bash .ci/services.sh installs it)", errMissing)
}

// startPostgres makes and starts a private PostgreSQL server. PostgreSQL
// refuses to run as root, so as root it runs as the user postgres.
func startPostgres(ctx context.Context) (*postgres, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	pg := &postgres{bin: bin, ownerID: -1, groupID: -1}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, PostgreSQL needs the user postgres: %w", err)
		}
		pg.ownerID, _ = strconv.Atoi(u.Uid)
		pg.groupID, _ = strconv.Atoi(u.Gid)
		pg.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	// Not under the run's directory, which only its owner may enter.
	if pg.dir, err = os.MkdirTemp("", "sesame-fleet-pg-"); err != nil {
		return nil, err
	}
	if pg.ownerID >= 0 {
		if err := os.Chown(pg.dir, pg.ownerID, pg.groupID); err != nil {
			pg.remove()
			return nil, err
		}
	}
	if pg.port, err = freePort(); err != nil {
		pg.remove()
		return nil, err
	}
	if out, err := pg.run(ctx, "initdb", "-D", pg.data(), "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		pg.remove()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := pg.start(ctx); err != nil {
		pg.remove()
		return nil, err
	}
	return pg, nil
}

func (pg *postgres) data() string { return filepath.Join(pg.dir, "data") }

// url is sessiond's --store for the server.
func (pg *postgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

// run runs one of PostgreSQL's programs, as postgres when root.
func (pg *postgres) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	argv := append(append(slices.Clone(pg.asUser), filepath.Join(pg.bin, prog)), args...)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	return cmd.CombinedOutput()
}

// start starts the server on its port and waits until it accepts
// connections. fsync stays on: what it acknowledged survives a crash.
func (pg *postgres) start(ctx context.Context) error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=on -c max_connections=200", pg.port, pg.dir)
	if out, err := pg.run(ctx, "pg_ctl", "-D", pg.data(), "-o", opts, "-l", filepath.Join(pg.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	return nil
}

// restart stops the server at once, as a crash would (pg_ctl -m
// immediate: no checkpoint, WAL replayed at the next start), and starts it
// again.
func (pg *postgres) restart(ctx context.Context, logf func(string, ...any)) error {
	start := time.Now()
	if out, err := pg.run(ctx, "pg_ctl", "-D", pg.data(), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	logf("PostgreSQL stopped (immediate)")
	if err := pg.start(ctx); err != nil {
		return err
	}
	logf("PostgreSQL accepting connections again after %.1fs", time.Since(start).Seconds())
	return nil
}

// stop stops the server and removes its directory.
func (pg *postgres) stop() {
	_, _ = pg.run(context.Background(), "pg_ctl", "-D", pg.data(), "-m", "immediate", "-w", "stop")
	pg.remove()
}

func (pg *postgres) remove() { os.RemoveAll(pg.dir) }
