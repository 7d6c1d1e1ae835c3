package pgstore

import (
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sesame-go/sesame/store/sqlstore/sqlstoretest"
	"github.com/sesame-go/sesame/store/storetest"
)

// TestFaults cuts the connection to the server in the middle of traffic,
// and makes the server hang, with a proxy so the server other tests share
// keeps running. With SESAME_RESTART_SERVERS=1 it also really restarts
// the local PostgreSQL cluster (pg_ctlcluster) in the middle of traffic.
func TestFaults(t *testing.T) {
	sqlstoretest.RunFaults(t, sqlstoretest.Faults{
		Dialect: dialect,
		Addr:    serverAddr(testConfig(t)),
		Via: func(t *testing.T, addr string) sqlstoretest.Server {
			cfg := testConfig(t)
			host, port, _ := net.SplitHostPort(addr)
			n, _ := strconv.Atoi(port)
			cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(n)
			cfg.ConnConfig.ConnectTimeout = storetest.DefaultCallTimeout // a call's deadline in the fault checks
			cfg.MaxConns = 4
			return testServer(open(t, cfg))
		},
		Restart: func(t *testing.T) {
			versions, _ := filepath.Glob("/etc/postgresql/*")
			if len(versions) != 1 {
				t.Fatalf("want one cluster version under /etc/postgresql, found %v", versions)
			}
			out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", filepath.Base(versions[0]), "main", "restart").CombinedOutput()
			if err != nil {
				t.Errorf("pg_ctlcluster restart: %v\n%s", err, out)
			}
		},
	})
}
