//go:build unix

package dirsync

import (
	"path/filepath"
	"testing"
)

func TestSyncReportsWhatItCannotSync(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		dir     string
		wantErr bool
	}{
		{"existing directory", dir, false},
		{"missing directory", filepath.Join(dir, "missing"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Sync(tc.dir); (err != nil) != tc.wantErr {
				t.Fatalf("Sync(%s) = %v; want an error: %v", tc.dir, err, tc.wantErr)
			}
		})
	}
}
