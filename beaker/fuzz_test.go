package beaker

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// fuzzCodecs cover the three ways a payload is opened: signed only,
// AES-CTR and AES-GCM, with both serializers between them.
func fuzzCodecs(t testing.TB) []*Codec {
	var out []*Codec
	for _, cfg := range []Config{
		{ValidateKey: testValidateKey},
		{ValidateKey: testValidateKey, EncryptKey: testEncryptKey, Serializer: JSON},
		{ValidateKey: testValidateKey, EncryptKey: testEncryptKey, CryptoType: CryptoCryptography},
	} {
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// checkDecode fails unless err is exactly one of Decode's errors, or s is
// a session that Encode writes back and Decode reads unchanged.
func checkDecode(t *testing.T, c *Codec, s *Session, err error) {
	t.Helper()
	if err != nil {
		n := 0
		for _, e := range []error{ErrMalformed, ErrTooLarge, ErrBadSignature, ErrExpired, ErrRefused} {
			if errors.Is(err, e) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error %v matches %d of Decode's errors", err, n)
		}
		return
	}
	v, err := c.Encode(s)
	if err != nil {
		t.Fatalf("Decode accepted %+v, which Encode refuses: %v", s, err)
	}
	back, err := c.Decode(v)
	if err != nil {
		t.Fatalf("Decode(Encode(%+v)): %v", s, err)
	}
	if !reflect.DeepEqual(back.Values, namesDropped(s.Values)) || back.ID != s.ID {
		t.Fatalf("round trip changed %+v into %+v", s, back)
	}
}

// checkDecodeCookie fails unless DecodeCookie accepts exactly what Decode
// accepted (decodeErr), and EncodeCookie writes back what it read, or
// refuses it as more than Beaker could write again.
func checkDecodeCookie(t *testing.T, c *Codec, value string, decodeErr error) {
	t.Helper()
	cs, err := c.DecodeCookie(value)
	if (err == nil) != (decodeErr == nil) {
		t.Fatalf("DecodeCookie: %v; Decode: %v", err, decodeErr)
	}
	if err != nil {
		return
	}
	values, user, flashes := maps.Clone(cs.Values), cs.User, cs.Flashes
	v, err := c.EncodeCookie(cs)
	if errors.Is(err, sesame.ErrTooLarge) {
		return
	}
	if err != nil {
		t.Fatalf("DecodeCookie accepted %+v, which EncodeCookie refuses: %v", cs, err)
	}
	back, err := c.DecodeCookie(v)
	if err != nil {
		t.Fatalf("DecodeCookie(EncodeCookie(%+v)): %v", cs, err)
	}
	if !reflect.DeepEqual(back.Values, values) || back.User != user || !slices.Equal(back.Flashes, flashes) {
		t.Fatalf("round trip changed %q %q %q into %q %q %q", values, user, flashes, back.Values, back.User, back.Flashes)
	}
}

// FuzzDecode: any cookie value, as a browser could send it. Almost every
// one fails the signature; the seeds (testdata/fuzz/FuzzDecode) are
// Beaker's own cookies and changed copies.
func FuzzDecode(f *testing.F) {
	codecs := fuzzCodecs(f)
	for _, c := range codecs {
		v, err := c.Encode(&Session{Values: map[string]any{"user": "alice"}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value string) {
		for _, c := range codecs {
			s, err := c.Decode(value)
			checkDecode(t, c, s, err)
			checkDecodeCookie(t, c, value, err)
		}
	})
}

// FuzzDecodeData: any serialized data, signed and encrypted with the
// right keys, as a peer holding them (or its attacker) could write it;
// this reaches the pickle and JSON readers and the session checks.
func FuzzDecodeData(f *testing.F) {
	codecs := fuzzCodecs(f)
	for _, c := range codecs {
		data, _, err := c.serialize(&Session{ID: "id", Created: time.Now(), Accessed: time.Now(),
			Values: map[string]any{"user": "alice", "n": int64(1)}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range codecs {
			payload, err := c.seal(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(payload) > MaxPayloadLength {
				return
			}
			value := c.sign(payload) + payload
			s, err := c.Decode(value)
			checkDecode(t, c, s, err)
			checkDecodeCookie(t, c, value, err)
		}
	})
}
