package sqlstoretest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/sqlstore"
	"github.com/sesame-go/sesame/store/storetest"
)

// Faults describes a SQL store's test server to RunFaults.
type Faults struct {
	// Dialect is the store's.
	Dialect sqlstore.Dialect

	// Addr is the host:port of the server.
	Addr string

	// Via returns the store's test Server reaching the server through
	// addr, Addr itself or a storetest.Proxy's address, on a pool of at
	// most a few connections that gives up connecting after
	// storetest.DefaultCallTimeout and is closed when the test ends.
	Via func(t *testing.T, addr string) Server

	// Restart restarts the real server, for RunFaults' restart test.
	Restart func(t *testing.T)
}

// RunFaults runs storetest's network-fault checks against a SQL store:
// through a proxy that cuts the connections in the middle of traffic and
// then makes the server hang, each store on a table of its own with a
// sweeper every 50 ms, so that the faults meet the sweeper too, and Sweep
// among the calls that must give up at their deadline. Errors must name
// the store's package and its database.
//
// With SESAME_RESTART_SERVERS=1 it also runs the same traffic checks
// around f.Restart, a real restart of the server. That disturbs every
// other user of the server, so it is for a CI machine of its own.
func RunFaults(t *testing.T, f Faults) {
	t.Run("Network", func(t *testing.T) {
		storetest.RunNetworkFaults(t, f.networkFaults())
	})
	t.Run("ServerRestart", func(t *testing.T) {
		if os.Getenv("SESAME_RESTART_SERVERS") != "1" {
			t.Skip("restarts the shared server; set SESAME_RESTART_SERVERS=1 to run it")
		}
		s, _ := NewStore(t, f.Via(t, f.Addr), sqlstore.Config{SweepInterval: 50 * time.Millisecond})
		f.networkFaults().RunTraffic(t, s, func() { f.Restart(t) })
	})
}

// networkFaults describes the store to package storetest.
func (f Faults) networkFaults() storetest.NetworkFaults {
	return storetest.NetworkFaults{
		Server: f.Addr,
		NewStore: func(t *testing.T, addr string) sesame.Store {
			s, _ := NewStore(t, f.Via(t, addr), sqlstore.Config{SweepInterval: 50 * time.Millisecond})
			return s
		},
		ErrorMentions: []string{f.Dialect.Package, f.Dialect.Database},
		MoreCalls: []storetest.Call{{Name: "Sweep", Do: func(ctx context.Context, s sesame.Store) error {
			_, err := s.(*sqlstore.Store).Sweep(ctx)
			return err
		}}},
	}
}
