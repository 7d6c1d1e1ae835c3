package datadir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirMode returns the permission bits of dir.
func dirMode(t *testing.T, dir string) os.FileMode {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestPrepare(t *testing.T) {
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
			was, err := Prepare(dir)
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

func TestSecretFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ticket-secret")
	s1, created, err := LoadOrCreateSecret(p, RandomSecret)
	if err != nil || !created || len(s1) < 32 {
		t.Fatalf("%q %v %v", s1, created, err)
	}
	os.Chmod(p, 0o644)
	s2, created, err := LoadOrCreateSecret(p, RandomSecret)
	if err != nil || created || s2 != s1 {
		t.Fatalf("second load: %q %v %v", s2, created, err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v not tightened", st.Mode().Perm())
	}
}
