package pickle

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode: no input makes Decode panic or fail with anything but
// ErrMalformed or ErrRefused, and whatever it accepts is plain data that
// Encode writes and Decode reads back unchanged. The seed corpus
// (testdata/fuzz/FuzzDecode) holds CPython's pickles of plain data in
// every protocol and pickles that call functions or build objects.
func FuzzDecode(f *testing.F) {
	for _, p := range cpythonPickles {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			if errors.Is(err, ErrMalformed) == errors.Is(err, ErrRefused) {
				t.Fatalf("error %v is not exactly one of ErrMalformed, ErrRefused", err)
			}
			return
		}
		p, err := Encode(v)
		if err != nil {
			t.Fatalf("Decode accepted %#v, which Encode refuses: %v", v, err)
		}
		back, err := Decode(p)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)): %v", v, err)
		}
		p2, err := Encode(back)
		if err != nil || !bytes.Equal(p, p2) {
			t.Fatalf("value changed on a round trip: %#v became %#v (%v)", v, back, err)
		}
	})
}
