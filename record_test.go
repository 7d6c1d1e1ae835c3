package sesame

import (
	"bytes"
	"encoding/binary"
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

// A binding is saved in the record's format 2 and read back exactly; a
// record without one keeps format 1, byte for byte what it was before
// bindings existed, so that unbound sessions pay nothing for them and an
// older release still reads them.
func TestRecordBinding(t *testing.T) {
	h := record{created: 1_700_000_000_000, lastSeen: 1_700_000_000_000, idleDeadline: 1_700_001_800_000, deadline: 1_700_043_200_000, user: []byte("alice")}
	plain := appendEntry(appendRecordHeader(nil, &h, 1), "k", []byte("1"))
	// The format 1 layout, written out by hand.
	want := []byte{1, 0}
	for _, v := range []int64{h.created, h.lastSeen, h.idleDeadline, h.deadline} {
		want = binary.AppendUvarint(want, uint64(v))
	}
	want = append(want, 5, 'a', 'l', 'i', 'c', 'e', 0, 0, 1, 1, 'k', 1, '1')
	if !bytes.Equal(plain, want) {
		t.Fatalf("unbound record\n%x\nwant format 1\n%x", plain, want)
	}
	h.binding = []byte("key and more")
	bound := appendEntry(appendRecordHeader(nil, &h, 1), "k", []byte("1"))
	if bound[0] != recordFormatBound {
		t.Fatalf("bound record has format %d", bound[0])
	}
	var r record
	if err := decodeRecord(bound, &r); err != nil || string(r.binding) != "key and more" || string(r.user) != "alice" || r.n != 1 {
		t.Fatalf("decoded %+v, %v", r, err)
	}
	if v, ok := r.lookup("k"); !ok || string(v) != "1" {
		t.Fatalf("lookup after a binding: %q, %v", v, ok)
	}
	if err := decodeRecord(plain, &r); err != nil || r.binding != nil {
		t.Fatalf("unbound record decoded with binding %q, %v", r.binding, err)
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
		{user: []byte("alice"), binding: []byte("b")},
		{user: []byte("alice"), binding: bytes.Repeat([]byte("b"), MaxBindingLen)},
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
	for _, b := range [][]byte{sampleRecord(), sampleBoundRecord()} {
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
}

func sampleBoundRecord() []byte {
	h := record{created: 1_700_000_000_000, lastSeen: 1_700_000_100_000, idleDeadline: 1_700_001_900_000,
		deadline: 1_700_043_200_000, user: []byte("alice"), binding: []byte("\x01bound to a key")}
	return appendEntry(appendRecordHeader(nil, &h, 1), "cart", []byte(`[1,2,3]`))
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
		{"format 2 with an empty binding", withFormat(appendRecordHeader(nil, &record{}, 0), recordFormatBound, 0)},
		{"binding too long", appendRecordHeader(nil, &record{binding: bytes.Repeat([]byte("b"), MaxBindingLen+1)}, 0)},
		{"format 1 with a binding's layout", withFormat(appendRecordHeader(nil, &record{binding: []byte("b")}, 0), recordFormat, -1)},
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

// withFormat returns b with format byte f, and with a zero byte (an empty
// field) inserted after the header's fixed part when insert is 0.
func withFormat(b []byte, f byte, insert int) []byte {
	b = bytes.Clone(b)
	b[0] = f
	if insert == 0 {
		// Format 1 header: 2 bytes, four one-byte times, three empty
		// strings; the binding's length goes before the count.
		b = append(b[:len(b)-1], 0, b[len(b)-1])
	}
	return b
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(sampleRecord())
	f.Add(sampleBoundRecord())
	f.Add(appendRecordHeader(nil, &record{}, 0))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r record
		if decodeRecord(b, &r) != nil {
			return
		}
		// A record that decodes walks cleanly and re-encodes to itself.
		out := appendRecordHeader(nil, &r, int(r.n))
		r.entries(func(k, v []byte) bool {
			out = appendEntry(out, string(k), v)
			return true
		})
		if !bytes.Equal(out, b) {
			var r2 record
			if err := decodeRecord(out, &r2); err != nil || r2.n != r.n || string(r2.user) != string(r.user) || !bytes.Equal(r2.binding, r.binding) {
				t.Fatalf("re-encoding a decoded record changed it: %v", err)
			}
		}
	})
}
