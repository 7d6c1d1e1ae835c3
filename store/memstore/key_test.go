package memstore

import (
	"strings"
	"testing"

	"github.com/sesame-go/sesame"
)

// FuzzValidKeyAgreesWithSesame checks that the store's fast key check
// accepts exactly the keys sesame.ValidKey accepts.
func FuzzValidKeyAgreesWithSesame(f *testing.F) {
	for _, key := range []string{
		"", "a", "A-z_09", "../x", "a b", "a.b", "a\x00", "é", "%2e", "\xff",
		strings.Repeat("k", sesame.MaxKeyLen), strings.Repeat("k", sesame.MaxKeyLen+1),
		"4ZpD8z0wq1X3oV8mQm9s0sWb1a2b3c4d5e6f7g8h9i0",
	} {
		f.Add(key)
	}
	for c := range 256 {
		f.Add("ab" + string([]byte{byte(c)}) + "cd")
	}
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := validKey(key), sesame.ValidKey(key); got != want {
			t.Fatalf("validKey(%q) = %v; sesame.ValidKey says %v", key, got, want)
		}
	})
}
