package boltstore

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Bucket names. The file holds exactly these three top-level buckets.
var (
	recordsBucket = []byte("records") // key → header + user + value
	expiryBucket  = []byte("expiry")  // big-endian expiry (Unix ns) + key → empty
	usersBucket   = []byte("users")   // user + 0x00 + key → empty
)

// Record layout, all integers big-endian:
//
//	offset  size  field
//	0       1     format, 1
//	1       8     version, never 0
//	9       8     expiry, Unix nanoseconds; 0 means none
//	17      4     user length U
//	21      U     user
//	21+U    …     value
const (
	formatV1   = 1
	headerSize = 21
)

// header is the part of a stored record that is not the value.
type header struct {
	version uint64
	expires uint64 // Unix nanoseconds; 0 means never
	user    []byte // aliases bbolt memory while the transaction lasts
}

// encodeRecord returns the stored form of a record.
func encodeRecord(version, expires uint64, user string, value []byte) []byte {
	b := make([]byte, headerSize+len(user)+len(value))
	b[0] = formatV1
	binary.BigEndian.PutUint64(b[1:], version)
	binary.BigEndian.PutUint64(b[9:], expires)
	binary.BigEndian.PutUint32(b[17:], uint32(len(user)))
	copy(b[headerSize:], user)
	copy(b[headerSize+len(user):], value)
	return b
}

// decodeRecord splits a stored record into its header and value. Both
// alias b. A record that is too short, has an unknown format or a zero
// version is reported as ErrCorrupt.
func decodeRecord(b []byte) (header, []byte, error) {
	if len(b) < headerSize {
		return header{}, nil, fmt.Errorf("%w: record of %d bytes is shorter than its header", ErrCorrupt, len(b))
	}
	if b[0] != formatV1 {
		return header{}, nil, fmt.Errorf("%w: unknown record format %d", ErrCorrupt, b[0])
	}
	h := header{
		version: binary.BigEndian.Uint64(b[1:]),
		expires: binary.BigEndian.Uint64(b[9:]),
	}
	n := uint64(binary.BigEndian.Uint32(b[17:]))
	if h.version == 0 {
		return header{}, nil, fmt.Errorf("%w: record has version 0", ErrCorrupt)
	}
	if n > uint64(len(b)-headerSize) {
		return header{}, nil, fmt.Errorf("%w: user length %d exceeds the record", ErrCorrupt, n)
	}
	h.user = b[headerSize : headerSize+n]
	return h, b[headerSize+n:], nil
}

// expired reports whether a record with this header is past its expiry at
// now (Unix nanoseconds).
func (h header) expired(now uint64) bool {
	return h.expires != 0 && h.expires <= now
}

// unixNano returns t as Unix nanoseconds for the expiry field: the zero
// time is 0 (never), and a time at or before the epoch is 1 (long past).
func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	n := t.UnixNano()
	if n <= 0 {
		return 1
	}
	return uint64(n)
}

// expiryKey is the expiry index key of a record: expiry, then key, so a
// cursor from the start meets records in the order they expire.
func expiryKey(expires uint64, key string) []byte {
	b := make([]byte, 8+len(key))
	binary.BigEndian.PutUint64(b, expires)
	copy(b[8:], key)
	return b
}

// userKey is the user index key of a record: the user, a 0x00 byte, then
// the key. User names may themselves contain 0x00, so a scan for one user's
// prefix may meet entries of a longer user name that starts with it; those
// are told apart because what follows the prefix must then be a valid key,
// and a valid key has no 0x00 (see userIndexKey).
func userKey(user, key string) []byte {
	b := make([]byte, 0, len(user)+1+len(key))
	b = append(b, user...)
	b = append(b, 0)
	return append(b, key...)
}
