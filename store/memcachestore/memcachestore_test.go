package memcachestore

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

var ctx = context.Background()

func live() sesame.SaveOptions {
	return sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}
}

// TestExpiration checks memcached's expiration for a deadline: the
// deadline plus expirySlack, in whole seconds rounded up, relative up to
// 30 days and absolute beyond.
func TestExpiration(t *testing.T) {
	now := time.Now().Truncate(time.Second) // whole seconds keep the wants exact
	const days30 = 30 * 24 * 3600
	slack := int32(expirySlack / time.Second)
	tests := []struct {
		name string
		at   time.Time
		want int32
	}{
		{"zero time: never", time.Time{}, 0},
		{"past: already expired", now.Add(-time.Second), -1},
		{"now: already expired", now, -1},
		{"1 ns ahead: the slack and 1 s", now.Add(1), slack + 1},
		{"exactly 1 s: the slack and 1 s", now.Add(time.Second), slack + 1},
		{"1.2 s: the slack and 2 s", now.Add(1200 * time.Millisecond), slack + 2},
		{"30 days with the slack: still relative", now.Add(days30*time.Second - expirySlack), days30},
		{"1 ns beyond: absolute, rounded up", now.Add(days30*time.Second - expirySlack + 1), int32(now.Unix()) + days30 + 1},
		{"30 days: absolute, with the slack", now.Add(days30 * time.Second), int32(now.Unix()) + days30 + slack},
		{"absolute rounds up", now.Add(40*24*time.Hour + time.Millisecond), int32(now.Unix()) + 40*24*3600 + slack + 1},
		{"beyond 2038: the largest", now.Add(100 * 366 * 24 * time.Hour), 1<<31 - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := expiration(tc.at, now); got != tc.want {
				t.Fatalf("expiration = %d; want %d", got, tc.want)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	c := memcache.New("127.0.0.1:1")
	tests := []struct {
		name string
		cfg  Config
	}{
		{"neither servers nor client", Config{}},
		{"both servers and client", Config{Servers: []string{"127.0.0.1:1"}, Client: c}},
		{"empty server address", Config{Servers: []string{"127.0.0.1:1", ""}}},
		{"server address without a port", Config{Servers: []string{"127.0.0.1"}}},
		{"space in prefix", Config{Client: c, KeyPrefix: "my app:"}},
		{"control byte in prefix", Config{Client: c, KeyPrefix: "a\nb"}},
		{"prefix too long", Config{Client: c, KeyPrefix: strings.Repeat("p", MaxKeyPrefixLen+1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
	if _, err := New(Config{Client: c, KeyPrefix: strings.Repeat("p", MaxKeyPrefixLen)}); err != nil {
		t.Fatalf("New with the longest prefix: %v", err)
	}
}

// TestCloseClosesOnlyTheStoresOwnClient: a Store made from Config.Servers
// closes its connections at Close; one given a Config.Client leaves the
// client's connections to their owner.
func TestCloseClosesOnlyTheStoresOwnClient(t *testing.T) {
	testClient(t) // skips when there is no server
	tests := []struct {
		name      string
		cfg       func(addr string) Config
		openAfter bool
	}{
		{"Servers", func(addr string) Config { return Config{Servers: []string{addr}} }, false},
		{"Client", func(addr string) Config { return Config{Client: memcache.New(addr)} }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := storetest.StartProxy(t, serverAddr())
			cfg := tc.cfg(p.Addr())
			cfg.KeyPrefix = testPrefix()
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			mustSave(t, s, "k", 0)
			if p.Conns() == 0 {
				t.Fatal("no connection through the proxy after a Save")
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if tc.openAfter {
				time.Sleep(100 * time.Millisecond) // time for a close to be seen, were there one
				if p.Conns() == 0 {
					t.Fatal("Close closed the connections of a client the caller owns")
				}
				cfg.Client.Close()
				return
			}
			for deadline := time.Now().Add(5 * time.Second); p.Conns() > 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d connections still open 5 s after Close", p.Conns())
				}
			}
		})
	}
}

func TestCASCacheIsBounded(t *testing.T) {
	c := newCASCache(3)
	for i := range 10 {
		c.put(string(rune('a'+i)), casEntry{version: 1, id: uint64(i)})
	}
	if n := c.len(); n != 3 {
		t.Fatalf("cache of 3 holds %d entries after 10 puts", n)
	}
	var nilCache *casCache
	nilCache.put("k", casEntry{})
	if _, ok := nilCache.take("k", 0); ok {
		t.Fatal("a nil cache remembered something")
	}
}

// countingClient returns a client of the test server that counts the
// commands it sends: gomemcache flushes each small command with one write.
func countingClient(t *testing.T) (*memcache.Client, *atomic.Int64) {
	t.Helper()
	testClient(t) // skips when there is no server
	var writes atomic.Int64
	c := memcache.New(serverAddr())
	c.Timeout = 2 * time.Second
	c.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{conn, &writes}, nil
	}
	t.Cleanup(func() { c.Close() })
	return c, &writes
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// TestRoundTrips counts the commands each operation sends.
func TestRoundTrips(t *testing.T) {
	c, writes := countingClient(t)
	tests := []struct {
		name  string
		cfg   Config
		setup func(s *Store, key string) uint64 // returns the version to save
		want  int64
	}{
		{"create", Config{}, func(*Store, string) uint64 { return 0 }, 1},
		{"save after load (CAS id remembered)", Config{}, func(s *Store, key string) uint64 {
			mustSave(t, s, key, 0)
			_, v, err := s.Load(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}, 1},
		{"save after save (no CAS id)", Config{}, func(s *Store, key string) uint64 {
			return mustSave(t, s, key, 0)
		}, 2},
		{"save after load, cache off", Config{CASCacheSize: -1}, func(s *Store, key string) uint64 {
			mustSave(t, s, key, 0)
			_, v, _ := s.Load(ctx, key)
			return v
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, c, tc.cfg)
			v := tc.setup(s, "k")
			before := writes.Load()
			mustSave(t, s, "k", v)
			if n := writes.Load() - before; n != tc.want {
				t.Fatalf("Save took %d round trips; want %d", n, tc.want)
			}
		})
	}
	t.Run("load", func(t *testing.T) {
		s := newTestStore(t, c, Config{})
		mustSave(t, s, "k", 0)
		before := writes.Load()
		if _, _, err := s.Load(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if n := writes.Load() - before; n != 1 {
			t.Fatalf("Load took %d round trips; want 1", n)
		}
	})
}

func mustSave(t testing.TB, s *Store, key string, version uint64) uint64 {
	t.Helper()
	v, err := s.Save(ctx, key, []byte("value"), version, live())
	if err != nil {
		t.Fatalf("Save(%s, %d): %v", key, version, err)
	}
	return v
}

// TestStaleCASIdFallsBackToARead: a remembered CAS id that no longer
// matches (another Store wrote meanwhile) gives a conflict, never a lost
// update; and when only the CAS id changed, not the version, the save
// still succeeds.
func TestStaleCASIdFallsBackToARead(t *testing.T) {
	c := testClient(t)
	a := newTestStore(t, c, Config{})
	b, _ := New(Config{Client: c, KeyPrefix: a.prefix, Server: a.server})
	v := mustSave(t, a, "k", 0)
	if _, _, err := a.Load(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	// b saves over it: a's remembered id is stale and the version moved.
	if _, _, err := b.Load(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	mustSave(t, b, "k", v)
	if _, err := a.Save(ctx, "k", []byte("lost"), v, live()); !errors.Is(err, sesame.ErrConflict) {
		t.Fatalf("Save with a stale version: %v; want ErrConflict", err)
	}

	// Touch changes nothing but may change the CAS id: the version is
	// current, so the save must go through.
	_, v2, err := a.Load(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Touch(a.prefix+"k", 3600); err != nil {
		t.Fatal(err)
	}
	mustSave(t, a, "k", v2)
}

func TestTooLargeValueIsRefusedClearly(t *testing.T) {
	c := testClient(t)
	s := newTestStore(t, c, Config{})
	_, err := s.Save(ctx, "big", make([]byte, 3<<20), 0, live())
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), s.server) {
		t.Fatalf("Save of 3 MiB: %v; want ErrTooLarge naming %s", err, s.server)
	}
	mustSave(t, s, "after", 0) // the store still works
}

func TestForeignItemIsCorrupt(t *testing.T) {
	c := testClient(t)
	s := newTestStore(t, c, Config{})
	if err := c.Set(&memcache.Item{Key: s.prefix + "foreign", Value: []byte("short")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, "foreign"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Load of a foreign item: %v; want ErrCorrupt", err)
	}
}

func TestClosedStoreFailsClearly(t *testing.T) {
	s, err := New(Config{Servers: []string{"127.0.0.1:1"}, Server: "cache-1"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	_, _, lerr := s.Load(ctx, "k")
	_, serr := s.Save(ctx, "k", nil, 0, live())
	derr := s.Delete(ctx, "k")
	for _, err := range []error{lerr, serr, derr} {
		if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "cache-1") {
			t.Errorf("call after Close: %v; want ErrClosed naming cache-1", err)
		}
	}
}
