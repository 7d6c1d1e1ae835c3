package dbsc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// A binding is what a bound session's record keeps (sesame.Session.Bind),
// in a layout of this package's own:
//
//	version (1) | algorithm (1: ES256, 2: RS256) | id (16 bytes) |
//	secret (32 bytes) | spent (uvarint, Unix ms) | public key
//
// The public key is the 65-byte uncompressed P-256 point for ES256, and
// for RS256 the exponent as a uvarint followed by the modulus, big-endian,
// to the end. id is the session identifier the browser knows; secret keys
// the MACs of the session's challenges and bound cookies, so that checking
// either needs nothing but the record; spent is the time of the last
// challenge answered: no challenge made at or before it is accepted again.
type binding struct {
	alg    byte
	id     [idLen]byte
	secret [secretLen]byte
	spent  int64
	key    crypto.PublicKey
}

const (
	bindingVersion = 1
	algES256       = 1
	algRS256       = 2
	idLen          = 16
	secretLen      = 32
	bindingFixed   = 2 + idLen + secretLen // bytes before spent
	maxTime        = 1 << 62
)

var errBinding = errors.New("dbsc: corrupt binding")

func (b *binding) algName() string {
	if b.alg == algES256 {
		return ES256
	}
	return RS256
}

// encode returns b's layout.
func (b *binding) encode() []byte {
	out := make([]byte, 0, bindingFixed+10+520)
	out = append(out, bindingVersion, b.alg)
	out = append(out, b.id[:]...)
	out = append(out, b.secret[:]...)
	out = binary.AppendUvarint(out, uint64(b.spent))
	switch k := b.key.(type) {
	case *ecdsa.PublicKey:
		p, _ := k.Bytes() // a key parsed from a valid point always encodes
		out = append(out, p...)
	case *rsa.PublicKey:
		out = binary.AppendUvarint(out, uint64(k.E))
		out = append(out, k.N.Bytes()...)
	}
	return out
}

// decodeBinding parses a binding, refusing anything but the exact layout
// encode writes with a valid key.
func decodeBinding(raw []byte) (*binding, error) {
	if len(raw) < bindingFixed+1 || raw[0] != bindingVersion {
		return nil, errBinding
	}
	b := &binding{alg: raw[1]}
	copy(b.id[:], raw[2:])
	copy(b.secret[:], raw[2+idLen:])
	spent, n := binary.Uvarint(raw[bindingFixed:])
	if n <= 0 || spent > maxTime || n != uvarintLen(spent) {
		return nil, errBinding
	}
	b.spent = int64(spent)
	key := raw[bindingFixed+n:]
	var err error
	switch b.alg {
	case algES256:
		b.key, err = ecKey(key)
	case algRS256:
		e, n := binary.Uvarint(key)
		if n <= 0 || n != uvarintLen(e) || e > 1<<31-1 {
			return nil, errBinding
		}
		b.key, err = rsaKey(key[n:], big.NewInt(int64(e)).Bytes())
	default:
		return nil, errBinding
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBinding, err)
	}
	return b, nil
}

// uvarintLen is the length of binary.AppendUvarint's encoding of x, so
// that a value has one encoding only.
func uvarintLen(x uint64) int {
	return len(binary.AppendUvarint(nil, x))
}

// secretOf returns the MAC key of a binding without parsing the rest: all
// that checking a bound cookie needs, on every request of a bound session.
func secretOf(raw []byte) ([]byte, bool) {
	if len(raw) < bindingFixed+1 || raw[0] != bindingVersion {
		return nil, false
	}
	return raw[2+idLen : bindingFixed], true
}

// A token is what the session's secret vouches for: a bound cookie's
// value, or a refresh challenge. It is the unpadded base64url of
//
//	time (8 bytes, big-endian Unix ms) | MAC (16 bytes)
//
// where MAC is HMAC-SHA-256 under the secret, truncated, of the purpose
// and the time. For a cookie the time is its expiry; for a challenge, when
// it was made.
const (
	tokenBytes    = 8 + 16
	tokenLen      = 32 // base64url of tokenBytes
	purposeCookie = "sesame/dbsc/cookie\x00"
	purposeChal   = "sesame/dbsc/challenge\x00"
)

func makeToken(secret []byte, purpose string, t int64) string {
	var b [tokenBytes]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t))
	copy(b[8:], tokenMAC(secret, purpose, b[:8]))
	return b64.EncodeToString(b[:])
}

// openToken returns the time a token made with secret for purpose
// carries, or false for anything else.
func openToken(secret []byte, purpose, s string) (int64, bool) {
	var b [tokenBytes]byte
	if len(s) != tokenLen {
		return 0, false
	}
	if n, err := b64.Decode(b[:], []byte(s)); err != nil || n != tokenBytes {
		return 0, false
	}
	if !hmac.Equal(b[8:], tokenMAC(secret, purpose, b[:8])) {
		return 0, false
	}
	t := binary.BigEndian.Uint64(b[:8])
	return int64(t), t <= maxTime
}

func tokenMAC(secret []byte, purpose string, t []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	m.Write(t)
	return m.Sum(nil)[:16]
}

// nextChallenge returns a challenge for the session: made now, or just
// after the last one spent if a server whose clock runs ahead spent it,
// so that it can be accepted.
func (b *binding) nextChallenge(now time.Time) string {
	return makeToken(b.secret[:], purposeChal, max(now.UnixMilli(), b.spent+1))
}

// spend checks that challenge was made for this session within ttl of now
// (and no further ahead than skew), and was not spent: made after the
// last challenge spent. It returns the challenge's time, to record as
// spent.
func (b *binding) spend(challenge string, now time.Time, ttl, skew time.Duration) (int64, error) {
	t, ok := openToken(b.secret[:], purposeChal, challenge)
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: not issued for this session", ErrChallenge)
	case t <= b.spent:
		return 0, fmt.Errorf("%w: already spent", ErrChallenge)
	case now.UnixMilli()-t > ttl.Milliseconds():
		return 0, fmt.Errorf("%w: issued %v ago", ErrChallenge, now.Sub(time.UnixMilli(t)).Round(time.Millisecond))
	case t-now.UnixMilli() > skew.Milliseconds():
		return 0, fmt.Errorf("%w: issued %v in the future", ErrChallenge, time.UnixMilli(t).Sub(now).Round(time.Millisecond))
	}
	return t, nil
}
