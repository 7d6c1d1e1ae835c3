package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// newKey returns a random key shaped like the ones the Manager makes: 32
// random bytes in unpadded base64url, 43 characters.
func newKey() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// live returns options for a record that outlives the test.
func live(user string) sesame.SaveOptions {
	return sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: user}
}

// save saves and fails the test on error or on a zero or unchanged version.
func save(t *testing.T, s sesame.Store, key string, value []byte, version uint64, opts sesame.SaveOptions) uint64 {
	t.Helper()
	v, err := s.Save(t.Context(), key, value, version, opts)
	if err != nil {
		t.Fatalf("Save(%s, version %d): %v", short(key), version, err)
	}
	if v == 0 || v == version {
		t.Fatalf("Save(%s, version %d) returned version %d; want non-zero and different", short(key), version, v)
	}
	return v
}

// wantRecord fails the test unless Load returns exactly value and version.
func wantRecord(t *testing.T, s sesame.Store, key string, value []byte, version uint64) {
	t.Helper()
	got, v, err := s.Load(t.Context(), key)
	if err != nil {
		t.Fatalf("Load(%s): %v; want the record with version %d", short(key), err, version)
	}
	if v != version {
		t.Errorf("Load(%s) version = %d; want %d", short(key), v, version)
	}
	if !bytes.Equal(got, value) {
		t.Errorf("Load(%s) value = %s; want %s", short(key), describe(got), describe(value))
	}
}

// wantNotFound fails the test unless Load reports ErrNotFound.
func wantNotFound(t *testing.T, s sesame.Store, key string) {
	t.Helper()
	got, v, err := s.Load(t.Context(), key)
	if !errors.Is(err, sesame.ErrNotFound) {
		t.Fatalf("Load(%s) = %s, version %d, error %v; want an error wrapping ErrNotFound", short(key), describe(got), v, err)
	}
}

// wantConflict fails the test unless err wraps ErrConflict.
func wantConflict(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, sesame.ErrConflict) {
		t.Fatalf("%s: error %v; want an error wrapping ErrConflict", what, err)
	}
}

// short names a key in failure messages without flooding them.
func short(key string) string {
	if len(key) > 12 {
		return key[:12] + "…"
	}
	return key
}

// describe names a value in failure messages by its length and first few
// bytes, never the whole value.
func describe(b []byte) string {
	switch {
	case b == nil:
		return "nil"
	case len(b) > 8:
		return fmt.Sprintf("[%d bytes %x…]", len(b), b[:8])
	default:
		return fmt.Sprintf("[%d bytes %x]", len(b), b)
	}
}
