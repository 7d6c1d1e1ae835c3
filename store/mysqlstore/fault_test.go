package mysqlstore

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// networkFaults describes mysqlstore to storetest's network-fault checks:
// each store gets a table of its own, a pool of at most 4 connections to
// addr and a sweeper every 50 ms, so the faults meet the sweeper too.
func networkFaults(t *testing.T) storetest.NetworkFaults {
	return storetest.NetworkFaults{
		Server: testConfig(t).Addr,
		NewStore: func(t *testing.T, addr string) sesame.Store {
			cfg := testConfig(t)
			cfg.Addr = addr
			cfg.Timeout = storetest.DefaultCallTimeout // a call's deadline in the fault checks
			db := open(t, cfg)
			db.SetMaxOpenConns(4)
			t.Cleanup(func() { db.Close() })
			return newStore(t, db, Config{Server: "proxy " + addr, SweepInterval: 50 * time.Millisecond})
		},
		ErrorMentions: []string{"mysqlstore", "MySQL"},
		MoreCalls: []storetest.Call{{Name: "Sweep", Do: func(ctx context.Context, s sesame.Store) error {
			_, err := s.(*Store).Sweep(ctx)
			return err
		}}},
	}
}

// TestNetworkFaults cuts the connection to the server in the middle of
// traffic, and makes the server hang, with a proxy so the server other
// tests share keeps running.
func TestNetworkFaults(t *testing.T) {
	storetest.RunNetworkFaults(t, networkFaults(t))
}

// TestFaultServerRestart really restarts the local MariaDB server in the
// middle of traffic: it stops it with mariadb-admin shutdown and starts it
// again with start-stop-daemon, as .ci/services.sh does. It disturbs every
// other user of the server, so it runs only when SESAME_RESTART_SERVERS=1
// (for a CI machine of its own).
func TestFaultServerRestart(t *testing.T) {
	if os.Getenv("SESAME_RESTART_SERVERS") != "1" {
		t.Skip("restarts the shared MariaDB server; set SESAME_RESTART_SERVERS=1 to run it")
	}
	cfg := testConfig(t)
	cfg.Timeout = storetest.DefaultCallTimeout // a call's deadline in the fault checks
	db := open(t, cfg)
	t.Cleanup(func() { db.Close() })
	s := newStore(t, db, Config{SweepInterval: 50 * time.Millisecond})
	networkFaults(t).RunTraffic(t, s, func() {
		for _, cmd := range [][]string{
			{"mariadb-admin", "shutdown"},
			{"start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"},
		} {
			if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
			}
		}
	})
}
