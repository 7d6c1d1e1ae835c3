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
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/datadir"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, getenvOS))
}

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if wantsVersion(args) {
		fmt.Fprintln(stdout, version())
		return 0
	}
	if len(args) > 0 {
		switch args[0] {
		case "help":
			return help(args[1:], stdout, stderr, getenv)
		case "user":
			if err := userCommand(args[1:], stdin, stdout, stderr, getenv); err != nil {
				if errors.Is(err, errHelp) {
					return 0
				}
				fmt.Fprintln(stderr, "sessiond:", err)
				fmt.Fprintln(stderr, "Run `sessiond user --help` for usage.")
				return 2
			}
			return 0
		case "serve":
			args = args[1:]
		}
	}
	opt, err := parseOptions(args, getenv, stdout)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "sessiond:", err)
		fmt.Fprintln(stderr, "Run `sessiond --help` for usage.")
		return 2
	}
	if err := serve(ctx, opt, stdout, stderr, nil); err != nil {
		fmt.Fprintln(stderr, "sessiond:", err)
		return 1
	}
	return 0
}

// help is `sessiond help [user]`.
func help(topic []string, stdout, stderr io.Writer, getenv func(string) string) int {
	switch {
	case len(topic) == 0:
		usage(newFlagSet(&options{}, getenv), stdout)
	case len(topic) == 1 && topic[0] == "user":
		_, _, _ = parseUserFlags([]string{"--help"}, getenv, stdout)
	default:
		fmt.Fprintf(stderr, "sessiond: no help on %q; try `sessiond help` or `sessiond help user`\n", strings.Join(topic, " "))
		return 2
	}
	return 0
}

// wantsVersion reports whether the command line asks for the version:
// `sessiond version`, or --version among the flags.
func wantsVersion(args []string) bool {
	if len(args) > 0 && args[0] == "version" {
		return true
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--version" || a == "-version" {
			return true
		}
	}
	return false
}

// version describes this build: the module version (a tag for `go
// install ...@v1.2.3`, "(devel)" for a build from a checkout), the VCS
// revision when the build recorded one, and the Go version.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "sessiond (unknown version) " + runtime.Version()
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	out := "sessiond " + v
	if rev != "" {
		out += ", commit " + rev[:min(12, len(rev))]
		if dirty {
			out += " with local changes"
		}
		if at != "" {
			out += " of " + at
		}
	}
	return out + ", built with " + bi.GoVersion + " for " + runtime.GOOS + "/" + runtime.GOARCH
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

// userCommand is `sessiond user add|remove|list`.
func userCommand(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	uf, pos, err := parseUserFlags(args, getenv, stdout)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New("usage: sessiond user add|remove|list [NAME] (see --help)")
	}
	path := uf.usersPath()
	switch {
	case pos[0] == "list" && len(pos) == 1:
		list, err := users.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range sortedKeys(list) {
			fmt.Fprintln(stdout, n)
		}
		return nil
	case pos[0] == "remove" && len(pos) == 2:
		if err := users.Remove(path, pos[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %q from %s; a running sessiond ends their sessions within seconds, a stopped one when it starts\n", pos[1], path)
		return nil
	case pos[0] == "add" && len(pos) == 2:
		if uf.UsersFile == "" {
			if was, err := datadir.Prepare(uf.DataDir); err != nil {
				return err
			} else if was != 0 {
				fmt.Fprintf(stderr, "sessiond: the data directory %s had mode %04o: made it private (0700)\n", uf.DataDir, was)
			}
		} else if err := datadir.Mkdir(filepath.Dir(path)); err != nil {
			return err
		}
		var password string
		if uf.Generate {
			password = datadir.RandomString(15)
		} else if password, err = readPassword(stdin, stderr); err != nil {
			return err
		}
		if err := users.Add(path, pos[1], password, users.DefaultParams); err != nil {
			return err
		}
		if uf.Generate {
			fmt.Fprintf(stdout, "user %q, password %s\n", pos[1], password)
		} else {
			fmt.Fprintf(stdout, "set the password of %q in %s; their sessions logged in with an earlier one end\n", pos[1], path)
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
	line, err := bufio.NewReader(io.LimitReader(stdin, users.MaxPasswordLen+2)).ReadString('\n')
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
