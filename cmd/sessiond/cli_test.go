package main

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// runCLI runs the program with args and returns its exit status and what
// it wrote to stdout and stderr.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = run(t.Context(), args, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

// TestHelpGoesToStdout: every way of asking for help prints it on stdout
// (so that `sessiond --help | less` shows it) and exits 0.
func TestHelpGoesToStdout(t *testing.T) {
	tests := []struct {
		args []string
		want string // a line only this help has
	}{
		{[]string{"--help"}, "--listen  [SESSIOND_LISTEN]"},
		{[]string{"-h"}, "--listen  [SESSIOND_LISTEN]"},
		{[]string{"help"}, "--listen  [SESSIOND_LISTEN]"},
		{[]string{"serve", "--help"}, "--listen  [SESSIOND_LISTEN]"},
		{[]string{"user", "--help"}, "--generate"},
		{[]string{"user", "add", "--help"}, "--generate"},
		{[]string{"help", "user"}, "--generate"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != 0 || !strings.Contains(out, tt.want) || errOut != "" {
				t.Errorf("exit %d, stdout has %q: %v, stderr %q", code, tt.want, strings.Contains(out, tt.want), errOut)
			}
		})
	}
}

// TestUserHelpListsOnlyUserFlags: the user commands' help shows their own
// flags, not every server flag.
func TestUserHelpListsOnlyUserFlags(t *testing.T) {
	_, out, _ := runCLI(t, "user", "add", "--help")
	for _, want := range []string{"--data-dir  [SESSIOND_DATA_DIR]", "--users-file  [SESSIOND_USERS_FILE]", "--generate", "user add NAME"} {
		if !strings.Contains(out, want) {
			t.Errorf("user help lacks %q:\n%s", want, out)
		}
	}
	for _, server := range []string{"--listen", "--upstream", "--sealed", "--ticket"} {
		if strings.Contains(out, server) {
			t.Errorf("user help lists the server flag %s:\n%s", server, out)
		}
	}
}

// TestErrorsNameFlagsWithTwoDashes: flag errors show flags as they are
// written on the command line, and no wall of help.
func TestErrorsNameFlagsWithTwoDashes(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--no-such-flag"}, "--no-such-flag"},
		{[]string{"--idle-timeout", "soon"}, "--idle-timeout"},
		{[]string{"--trusted-proxies", "nonsense"}, "--trusted-proxies"},
		{[]string{"--listen"}, "--listen"},
		{[]string{"--sealed=maybe"}, "--sealed"},
		{[]string{"user", "list", "--bogus"}, "--bogus"},
		{[]string{"user", "add", "x", "--generate=perhaps"}, "--generate"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != 2 || out != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, out)
			}
			name := strings.TrimPrefix(tt.want, "--")
			if !strings.Contains(errOut, tt.want) || strings.Contains(errOut, " -"+name) {
				t.Errorf("stderr %q: want %s, never -%s", errOut, tt.want, name)
			}
			if strings.Count(errOut, "\n") > 2 {
				t.Errorf("stderr is more than the error and a hint:\n%s", errOut)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "sessiond ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	// --version is not a server flag: it has no environment variable.
	fs := newFlagSet(&options{}, func(string) string { return "" })
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "version" {
			t.Error("--version is a server flag, so SESSIOND_VERSION would stop the server from starting")
		}
	})
}

// TestRelativeStorePathsAreInTheDataDir: bolt://rel.db names a file in
// --data-dir, not in the working directory, when sessiond is started from
// another directory.
func TestRelativeStorePathsAreInTheDataDir(t *testing.T) {
	t.Chdir(t.TempDir())
	dir := t.TempDir()
	_, out, stop := startServe(t, "--data-dir", dir, "--store", "bolt://rel.db")
	stop()
	if _, err := os.Stat(filepath.Join(dir, "rel.db")); err != nil {
		t.Errorf("bolt://rel.db is not in the data dir: %v\n%s", err, out.String())
	}
	if _, err := os.Stat("rel.db"); err == nil {
		t.Error("bolt://rel.db was created in the working directory")
	}
}
