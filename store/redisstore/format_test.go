package redisstore

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestRecordRoundTrips(t *testing.T) {
	tests := []struct {
		name    string
		version uint64
		user    string
		value   string
	}{
		{"anonymous", 1, "", "value"},
		{"empty value", 7, "alice", ""},
		{"largest version", math.MaxUint64, "bob", "v"},
		{"user with digits and braces", 42, "0000000003{x}", "123"},
		{"binary value", 9, "a\x00b", "\x00\xff\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := encodeRecord(tc.version, tc.user, []byte(tc.value))
			v, user, value, err := decodeRecord(rec)
			if err != nil || v != tc.version || user != tc.user || value != tc.value {
				t.Fatalf("decodeRecord(encodeRecord(%d, %q, %q)) = %d, %q, %q, %v", tc.version, tc.user, tc.value, v, user, value, err)
			}
			if got := rec[:versionDigits]; got != versionString(tc.version) {
				t.Errorf("record starts with %q; the save script compares it with %q", got, versionString(tc.version))
			}
		})
	}
}

// TestDecodeRecordRejectsForeignData checks that what another program
// left under a record key is an error, never a panic or a wrong record.
func TestDecodeRecordRejectsForeignData(t *testing.T) {
	good := encodeRecord(5, "user", []byte("value"))
	tests := []struct{ name, rec string }{
		{"empty", ""},
		{"short header", good[:headerLen-1]},
		{"version zero", strings.Repeat("0", versionDigits) + good[versionDigits:]},
		{"version not a number", "x" + good[1:]},
		{"version too large", strings.Repeat("9", versionDigits) + good[versionDigits:]},
		{"user length past the end", good[:versionDigits] + "0000000099" + "user"},
		{"user length not a number", good[:versionDigits] + "00000000-1" + "user"},
		{"signed user length", good[:versionDigits] + "+000000004" + "user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := decodeRecord(tc.rec); !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeRecord(%q): error %v; want errCorrupt", tc.rec, err)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(5, "user", []byte("value")))
	f.Add("")
	f.Add(strings.Repeat("9", headerLen))
	f.Fuzz(func(t *testing.T, rec string) {
		v, user, value, err := decodeRecord(rec)
		if err != nil {
			return
		}
		if v == 0 || encodeRecord(v, user, []byte(value)) != rec {
			t.Fatalf("decodeRecord(%q) = %d, %q, %q: does not re-encode to its input", rec, v, user, value)
		}
	})
}
