package filestore

import (
	"testing"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// TestConformance runs the suite every sesame.Store must pass, with the
// default durability and the background sweeper running.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) sesame.Store {
		s, err := New(Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}
