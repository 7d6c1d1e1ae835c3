package redisstore

import (
	"context"
	"crypto/rand"
	"strconv"
	"testing"
	"time"

	"github.com/sesame-go/sesame/store/storetest"
)

// The benchmarks time Load and Save through the store against the same
// client sending the plain commands the store stands for, in the same run:
//
//	Load/Store      Store.Load: GET, parse the header, copy the value
//	Load/RawGET     GET of the same record
//	Load/RawHMGET   HMGET v d of a hash holding the same (the layout not chosen)
//	Save/Store      Store.Save: the conditional-save script (anonymous)
//	Save/StoreUser  Store.Save with a user: script + index script, pipelined
//	Save/RawSET     SET of the same bytes, unconditional, no TTL
//	Save/RawHSET    HSET v d u of a hash holding the same
//	Save/HashLayout the conditional save as a script over a hash of version,
//	                 value and user: the layout not chosen
//
// With -cpu 1 each runs one call at a time (latency: one round trip each);
// with -cpu 8, eight at once (throughput, where the server's work shows):
//
//	go test -run '^$' -bench . -benchtime 20000x -cpu 1,8
func benchStore(b *testing.B, addrs []string, what string) *Store {
	b.Helper()
	needServer(b, what, addrs)
	return openStore(b, addrs, 0)
}

const benchValueSize = 200 // a typical session record

func BenchmarkStandalone(b *testing.B) { benchAll(b, benchStore(b, standaloneAddrs(), "Redis")) }
func BenchmarkCluster(b *testing.B)    { benchAll(b, benchStore(b, clusterAddrs(), "Redis Cluster")) }

// BenchmarkRatio times the store and the raw client alternately, one call
// at a time (storetest.ComparePair), so that a busy machine slows both
// alike, and reports each one's ns/op and their ratio (store/raw).
func BenchmarkRatio(b *testing.B) {
	targets := []struct {
		name, what string
		addrs      func() []string
	}{
		{"Standalone", "Redis", standaloneAddrs},
		{"Cluster", "Redis Cluster", clusterAddrs},
	}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			s := benchStore(b, tg.addrs(), tg.what)
			ctx := context.Background()
			c := s.client
			value := make([]byte, benchValueSize)
			rand.Read(value)
			key := newKey()
			version, err := s.Save(ctx, key, value, 0, live(""))
			if err != nil {
				b.Fatal(err)
			}
			rec := s.recordKey(key)
			stored := encodeRecord(version, "", value)
			b.Run("Load", func(b *testing.B) {
				storetest.ComparePair(b, nil,
					func() error { _, _, err := s.Load(ctx, key); return err },
					func() error { return c.Do(ctx, c.B().Get().Key(rec).Build()).Error() })
			})
			b.Run("Save", func(b *testing.B) {
				k, v := newKey(), uint64(0)
				rk := s.recordKey(k) + "raw"
				opts := live("")
				storetest.ComparePair(b, nil,
					func() error {
						nv, err := s.Save(ctx, k, value, v, opts)
						v = nv
						return err
					},
					func() error { return c.Do(ctx, c.B().Set().Key(rk).Value(stored).Build()).Error() })
			})
			// The same save against the raw client sending the same script:
			// what the store adds in Go, without the server's Lua cost.
			b.Run("SaveVsRawScript", func(b *testing.B) {
				k, v := newKey(), uint64(0)
				rk, rv := s.recordKey(k)+"raw", uint64(0)
				opts := live("")
				exp := strconv.FormatInt(opts.ExpiresAt.UnixMilli(), 10)
				storetest.ComparePair(b, nil,
					func() error {
						nv, err := s.Save(ctx, k, value, v, opts)
						v = nv
						return err
					},
					func() error {
						nv := newVersion(rv)
						err := saveScript.run(ctx, c, []string{rk}, versionString(rv),
							encodeRecord(nv, "", value), exp).Error()
						rv = nv
						return err
					})
			})
		})
	}
}

// hashSaveScript is the hash layout the store does not use, kept here to
// measure it against the string layout.
var hashSaveScript = newScript(`
local cur = redis.call('HGET', KEYS[1], 'v')
if cur then
	if cur ~= ARGV[1] then return 0 end
elseif ARGV[1] ~= '' then
	return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'u', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return 1
`)

