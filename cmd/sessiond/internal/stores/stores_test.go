package stores

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, scheme, rest, err string
	}{
		{"memory://", "memory", "", ""},
		{"MEMORY://", "memory", "", ""},
		{"memory://x", "", "", "takes nothing"},
		{"file:///var/lib/s", "file", "/var/lib/s", ""},
		{"file://rel/dir", "file", "rel/dir", ""},
		{"file://", "", "", "needs a path"},
		{"redis://127.0.0.1:6379", "redis", "127.0.0.1:6379", ""},
		{"redis://:pw@127.0.0.1:6379?prefix=app:", "redis", ":pw@127.0.0.1:6379?prefix=app:", ""},
		{"redis://localhost", "", "", "host:port"},
		{"redis://h:1?db=2", "", "", "unknown option"},
		{"redis-cluster://a:1,b:2,c:3", "redis-cluster", "a:1,b:2,c:3", ""},
		{"postgres://u@h/db?sslmode=disable", "postgres", "u@h/db?sslmode=disable", ""},
		{"mysql://root@127.0.0.1:3306/test", "mysql", "root@127.0.0.1:3306/test", ""},
		{"mysql://root@127.0.0.1/test?tls=preferred", "mysql", "root@127.0.0.1/test?tls=preferred", ""},
		{"mysql://root@127.0.0.1:3306/", "", "", "database name"},
		{"mysql://h/db?clientFoundRows=true", "", "", "clientFoundRows"},
		{"memcache://127.0.0.1:11211", "memcache", "127.0.0.1:11211", ""},
		{"memcache://a:1,b:2", "memcache", "a:1,b:2", ""},
		{"memcache://localhost", "", "", "host:port"},
		{"bolt:///var/lib/sessiond/s.db", "bolt", "/var/lib/sessiond/s.db", ""},
		{"bolt://", "", "", "needs a path"},
		{"/just/a/path", "", "", "want SCHEME://"},
		{"gopher://x", "", "", "unknown scheme"},
	}
	for _, tt := range tests {
		u, err := Builtin().Parse(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || u.Scheme != tt.scheme || u.Rest != tt.rest {
			t.Errorf("%q: %+v, %v; want %s %q", tt.in, u, err, tt.scheme, tt.rest)
		}
	}
}

func TestRedisConfig(t *testing.T) {
	cfg, err := redisConfig("redis", "user:p%40ss@127.0.0.1:6379?prefix=app:")
	if err != nil || cfg.Username != "user" || cfg.Password != "p@ss" || cfg.Prefix != "app:" || len(cfg.Addrs) != 1 {
		t.Errorf("%+v %v", cfg, err)
	}
	if _, err := redisConfig("redis", "a:1,b:2"); err == nil {
		t.Error("redis:// accepted two addresses")
	}
	cfg, err = redisConfig("redis-cluster", "a:1,b:2?min-replicas=1&replica-timeout=250ms")
	if err != nil || cfg.MinReplicas != 1 || cfg.ReplicaTimeout != 250*time.Millisecond || len(cfg.Addrs) != 2 {
		t.Errorf("min-replicas and replica-timeout: %+v %v", cfg, err)
	}
	cfg, err = redisConfig("redis", "h:1?client-cache=2s")
	if err != nil || cfg.ClientSideCache != 2*time.Second {
		t.Errorf("client-cache: %+v %v", cfg, err)
	}
	for _, bad := range []string{"min-replicas=-1", "min-replicas=one", "replica-timeout=0", "replica-timeout=10", "replica-timeout=1us", "client-cache=-1s", "client-cache=2"} {
		if _, err := redisConfig("redis-cluster", "a:1?"+bad); err == nil || !strings.Contains(err.Error(), strings.Split(bad, "=")[0]) {
			t.Errorf("%s: err %v; want one naming the option", bad, err)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:secret@db/x", "postgres://app:xxxxx@db/x"},
		{"redis://:pw@h:1", "redis://:xxxxx@h:1"},
		{"file:///a/b", "file:///a/b"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestInDataDir: bolt://sessions.db and file://sessions name places in
// the data directory, not in the working directory.
func TestInDataDir(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bolt://rel.db", "bolt:///data/rel.db"},
		{"bolt://sub/rel.db", "bolt:///data/sub/rel.db"},
		{"bolt:///abs/rel.db", "bolt:///abs/rel.db"},
		{"file://sessions", "file:///data/sessions"},
		{"file:///var/s", "file:///var/s"},
		{"memory://", "memory://"},
		{"redis://127.0.0.1:6379", "redis://127.0.0.1:6379"},
	}
	for _, tt := range tests {
		u, err := Builtin().Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := Builtin().In(u, "/data"); got.Raw != tt.want || !strings.HasSuffix(got.Raw, got.Rest) {
			t.Errorf("%s in /data: %+v, want %s", tt.in, got, tt.want)
		}
	}

}

func TestDefault(t *testing.T) {
	dir := t.TempDir()
	if got := Default(dir); got.Scheme != "bolt" || got.Rest != filepath.Join(dir, "sessions.db") {
		t.Errorf("fresh dir: %+v", got)
	}
	// A data dir from before the bolt store keeps its file store.
	os.Mkdir(filepath.Join(dir, "sessions"), 0o700)
	if got := Default(dir); got.Scheme != "file" {
		t.Errorf("dir with a file store: %+v", got)
	}
	os.WriteFile(filepath.Join(dir, "sessions.db"), nil, 0o600)
	if got := Default(dir); got.Scheme != "bolt" {
		t.Errorf("dir with both: %+v", got)
	}
}

func TestMySQLDSN(t *testing.T) {
	c, err := mysqlDSN("mysql://app:p%40ss@db.internal/sessions?timeout=5s")
	if err != nil || c.User != "app" || c.Passwd != "p@ss" || c.Addr != "db.internal:3306" || c.DBName != "sessions" || c.Timeout != 5*time.Second {
		t.Errorf("%+v %v", c, err)
	}
	if _, err := mysqlDSN("mysql://app:secret@h/db?timeout=never"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad parameter: %v", err)
	}
}
