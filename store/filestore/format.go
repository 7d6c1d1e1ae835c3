package filestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// ErrCorrupt reports a record file that cannot be read back: truncated,
// damaged, or written in an unknown format. Test for it with errors.Is.
var ErrCorrupt = errors.New("filestore: corrupt record file")

const (
	formatV1   = 1
	headerLen  = 1 + 8 + 8 + 4 + 8 // format, version, expiry, user length, value length
	trailerLen = 4                 // CRC-32C
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c returns the checksum that ends a record file.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// header is the part of a record file the store itself interprets.
type header struct {
	version uint64
	expires int64 // Unix nanoseconds; 0 means the record never expires
	user    []byte
}

// expired reports whether the record's expiry is at or before now.
func (h *header) expired(now int64) bool {
	return h.expires != 0 && now >= h.expires
}

// encodeRecord returns the file contents for one record.
func encodeRecord(version uint64, expires int64, user string, value []byte) ([]byte, error) {
	if uint64(len(user)) > math.MaxUint32 {
		return nil, errors.New("user name longer than 4 GiB")
	}
	b := make([]byte, headerLen, headerLen+len(user)+len(value)+trailerLen)
	b[0] = formatV1
	binary.BigEndian.PutUint64(b[1:], version)
	binary.BigEndian.PutUint64(b[9:], uint64(expires))
	binary.BigEndian.PutUint32(b[17:], uint32(len(user)))
	binary.BigEndian.PutUint64(b[21:], uint64(len(value)))
	b = append(b, user...)
	b = append(b, value...)
	return binary.BigEndian.AppendUint32(b, crc32c(b)), nil
}

// decodeRecord parses file contents made by encodeRecord. The returned
// header and value share memory with b. Its errors say what is wrong
// without quoting any of the contents.
func decodeRecord(b []byte) (header, []byte, error) {
	if len(b) < headerLen+trailerLen {
		return header{}, nil, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte minimum", len(b), headerLen+trailerLen)
	}
	if b[0] != formatV1 {
		return header{}, nil, fmt.Errorf("unknown format %d", b[0])
	}
	h := header{
		version: binary.BigEndian.Uint64(b[1:]),
		expires: int64(binary.BigEndian.Uint64(b[9:])),
	}
	ulen := uint64(binary.BigEndian.Uint32(b[17:]))
	vlen := binary.BigEndian.Uint64(b[21:])
	body := uint64(len(b) - headerLen - trailerLen)
	if ulen > body || vlen != body-ulen {
		return header{}, nil, fmt.Errorf("lengths do not match file size %d", len(b))
	}
	end := len(b) - trailerLen
	if crc32c(b[:end]) != binary.BigEndian.Uint32(b[end:]) {
		return header{}, nil, errors.New("checksum mismatch")
	}
	if h.version == 0 {
		return header{}, nil, errors.New("version 0")
	}
	u := headerLen + int(ulen)
	h.user = b[headerLen:u:u]
	return h, b[u:end:end], nil
}

// unixNano converts an expiry time to the file's representation: 0 for
// the zero time (no expiry), otherwise nanoseconds clamped to what int64
// can hold, and never 0.
func unixNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return -1
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// minuteOf returns the expiry bucket of a time in Unix nanoseconds: whole
// minutes since the epoch, rounded down.
func minuteOf(ns int64) int64 {
	m := ns / int64(time.Minute)
	if ns < 0 && ns%int64(time.Minute) != 0 {
		m--
	}
	return m
}
