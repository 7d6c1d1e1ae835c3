package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openDir makes a directory with mode 0755, as mkdir under the usual
// umask does.
func openDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func dirMode(t *testing.T, dir string) os.FileMode {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestOpenDataDirIsMadePrivate starts the service, and adds a user, in a
// data directory that others can read: both leave it 0700.
func TestOpenDataDirIsMadePrivate(t *testing.T) {
	if !hasUnixModes {
		t.Skip("file modes do not control access here")
	}
	dir := openDir(t)
	_, _, stop := startServe(t, "--data-dir", dir, "--store", "memory://")
	stop()
	if m := dirMode(t, dir); m != 0o700 {
		t.Errorf("serve left the data directory %04o, want 0700", m)
	}

	dir = openDir(t)
	var stderr strings.Builder
	if code := run(t.Context(), []string{"user", "add", "eve", "--generate", "--data-dir", dir}, nil, io.Discard, &stderr, func(string) string { return "" }); code != 0 {
		t.Fatalf("user add: exit %d: %s", code, stderr.String())
	}
	if m := dirMode(t, dir); m != 0o700 {
		t.Errorf("user add left the data directory %04o, want 0700", m)
	}
	if !strings.Contains(stderr.String(), "made it private") {
		t.Errorf("user add did not say it changed the mode: %q", stderr.String())
	}
}

func TestEnsureDataDir(t *testing.T) {
	if !hasUnixModes {
		t.Skip("file modes do not control access here")
	}
	tests := []struct {
		name   string
		mode   os.FileMode // 0: missing
		chown  bool        // belongs to another user
		was    os.FileMode
		after  os.FileMode
		errHas string
	}{
		{"missing", 0, false, 0, 0o700, ""},
		{"private", 0o700, false, 0, 0o700, ""},
		{"open to all", 0o755, false, 0o755, 0o700, ""},
		{"open to the group", 0o750, false, 0o750, 0o700, ""},
		{"another user's", 0o755, true, 0, 0o755, "belongs to another user"},
		{"another user's, private", 0o700, true, 0, 0o700, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tt.mode != 0 {
				if err := os.Mkdir(dir, tt.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			if tt.chown {
				if os.Geteuid() != 0 {
					t.Skip("giving a directory to another user needs root")
				}
				if err := os.Chown(dir, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			}
			was, err := ensureDataDir(dir)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), dir) {
					t.Errorf("err %v, want one naming the directory and saying %q", err, tt.errHas)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if was != tt.was {
				t.Errorf("replaced mode %04o, want %04o", was, tt.was)
			}
			if m := dirMode(t, dir); m != tt.after {
				t.Errorf("mode %04o afterwards, want %04o", m, tt.after)
			}
		})
	}
}
