package memcachestore

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sesame-go/sesame/store/storetest"
)

// serverAddr is the memcached the tests use: SESAME_MEMCACHE_ADDR, or the
// default port on loopback.
func serverAddr() string {
	if a := os.Getenv("SESAME_MEMCACHE_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:11211"
}

// testClient returns a client of the shared test server, skipping (or
// failing) the test when the server does not answer.
func testClient(t testing.TB) *memcache.Client {
	t.Helper()
	addr := serverAddr()
	c := memcache.New(addr)
	c.Timeout = 2 * time.Second
	c.MaxIdleConns = 16
	if err := c.Ping(); err != nil {
		storetest.ServerMissing(t, "no memcached at "+addr+" ("+err.Error()+"); set SESAME_MEMCACHE_ADDR, or start one with `memcached -d -u nobody -l 127.0.0.1 -p 11211 -I 2m`")
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a fresh random key prefix, so that a store is empty
// without flushing a server others may use.
func testPrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "sesame-test-" + hex.EncodeToString(b[:]) + ":"
}

// newTestStore returns a store of client c with a fresh key prefix.
func newTestStore(t testing.TB, c *memcache.Client, cfg Config) *Store {
	t.Helper()
	cfg.KeyPrefix = testPrefix()
	if cfg.Server == "" {
		cfg.Server = serverAddr()
	}
	cfg.Client = c
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
