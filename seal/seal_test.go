package seal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// testKey returns a fixed key for tests, different for every i.
func testKey(i int) []byte {
	k := sha256.Sum256(fmt.Appendf(nil, "sesame seal test key %d", i))
	return k[:]
}

// testRing returns a KeyRing of the test keys with the given numbers,
// primary first.
func testRing(t testing.TB, ids ...int) *KeyRing {
	t.Helper()
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = testKey(id)
	}
	r, err := NewKeyRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mustSeal seals plaintext for purpose under r, failing the test on error.
func mustSeal(t testing.TB, r *KeyRing, purpose string, plaintext []byte) string {
	t.Helper()
	tok, err := r.Seal(purpose, plaintext)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return tok
}

// largestFitting is the longest plaintext whose token fits in the default
// maximum token length.
var largestFitting = func() int {
	n := 0
	for SealedLen(n+1) <= DefaultMaxTokenLen {
		n++
	}
	return n
}()

func TestSealOpenRoundTrip(t *testing.T) {
	r := testRing(t, 1)
	tests := []struct {
		name      string
		purpose   string
		plaintext []byte
	}{
		{"empty", "session", nil},
		{"one byte", "session", []byte{0}},
		{"text", "__Host-session", []byte("user=42&flash=hello")},
		{"300-byte record", "__Host-session", bytes.Repeat([]byte{0xA5}, 300)},
		{"largest that fits", "session", bytes.Repeat([]byte("x"), largestFitting)},
		{"empty purpose", "", []byte("no purpose")},
		{"long purpose", strings.Repeat("p", 5000), []byte("long purpose")},
		{"binary purpose", "\x00\xff\n", []byte("binary purpose")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustSeal(t, r, tt.purpose, tt.plaintext)
			if len(tok) != SealedLen(len(tt.plaintext)) {
				t.Errorf("token is %d bytes, SealedLen says %d", len(tok), SealedLen(len(tt.plaintext)))
			}
			got, rotated, err := r.Open(tt.purpose, tok)
			if err != nil || rotated || !bytes.Equal(got, tt.plaintext) {
				t.Fatalf("Open = %q, %v, %v; want %q, false, nil", got, rotated, err, tt.plaintext)
			}

			// The append forms agree with the plain ones and keep dst.
			prefix := []byte("prefix:")
			sealed, err := r.AppendSeal(bytes.Clone(prefix), tt.purpose, tt.plaintext)
			if err != nil || !bytes.HasPrefix(sealed, prefix) {
				t.Fatalf("AppendSeal = %q, %v", sealed, err)
			}
			opened, rotated, err := r.AppendOpen(bytes.Clone(prefix), tt.purpose, string(sealed[len(prefix):]))
			if err != nil || rotated || !bytes.Equal(opened, append(bytes.Clone(prefix), tt.plaintext...)) {
				t.Fatalf("AppendOpen = %q, %v, %v", opened, rotated, err)
			}
		})
	}
}

func TestSealRandomizesTokens(t *testing.T) {
	r := testRing(t, 1)
	a, b := mustSeal(t, r, "p", []byte("same")), mustSeal(t, r, "p", []byte("same"))
	if a == b {
		t.Fatal("sealing the same plaintext twice gave the same token")
	}
}

func TestTokenSizeFor300ByteRecord(t *testing.T) {
	r := testRing(t, 1)
	const n = 300
	tok := mustSeal(t, r, "__Host-session", make([]byte, n))
	if limit := n*14/10 + 40; len(tok) > limit {
		t.Fatalf("token for %d bytes is %d bytes, want at most %d", n, len(tok), limit)
	}
	t.Logf("token for a %d-byte plaintext: %d bytes", n, len(tok))
}

func TestOpenRejectsEveryBitFlip(t *testing.T) {
	r := testRing(t, 1)
	tok := mustSeal(t, r, "session", []byte("a record worth protecting"))
	for i := range len(tok) {
		for bit := range 8 {
			b := []byte(tok)
			b[i] ^= 1 << bit
			if got, _, err := r.Open("session", string(b)); err != ErrInvalid {
				t.Fatalf("flipping bit %d of byte %d: Open = %q, %v; want ErrInvalid", bit, i, got, err)
			}
		}
	}
}

