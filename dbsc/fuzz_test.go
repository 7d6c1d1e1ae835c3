package dbsc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fuzzKey is a fixed P-256 key, so that the fuzzer can reach the
// signature check with proofs it derives from the seeds.
var fuzzKey = func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}()

// signES256 signs a header and payload as a browser does.
func signES256(t testing.TB, k *ecdsa.PrivateKey, header, payload string) string {
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	d := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

func jwkOf(k *ecdsa.PublicKey) string {
	b, _ := k.Bytes()
	j, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(b[1:33]), "y": b64.EncodeToString(b[33:])})
	return string(j)
}

// FuzzParseProof feeds the proof parser anything: it must never panic,
// and whatever it accepts must verify only with the key that signed it.
// The seeds are real proofs (registration and refresh) and near misses.
func FuzzParseProof(f *testing.F) {
	jwk := jwkOf(&fuzzKey.PublicKey)
	reg := signES256(f, fuzzKey, `{"alg":"ES256","jwk":`+jwk+`,"typ":"dbsc+jwt"}`, `{"jti":"9bcd8dd7032c1818","authorization":"ac"}`)
	ref := signES256(f, fuzzKey, `{"alg":"ES256","typ":"dbsc+jwt"}`, `{"jti":"AAABk3ZrbXQ0dGVzdHRlc3R0ZXN0","aud":"https://localhost/dbsc/refresh","iat":"1725579055"}`)
	f.Add(reg)
	f.Add(ref)
	f.Add(`"` + reg + `"`)
	f.Add(strings.TrimSuffix(ref, ref[strings.LastIndexByte(ref, '.'):]) + ".")
	f.Add(b64.EncodeToString([]byte(`{"alg":"none","typ":"dbsc+jwt"}`)) + "." + b64.EncodeToString([]byte(`{"jti":"x"}`)) + ".")
	f.Add(b64.EncodeToString([]byte(`{"alg":"RS256","typ":"dbsc+jwt","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}`)) + ".e30.AAAA")
	f.Add("..")
	f.Add("a.b.c.d")
	f.Fuzz(func(t *testing.T, token string) {
		p, err := parseProof(token)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAlgorithm) && !errors.Is(err, ErrClaims) && !errors.Is(err, ErrSignature) {
				t.Fatalf("parseProof error outside the documented kinds: %v", err)
			}
			return
		}
		if p.alg != ES256 && p.alg != RS256 {
			t.Fatalf("accepted alg %q", p.alg)
		}
		if key, err := p.embeddedKey(); err == nil {
			if c, err := p.verify(key); err == nil && c.jti == "" {
				t.Fatal("a verified proof without a jti")
			}
		}
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if _, err := p.verify(&other.PublicKey); err == nil {
			t.Fatal("a proof verified with a key that did not sign it")
		}
		if _, err := p.verify(&fuzzKey.PublicKey); err == nil && !strings.HasPrefix(token, p.signed+".") {
			t.Fatalf("verified %q, signed input %q", token, p.signed)
		}
	})
}

// FuzzParseJWK: the key parser never panics, and a key it accepts is of
// the algorithm's type and encodes into a binding that decodes to it.
func FuzzParseJWK(f *testing.F) {
	f.Add(jwkOf(&fuzzKey.PublicKey), ES256)
	f.Add(`{"kty":"RSA","n":"`+b64.EncodeToString(bytes.Repeat([]byte{0xc5}, 256))+`","e":"AQAB"}`, RS256)
	f.Add(`{"kty":"EC","crv":"P-256","x":"","y":""}`, ES256)
	f.Add(`{"kty":"RSA","n":"AA","e":"AQAB","d":"AQ"}`, RS256)
	f.Fuzz(func(t *testing.T, jwk, alg string) {
		key, err := parseJWK(json.RawMessage(jwk), alg)
		if err != nil {
			return
		}
		bd := &binding{alg: algES256, key: key}
		if alg == RS256 {
			bd.alg = algRS256
		}
		back, err := decodeBinding(bd.encode())
		if err != nil {
			t.Fatalf("a key parseJWK accepted does not survive a binding: %v", err)
		}
		if jwkThumbprint(back.key) != jwkThumbprint(key) {
			t.Fatal("the key changed in the binding")
		}
	})
}

// FuzzRequestString: the header reader never panics; a value it reads
// is printable and, written as an sf-string, reads back the same.
func FuzzRequestString(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln",
		`"eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln"`,
		`"s-1";id="x"`, `s-1;a=1`, `"a\"b\\c"`, `"unterminated`, `a, b`, `"a";p="x,y"`, `a;p=1, b`, ``, ` `, `"\q"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := http.Header{}
		h.Set(hdrSessionID, s)
		v, err := requestString(h, hdrSessionID, 256)
		if err != nil {
			return
		}
		if !printable(v) || len(v) > 256 {
			t.Fatalf("read %q from %q", v, s)
		}
		h.Set(hdrSessionID, sfString(v))
		if back, err := requestString(h, hdrSessionID, 256); err != nil || back != v {
			t.Fatalf("%q as an sf-string reads back as %q, %v", v, back, err)
		}
	})
}

// FuzzDecodeBinding: a binding that decodes encodes to the same bytes (one
// layout per binding), and corrupt ones never panic.
func FuzzDecodeBinding(f *testing.F) {
	bd := &binding{alg: algES256, key: &fuzzKey.PublicKey, spent: time.Now().UnixMilli()}
	f.Add(bd.encode())
	rsaKey := &binding{alg: algRS256, key: mustRSA(f)}
	f.Add(rsaKey.encode())
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		bd, err := decodeBinding(raw)
		if err != nil {
			return
		}
		if !bytes.Equal(bd.encode(), raw) {
			t.Fatalf("binding %x re-encodes as %x", raw, bd.encode())
		}
		if _, ok := secretOf(raw); !ok {
			t.Fatal("secretOf refuses a binding that decodes")
		}
	})
}

// FuzzOpenToken: only a token made with the secret opens, to its time.
func FuzzOpenToken(f *testing.F) {
	secret := bytes.Repeat([]byte{7}, secretLen)
	f.Add(makeToken(secret, purposeCookie, time.Now().UnixMilli()))
	f.Add(makeToken(secret, purposeChal, 1))
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		tm, ok := openToken(secret, purposeCookie, s)
		if !ok {
			return
		}
		if makeToken(secret, purposeCookie, tm) != s {
			t.Fatalf("%q opened to %d, which makes another token", s, tm)
		}
		if _, ok := openToken(secret, purposeChal, s); ok {
			t.Fatal("a cookie token opened as a challenge")
		}
	})
}

func mustRSA(t testing.TB) any {
	n, _ := new(big.Int).SetString("c5"+strings.Repeat("a7", 255), 16)
	k, err := rsaKey(n.Bytes(), []byte{1, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	return k
}
