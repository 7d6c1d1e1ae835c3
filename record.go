package sesame

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"time"
)

// The first byte of every encoded record is its format. A new layout gets a
// new number; decodeRecord refuses numbers it does not know.
const (
	// recordFormat is the layout of a record without a binding: every
	// record of a Manager without a Binder, byte for byte as before
	// bindings existed.
	recordFormat = 1

	// recordFormatBound is recordFormat with the session's binding (see
	// Binder) after the client details. A binding is never empty in it,
	// so that one record has one encoding.
	recordFormatBound = 2
)

// Record flag bits.
const (
	flagRemember = 1 << iota // persistent cookie up to the absolute deadline
	flagDead                 // tombstone: the session was renewed or destroyed
)

// Limits on what a record may hold, so that a session cannot grow without
// bound and a corrupt record cannot make the decoder allocate much.
const (
	maxDataKeyLen = 255
	maxUserLen    = 255
	maxMetaLen    = 512 // login user agent and IP

	// MaxBindingLen is the most a session's binding may hold: room for
	// an RSA-4096 public key and what a Binder keeps beside it.
	MaxBindingLen = 1024
)

var errCorrupt = errors.New("sesame: corrupt session record")

// record is the persisted form of a session: deadlines, the user it belongs
// to, what was recorded at login, its binding, and the data. Times are Unix
// milliseconds.
//
// Encoding (all integers unsigned varints):
//
//	format byte | flags byte | created | lastSeen | idleDeadline | deadline |
//	len user | user | len userAgent | userAgent | len ip | ip |
//	[len binding | binding]   (recordFormatBound only)
//	count | count × (len key | key | len value | value)
//
// Values are JSON documents kept as bytes; decodeRecord only checks the
// layout, and a value is decoded when Get asks for it.
type record struct {
	flags        byte
	n            int32 // how many entries data holds
	created      int64
	lastSeen     int64
	idleDeadline int64
	deadline     int64
	user         []byte
	userAgent    []byte
	ip           []byte
	binding      []byte // what a Binder set (Session.Bind); nil if none

	// data holds the count×(key, value) region, validated.
	data []byte
}

// expired reports whether either deadline has passed at now (Unix ms).
func (r *record) expired(now int64) bool {
	return now >= r.idleDeadline || now >= r.deadline
}

// appendRecord appends the encoding of r's header followed by the entries
// that emit yields. emit is called with an append function for each entry.
func appendRecordHeader(b []byte, r *record, count int) []byte {
	format := byte(recordFormat)
	if len(r.binding) > 0 {
		format = recordFormatBound
	}
	b = append(b, format, r.flags)
	b = binary.AppendUvarint(b, uint64(r.created))
	b = binary.AppendUvarint(b, uint64(r.lastSeen))
	b = binary.AppendUvarint(b, uint64(r.idleDeadline))
	b = binary.AppendUvarint(b, uint64(r.deadline))
	b = appendString(b, r.user)
	b = appendString(b, r.userAgent)
	b = appendString(b, r.ip)
	if len(r.binding) > 0 {
		b = appendString(b, r.binding)
	}
	return binary.AppendUvarint(b, uint64(count))
}

