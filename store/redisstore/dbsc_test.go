package redisstore

import (
	"testing"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/dbsc/dbsctest"
)

// TestDeviceBoundSessionsSurviveARestart: sessions bound to a browser's
// key (DBSC) are refreshed by a server started after the one they
// registered with, through a new client of the same Redis and prefix.
func TestDeviceBoundSessionsSurviveARestart(t *testing.T) {
	addrs := standaloneAddrs()
	needServer(t, "Redis", addrs)
	prefix := testPrefix()
	opened := 0
	dbsctest.Restart(t, func(t *testing.T) (sesame.Store, func() error) {
		s, err := New(Config{Addrs: addrs, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		opened++
		last := opened == 2
		return s, func() error {
			if last { // the test is over: leave nothing behind
				purge(t, s.client, prefix)
			}
			return s.Close()
		}
	})
}
