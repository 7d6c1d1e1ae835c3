package storetest

import (
	"testing"

	"github.com/sesame-go/sesame"
)

func testSaveCopiesValue(t *testing.T, s sesame.Store) {
	key := newKey()
	value := []byte("as saved")
	v := save(t, s, key, value, 0, live(""))
	copy(value, "CHANGED!")
	wantRecord(t, s, key, []byte("as saved"), v)

	// The same holds for an update, not only for a create.
	value = []byte("updated")
	v = save(t, s, key, value, v, live(""))
	copy(value, "XXXXXXX")
	wantRecord(t, s, key, []byte("updated"), v)
}

func testEmptyValue(t *testing.T, s sesame.Store) {
	tests := []struct {
		name  string
		value []byte
	}{
		{"empty slice", []byte{}},
		{"nil slice", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := newKey()
			v := save(t, s, key, tc.value, 0, live(""))
			got, gotV, err := s.Load(t.Context(), key)
			if err != nil {
				t.Fatalf("Load of an empty value: %v; want no error", err)
			}
			if len(got) != 0 || gotV != v {
				t.Fatalf("Load of an empty value = %s, version %d; want 0 bytes, version %d", describe(got), gotV, v)
			}
			// And an empty value can be replaced like any other.
			v = save(t, s, key, []byte("now filled"), v, live(""))
			wantRecord(t, s, key, []byte("now filled"), v)
		})
	}
}

func testValuesRoundTrip(t *testing.T, s sesame.Store) {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	tests := []struct {
		name  string
		value []byte
	}{
		{"one zero byte", []byte{0}},
		{"every byte value", every},
		{"invalid UTF-8", []byte{0xff, 0xfe, 0xc3, 0x28, 0x80}},
		{"typical record", randomBytes(200)},
		{"64 KiB", randomBytes(64 << 10)},
		{"1 MiB", randomBytes(1 << 20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := newKey()
			v := save(t, s, key, tc.value, 0, live(""))
			wantRecord(t, s, key, tc.value, v)
		})
	}
}
