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
	// Ten groups of four characters make 30 bytes; the last three make
	// two. Invalid characters map to 0xff, whose high bits survive the OR.
	var bad byte
	for g := 0; g < 10; g++ {
		a, b, c, d := b64[s[4*g]], b64[s[4*g+1]], b64[s[4*g+2]], b64[s[4*g+3]]
		bad |= a | b | c | d
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		id[3*g], id[3*g+1], id[3*g+2] = byte(v>>16), byte(v>>8), byte(v)
	}
	a, b, c := b64[s[40]], b64[s[41]], b64[s[42]]
	bad |= a | b | c
	v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
	id[30], id[31] = byte(v>>10), byte(v>>2)
	// 0xff has bits 6 and 7 set, no valid value does; the low two bits of
	// the last character are unused and must be zero (one spelling per id).
	return id, bad&0xc0 == 0 && v&3 == 0
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
