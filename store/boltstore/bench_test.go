package boltstore

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"go.etcd.io/bbolt"
)

// BenchmarkLoad measures one Load of a typical 200-byte record (target: at
// most 3 µs).
func BenchmarkLoad(b *testing.B) {
	s := openTest(b, Config{SweepInterval: -1})
	v := mustSave(b, s, "bench", string(make([]byte, 200)), 0, live("user"))
	b.ReportAllocs()
	for b.Loop() {
		if _, got, err := s.Load(ctx, "bench"); err != nil || got != v {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadParallel is BenchmarkLoad from GOMAXPROCS goroutines.
func BenchmarkLoadParallel(b *testing.B) {
	s := openTest(b, Config{SweepInterval: -1})
	mustSave(b, s, "bench", string(make([]byte, 200)), 0, live("user"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Load(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDurableSave compares durable (fsynced) conditional saves of a
// 200-byte record from 1 and from 8 goroutines, each on its own key:
//
//   - store: Store.Save, with its group commit;
//   - bolt-Update: the same read-check-write in a plain DB.Update per save;
//   - bolt-Update-NoFreelistSync: the same with the bbolt options Store
//     uses, so that their share of the gain shows apart from group commit's;
//   - bolt-Batch: the same in DB.Batch with bbolt's default settings.
//
// The target is store ≥ 2× bolt-Update's throughput with 8 writers.
func BenchmarkDurableSave(b *testing.B) {
	value := make([]byte, 200)
	for _, writers := range []int{1, 8} {
		b.Run(fmt.Sprintf("writers=%d/store", writers), func(b *testing.B) {
			s := openTest(b, Config{SweepInterval: -1})
			var id atomic.Int64
			before := s.commits.Load()
			runWriters(b, writers, func() func() {
				k := fmt.Sprint("w", id.Add(1))
				var v uint64
				return func() {
					var err error
					if v, err = s.Save(ctx, k, value, v, live("user")); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/float64(s.commits.Load()-before), "saves/commit")
		})
		for _, mode := range []string{"bolt-Update", "bolt-Update-NoFreelistSync", "bolt-Batch"} {
			b.Run(fmt.Sprintf("writers=%d/%s", writers, mode), func(b *testing.B) {
				var opts *bbolt.Options
				if mode == "bolt-Update-NoFreelistSync" {
					// The options Store uses, to tell their share of the gain
					// from group commit's.
					opts = &bbolt.Options{NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}
				}
				db, err := bbolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, opts)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket(recordsBucket); return err }); err != nil {
					b.Fatal(err)
				}
				write := db.Update
				if mode == "bolt-Batch" {
					write = db.Batch
				}
				var id atomic.Int64
				runWriters(b, writers, func() func() {
					k := []byte(fmt.Sprint("w", id.Add(1)))
					var v uint64
					return func() {
						err := write(func(tx *bbolt.Tx) error {
							recs := tx.Bucket(recordsBucket)
							if old := recs.Get(k); old != nil && binary.BigEndian.Uint64(old[1:]) != v {
								return fmt.Errorf("conflict")
							}
							nv, err := recs.NextSequence()
							if err != nil {
								return err
							}
							if err := recs.Put(k, encodeRecord(nv, 1, "user", value)); err != nil {
								return err
							}
							v = nv
							return nil
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

// runWriters runs b.N calls spread over exactly writers goroutines, each
// with its own function from newWriter.
func runWriters(b *testing.B, writers int, newWriter func() func()) {
	procs := runtime.GOMAXPROCS(0)
	if writers%procs != 0 && writers > 1 {
		b.Skipf("%d writers need a multiple of GOMAXPROCS=%d", writers, procs)
	}
	if writers == 1 {
		w := newWriter()
		b.ResetTimer()
		for range b.N {
			w()
		}
		return
	}
	b.SetParallelism(writers / procs)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := newWriter()
		for pb.Next() {
			w()
		}
	})
}
