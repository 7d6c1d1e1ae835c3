package ticket

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary cookie values to Parse. It must never panic,
// must refuse oversized values as ErrTooLarge, must fail only with its
// sentinel errors, and what it accepts must survive a re-issue unchanged.
// The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.Cookie)
		f.Add(v.Raw)
	}
	codecs := []*Codec{
		mustNew(f, Config{Now: fixedNow(t0), Timeout: -1, MaxLength: 512}),
		mustNew(f, Config{Digest: LegacyMD5, IgnoreIP: true, Now: fixedNow(t0), Timeout: -1, MaxLength: 512}),
		mustNew(f, Config{Secret: "0e1d79e1-c18b-43c5-bfd6-a396e13bf39c", Digest: SHA512, IgnoreIP: true, Now: fixedNow(t0)}),
	}
	sentinels := []error{ErrTooLarge, ErrMalformed, ErrBadSignature, ErrExpired, ErrNotYetValid, ErrNotIPv4}
	f.Fuzz(func(t *testing.T, value string) {
		for _, k := range codecs {
			tk, _, err := k.Parse(value, loopback)
			if len(value) > k.maxLen && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("oversized value (%d bytes): err = %v", len(value), err)
			}
			if err != nil {
				known := false
				for _, s := range sentinels {
					known = known || errors.Is(err, s)
				}
				if !known {
					t.Fatalf("unexpected error %v", err)
				}
				continue
			}
			v, err := k.Issue(tk, loopback)
			if err != nil {
				continue // Apache-compatible input Issue would not write, e.g. a control character in the uid
			}
			again, _, err := k.Parse(v, loopback)
			if err != nil || !reflect.DeepEqual(again, tk) {
				t.Fatalf("re-issue changed the ticket: %+v -> %+v (%v)", tk, again, err)
			}
		}
	})
}