func TestOpenRejectsEveryTruncation(t *testing.T) {
	r := testRing(t, 1)
	for _, n := range []int{0, 1, 300} {
		tok := mustSeal(t, r, "session", bytes.Repeat([]byte{7}, n))
		for i := range len(tok) {
			if got, _, err := r.Open("session", tok[:i]); err != ErrInvalid {
				t.Fatalf("plaintext %d bytes, token cut to %d: Open = %q, %v; want ErrInvalid", n, i, got, err)
			}
			if got, _, err := r.Open("session", tok[i+1:]); err != ErrInvalid {
				t.Fatalf("plaintext %d bytes, token without its first %d bytes: Open = %q, %v; want ErrInvalid", n, i+1, got, err)
			}
		}
	}
}

func TestOpenRejectsMalformedTokens(t *testing.T) {
	r := testRing(t, 1)
	tok := mustSeal(t, r, "session", []byte("record"))
	raw, err := enc.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	// reencode returns tok's raw bytes after change, encoded again.
	reencode := func(change func(raw []byte) []byte) string {
		return enc.EncodeToString(change(bytes.Clone(raw)))
	}
	other := mustSeal(t, testRing(t, 2), "session", []byte("record"))
	tests := []struct {
		name, token string
	}{
		{"empty", ""},
		{"too long", tok + strings.Repeat("A", DefaultMaxTokenLen)},
		{"too long, invalid characters", strings.Repeat("!", DefaultMaxTokenLen+1)},
		{"appended character", tok + "A"},
		{"appended block", tok + "AAAA"},
		{"padded", tok + "=="},
		{"newline inside", tok[:10] + "\n" + tok[10:]},
		{"standard alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(tok) + "+/"},
		{"bad version 0", reencode(func(b []byte) []byte { b[0] = 0; return b })},
		{"bad version 2", reencode(func(b []byte) []byte { b[0] = 2; return b })},
		{"other key id", reencode(func(b []byte) []byte { b[1]++; return b })},
		{"tag removed", reencode(func(b []byte) []byte { return b[:len(b)-16] })},
		{"ciphertext removed", reencode(func(b []byte) []byte { return append(b[:headerLen+nonceLen], b[len(b)-16:]...) })},
		{"header only", reencode(func(b []byte) []byte { return b[:headerLen] })},
		{"unknown key", other},
		{"all zero", enc.EncodeToString(make([]byte, len(raw)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, rotated, err := r.Open("session", tt.token); err != ErrInvalid || got != nil || rotated {
				t.Fatalf("Open = %q, %v, %v; want nil, false, ErrInvalid", got, rotated, err)
			}
			dst := []byte("keep")
			if got, _, err := r.AppendOpen(dst, "session", tt.token); err != ErrInvalid || string(got) != "keep" {
				t.Fatalf("AppendOpen = %q, %v; want %q, ErrInvalid", got, err, "keep")
			}
		})
	}
}

func TestOpenRejectsWrongPurpose(t *testing.T) {
	r := testRing(t, 1)
	tok := mustSeal(t, r, "__Host-session", []byte("record"))
	for _, purpose := range []string{"", "session", "__Host-session ", "__host-session", "__Host-session\x00", "__Host-sessio"} {
		if _, _, err := r.Open(purpose, tok); err != ErrInvalid {
			t.Errorf("Open(%q) = %v, want ErrInvalid", purpose, err)
		}
	}
}

func TestRotation(t *testing.T) {
	record := []byte("user=42")
	old := testRing(t, 1)
	tok := mustSeal(t, old, "session", record)

	// Step 1: the new key is added as a secondary: still not rotated.
	added := testRing(t, 1, 2)
	if got, rotated, err := added.Open("session", tok); err != nil || rotated || !bytes.Equal(got, record) {
		t.Fatalf("with the new key added last: Open = %q, %v, %v", got, rotated, err)
	}

	// Step 2: the new key becomes primary: the old token opens, rotated.
	promoted := testRing(t, 2, 1)
	got, rotated, err := promoted.Open("session", tok)
	if err != nil || !rotated || !bytes.Equal(got, record) {
		t.Fatalf("after promotion: Open = %q, %v, %v; want %q, true, nil", got, rotated, err, record)
	}
	resealed := mustSeal(t, promoted, "session", got)
	if got, rotated, err := promoted.Open("session", resealed); err != nil || rotated || !bytes.Equal(got, record) {
		t.Fatalf("resealed token: Open = %q, %v, %v; want %q, false, nil", got, rotated, err, record)
	}

	// Step 3: the old key is retired: its tokens no longer open, the
	// resealed one does.
	retired := testRing(t, 2)
	if _, _, err := retired.Open("session", tok); err != ErrInvalid {
		t.Fatalf("token under a retired key: Open error = %v, want ErrInvalid", err)
	}
	if got, rotated, err := retired.Open("session", resealed); err != nil || rotated || !bytes.Equal(got, record) {
		t.Fatalf("after retirement: Open = %q, %v, %v", got, rotated, err)
	}
}

func TestOpenTriesEveryKeyWithTheID(t *testing.T) {
	// Find two test keys whose derived ids collide.
	first := map[byte]int{}
	a, b := -1, -1
	for i := 0; b < 0; i++ {
		r := testRing(t, i)
		id := r.keys[0].id
		if j, ok := first[id]; ok {
			a, b = j, i
		} else {
			first[id] = i
		}
	}
	r := testRing(t, a, b)
	if r.keys[0].id != r.keys[1].id {
		t.Fatal("keys do not share an id")
	}
	for _, tt := range []struct {
		sealer      *KeyRing
		wantRotated bool
	}{
		{testRing(t, a), false},
		{testRing(t, b), true},
	} {
		tok := mustSeal(t, tt.sealer, "p", []byte("x"))
		if got, rotated, err := r.Open("p", tok); err != nil || rotated != tt.wantRotated || string(got) != "x" {
			t.Errorf("Open = %q, %v, %v; want %q, %v, nil", got, rotated, err, "x", tt.wantRotated)
		}
	}
}

func TestKeyIDsDoNotDependOnPosition(t *testing.T) {
	a, b := testRing(t, 1, 2), testRing(t, 2, 1)
	if a.keys[0].id != b.keys[1].id || a.keys[1].id != b.keys[0].id {
		t.Fatal("a key's id changed with its position in the ring")
	}
}

// errReader is a random source that always fails.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestSealFailsWhenRandomSourceFails(t *testing.T) {
	ring := testRing(t, 1)
	for _, tt := range []struct {
		name string
		rand io.Reader
	}{
		{"error", errReader{}},
		{"short", strings.NewReader("only ten b")},
		{"empty", strings.NewReader("")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := *ring
			r.rand = tt.rand
			if tok, err := r.Seal("p", []byte("x")); err == nil || tok != "" {
				t.Fatalf("Seal = %q, %v; want an error", tok, err)
			}
			dst := []byte("keep")
			if got, err := r.AppendSeal(dst, "p", []byte("x")); err == nil || string(got) != "keep" {
				t.Fatalf("AppendSeal = %q, %v; want %q and an error", got, err, "keep")
			}
		})
	}
}

