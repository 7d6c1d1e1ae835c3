package dbsc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
)

// Errors that say why a proof was refused. Test them with errors.Is; the
// errors returned wrap them with detail.
var (
	// ErrMalformed: the proof is not a compact JWS of JSON objects, or a
	// member has the wrong type.
	ErrMalformed = errors.New("dbsc: malformed proof")

	// ErrAlgorithm: the proof's algorithm is "none", unknown, not offered,
	// or not the one the session was bound with.
	ErrAlgorithm = errors.New("dbsc: algorithm refused")

	// ErrKey: the registration proof's key is of the wrong type for its
	// algorithm, on another curve, too short or too long, or invalid.
	ErrKey = errors.New("dbsc: key refused")

	// ErrSignature: the signature does not verify with the key.
	ErrSignature = errors.New("dbsc: bad signature")

	// ErrClaims: a claim is missing or wrong: the type is not dbsc+jwt, the
	// audience is another endpoint, or the proof's time (iat, exp) is
	// further from the server's clock than Config.ClockSkew allows.
	ErrClaims = errors.New("dbsc: claims refused")

	// ErrChallenge: the proof answers no challenge this session may
	// answer now: one never issued, issued to another session, too old,
	// or already spent.
	ErrChallenge = errors.New("dbsc: challenge refused")
)

// Algorithms a proof may use. "none" is never accepted.
const (
	ES256 = "ES256" // ECDSA on P-256 with SHA-256
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256
)

// Limits on what a proof may carry, checked before anything is decoded.
const (
	maxProofLen  = 8 << 10 // bytes of the whole compact JWS
	maxJTILen    = 256     // a challenge
	minRSABits   = 2048
	maxRSABits   = 4096
	ecCoordBytes = 32 // P-256
)

var b64 = base64.RawURLEncoding.Strict()

// proof is a compact JWS whose header was read and whose signature is
// not yet checked: nothing of its payload is trusted until verify.
type proof struct {
	alg     string
	jwk     json.RawMessage // the embedded key, nil if absent
	signed  string          // the signing input: header "." payload
	payload []byte
	sig     []byte
}

// parseProof splits and decodes a compact JWS and reads its header. It
// refuses "alg":"none" and any other algorithm but ES256 and RS256, a
// type other than dbsc+jwt, and critical extensions it cannot know.
func parseProof(token string) (*proof, error) {
	if len(token) > maxProofLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(token))
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, fmt.Errorf("%w: not three dot-separated parts", ErrMalformed)
	}
	hb, err1 := b64.DecodeString(h)
	pb, err2 := b64.DecodeString(p)
	sig, err3 := b64.DecodeString(s)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("%w: base64url: %v", ErrMalformed, err)
	}
	hdr, err := readObject(hb)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	var typ string
	pr := &proof{signed: token[:len(h)+1+len(p)], payload: pb, sig: sig, jwk: hdr["jwk"]}
	if err := stringMember(hdr, "alg", &pr.alg, true); err != nil {
		return nil, err
	}
	if err := stringMember(hdr, "typ", &typ, true); err != nil {
		return nil, err
	}
	switch {
	case pr.alg != ES256 && pr.alg != RS256:
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, pr.alg)
	case !strings.EqualFold(typ, "dbsc+jwt"):
		return nil, fmt.Errorf("%w: typ %q, want dbsc+jwt", ErrClaims, typ)
	case hdr["crit"] != nil:
		return nil, fmt.Errorf("%w: critical header extensions", ErrMalformed)
	case len(sig) == 0:
		return nil, fmt.Errorf("%w: no signature", ErrSignature)
	}
	return pr, nil
}

// embeddedKey returns the public key in the header's jwk member, which
// must be of the type the proof's algorithm needs.
func (p *proof) embeddedKey() (crypto.PublicKey, error) {
	if p.jwk == nil {
		return nil, fmt.Errorf("%w: no jwk in the header", ErrKey)
	}
	return parseJWK(p.jwk, p.alg)
}

