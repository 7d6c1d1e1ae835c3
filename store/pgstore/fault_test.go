package pgstore

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// networkFaults describes pgstore to storetest's network-fault checks:
// each store gets a table of its own, a pool of at most 4 connections to
// addr and a sweeper every 50 ms, so the faults meet the sweeper too.
func networkFaults(t *testing.T) storetest.NetworkFaults {
	return storetest.NetworkFaults{
		Server: serverAddr(testConfig(t)),
		NewStore: func(t *testing.T, addr string) sesame.Store {
			cfg := testConfig(t)
			host, port, _ := net.SplitHostPort(addr)
			n, _ := strconv.Atoi(port)
			cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(n)
			cfg.ConnConfig.ConnectTimeout = storetest.DefaultCallTimeout // a call's deadline in the fault checks
			cfg.MaxConns = 4
			pool := open(t, cfg)
			t.Cleanup(pool.Close)
			return newStore(t, pool, Config{SweepInterval: 50 * time.Millisecond})
		},
		ErrorMentions: []string{"pgstore", "PostgreSQL"},
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

// TestFaultServerRestart really restarts the local PostgreSQL cluster in
// the middle of traffic. It disturbs every other user of the server, so it
// runs only when SESAME_RESTART_SERVERS=1 (for a CI machine of its own).
func TestFaultServerRestart(t *testing.T) {
	if os.Getenv("SESAME_RESTART_SERVERS") != "1" {
		t.Skip("restarts the shared PostgreSQL server; set SESAME_RESTART_SERVERS=1 to run it")
	}
	versions, _ := filepath.Glob("/etc/postgresql/*")
	if len(versions) != 1 {
		t.Fatalf("want one cluster version under /etc/postgresql, found %v", versions)
	}
	cfg := testConfig(t)
	cfg.ConnConfig.ConnectTimeout = storetest.DefaultCallTimeout // a call's deadline in the fault checks
	pool := open(t, cfg)
	t.Cleanup(pool.Close)
	s := newStore(t, pool, Config{SweepInterval: 50 * time.Millisecond})
	networkFaults(t).RunTraffic(t, s, func() {
		out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", filepath.Base(versions[0]), "main", "restart").CombinedOutput()
		if err != nil {
			t.Errorf("pg_ctlcluster restart: %v\n%s", err, out)
		}
	})
}
