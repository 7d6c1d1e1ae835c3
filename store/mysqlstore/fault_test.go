package mysqlstore

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/store/sqlstore/sqlstoretest"
	"github.com/sesame-go/sesame/store/storetest"
)

// TestFaults cuts the connection to the server in the middle of traffic,
// and makes the server hang, with a proxy so the server other tests share
// keeps running. With SESAME_RESTART_SERVERS=1 it also really restarts
// the local MariaDB in the middle of traffic: it stops it with
// mariadb-admin shutdown and starts it again with start-stop-daemon, as
// .ci/services.sh does.
func TestFaults(t *testing.T) {
	sqlstoretest.RunFaults(t, sqlstoretest.Faults{
		Dialect: dialect,
		Addr:    testConfig(t).Addr,
		Via: func(t *testing.T, addr string) sqlstoretest.Server {
			cfg := testConfig(t)
			cfg.Addr = addr
			cfg.Timeout = storetest.DefaultCallTimeout // a call's deadline in the fault checks
			db := open(t, cfg)
			db.SetMaxOpenConns(4)
			return testServer(db, addr)
		},
		Restart: func(t *testing.T) {
			for _, cmd := range [][]string{
				{"mariadb-admin", "shutdown"},
				{"start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"},
			} {
				if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
					t.Errorf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
				}
			}
		},
	})
}