func TestMaxTokenLen(t *testing.T) {
	r := testRing(t, 1)
	if got := r.MaxTokenLen(); got != DefaultMaxTokenLen {
		t.Fatalf("MaxTokenLen = %d, want %d", got, DefaultMaxTokenLen)
	}
	if _, err := r.Seal("p", make([]byte, largestFitting+1)); err != ErrTooLarge {
		t.Fatalf("Seal of %d bytes: error %v, want ErrTooLarge", largestFitting+1, err)
	}
	if _, err := r.AppendSeal(nil, "p", make([]byte, largestFitting+1)); err != ErrTooLarge {
		t.Fatalf("AppendSeal of %d bytes: error %v, want ErrTooLarge", largestFitting+1, err)
	}
	tok := mustSeal(t, r, "p", make([]byte, 100))

	small := r.WithMaxTokenLen(len(tok) - 1)
	if got := small.MaxTokenLen(); got != len(tok)-1 {
		t.Fatalf("MaxTokenLen = %d, want %d", got, len(tok)-1)
	}
	if _, _, err := small.Open("p", tok); err != ErrInvalid {
		t.Fatalf("Open of a token over the limit: error %v, want ErrInvalid", err)
	}
	if _, err := small.Seal("p", make([]byte, 100)); err != ErrTooLarge {
		t.Fatalf("Seal over the limit: error %v, want ErrTooLarge", err)
	}
	if _, _, err := r.WithMaxTokenLen(len(tok)).Open("p", tok); err != nil {
		t.Fatalf("Open of a token at the limit: %v", err)
	}
	if r.MaxTokenLen() != DefaultMaxTokenLen {
		t.Fatal("WithMaxTokenLen changed the original KeyRing")
	}
	if got := r.WithMaxTokenLen(-1).MaxTokenLen(); got != DefaultMaxTokenLen {
		t.Fatalf("WithMaxTokenLen(-1).MaxTokenLen() = %d, want the default", got)
	}

	big := r.WithMaxTokenLen(1 << 20)
	pt := bytes.Repeat([]byte("y"), 100_000)
	tok = mustSeal(t, big, "p", pt)
	if got, _, err := big.Open("p", tok); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open of a %d-byte token: %v", len(tok), err)
	}
}

