package filestore

import (
	"bytes"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// benchValue is about the size of a typical session record.
var benchValue = bytes.Repeat([]byte("session-data"), 40)

func BenchmarkLoad(b *testing.B) {
	s, _ := newTestStore(b, Config{}, nil)
	key := newKey()
	mustSave(b, s, key, benchValue, 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "u"})
	b.ReportAllocs()
	b.SetBytes(int64(len(benchValue)))
	for b.Loop() {
		if _, _, err := s.Load(b.Context(), key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadParallel(b *testing.B) {
	s, _ := newTestStore(b, Config{}, nil)
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = newKey()
		mustSave(b, s, keys[i], benchValue, 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, err := s.Load(b.Context(), keys[i%len(keys)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkSave replaces one record again and again, as a session that is
// written on every request would be, with each durability level.
func BenchmarkSave(b *testing.B) {
	for _, d := range []Durability{SyncFull, SyncFile, SyncNone} {
		b.Run(d.String(), func(b *testing.B) {
			s, _ := newTestStore(b, Config{Durability: d}, nil)
			key := newKey()
			opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "u"}
			v := mustSave(b, s, key, benchValue, 0, opts)
			b.ReportAllocs()
			b.SetBytes(int64(len(benchValue)))
			for b.Loop() {
				var err error
				if v, err = s.Save(b.Context(), key, benchValue, v, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSaveParallel saves distinct records from several goroutines.
func BenchmarkSaveParallel(b *testing.B) {
	s, _ := newTestStore(b, Config{}, nil)
	opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		key := newKey()
		var v uint64
		for pb.Next() {
			var err error
			if v, err = s.Save(b.Context(), key, benchValue, v, opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
