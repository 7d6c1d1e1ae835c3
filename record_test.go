package sesame

import (
	"bytes"
	"strings"
	"testing"
)

func sampleRecord() []byte {
	h := record{flags: flagRemember, created: 1_700_000_000_000, lastSeen: 1_700_000_100_000,
		idleDeadline: 1_700_001_900_000, deadline: 1_700_043_200_000, user: []byte("alice"), userAgent: []byte("Firefox"), ip: []byte("192.0.2.1")}
	b := appendRecordHeader(nil, &h, 3)
	b = appendEntry(b, "cart", []byte(`[1,2,3]`))
	b = appendEntry(b, "name", []byte(`"Alice"`))
	return appendEntry(b, "empty", []byte(`""`))
}

func TestRecordRoundTrip(t *testing.T) {
	var r record
	if err := decodeRecord(sampleRecord(), &r); err != nil {
		t.Fatal(err)
	}
	if string(r.user) != "alice" || string(r.userAgent) != "Firefox" || string(r.ip) != "192.0.2.1" || r.flags != flagRemember ||
		r.created != 1_700_000_000_000 || r.deadline != 1_700_043_200_000 || r.n != 3 {
		t.Fatalf("decoded header %+v", r)
	}
	tests := []struct {
		key  string
		want string
		ok   bool
	}{
		{"cart", `[1,2,3]`, true},
		{"name", `"Alice"`, true},
		{"empty", `""`, true},
		{"missing", "", false},
	}
	for _, tc := range tests {
		v, ok := r.lookup(tc.key)
		if ok != tc.ok || string(v) != tc.want {
			t.Errorf("lookup(%q) = %q, %v; want %q, %v", tc.key, v, ok, tc.want, tc.ok)
		}
	}
}

func TestRecordIsCompact(t *testing.T) {
	// Five small values: the binary record must not be much bigger than the
	// JSON text of the values themselves.
	h := record{created: 1_700_000_000_000, lastSeen: 1_700_000_000_000, idleDeadline: 1_700_001_800_000, deadline: 1_700_043_200_000}
	b := appendRecordHeader(nil, &h, 5)
	payload := 0
	for _, kv := range [][2]string{{"a", `"x"`}, {"bb", `12`}, {"ccc", `true`}, {"d", `[1]`}, {"e", `{"k":1}`}} {
		b = appendEntry(b, kv[0], []byte(kv[1]))
		payload += len(kv[0]) + len(kv[1])
	}
	if overhead := len(b) - payload; overhead > 40 {
		t.Fatalf("record overhead %d bytes for five values; want ≤ 40", overhead)
	}
}

// recordLen, which sealed sessions use to refuse a value at Put, must
// agree with the encoding byte for byte, across every varint boundary.
func TestRecordLenMatchesTheEncoding(t *testing.T) {
	sizes := []int{0, 1, 127, 128, 255, 16383, 16384, 70000}
	headers := []record{
		{},
		{created: 1_700_000_000_000, lastSeen: 1_700_000_100_000, idleDeadline: 1_700_001_900_000, deadline: 1_700_043_200_000,
			user: []byte("alice"), userAgent: []byte("Firefox"), ip: []byte("192.0.2.1")},
		{created: 127, lastSeen: 128, idleDeadline: 1 << 42, deadline: 1 << 62,
			user: bytes.Repeat([]byte("u"), 128), userAgent: bytes.Repeat([]byte("a"), 512), ip: bytes.Repeat([]byte("i"), 127)},
	}
	for hi, h := range headers {
		for _, count := range []int{0, 1, 127, 128, 300} {
			b := appendRecordHeader(nil, &h, count)
			dataLen := 0
			for i := range count {
				k := strings.Repeat("k", 1+i%255)
				v := make([]byte, sizes[i%len(sizes)])
				b = appendEntry(b, k, v)
				dataLen += entryLen(len(k), len(v))
			}
			if got := recordLen(&h, count, dataLen); got != len(b) {
				t.Errorf("header %d, %d entries: recordLen = %d, encoding is %d bytes", hi, count, got, len(b))
			}
		}
	}
}

func TestDecodeRecordRejectsEveryTruncation(t *testing.T) {
	b := sampleRecord()
	for n := 0; n < len(b); n++ {
		var r record
		if err := decodeRecord(b[:n], &r); err == nil {
			t.Fatalf("truncation to %d of %d bytes decoded", n, len(b))
		}
	}
	var r record
	if err := decodeRecord(append(bytes.Clone(b), 0), &r); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

func TestDecodeRecordRejectsBadInput(t *testing.T) {
	long := strings.Repeat("u", maxUserLen+1)
	tooLongUser := appendRecordHeader(nil, &record{user: []byte(long)}, 0)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown format", []byte{9, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"user too long", tooLongUser},
		{"huge count", append(appendRecordHeader(nil, &record{}, 0)[:len(appendRecordHeader(nil, &record{}, 0))-1], 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{"varint overflow", []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r record
			if err := decodeRecord(tc.in, &r); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(sampleRecord())
	f.Add(appendRecordHeader(nil, &record{}, 0))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r record
		if decodeRecord(b, &r) != nil {
			return
		}
		// A record that decodes walks cleanly and re-encodes to itself.
		out := appendRecordHeader(nil, &r, r.n)
		r.entries(func(k, v []byte) bool {
			out = appendEntry(out, string(k), v)
			return true
		})
		if !bytes.Equal(out, b) {
			var r2 record
			if err := decodeRecord(out, &r2); err != nil || r2.n != r.n || string(r2.user) != string(r.user) {
				t.Fatalf("re-encoding a decoded record changed it: %v", err)
			}
		}
	})
}
