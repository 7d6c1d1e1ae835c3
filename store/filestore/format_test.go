package filestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		version uint64
		expires int64
		user    string
		value   []byte
	}{
		{"empty", 1, 0, "", []byte{}},
		{"typical", 1 << 62, time.Now().UnixNano(), "alice", []byte("some session data")},
		{"binary", 1<<63 - 1, -1, "\x00\xff", []byte{0, 1, 2, 0xff}},
		{"large", 42, 1, "u", bytes.Repeat([]byte{7}, 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeRecord(tt.version, tt.expires, tt.user, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			h, v, err := decodeRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.version != tt.version || h.expires != tt.expires || string(h.user) != tt.user || !bytes.Equal(v, tt.value) {
				t.Fatalf("decoded %d, %d, %d-byte user, %d-byte value; want what was encoded", h.version, h.expires, len(h.user), len(v))
			}
		})
	}
}

// corruptions damage a valid record file in the ways that disks, crashes
// and people do.
var corruptions = []struct {
	name   string
	damage func([]byte) []byte
}{
	{"empty file", func([]byte) []byte { return nil }},
	{"one byte", func(b []byte) []byte { return b[:1] }},
	{"header only", func(b []byte) []byte { return b[:headerLen] }},
	{"truncated value", func(b []byte) []byte { return b[:len(b)-trailerLen-1] }},
	{"missing checksum byte", func(b []byte) []byte { return b[:len(b)-1] }},
	{"extra byte", func(b []byte) []byte { return append(b, 0) }},
	{"flipped value bit", func(b []byte) []byte { b[len(b)-trailerLen-1] ^= 1; return b }},
	{"flipped version bit", func(b []byte) []byte { b[5] ^= 1; return b }},
	{"flipped checksum bit", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
	{"unknown format", func(b []byte) []byte { b[0] = 2; return b }},
	{"huge user length", func(b []byte) []byte { binary.BigEndian.PutUint32(b[17:], 1<<32-1); return b }},
	{"huge value length", func(b []byte) []byte { binary.BigEndian.PutUint64(b[21:], 1<<64-1); return b }},
	{"lengths swapped", func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[17:], 5)
		binary.BigEndian.PutUint64(b[21:], 4)
		return b
	}},
	{"version 0 with a good checksum", func(b []byte) []byte {
		binary.BigEndian.PutUint64(b[1:], 0)
		end := len(b) - trailerLen
		return binary.BigEndian.AppendUint32(b[:end], crc32c(b[:end]))
	}},
	{"text", func([]byte) []byte { return []byte("hello, this is not a record at all") }},
}

func TestCorruptFilesAreReportedNotTrusted(t *testing.T) {
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			s, dir := newTestStore(t, Config{}, nil)
			key := newKey()
			opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "user"}
			v := mustSave(t, s, key, []byte("value"), 0, opts)
			path := filepath.Join(dir, "data", fileName(key))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, c.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}

			if _, _, err := s.Load(t.Context(), key); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Load: %v; want ErrCorrupt", err)
			}
			if _, err := s.Save(t.Context(), key, []byte("new"), v, opts); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Save: %v; want ErrCorrupt", err)
			}
			if _, err := s.Save(t.Context(), key, []byte("new"), 0, opts); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Save with version 0: %v; want ErrCorrupt", err)
			}
			if recs, err := s.UserSessions(t.Context(), "user"); err != nil || len(recs) != 0 {
				t.Errorf("UserSessions = %d records, %v; want none and no error", len(recs), err)
			}
			if err := s.Delete(t.Context(), key); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, _, err := s.Load(t.Context(), key); !errors.Is(err, sesame.ErrNotFound) {
				t.Errorf("Load after Delete: %v; want ErrNotFound", err)
			}
			mustSave(t, s, key, []byte("again"), 0, opts)
		})
	}
}

func TestSweepRemovesCorruptFilesWhoseMarkerIsDue(t *testing.T) {
	clock := newFakeClock()
	s, dir := newTestStore(t, Config{}, clock)
	key := newKey()
	mustSave(t, s, key, []byte("value"), 0, sesame.SaveOptions{ExpiresAt: clock.Now().Add(time.Minute)})
	path := filepath.Join(dir, "data", fileName(key))
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Minute)
	stats, err := s.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Corrupt != 1 || stats.Expired != 0 {
		t.Fatalf("stats = %+v; want one corrupt file removed", stats)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("corrupt file still there: %v", err)
	}
}

// FuzzDecodeRecord checks that no file contents make decoding panic, and
// that whatever decodes encodes back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	good, _ := encodeRecord(7, 123, "user", []byte("value"))
	f.Add(good)
	for _, c := range corruptions {
		f.Add(c.damage(bytes.Clone(good)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, v, err := decodeRecord(b)
		if err != nil {
			return
		}
		again, err := encodeRecord(h.version, h.expires, string(h.user), v)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded record does not encode back to the same bytes")
		}
	})
}