func benchAll(b *testing.B, s *Store) {
	ctx := context.Background()
	c := s.client
	value := make([]byte, benchValueSize)
	rand.Read(value)
	key := newKey()
	opts := live("")
	version, err := s.Save(ctx, key, value, 0, opts)
	if err != nil {
		b.Fatal(err)
	}
	rec := s.recordKey(key)
	stored := encodeRecord(version, "", value)
	hash := s.prefix + "hash:{" + key + "}"
	if err := c.Do(ctx, c.B().Hset().Key(hash).FieldValue().FieldValue("v", versionString(version)).
		FieldValue("d", string(value)).FieldValue("u", "").Build()).Error(); err != nil {
		b.Fatal(err)
	}
	par := func(b *testing.B, f func(b *testing.B)) {
		b.ReportAllocs()
		b.SetBytes(benchValueSize)
		f(b)
	}
	run := func(b *testing.B, op func() error) {
		par(b, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}

	b.Run("Load/Store", func(b *testing.B) {
		run(b, func() error { _, _, err := s.Load(ctx, key); return err })
	})
	b.Run("Load/RawGET", func(b *testing.B) {
		run(b, func() error { return c.Do(ctx, c.B().Get().Key(rec).Build()).Error() })
	})
	b.Run("Load/RawHMGET", func(b *testing.B) {
		run(b, func() error {
			return c.Do(ctx, c.B().Hmget().Key(hash).Field("v", "d").Build()).Error()
		})
	})

	// Saves go to one key per goroutine, each with its own version, so
	// that they measure the save and not conflicts.
	saver := func(user string) func(b *testing.B) {
		return func(b *testing.B) {
			par(b, func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					k, v := newKey(), uint64(0)
					o := live(user)
					for pb.Next() {
						nv, err := s.Save(ctx, k, value, v, o)
						if err != nil {
							b.Error(err)
							return
						}
						v = nv
					}
				})
			})
		}
	}
	b.Run("Save/Store", saver(""))
	b.Run("Save/StoreUser", saver("benchmark user"))
	b.Run("Save/RawSET", func(b *testing.B) {
		run(b, func() error { return c.Do(ctx, c.B().Set().Key(rec).Value(stored).Build()).Error() })
	})
	b.Run("Save/RawHSET", func(b *testing.B) {
		run(b, func() error {
			return c.Do(ctx, c.B().Hset().Key(hash).FieldValue().FieldValue("v", versionString(version)).
				FieldValue("d", string(value)).FieldValue("u", "").Build()).Error()
		})
	})
	b.Run("Save/HashLayout", func(b *testing.B) {
		par(b, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				k := s.prefix + "hash:{" + newKey() + "}"
				v := uint64(0)
				exp := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
				for pb.Next() {
					nv := newVersion(v)
					r := hashSaveScript.run(ctx, c, []string{k}, versionString(v), versionString(nv), string(value), "", exp)
					if n, err := r.AsInt64(); err != nil || n != 1 {
						b.Errorf("hash layout save: %d, %v", n, err)
						return
					}
					v = nv
				}
			})
		})
	})
}

// BenchmarkMinReplicas times what MinReplicas costs: a Save with a user
// (record and index on two masters) on a throwaway cluster with a replica
// per master, with MinReplicas 1 ("store") and without ("raw"), one call
// at a time, alternately (storetest.ComparePair).
//
//	go test -run '^$' -bench MinReplicas -benchtime 5000x -count 5
func BenchmarkMinReplicas(b *testing.B) {
	needRedisServer(b)
	c := startCluster(b, 1, false)
	prefix := testPrefix()
	waiting, err := New(Config{Addrs: addrsOf(c.masters), Prefix: prefix, MinReplicas: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer waiting.Close()
	plain, err := New(Config{Addrs: addrsOf(c.masters), Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	ctx := context.Background()
	value := make([]byte, benchValueSize)
	rand.Read(value)
	save := func(s *Store, key string, version *uint64) func() error {
		return func() error {
			v, err := s.Save(ctx, key, value, *version, live("bench"))
			*version = v
			return err
		}
	}
	var v1, v2 uint64
	storetest.ComparePair(b, nil, save(waiting, newKey(), &v1), save(plain, newKey(), &v2))
}
