package sesame

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
)

// idLen is the size of a session id in bytes: 256 bits from the operating
// system's CSPRNG, far beyond what any guessing attack can search.
const idLen = 32

// tokenLen is the length of an id in the cookie: unpadded base64url.
const tokenLen = 43

// sessionID is the secret a browser holds. It is never stored, only sent in
// the cookie; stores see storeKey(id) instead.
type sessionID [idLen]byte

// newID reads a fresh id from rnd. A failing random source is an error:
// there is no fallback to anything weaker.
func newID(rnd io.Reader) (sessionID, error) {
	var id sessionID
	if _, err := io.ReadFull(rnd, id[:]); err != nil {
		return id, fmt.Errorf("sesame: reading random session id: %w", err)
	}
	return id, nil
}

// String returns the id as it goes into the cookie.
func (id sessionID) String() string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// b64 maps a base64url character to its value, or 0xff if it is not one.
var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// parseID decodes a cookie value into an id. It accepts exactly the
// canonical encoding newID produces: 43 base64url characters whose unused
// low bits are zero, so that one id has exactly one spelling. It does not
// allocate, and it looks at nothing beyond the expected length.
func parseID(s string) (id sessionID, ok bool) {
	if len(s) != tokenLen {
		return id, false
	}
	var acc uint32
	var bits uint
	n := 0
	for i := 0; i < tokenLen; i++ {
		v := b64[s[i]]
		if v == 0xff {
			return id, false
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			id[n] = byte(acc >> bits)
			n++
			acc &= 1<<bits - 1
		}
	}
	if acc != 0 { // non-canonical trailing bits
		return id, false
	}
	return id, true
}

// storeKey is the key a session is stored under: the SHA-256 of the id,
// base64url. Reading a store therefore yields no usable cookie values.
func storeKey(id sessionID) string {
	sum := sha256.Sum256(id[:])
	var buf [tokenLen]byte
	base64.RawURLEncoding.Encode(buf[:], sum[:])
	return string(buf[:])
}

// shortKey is what logs and events show of a session: a prefix of its store
// key, enough to correlate log lines and useless as a credential.
func shortKey(key string) string {
	if len(key) > 10 {
		return key[:10]
	}
	return key
}
