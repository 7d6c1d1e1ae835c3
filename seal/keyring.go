package seal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the length in bytes of a key made by GenerateKey, and the
// minimum length NewKeyRing accepts.
const KeySize = 32

// HKDF info strings. The stored key is only ever used through HKDF-SHA-256
// with one of these labels, so the same key material can be given to another
// component (with its own label) without the two uses interfering.
const (
	aeadKeyInfo = "sesame/seal v1 xchacha20poly1305 key"
	keyIDInfo   = "sesame/seal v1 key id"
)

// A KeyRing seals and opens tokens. Its first key, the primary, seals; every
// key, the primary included, opens. A KeyRing is immutable once built and
// safe for concurrent use by any number of goroutines; to rotate keys, build
// a new KeyRing and swap it in.
//
// A key is never used as it is: the XChaCha20-Poly1305 key and the key id
// are derived from it with HKDF-SHA-256 under fixed labels, so the same key
// material can also serve another component that derives its own keys under
// a different label.
//
// Each key has a one-byte id, derived from the key with HKDF, so the id of a
// key is the same on every server and in every position of the list. Ids are
// a hint that picks which key to try, not a secret and not unique: if two
// keys of a ring share an id, Open tries both, primary first.
//
// Rotation without logging anyone out, for a fleet of servers:
//  1. Generate a new key and deploy it as the last key ("old,new"): every
//     server can now open tokens sealed under it, none seals with it yet.
//  2. Deploy it as the primary ("new,old"): new tokens use it; tokens under
//     the old key still open, and Open reports them as rotated so that the
//     caller re-seals them under the primary.
//  3. Once every token sealed under the old key has expired (the longest
//     session lifetime after step 2), retire the old key ("new"). Tokens
//     still sealed under it no longer open.
type KeyRing struct {
	keys   []ringKey
	maxLen int       // maximum token length in bytes; 0 means DefaultMaxTokenLen
	rand   io.Reader // nonce source; nil means crypto/rand.Reader
}

// ringKey is one key of a KeyRing, ready to use: the AEAD is built once, so
// sealing and opening do no key schedule beyond XChaCha20's per-nonce one.
type ringKey struct {
	id   byte
	aead cipher.AEAD
}

// NewKeyRing returns a KeyRing of the given keys, primary first. Every key
// must be at least KeySize bytes long, and no key may appear twice. The
// KeyRing keeps no reference to the slices it is given.
func NewKeyRing(keys ...[]byte) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errNoKeys
	}
	r := &KeyRing{keys: make([]ringKey, len(keys))}
	derived := make([][]byte, len(keys))
	for i, k := range keys {
		if len(k) < KeySize {
			return nil, fmt.Errorf("seal: key %d is %d bytes long, need at least %d", i+1, len(k), KeySize)
		}
		aeadKey, err := hkdf.Key(sha256.New, k, nil, aeadKeyInfo, chacha20poly1305.KeySize)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i+1, err)
		}
		id, err := hkdf.Key(sha256.New, k, nil, keyIDInfo, 1)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i+1, err)
		}
		for j := range i {
			if subtle.ConstantTimeCompare(aeadKey, derived[j]) == 1 {
				return nil, fmt.Errorf("seal: key %d repeats key %d", i+1, j+1)
			}
		}
		aead, err := chacha20poly1305.NewX(aeadKey)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i+1, err)
		}
		derived[i] = aeadKey
		r.keys[i] = ringKey{id: id[0], aead: aead}
	}
	return r, nil
}

// ParseKeyRing returns a KeyRing of the base64-encoded keys in text, primary
// first, as kept in an environment variable or a file. Keys are separated by
// commas or white space (newlines included); text from a '#' to the end of
// its line is a comment. Keys may use the standard or the URL-safe base64
// alphabet, with or without padding. Errors name a key by its position,
// never by its value.
func ParseKeyRing(text string) (*KeyRing, error) {
	var keys [][]byte
	for line := range strings.Lines(text) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.FieldsFunc(line, func(c rune) bool {
			return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
		})
		for _, f := range fields {
			k, err := decodeKey(f)
			if err != nil {
				return nil, fmt.Errorf("seal: key %d is not valid base64", len(keys)+1)
			}
			keys = append(keys, k)
		}
	}
	return NewKeyRing(keys...)
}

// decodeKey decodes one base64 key in either alphabet, padded or not.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.Strict().DecodeString(s)
	}
	return base64.RawStdEncoding.Strict().DecodeString(s)
}

// GenerateKey returns a new random key of KeySize bytes from crypto/rand, in
// standard padded base64, ready for ParseKeyRing.
func GenerateKey() (string, error) {
	return generateKey(rand.Reader)
}

// generateKey is GenerateKey with the random source as a parameter.
func generateKey(rnd io.Reader) (string, error) {
	var k [KeySize]byte
	if _, err := io.ReadFull(rnd, k[:]); err != nil {
		return "", fmt.Errorf("seal: generating key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k[:]), nil
}

// WithMaxTokenLen returns a copy of r that refuses to open, and to make,
// tokens longer than n bytes. The default is DefaultMaxTokenLen; n <= 0
// restores it.
func (r *KeyRing) WithMaxTokenLen(n int) *KeyRing {
	c := *r
	c.maxLen = max(n, 0)
	return &c
}

// MaxTokenLen returns the length in bytes of the longest token r makes or
// opens.
func (r *KeyRing) MaxTokenLen() int {
	if r == nil || r.maxLen == 0 {
		return DefaultMaxTokenLen
	}
	return r.maxLen
}

// errNoKeys is returned when a KeyRing would have, or has, no keys.
var errNoKeys = errors.New("seal: key ring has no keys")
