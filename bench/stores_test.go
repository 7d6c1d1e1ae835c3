package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/alexedwards/scs/redisstore"
	scsmem "github.com/alexedwards/scs/v2/memstore"
	"github.com/gomodule/redigo/redis"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
	sesameredis "github.com/sesame-go/sesame/store/redisstore"
)

// The store benchmarks compare Sesame's stores with scs's doing the same
// job one level down, without the middleware: load a session record of
// storeValueSize bytes by key, and save one. Sesame's Save is conditional
// on the version loaded (that is how it keeps concurrent requests from
// losing each other's changes); scs's Commit overwrites.

const storeValueSize = 300

// storeExpiry is the expiry of every record the store benchmarks save: the
// same for each save, as the Manager's writes mostly are (it moves the
// idle deadline at most once every IdleTimeout/20).
var storeExpiry = time.Now().Add(24 * time.Hour)

// kv is a session store as the benchmarks drive it: a save of value under
// key (creating it when new), then loads and saves of it.
type kv interface {
	load(key string) error
	save(key string, value []byte) error
}

type sesameKV struct {
	s        sesame.Store
	versions map[string]uint64 // the version each key's last save returned
}

func (k *sesameKV) load(key string) error {
	_, _, err := k.s.Load(context.Background(), key)
	return err
}

func (k *sesameKV) save(key string, value []byte) error {
	v, err := k.s.Save(context.Background(), key, value, k.versions[key], sesame.SaveOptions{ExpiresAt: storeExpiry})
	k.versions[key] = v
	return err
}

// scsStore is the store interface of scs.
type scsStore interface {
	Find(token string) ([]byte, bool, error)
	Commit(token string, b []byte, expiry time.Time) error
}

type scsKV struct{ s scsStore }

func (k scsKV) load(key string) error {
	_, _, err := k.s.Find(key)
	return err
}

func (k scsKV) save(key string, value []byte) error {
	return k.s.Commit(key, value, storeExpiry)
}

// storeContenders open one kv per goroutine over a store they share.
var storeContenders = []struct {
	lib, kind string
	open      func(tb testing.TB) func() kv
}{
	{"sesame", "mem", func(tb testing.TB) func() kv {
		s, err := memstore.New(memstore.Config{})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return func() kv { return &sesameKV{s: s, versions: map[string]uint64{}} }
	}},
	{"scs", "mem", func(testing.TB) func() kv {
		s := scsmem.NewWithCleanupInterval(0) // see openSCSMem
		return func() kv { return scsKV{s} }
	}},
	{"sesame", "redis", func(tb testing.TB) func() kv {
		s, err := sesameredis.New(sesameredis.Config{Addrs: []string{needRedis(tb)}, Prefix: runPrefix("sesame")})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return func() kv { return &sesameKV{s: s, versions: map[string]uint64{}} }
	}},
	{"scs", "redis", func(tb testing.TB) func() kv {
		addr := needRedis(tb)
		pool := &redis.Pool{MaxIdle: 64, IdleTimeout: time.Minute, Dial: func() (redis.Conn, error) { return redis.Dial("tcp", addr) }}
		tb.Cleanup(func() { pool.Close() })
		s := redisstore.NewWithPrefix(pool, runPrefix("scs"))
		return func() kv { return scsKV{s} }
	}},
}

func newStoreKey(tb testing.TB) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func BenchmarkStoreLoad(b *testing.B)         { benchStore(b, false, false) }
func BenchmarkStoreSave(b *testing.B)         { benchStore(b, true, false) }
func BenchmarkStoreLoadParallel(b *testing.B) { benchStore(b, false, true) }
func BenchmarkStoreSaveParallel(b *testing.B) { benchStore(b, true, true) }

// benchStore measures loads or saves of an existing record, one goroutine
// or one per CPU, each goroutine with a record of its own.
func benchStore(b *testing.B, save, parallel bool) {
	value := make([]byte, storeValueSize)
	rand.Read(value)
	for _, c := range storeContenders {
		b.Run("kind="+c.kind+"/lib="+c.lib, func(b *testing.B) {
			newKV := c.open(b)
			op := func(k kv, key string) error {
				if save {
					return k.save(key, value)
				}
				return k.load(key)
			}
			prepare := func() (kv, string) {
				k, key := newKV(), newStoreKey(b)
				if err := k.save(key, value); err != nil {
					b.Fatal(err)
				}
				return k, key
			}
			b.ReportAllocs()
			if !parallel {
				k, key := prepare()
				b.ResetTimer()
				for range b.N {
					if err := op(k, key); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				k, key := prepare()
				for pb.Next() {
					if err := op(k, key); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
