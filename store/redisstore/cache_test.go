package redisstore

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// getCalls is how many GETs a server has run, from INFO commandstats.
func getCalls(t *testing.T, p *redisProc) int {
	t.Helper()
	m := regexp.MustCompile(`cmdstat_get:calls=(\d+)`).FindStringSubmatch(p.cli("INFO", "commandstats"))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestClientSideCacheServesOwnWrites saves a record with the client-side
// cache on and loads it again and again, on a server of its own whose
// GETs it counts: the first load after the save goes to the server, the
// rest come from the process's memory, and each load returns what was
// saved.
func TestClientSideCacheServesOwnWrites(t *testing.T) {
	needRedisServer(t)
	p := startRedis(t, osPort(t))
	s := openStore(t, []string{p.addr()}, 10*time.Second)
	ctx := t.Context()
	const loads = 20
	key := newKey()
	var version uint64
	for round := range 3 {
		value := []byte(fmt.Sprintf("round %d", round))
		v, err := s.Save(ctx, key, value, version, live("alice"))
		if err != nil {
			t.Fatal(err)
		}
		version = v
		before := getCalls(t, p)
		for range loads {
			got, gv, err := s.Load(ctx, key)
			if err != nil || gv != version || !bytes.Equal(got, value) {
				t.Fatalf("round %d: Load = %q, version %d, %v; want %q, version %d", round, got, gv, err, value, version)
			}
		}
		if n := getCalls(t, p) - before; n > 2 {
			t.Errorf("round %d: %d loads after a save sent %d GETs to the server; want at most 2", round, loads, n)
		}
	}
}

// TestClientSideCacheNeverServesOwnWriteStale alternates loads (which fill
// the cache) and saves, with and without the cache in between, and loads
// right after each save: the load must return what was just saved, never
// the copy cached before the save.
func TestClientSideCacheNeverServesOwnWriteStale(t *testing.T) {
	needRedisServer(t)
	p := startRedis(t, osPort(t))
	s := openStore(t, []string{p.addr()}, 10*time.Second)
	other := openStore(t, []string{p.addr()}, 10*time.Second)
	other.prefix = s.prefix // another app server on the same keys
	ctx := t.Context()
	key := newKey()
	var version uint64
	for i := range 300 {
		writer := s
		if i%3 == 2 {
			writer = other // a change this process did not make
		}
		value := []byte(strconv.Itoa(i))
		v, err := writer.Save(ctx, key, value, version, live(""))
		if err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		version = v
		if writer == other {
			// Only the invalidation tells s; give it a moment.
			deadline := time.Now().Add(2 * time.Second)
			for {
				if _, gv, _ := s.Load(ctx, key); gv == version || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		got, gv, err := s.Load(ctx, key)
		if err != nil || gv != version || !bytes.Equal(got, value) {
			t.Fatalf("load after save %d: %q, version %d, %v; want %q, version %d", i, got, gv, err, value, version)
		}
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, key); err == nil {
		t.Fatal("Load right after Delete found the record")
	}
}