func TestEmptyKeyRing(t *testing.T) {
	for name, r := range map[string]*KeyRing{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			if _, err := r.Seal("p", []byte("x")); err == nil {
				t.Error("Seal succeeded without keys")
			}
			if _, _, err := r.Open("p", mustSeal(t, testRing(t, 1), "p", nil)); err != ErrInvalid {
				t.Errorf("Open error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestConcurrentSealingUsesUniqueNonces(t *testing.T) {
	r := testRing(t, 1, 2)
	const goroutines, each = 8, 500
	var (
		mu     sync.Mutex
		nonces = make(map[string]bool, goroutines*each)
		wg     sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			var buf []byte
			for i := range each {
				pt := fmt.Appendf(nil, "goroutine %d message %d", g, i)
				var err error
				buf, err = r.AppendSeal(buf[:0], "p", pt)
				if err != nil {
					t.Error(err)
					return
				}
				got, _, err := r.Open("p", string(buf))
				if err != nil || !bytes.Equal(got, pt) {
					t.Errorf("Open = %q, %v; want %q", got, err, pt)
					return
				}
				raw, err := enc.DecodeString(string(buf))
				if err != nil {
					t.Error(err)
					return
				}
				nonce := string(raw[headerLen : headerLen+nonceLen])
				mu.Lock()
				dup := nonces[nonce]
				nonces[nonce] = true
				mu.Unlock()
				if dup {
					t.Errorf("nonce %x used twice", nonce)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(nonces) != goroutines*each {
		t.Fatalf("%d nonces, want %d", len(nonces), goroutines*each)
	}
}

func TestAppendFormsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers, so allocation counts are not meaningful")
	}
	r := testRing(t, 1)
	pt := make([]byte, 300)
	tok := mustSeal(t, r, "__Host-session", pt)
	sealBuf := make([]byte, 0, len(tok))
	openBuf := make([]byte, 0, len(pt))
	tests := []struct {
		name string
		f    func()
	}{
		{"AppendSeal", func() { _, _ = r.AppendSeal(sealBuf[:0], "__Host-session", pt) }},
		{"AppendOpen", func() { _, _, _ = r.AppendOpen(openBuf[:0], "__Host-session", tok) }},
		{"AppendOpen of an invalid token", func() { _, _, _ = r.AppendOpen(openBuf[:0], "other", tok) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
}

// benchRecord is the size of an encoded session record in benchmarks.
const benchRecord = 300

func BenchmarkSeal(b *testing.B) {
	r := testRing(b, 1)
	pt := make([]byte, benchRecord)
	b.ReportAllocs()
	b.SetBytes(benchRecord)
	var tok string
	for b.Loop() {
		tok, _ = r.Seal("__Host-session", pt)
	}
	b.ReportMetric(float64(len(tok)), "token-bytes")
}

func BenchmarkOpen(b *testing.B) {
	r := testRing(b, 1)
	tok := mustSeal(b, r, "__Host-session", make([]byte, benchRecord))
	b.ReportAllocs()
	b.SetBytes(benchRecord)
	for b.Loop() {
		if _, _, err := r.Open("__Host-session", tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendSeal(b *testing.B) {
	r := testRing(b, 1)
	pt := make([]byte, benchRecord)
	buf := make([]byte, 0, SealedLen(benchRecord))
	b.ReportAllocs()
	b.SetBytes(benchRecord)
	for b.Loop() {
		buf, _ = r.AppendSeal(buf[:0], "__Host-session", pt)
	}
}

func BenchmarkAppendOpen(b *testing.B) {
	r := testRing(b, 1)
	tok := mustSeal(b, r, "__Host-session", make([]byte, benchRecord))
	buf := make([]byte, 0, benchRecord)
	b.ReportAllocs()
	b.SetBytes(benchRecord)
	for b.Loop() {
		var err error
		if buf, _, err = r.AppendOpen(buf[:0], "__Host-session", tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenInvalid measures the cost of a forged token, which is what an
// attacker can make the server spend.
func BenchmarkOpenInvalid(b *testing.B) {
	r := testRing(b, 1)
	tok := mustSeal(b, r, "__Host-session", make([]byte, benchRecord))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Open("other", tok); err != ErrInvalid {
			b.Fatal(err)
		}
	}
}
