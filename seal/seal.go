// Package seal encrypts and authenticates small messages, such as session
// records kept in cookies, into URL- and cookie-safe tokens.
//
// A KeyRing seals with its primary key and opens with any of its keys, so
// keys can be rotated without invalidating tokens in flight. Every token is
// bound to a purpose string, for example a cookie's name: a token sealed for
// one purpose does not open for another.
//
// # Token format
//
// A token is the unpadded base64url encoding of
//
//	version (1 byte, 1) | key id (1 byte) | nonce (24 bytes) | ciphertext | tag (16 bytes)
//
// sealed with XChaCha20-Poly1305 under a key derived from the KeyRing key by
// HKDF-SHA-256. The nonce is random, which XChaCha20's 192-bit nonce makes
// safe for any realistic number of messages under one key. The associated
// data is version | key id | purpose, so changing the header or the purpose
// makes the token fail to open. A token is 42 bytes longer than its plaintext
// before encoding; see SealedLen.
//
// Open checks the token's length before decoding it and decodes it before
// any cryptography; every way a token can be wrong gives the same error,
// ErrInvalid.
package seal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// DefaultMaxTokenLen is the length in bytes of the longest token a KeyRing
// makes or opens unless told otherwise (see KeyRing.WithMaxTokenLen): the
// most a browser keeps for one cookie's name and value together.
const DefaultMaxTokenLen = 4096

// ErrInvalid is the one error Open and AppendOpen return for any token that
// does not open: too long, too short, not base64url, an unknown version or
// key id, a different purpose, or tampered with. It says nothing more, so
// that it cannot serve as an oracle.
var ErrInvalid = errors.New("seal: invalid token")

// ErrTooLarge is returned by Seal and AppendSeal when the token would be
// longer than the KeyRing's maximum token length, so that it could not be
// opened again.
var ErrTooLarge = errors.New("seal: token would be too large")

const (
	version   = 1
	headerLen = 2 // version and key id
	nonceLen  = chacha20poly1305.NonceSizeX
	overhead  = headerLen + nonceLen + chacha20poly1305.Overhead
)

// enc is the encoding of tokens. Strict decoding, together with the check
// that every byte of a token is a base64 digit, makes the encoding
// canonical: one message has one token, and flipping a bit of a token never
// leaves it valid.
var enc = base64.RawURLEncoding.Strict()

// minTokenLen is the length of a token with an empty plaintext.
var minTokenLen = SealedLen(0)

// SealedLen returns the length in bytes of the token for a plaintext of n
// bytes: 4/3 × (n + 42), rounded up.
func SealedLen(n int) int {
	return enc.EncodedLen(overhead + n)
}

// Seal returns a token that holds plaintext, encrypted and authenticated
// under r's primary key and bound to purpose. It fails with ErrTooLarge if
// the token would be longer than r.MaxTokenLen(), and with an error if the
// random source of nonces fails (never ignored; crypto/rand, the source, is
// not expected to fail at all).
func (r *KeyRing) Seal(purpose string, plaintext []byte) (string, error) {
	var buf [1024]byte // holds the tokens of plaintexts up to 726 bytes without a heap allocation
	b, err := r.AppendSeal(buf[:0], purpose, plaintext)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendSeal is like Seal but appends the token to dst and returns the
// extended buffer; it does not allocate when dst has room for the token.
func (r *KeyRing) AppendSeal(dst []byte, purpose string, plaintext []byte) ([]byte, error) {
	if r == nil || len(r.keys) == 0 {
		return dst, errNoKeys
	}
	if SealedLen(len(plaintext)) > r.MaxTokenLen() {
		return dst, ErrTooLarge
	}
	k := r.keys[0]

	sp := getScratch()
	defer putScratch(sp)
	// The scratch buffer holds the associated data, then the raw token.
	buf := slices.Grow((*sp)[:0], headerLen+len(purpose)+overhead+len(plaintext))
	ad := append(buf, version, k.id)
	ad = append(ad, purpose...)
	raw := ad[len(ad) : len(ad)+headerLen+nonceLen]
	raw[0], raw[1] = version, k.id
	nonce := raw[headerLen:]
	if _, err := io.ReadFull(r.random(), nonce); err != nil {
		return dst, fmt.Errorf("seal: reading nonce: %w", err)
	}
	raw = k.aead.Seal(raw, nonce, plaintext, ad)
	*sp = buf
	return enc.AppendEncode(dst, raw), nil
}

// Open returns the plaintext of a token made by Seal for the same purpose
// under any key of r. It reports as rotated a token sealed under a key other
// than the primary, which the caller should seal again to move it onto the
// primary key before the old key is retired. Any token that does not open
// gives ErrInvalid. An empty plaintext may be returned as nil.
func (r *KeyRing) Open(purpose, token string) (plaintext []byte, rotated bool, err error) {
	return r.AppendOpen(nil, purpose, token)
}

// AppendOpen is like Open but appends the plaintext to dst and returns the
// extended buffer; it does not allocate when dst has room for the plaintext.
// On error it returns dst unchanged in length.
func (r *KeyRing) AppendOpen(dst []byte, purpose, token string) (plaintext []byte, rotated bool, err error) {
	if r == nil || len(r.keys) == 0 || len(token) > r.MaxTokenLen() || len(token) < minTokenLen {
		return dst, false, ErrInvalid
	}
	sp := getScratch()
	defer putScratch(sp)
	// The scratch buffer holds the raw token, then the associated data.
	n := enc.DecodedLen(len(token))
	buf := slices.Grow((*sp)[:0], n+headerLen+len(purpose))
	*sp = buf
	raw := buf[:n]
	// Strict decoding still skips '\r' and '\n'; checking that every byte of
	// the token was a base64 digit keeps one token per message.
	m, err := enc.Decode(raw, []byte(token))
	if err != nil || enc.EncodedLen(m) != len(token) || raw[0] != version {
		return dst, false, ErrInvalid
	}
	raw = raw[:m]
	ad := append(buf[n:n], raw[:headerLen]...)
	ad = append(ad, purpose...)
	nonce, sealed := raw[headerLen:headerLen+nonceLen], raw[headerLen+nonceLen:]
	for i, k := range r.keys {
		if k.id != raw[1] {
			continue
		}
		if out, err := k.aead.Open(dst, nonce, sealed, ad); err == nil {
			return out, i != 0, nil
		}
	}
	return dst, false, ErrInvalid
}

// random returns the source of nonces.
func (r *KeyRing) random() io.Reader {
	if r.rand == nil {
		return rand.Reader
	}
	return r.rand
}

// maxPooled is the capacity above which a scratch buffer is dropped rather
// than pooled, so that one huge token does not pin memory for good.
const maxPooled = 64 << 10

// scratch pools the buffers that hold raw tokens and associated data. They
// never hold plaintext.
var scratch = sync.Pool{New: func() any { return new([]byte) }}

func getScratch() *[]byte { return scratch.Get().(*[]byte) }

func putScratch(p *[]byte) {
	if cap(*p) > maxPooled {
		*p = nil
	}
	scratch.Put(p)
}
