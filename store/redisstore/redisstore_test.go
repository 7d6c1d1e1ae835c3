package redisstore

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// TestConfigDB checks that Config.DB selects the database: a record saved
// in database 1 is not in database 0 under the same prefix.
func TestConfigDB(t *testing.T) {
	addrs := standaloneAddrs()
	needServer(t, "Redis", addrs)
	prefix := testPrefix()
	stores := map[int]*Store{}
	for _, db := range []int{0, 1} {
		s, err := New(Config{Addrs: addrs, Prefix: prefix, DB: db})
		if err != nil {
			t.Fatalf("New with DB %d: %v", db, err)
		}
		t.Cleanup(func() {
			purge(t, s.client, prefix)
			s.Close()
		})
		stores[db] = s
	}
	opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Minute)}
	if _, err := stores[1].Save(t.Context(), "k", []byte("v"), 0, opts); err != nil {
		t.Fatal(err)
	}
	if _, _, err := stores[1].Load(t.Context(), "k"); err != nil {
		t.Fatalf("Load from database 1 of what was saved there: %v", err)
	}
	if _, _, err := stores[0].Load(t.Context(), "k"); !errors.Is(err, sesame.ErrNotFound) {
		t.Fatalf("Load from database 0 of what was saved in database 1: %v; want ErrNotFound", err)
	}
}

// TestConfigReachesTheConnection checks that the connection settings of
// Config, which need no rueidis type, are the ones New connects with:
// each of these makes the real server refuse the connection, or makes New
// refuse the Config.
func TestConfigReachesTheConnection(t *testing.T) {
	addrs, cluster := standaloneAddrs(), clusterAddrs()
	needServer(t, "Redis", addrs)
	needServer(t, "Redis Cluster", cluster)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown user", Config{Addrs: addrs, Username: "sesame-no-such-user", Password: "x"}, "WRONGPASS"},
		// A TLS configuration that no handshake can satisfy fails
		// before a byte is sent, where a plain server would leave a
		// real handshake waiting.
		{"TLS", Config{Addrs: addrs, TLS: &tls.Config{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS12}}, "tls:"},
		{"database other than 0 in a cluster", Config{Addrs: cluster, DB: 1}, "SELECT"},
		{"negative database", Config{Addrs: addrs, DB: -1}, "negative DB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v; want an error saying %q", err, tc.want)
			}
		})
	}
}