// verify checks the signature with key, which must suit the proof's
// algorithm, and then reads the claims.
func (p *proof) verify(key crypto.PublicKey) (*claims, error) {
	digest := sha256.Sum256([]byte(p.signed))
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if p.alg != ES256 {
			return nil, fmt.Errorf("%w: %s with an EC key", ErrAlgorithm, p.alg)
		}
		if len(p.sig) != 2*ecCoordBytes {
			return nil, fmt.Errorf("%w: ES256 signature of %d bytes", ErrSignature, len(p.sig))
		}
		r := new(big.Int).SetBytes(p.sig[:ecCoordBytes])
		s := new(big.Int).SetBytes(p.sig[ecCoordBytes:])
		if !ecdsa.Verify(k, digest[:], r, s) {
			return nil, ErrSignature
		}
	case *rsa.PublicKey:
		if p.alg != RS256 {
			return nil, fmt.Errorf("%w: %s with an RSA key", ErrAlgorithm, p.alg)
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], p.sig); err != nil {
			return nil, ErrSignature
		}
	default:
		return nil, fmt.Errorf("%w: %T", ErrKey, key)
	}
	return parseClaims(p.payload)
}

// claims are the payload members a proof may carry.
type claims struct {
	jti      string
	aud      []string // nil if absent
	iat, exp int64    // Unix seconds; 0 if absent
}

func parseClaims(b []byte) (*claims, error) {
	obj, err := readObject(b)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	c := &claims{}
	if err := stringMember(obj, "jti", &c.jti, true); err != nil {
		return nil, err
	}
	if c.jti == "" || len(c.jti) > maxJTILen {
		return nil, fmt.Errorf("%w: jti of %d bytes", ErrChallenge, len(c.jti))
	}
	if raw := obj["aud"]; raw != nil {
		var err error
		switch raw[0] {
		case '"':
			c.aud = []string{""}
			err = json.Unmarshal(raw, &c.aud[0])
		case '[':
			err = json.Unmarshal(raw, &c.aud)
		}
		if err != nil || len(c.aud) == 0 {
			return nil, fmt.Errorf("%w: aud is neither a string nor a list of them", ErrMalformed)
		}
	}
	for name, dst := range map[string]*int64{"iat": &c.iat, "exp": &c.exp} {
		if raw := obj[name]; raw != nil {
			t, err := numericDate(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
			}
			*dst = t
		}
	}
	return c, nil
}

// numericDate reads a JWT NumericDate, Unix seconds: a JSON number, or a
// string of digits as the draft's own example writes iat. It must be a
// positive whole number no later than the year 10000.
func numericDate(raw json.RawMessage) (int64, error) {
	s := string(raw)
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
	}
	t, err := strconv.ParseInt(s, 10, 64)
	if err != nil || t <= 0 || t > 253402300799 {
		return 0, fmt.Errorf("%q is not a time in seconds", s)
	}
	return t, nil
}

// parseJWK reads a public JWK (RFC 7517) for alg: a P-256 EC key for
// ES256, an RSA key of 2048 to 4096 bits for RS256. Members it does not
// need are ignored, except a private key, which is refused.
func parseJWK(raw json.RawMessage, alg string) (crypto.PublicKey, error) {
	obj, err := readObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: jwk: %v", ErrMalformed, err)
	}
	var kty string
	if err := stringMember(obj, "kty", &kty, true); err != nil {
		return nil, err
	}
	if obj["d"] != nil {
		return nil, fmt.Errorf("%w: the jwk holds a private key", ErrKey)
	}
	switch {
	case alg == ES256 && kty == "EC":
		var crv string
		if err := stringMember(obj, "crv", &crv, true); err != nil {
			return nil, err
		}
		if crv != "P-256" {
			return nil, fmt.Errorf("%w: curve %q, want P-256", ErrKey, crv)
		}
		x, err1 := b64Member(obj, "x")
		y, err2 := b64Member(obj, "y")
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		if len(x) != ecCoordBytes || len(y) != ecCoordBytes {
			return nil, fmt.Errorf("%w: P-256 coordinates of %d and %d bytes", ErrKey, len(x), len(y))
		}
		return ecKey(append(append([]byte{4}, x...), y...))
	case alg == RS256 && kty == "RSA":
		n, err1 := b64Member(obj, "n")
		e, err2 := b64Member(obj, "e")
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		return rsaKey(n, e)
	}
	return nil, fmt.Errorf("%w: a %q key for %s", ErrKey, kty, alg)
}

