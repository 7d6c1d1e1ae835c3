package sesame

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestIDRoundTrip(t *testing.T) {
	for range 200 {
		id, err := newID(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s := id.String()
		if len(s) != tokenLen {
			t.Fatalf("token %q has length %d, want %d", s, len(s), tokenLen)
		}
		got, ok := parseID(s)
		if !ok || got != id {
			t.Fatalf("parseID(%q) = %x, %v; want %x", s, got, ok, id)
		}
	}
}

func TestParseIDRejects(t *testing.T) {
	id, _ := newID(rand.Reader)
	good := id.String()
	canonicalLast := good[:tokenLen-1] + "B" // 'B' = 1: sets an unused low bit
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"short", good[:tokenLen-1]},
		{"long", good + "A"},
		{"padding", good[:tokenLen-1] + "="},
		{"standard alphabet", strings.Repeat("+", tokenLen)},
		{"slash", strings.Repeat("/", tokenLen)},
		{"space", " " + good[1:]},
		{"non-ascii", "é" + good[2:]},
		{"NUL", "\x00" + good[1:]},
		{"non-canonical trailing bits", canonicalLast},
		{"quoted", `"` + good[2:] + `"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := parseID(tc.in); ok {
				t.Fatalf("parseID(%q) accepted", tc.in)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestNewIDFailingRNGIsAnError(t *testing.T) {
	if _, err := newID(failingReader{}); err == nil {
		t.Fatal("newID with a failing RNG returned no error")
	}
	if _, err := newID(bytes.NewReader(make([]byte, idLen-1))); err == nil {
		t.Fatal("newID with a short RNG returned no error")
	}
}

func TestStoreKeyIsNotTheID(t *testing.T) {
	id, _ := newID(rand.Reader)
	key := storeKey(id)
	if !ValidKey(key) {
		t.Fatalf("storeKey %q is not a valid store key", key)
	}
	if key == id.String() || strings.Contains(key, id.String()[:10]) {
		t.Fatal("store key reveals the id")
	}
	if storeKey(id) != key {
		t.Fatal("storeKey is not deterministic")
	}
}

func FuzzParseID(f *testing.F) {
	id, _ := newID(rand.Reader)
	f.Add(id.String())
	f.Add("")
	f.Add(strings.Repeat("A", tokenLen))
	f.Add(strings.Repeat("_", tokenLen))
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := parseID(s)
		if ok && id.String() != s {
			t.Fatalf("parseID accepted %q, which is not the canonical %q", s, id.String())
		}
	})
}
