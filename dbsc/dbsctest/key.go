// Package dbsctest is a browser's side of Device Bound Session
// Credentials, written in Go for tests: a Browser that registers when a
// response offers it, refreshes before a request when its bound cookie is
// missing or expired, signs challenges with its Key, and lets a test send
// what a real browser never would (another key's proof, an old one, a
// forged one).
//
// It follows what Chromium sends: bare header values, proofs of the form
// {"alg","typ":"dbsc+jwt"[,"jwk"]}.{"jti"[,...]}, a 403 answered by
// signing the challenge it carries and trying once more.
package dbsctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

var b64 = base64.RawURLEncoding

// Key is a browser's signing key: ES256 (P-256) or RS256 (RSA, 2048 bits).
type Key struct {
	// Alg is ES256 or RS256.
	Alg    string
	signer crypto.Signer
}

// NewKey makes a key for alg, ES256 or RS256.
func NewKey(alg string) (*Key, error) {
	var s crypto.Signer
	var err error
	switch alg {
	case "ES256":
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("dbsctest: no algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	return &Key{Alg: alg, signer: s}, nil
}

// KeyFrom makes a key of an existing P-256 or RSA private key, such as
// one too short for a site to accept.
func KeyFrom(s crypto.Signer) (*Key, error) {
	switch k := s.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("dbsctest: an ECDSA key on %s", k.Curve.Params().Name)
		}
		return &Key{Alg: "ES256", signer: s}, nil
	case *rsa.PrivateKey:
		return &Key{Alg: "RS256", signer: s}, nil
	}
	return nil, fmt.Errorf("dbsctest: a %T", s)
}

// JWK returns the public key as a JWK, as a browser puts it in a
// registration proof.
func (k *Key) JWK() map[string]string {
	switch p := k.signer.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := p.Bytes()
		return map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(b[1:33]), "y": b64.EncodeToString(b[33:])}
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "n": b64.EncodeToString(p.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())}
	}
	return nil
}

// Thumbprint returns the RFC 7638 thumbprint of the public key.
func (k *Key) Thumbprint() string {
	j := k.JWK()
	var m []byte
	if j["kty"] == "EC" {
		m = fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, j["x"], j["y"])
	} else {
		m = fmt.Appendf(nil, `{"e":%q,"kty":"RSA","n":%q}`, j["e"], j["n"])
	}
	sum := sha256.Sum256(m)
	return b64.EncodeToString(sum[:])
}

// Proof returns a proof for challenge, signed with k: the header carries
// the public key when withJWK (a registration). extra adds payload claims.
func (k *Key) Proof(challenge string, withJWK bool, extra map[string]any) string {
	header := map[string]any{"alg": k.Alg, "typ": "dbsc+jwt"}
	if withJWK {
		header["jwk"] = k.JWK()
	}
	payload := map[string]any{"jti": challenge}
	for n, v := range extra {
		payload[n] = v
	}
	return k.Sign(header, payload)
}

// Sign returns the compact JWS of header and payload (as JSON) signed
// with k, whatever the header says: a test can make it lie.
func (k *Key) Sign(header, payload any) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	return k.SignRaw(h, p)
}

// SignRaw is Sign for a header and payload given as bytes.
func (k *Key) SignRaw(header, payload []byte) string {
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch s := k.signer.(type) {
	case *ecdsa.PrivateKey:
		r, ss, err := ecdsa.Sign(rand.Reader, s, digest[:])
		if err != nil {
			panic(err) // crypto/rand failing: nothing a test can go on with
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, s, crypto.SHA256, digest[:]); err != nil {
			panic(err)
		}
	}
	return input + "." + b64.EncodeToString(sig)
}