func appendString[S string | []byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendEntry[S string | []byte](b []byte, key S, value []byte) []byte {
	b = appendString(b, key)
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
}

// recordLen returns the length of the encoding of header r followed by
// count entries whose encodings (see entryLen) take dataLen bytes: what
// appendRecordHeader and appendEntry would write, without writing it.
func recordLen(r *record, count, dataLen int) int {
	n := 0
	if len(r.binding) > 0 {
		n = fieldLen(len(r.binding))
	}
	return n + 2 + uvarintLen(uint64(r.created)) + uvarintLen(uint64(r.lastSeen)) +
		uvarintLen(uint64(r.idleDeadline)) + uvarintLen(uint64(r.deadline)) +
		fieldLen(len(r.user)) + fieldLen(len(r.userAgent)) + fieldLen(len(r.ip)) +
		uvarintLen(uint64(count)) + dataLen
}

// entryLen is the length of appendEntry's encoding of a key of k bytes and
// a value of v bytes.
func entryLen(k, v int) int { return fieldLen(k) + fieldLen(v) }

// fieldLen is the length of appendString's encoding of n bytes.
func fieldLen(n int) int { return uvarintLen(uint64(n)) + n }

// uvarintLen is the length of binary.AppendUvarint's encoding of x.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// decoder reads the varint layout and remembers the first error, so that a
// truncated or hostile record fails once, cleanly, wherever it ends.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if len(d.b) > 0 && d.b[0] < 0x80 { // one byte: most lengths
		v := uint64(d.b[0])
		d.b = d.b[1:]
		return v
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) time() int64 {
	v := d.uvarint()
	if v > 1<<62 {
		d.bad = true
	}
	return int64(v)
}

// bytes returns the next length-prefixed field, at most max bytes long. The
// result aliases the input.
func (d *decoder) bytes(max int) []byte {
	n := d.uvarint()
	if d.bad || n > uint64(max) || n > uint64(len(d.b)) {
		d.bad = true
		d.b = nil
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// skipField returns b after its first length-prefixed field, which must
// be at most max bytes long. It is the decoder's checks, unrolled for the
// one-byte lengths nearly every field has.
func skipField(b []byte, max int) ([]byte, bool) {
	if len(b) > 0 && b[0] < 0x80 {
		n := int(b[0])
		if n > max || n >= len(b) {
			return nil, n <= max && n == len(b)-1
		}
		return b[1+n:], true
	}
	d := decoder{b: b}
	d.bytes(max)
	return d.b, !d.bad
}

// decodeRecord parses an encoded record without copying: header fields and
// the data region alias b, which the caller must keep unchanged.
func decodeRecord(b []byte, r *record) error {
	if len(b) < 2 || (b[0] != recordFormat && b[0] != recordFormatBound) {
		return errCorrupt
	}
	r.flags = b[1]
	d := decoder{b: b[2:]}
	r.created = d.time()
	r.lastSeen = d.time()
	r.idleDeadline = d.time()
	r.deadline = d.time()
	user := d.bytes(maxUserLen)
	ua := d.bytes(maxMetaLen)
	ip := d.bytes(maxMetaLen)
	var binding []byte
	if b[0] == recordFormatBound {
		if binding = d.bytes(MaxBindingLen); len(binding) == 0 {
			return errCorrupt
		}
	}
	count := d.uvarint()
	if d.bad || count > uint64(len(d.b)) || count > math.MaxInt32 {
		return errCorrupt
	}
	r.data, r.n = d.b, int32(count)
	rest, ok := d.b, true
	for i := int32(0); i < r.n && ok; i++ {
		rest, ok = skipField(rest, maxDataKeyLen)
		if ok {
			rest, ok = skipField(rest, len(rest))
		}
	}
	if !ok || len(rest) != 0 {
		return errCorrupt
	}
	r.user, r.userAgent, r.ip, r.binding = user, ua, ip, binding
	return nil
}

// entries walks the validated data region, calling f for each key and value
// until f returns false. Keys and values alias the record's buffer.
func (r *record) entries(f func(key, value []byte) bool) {
	d := decoder{b: r.data}
	for range r.n {
		k := d.bytes(maxDataKeyLen)
		v := d.bytes(len(d.b))
		if !f(k, v) {
			return
		}
	}
}

// lookup returns the stored value of key, without decoding anything else.
func (r *record) lookup(key string) ([]byte, bool) {
	var found []byte
	ok := false
	r.entries(func(k, v []byte) bool {
		if string(k) == key {
			found, ok = v, true
			return false
		}
		return true
	})
	return found, ok
}

// msTime converts Unix milliseconds to a time.Time (zero stays zero).
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
