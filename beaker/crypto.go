package beaker

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// A cookie value is
//
//	hex(HMAC-SHA1(validate_key, payload)) ‖ payload
//
// (Beaker's SignedCookie). Without an encrypt key the payload is
// base64(data); with one it is
//
//	nonce ‖ base64(AES(key, data))
//	nonce = base64(random bytes), cut to Beaker's get_nonce_size length
//	key   = PBKDF2-HMAC-SHA1(encrypt_key, validate_key ‖ nonce, 1 iteration, 32 bytes)
//
// where AES is CTR mode from a zero counter (pycrypto) or GCM, written as
// iv (12 bytes) ‖ tag (16 bytes) ‖ ciphertext (cryptography).

const (
	gcmIVLength  = 12
	gcmTagLength = 16
	aesKeyLength = 32 // both of Beaker's AES modules' getKeyLength()
)

func (c *Codec) sign(payload string) string {
	m := hmac.New(sha1.New, c.validateKey)
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

// verify compares the hex signature as text, as Beaker does, so only the
// lowercase hex Beaker writes verifies.
func (c *Codec) verify(sig, payload string) bool {
	return subtle.ConstantTimeCompare([]byte(c.sign(payload)), []byte(sig)) == 1
}

// cipherFor derives the AES key for a nonce. It fails only where the
// platform forbids PBKDF2-SHA1 (a FIPS 140-only mode).
func (c *Codec) cipherFor(nonce string) (cipher.Block, error) {
	key, err := pbkdf2.Key(sha1.New, c.encryptKey, []byte(string(c.validateKey)+nonce), 1, aesKeyLength)
	if err != nil {
		return nil, fmt.Errorf("beaker: deriving the key: %w", err)
	}
	return aes.NewCipher(key)
}

// seal turns serialized data into the payload.
func (c *Codec) seal(data []byte) (string, error) {
	if c.crypto == "" {
		return base64.StdEncoding.EncodeToString(data), nil
	}
	raw := make([]byte, c.nonceLen)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("beaker: reading random nonce: %w", err)
	}
	nonce := base64.StdEncoding.EncodeToString(raw)[:c.nonceB64Len]
	block, err := c.cipherFor(nonce)
	if err != nil {
		return "", err
	}
	var ct []byte
	if c.crypto == CryptoPycrypto {
		ct = make([]byte, len(data))
		cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(ct, data)
	} else {
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return "", err
		}
		iv := make([]byte, gcmIVLength)
		if _, err := rand.Read(iv); err != nil {
			return "", fmt.Errorf("beaker: reading random IV: %w", err)
		}
		sealed := gcm.Seal(nil, iv, data, nil) // ciphertext ‖ tag
		n := len(sealed) - gcmTagLength
		ct = make([]byte, 0, gcmIVLength+len(sealed))
		ct = append(append(append(ct, iv...), sealed[n:]...), sealed[:n]...)
	}
	return nonce + base64.StdEncoding.EncodeToString(ct), nil
}

// payloadLen is the length of the payload seal makes of n bytes.
func (c *Codec) payloadLen(n int) int {
	switch c.crypto {
	case "":
		return base64.StdEncoding.EncodedLen(n)
	case CryptoPycrypto:
		return c.nonceB64Len + base64.StdEncoding.EncodedLen(n)
	}
	return c.nonceB64Len + base64.StdEncoding.EncodedLen(gcmIVLength+gcmTagLength+n)
}

// open turns a verified payload back into serialized data.
func (c *Codec) open(payload string) ([]byte, error) {
	if c.crypto == "" {
		data, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return data, nil
	}
	if len(payload) < c.nonceB64Len {
		return nil, fmt.Errorf("%w: shorter than its nonce", ErrMalformed)
	}
	nonce := payload[:c.nonceB64Len]
	ct, err := base64.StdEncoding.DecodeString(payload[c.nonceB64Len:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	block, err := c.cipherFor(nonce)
	if err != nil {
		return nil, err
	}
	if c.crypto == CryptoPycrypto {
		data := make([]byte, len(ct))
		cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(data, ct)
		return data, nil
	}
	if len(ct) < gcmIVLength+gcmTagLength {
		return nil, fmt.Errorf("%w: shorter than an AES-GCM IV and tag", ErrMalformed)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	iv, tag, body := ct[:gcmIVLength], ct[gcmIVLength:gcmIVLength+gcmTagLength], ct[gcmIVLength+gcmTagLength:]
	sealed := make([]byte, 0, len(body)+gcmTagLength)
	sealed = append(append(sealed, body...), tag...)
	data, err := gcm.Open(nil, iv, sealed, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: AES-GCM tag does not match the encrypt key", ErrBadSignature)
	}
	return data, nil
}
