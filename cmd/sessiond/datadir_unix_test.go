//go:build unix

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

// TestOpenDataDirIsMadePrivate starts the service, and adds a user, in a
// data directory that others can read: both leave it 0700, and user add
// says so.
func TestOpenDataDirIsMadePrivate(t *testing.T) {
	tests := []struct {
		name string
		do   func(t *testing.T, dir string)
	}{
		{"serve", func(t *testing.T, dir string) {
			_, _, stop := startServe(t, "--data-dir", dir, "--store", "memory://")
			stop()
		}},
		{"user add", func(t *testing.T, dir string) {
			var stderr strings.Builder
			if code := run(t.Context(), []string{"user", "add", "eve", "--generate", "--data-dir", dir}, nil, io.Discard, &stderr, func(string) string { return "" }); code != 0 {
				t.Fatalf("user add: exit %d: %s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), "made it private") {
				t.Errorf("user add did not say it changed the mode: %q", stderr.String())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := openDir(t)
			tt.do(t, dir)
			st, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if m := st.Mode().Perm(); m != 0o700 {
				t.Errorf("%s left the data directory %04o, want 0700", tt.name, m)
			}
		})
	}
}
