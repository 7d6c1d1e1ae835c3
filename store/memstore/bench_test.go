package memstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// benchKey returns a key shaped like the Manager's: 43 base64url
// characters of a SHA-256.
func benchKey(i uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	sum := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sessions are the keys a benchmark works on and the versions it last
// read or wrote for them.
type sessions struct {
	keys     []string
	versions []uint64
	next     int
}

// newSessions returns n sessions, not yet stored, whose keys are made from
// the numbers from first on.
func newSessions(n int, first uint64) *sessions {
	c := &sessions{keys: make([]string, n), versions: make([]uint64, n)}
	for i := range c.keys {
		c.keys[i] = benchKey(first + uint64(i))
	}
	return c
}

// resave saves the next session, in turn, at the version it has.
func (c *sessions) resave(ctx context.Context, s *Store, value []byte, opts sesame.SaveOptions) error {
	j := c.next % len(c.keys)
	c.next++
	v, err := s.Save(ctx, c.keys[j], value, c.versions[j], opts)
	c.versions[j] = v
	return err
}

// benchValue and benchOptions are what the benchmarks save: a typical
// record that outlives the benchmark.
var benchValue = make([]byte, 200)

func benchOptions() sesame.SaveOptions {
	return sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}
}

// filled returns a store holding n sessions.
func filled(b *testing.B, n int) (*Store, *sessions) {
	s := newStore(b, Config{SweepInterval: -1})
	c := newSessions(n, 0)
	for range n {
		if err := c.resave(b.Context(), s, benchValue, benchOptions()); err != nil {
			b.Fatal(err)
		}
	}
	return s, c
}

func BenchmarkLoad(b *testing.B) {
	s, c := filled(b, 10000)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := s.Load(ctx, c.keys[i%len(c.keys)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkLoadParallel(b *testing.B) {
	s, c := filled(b, 10000)
	ctx := b.Context()
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919))
		for pb.Next() {
			if _, _, err := s.Load(ctx, c.keys[i%len(c.keys)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkSave measures the Manager's usual write: replacing an existing
// session at the version it read.
func BenchmarkSave(b *testing.B) {
	s, c := filled(b, 10000)
	ctx, opts := b.Context(), benchOptions()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.resave(ctx, s, benchValue, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSaveParallel(b *testing.B) {
	s := newStore(b, Config{SweepInterval: -1})
	ctx, opts := b.Context(), benchOptions()
	var worker atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine creates, then updates, its own sessions, as
		// requests of different visitors do.
		c := newSessions(256, worker.Add(1)<<32)
		for pb.Next() {
			if err := c.resave(ctx, s, benchValue, opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMemoryPerSession reports the heap that one million sessions of
// 200 bytes under 43-character keys take, per session. Its time per
// operation is that of one fill of the store.
func BenchmarkMemoryPerSession(b *testing.B) {
	const sessions = 1_000_000
	ctx, opts := b.Context(), benchOptions()
	var perSession float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := newStore(b, Config{SweepInterval: -1})
		// Collecting while filling would only slow the fill down: the
		// measurement is of what survives the GC after it.
		gcPercent := debug.SetGCPercent(-1)
		for i := range uint64(sessions) {
			if _, err := s.Save(ctx, benchKey(i), benchValue, 0, opts); err != nil {
				b.Fatal(err)
			}
		}
		debug.SetGCPercent(gcPercent)
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(s)
		perSession = float64(after.HeapAlloc-before.HeapAlloc) / sessions
	}
	b.ReportMetric(perSession, "B/session")
}
