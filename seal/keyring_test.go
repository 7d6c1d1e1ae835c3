package seal

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewKeyRingRefusesBadKeys(t *testing.T) {
	tests := []struct {
		name string
		keys [][]byte
	}{
		{"no keys", nil},
		{"empty key", [][]byte{{}}},
		{"31-byte key", [][]byte{testKey(1)[:31]}},
		{"short secondary", [][]byte{testKey(1), testKey(2)[:16]}},
		{"repeated key", [][]byte{testKey(1), testKey(2), testKey(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := NewKeyRing(tt.keys...); err == nil || r != nil {
				t.Fatalf("NewKeyRing = %v, %v; want an error", r, err)
			}
		})
	}
}

func TestNewKeyRingAcceptsLongKeys(t *testing.T) {
	long := append(testKey(1), testKey(2)...)
	r, err := NewKeyRing(long)
	if err != nil {
		t.Fatal(err)
	}
	tok := mustSeal(t, r, "p", []byte("x"))
	if _, _, err := testRing(t, 1).Open("p", tok); err != ErrInvalid {
		t.Fatal("a 64-byte key opened tokens of its 32-byte prefix")
	}
}

func TestNewKeyRingCopiesKeys(t *testing.T) {
	k := testKey(1)
	r, err := NewKeyRing(k)
	if err != nil {
		t.Fatal(err)
	}
	tok := mustSeal(t, r, "p", []byte("x"))
	clear(k)
	if _, _, err := r.Open("p", tok); err != nil {
		t.Fatalf("Open after the caller cleared its key: %v", err)
	}
}

func TestParseKeyRing(t *testing.T) {
	k1, k2, k3 := testKey(1), testKey(2), testKey(3)
	std := base64.StdEncoding.EncodeToString
	tests := []struct {
		name string
		text string
		want [][]byte // nil: an error is expected
	}{
		{"one key", std(k1), [][]byte{k1}},
		{"comma list", std(k1) + "," + std(k2), [][]byte{k1, k2}},
		{"comma and spaces", std(k2) + " , " + std(k1) + ",", [][]byte{k2, k1}},
		{"lines with comments", "# primary\n" + std(k1) + "\n\n" + std(k2) + "  # since May\r\n" + std(k3) + "\n", [][]byte{k1, k2, k3}},
		{"URL-safe unpadded", base64.RawURLEncoding.EncodeToString(k1), [][]byte{k1}},
		{"URL-safe padded", base64.URLEncoding.EncodeToString(k1), [][]byte{k1}},
		{"standard unpadded", base64.RawStdEncoding.EncodeToString(k1), [][]byte{k1}},
		{"empty", "", nil},
		{"only comments", "# nothing here\n", nil},
		{"not base64", std(k1) + ",not*base64", nil},
		{"mixed alphabets", strings.Replace(std(k1)+"-", "=", "", -1) + "/", nil},
		{"short key", base64.StdEncoding.EncodeToString(k1[:31]), nil},
		{"repeated key", std(k1) + "\n" + base64.RawURLEncoding.EncodeToString(k1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseKeyRing(tt.text)
			if tt.want == nil {
				if err == nil {
					t.Fatal("ParseKeyRing succeeded, want an error")
				}
				for _, f := range strings.FieldsFunc(tt.text, func(c rune) bool { return strings.ContainsRune(", \n#", c) }) {
					if len(f) >= 16 && strings.Contains(err.Error(), f) {
						t.Fatalf("error %q shows key material", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := NewKeyRing(tt.want...)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.keys) != len(want.keys) {
				t.Fatalf("%d keys, want %d", len(r.keys), len(want.keys))
			}
			for i, k := range want.keys {
				tok := mustSeal(t, &KeyRing{keys: []ringKey{k}}, "p", []byte("x"))
				if _, rotated, err := r.Open("p", tok); err != nil || rotated != (i != 0) {
					t.Fatalf("key %d: Open = %v, %v; want rotated=%v", i+1, rotated, err, i != 0)
				}
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	raw, err := base64.StdEncoding.DecodeString(a)
	if err != nil || len(raw) != KeySize {
		t.Fatalf("generated key %d bytes, %v; want %d bytes of standard base64", len(raw), err, KeySize)
	}
	r, err := ParseKeyRing(a + "\n" + b)
	if err != nil {
		t.Fatal(err)
	}
	tok := mustSeal(t, r, "p", []byte("x"))
	if got, _, err := r.Open("p", tok); err != nil || string(got) != "x" {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestGenerateKeyFailsWhenRandomSourceFails(t *testing.T) {
	for _, n := range []int{0, KeySize - 1} {
		src := bytes.NewReader(make([]byte, n))
		if k, err := generateKey(src); err == nil || k != "" {
			t.Errorf("generateKey with %d random bytes = %q, %v; want an error", n, k, err)
		}
	}
	if _, err := generateKey(errReader{}); err == nil {
		t.Error("generateKey with a failing reader succeeded")
	}
}
