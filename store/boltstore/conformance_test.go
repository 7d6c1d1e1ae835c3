package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// TestConformance runs the suite every sesame.Store must pass, on a fresh
// file with the background sweeper running.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) sesame.Store {
		return openTest(t, Config{SweepInterval: 200e6})
	})
}

// openTest opens a store in a new file in t's temporary directory and
// closes it when the test ends.
func openTest(t testing.TB, cfg Config) *Store {
	t.Helper()
	cfg.Path = filepath.Join(t.TempDir(), "sessions.db")
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
