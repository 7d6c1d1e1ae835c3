package seal

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzOpen opens arbitrary tokens under arbitrary purposes with a fixed key
// ring (test keys 1, the primary, and 2). Its seed corpus in
// testdata/fuzz/FuzzOpen holds real tokens under both keys. Open must never
// panic, must fail only with ErrInvalid, and must accept only canonical
// tokens that seal to the same length.
func FuzzOpen(f *testing.F) {
	r := testRing(f, 1, 2)
	f.Add("session", mustSeal(f, r, "session", []byte("user=42")))
	f.Fuzz(func(t *testing.T, purpose, token string) {
		got, rotated, err := r.Open(purpose, token)
		if err != nil {
			if err != ErrInvalid || got != nil || rotated {
				t.Fatalf("Open = %q, %v, %v; want nil, false, ErrInvalid", got, rotated, err)
			}
			return
		}
		if len(token) != SealedLen(len(got)) || len(token) > r.MaxTokenLen() {
			t.Fatalf("opened a %d-byte token holding %d bytes", len(token), len(got))
		}
		appended, rotated2, err := r.AppendOpen([]byte("x"), purpose, token)
		if err != nil || rotated2 != rotated || !bytes.Equal(appended[1:], got) {
			t.Fatalf("AppendOpen = %q, %v, %v; Open gave %q, %v", appended, rotated2, err, got, rotated)
		}
		if _, _, err := r.Open(purpose+"x", token); err != ErrInvalid {
			t.Fatalf("token opened under another purpose: %v", err)
		}
	})
}

// TestFuzzCorpusHoldsRealTokens keeps the committed seed corpus useful: some
// of its tokens must open under FuzzOpen's key ring, under either key, so
// the fuzzer starts from the success path as well as from failures.
func TestFuzzCorpusHoldsRealTokens(t *testing.T) {
	r := testRing(t, 1, 2)
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzOpen", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var opened, rotated int
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 3 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a two-string corpus entry", name)
		}
		var args [2]string
		for i, l := range lines[1:] {
			if args[i], err = strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(l, "string("), ")")); err != nil {
				t.Fatalf("%s: line %d: %v", name, i+2, err)
			}
		}
		if _, rot, err := r.Open(args[0], args[1]); err == nil {
			opened++
			if rot {
				rotated++
			}
		}
	}
	if opened < 2 || rotated < 1 {
		t.Fatalf("%d corpus tokens open (%d rotated); want at least 2, one of them rotated", opened, rotated)
	}
}
