package boltstore

import (
	"path/filepath"
	"testing"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/dbsc/dbsctest"
)

// TestDeviceBoundSessionsSurviveARestart: sessions bound to a browser's
// key (DBSC) are refreshed by a server started after the one they
// registered with, over the same database file, closed and opened again.
func TestDeviceBoundSessionsSurviveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	dbsctest.Restart(t, func(t *testing.T) (sesame.Store, func() error) {
		s, err := New(Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return s, s.Close
	})
}
