package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/sesame-go/sesame/store/storetest"
)

// Servers the tests use. SESAME_REDIS and SESAME_REDIS_CLUSTER override the
// addresses (comma-separated); SESAME_REQUIRE_SERVERS=1 turns the skip for
// an unreachable server into a failure, as CI wants.
func standaloneAddrs() []string {
	return addrsFromEnv("SESAME_REDIS", "127.0.0.1:6379")
}

func clusterAddrs() []string {
	return addrsFromEnv("SESAME_REDIS_CLUSTER", "127.0.0.1:17000,127.0.0.1:17001,127.0.0.1:17002")
}

func addrsFromEnv(name, def string) []string {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	return strings.Split(v, ",")
}

// needServer skips (or, with SESAME_REQUIRE_SERVERS=1, fails) the test
// unless every address accepts a TCP connection.
func needServer(t testing.TB, what string, addrs []string) {
	t.Helper()
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, time.Second)
		if err != nil {
			storetest.ServerMissing(t, what+" at "+strings.Join(addrs, ",")+" is not reachable ("+err.Error()+"); see shared/services.md to start it")
		}
		c.Close()
	}
}

// testPrefix is a key prefix no other test uses.
func testPrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "sesametest:" + hex.EncodeToString(b[:]) + ":"
}

// openStore opens a store on addrs with a fresh prefix, and deletes every
// key under that prefix when the test ends.
func openStore(t testing.TB, addrs []string, cache time.Duration) *Store {
	t.Helper()
	prefix := testPrefix()
	s, err := New(Config{Addrs: addrs, Prefix: prefix, ClientSideCache: cache})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		purge(t, s.client, prefix)
		s.Close()
	})
	return s
}

// purge deletes every key under prefix, on every node.
func purge(t testing.TB, c rueidis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for addr, node := range c.Nodes() {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Logf("cleanup of %s on %s: %v", prefix, addr, err)
				break
			}
			for _, k := range e.Elements {
				node.Do(ctx, node.B().Unlink().Key(k).Build())
			}
			if e.Cursor == 0 {
				break
			}
			cursor = e.Cursor
		}
	}
}
