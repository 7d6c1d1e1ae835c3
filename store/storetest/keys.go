package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/sesame-go/sesame"
)

// invalidKeys are keys that sesame.ValidKey refuses and every store must
// reject: too short, too long, and the characters that would escape a file
// name, a Redis key pattern or an SQL literal.
var invalidKeys = []struct {
	name, key string
}{
	{"empty", ""},
	{"longer than MaxKeyLen", strings.Repeat("k", sesame.MaxKeyLen+1)},
	{"parent directory", "../x"},
	{"dot", "."},
	{"slash", "a/b"},
	{"backslash", `a\b`},
	{"space", "a b"},
	{"period", "a.b"},
	{"NUL", "a\x00b"},
	{"newline", "a\nb"},
	{"non-ASCII", "clé"},
	{"percent-encoded dot", "%2e"},
	{"glob", "a*"},
	{"quote", "a'b"},
	{"colon", "a:b"},
}

func testInvalidKeys(t *testing.T, s sesame.Store) {
	for _, k := range invalidKeys {
		if sesame.ValidKey(k.key) {
			t.Fatalf("storetest bug: ValidKey accepts the %s key", k.name)
		}
		t.Run(k.name, func(t *testing.T) {
			for _, op := range storeOps {
				if err := op.call(t.Context(), s, k.key); !errors.Is(err, sesame.ErrInvalidKey) {
					t.Errorf("%s(%q): error %v; want an error wrapping ErrInvalidKey", op.name, k.key, err)
				}
			}
		})
	}
}

func testLongestKey(t *testing.T, s sesame.Store) {
	key := strings.Repeat("Az09-_", sesame.MaxKeyLen)[:sesame.MaxKeyLen]
	wantNotFound(t, s, key)
	v := save(t, s, key, []byte("long key"), 0, live(""))
	wantRecord(t, s, key, []byte("long key"), v)
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, key)
}

// testCaseDistinctKeys: base64url keys that differ only in case are
// different keys, even where a file system or an SQL collation would fold
// case.
func testCaseDistinctKeys(t *testing.T, s sesame.Store) {
	lower := "abcdef-_09" + newKey()[:20]
	upper := strings.ToUpper(lower)
	vLower := save(t, s, lower, []byte("lower"), 0, live(""))
	vUpper := save(t, s, upper, []byte("upper"), 0, live(""))
	wantRecord(t, s, lower, []byte("lower"), vLower)
	wantRecord(t, s, upper, []byte("upper"), vUpper)
	if err := s.Delete(t.Context(), upper); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, upper)
	wantRecord(t, s, lower, []byte("lower"), vLower)
}