// ecKey parses an uncompressed P-256 point, refusing one not on the curve.
func ecKey(point []byte) (*ecdsa.PublicKey, error) {
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return k, nil
}

// rsaKey builds an RSA public key from its big-endian modulus and
// exponent, each in its shortest form.
func rsaKey(n, e []byte) (*rsa.PublicKey, error) {
	switch {
	case len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0:
		return nil, fmt.Errorf("%w: RSA modulus or exponent empty or not in its shortest form", ErrKey)
	case len(e) > 4:
		return nil, fmt.Errorf("%w: RSA exponent of %d bytes", ErrKey, len(e))
	}
	k := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	switch bits := k.N.BitLen(); {
	case bits < minRSABits || bits > maxRSABits:
		return nil, fmt.Errorf("%w: RSA key of %d bits, want %d to %d", ErrKey, bits, minRSABits, maxRSABits)
	case k.E < 3 || k.E%2 == 0 || k.E > 1<<31-1:
		return nil, fmt.Errorf("%w: RSA exponent %d", ErrKey, k.E)
	case k.N.Bit(0) == 0:
		return nil, fmt.Errorf("%w: even RSA modulus", ErrKey)
	}
	return k, nil
}

// jwkThumbprint is the RFC 7638 thumbprint of a key: the SHA-256 of its
// required members, in lexicographic order, without white space.
func jwkThumbprint(key crypto.PublicKey) string {
	var m []byte
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		b, _ := k.Bytes() // a key parsed from a valid point always encodes
		m, _ = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{"P-256", "EC", b64.EncodeToString(b[1 : 1+ecCoordBytes]), b64.EncodeToString(b[1+ecCoordBytes:])})
	case *rsa.PublicKey:
		m, _ = json.Marshal(struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{b64.EncodeToString(big.NewInt(int64(k.E)).Bytes()), "RSA", b64.EncodeToString(k.N.Bytes())})
	}
	sum := sha256.Sum256(m)
	return b64.EncodeToString(sum[:])
}

// readObject decodes a JSON object into its members, refusing a
// duplicated member name (which JSON parsers resolve differently, so a
// signed header could mean one thing here and another elsewhere) and
// anything after the object.
func readObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	obj := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string) // inside an object, a token before a value is its name
		if _, dup := obj[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		obj[name] = v
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, errors.New("unterminated object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return obj, nil
}

// stringMember reads obj[name], which must be a JSON string; required
// says whether it may be absent.
func stringMember(obj map[string]json.RawMessage, name string, dst *string, required bool) error {
	raw, ok := obj[name]
	switch {
	case !ok && required:
		return fmt.Errorf("%w: no %q", ErrMalformed, name)
	case !ok:
		return nil
	case json.Unmarshal(raw, dst) != nil || len(raw) == 0 || raw[0] != '"':
		return fmt.Errorf("%w: %q is not a string", ErrMalformed, name)
	}
	return nil
}

// b64Member reads obj[name], a string of unpadded base64url.
func b64Member(obj map[string]json.RawMessage, name string) ([]byte, error) {
	var s string
	if err := stringMember(obj, name, &s, true); err != nil {
		return nil, err
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not base64url", ErrKey, name)
	}
	return b, nil
}
