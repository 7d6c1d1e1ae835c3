package redisstore

import (
	"errors"
	"strconv"
	"strings"
)

// A record is stored as one Redis string:
//
//	bytes 0-19     version, 20 decimal digits with leading zeros
//	bytes 20-29    n, the length of the user name, 10 decimal digits
//	bytes 30-29+n  the user name ("" for an anonymous session)
//	the rest       the value
//
// One string rather than a hash of three fields: the server's work per save
// is about the same, and a string takes about 40% less memory for a typical
// record (374 against 598 bytes for a 200-byte value) (a hash whose value exceeds 64 bytes leaves the compact listpack
// encoding). Fixed-width numbers let the save script read the version, and
// the delete script the user, with GETRANGE, without copying the value.
const (
	versionDigits = 20
	lengthDigits  = 10
	headerLen     = versionDigits + lengthDigits
)

var errCorrupt = errors.New("corrupt record: not written by redisstore")

// versionString is a version as the record stores it; 0 (no record) is ""
// to match what GETRANGE returns for a missing key.
func versionString(v uint64) string {
	if v == 0 {
		return ""
	}
	return padded(v, versionDigits)
}

// padded formats v in decimal with leading zeros to width digits.
func padded(v uint64, width int) string {
	s := strconv.FormatUint(v, 10)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

// encodeRecord lays out a record for Save.
func encodeRecord(version uint64, user string, value []byte) string {
	var b strings.Builder
	b.Grow(headerLen + len(user) + len(value))
	b.WriteString(padded(version, versionDigits))
	b.WriteString(padded(uint64(len(user)), lengthDigits))
	b.WriteString(user)
	b.Write(value)
	return b.String()
}

// decodeRecord splits a stored record. The value is a substring of rec.
func decodeRecord(rec string) (version uint64, user, value string, err error) {
	if len(rec) < headerLen {
		return 0, "", "", errCorrupt
	}
	version, err = strconv.ParseUint(rec[:versionDigits], 10, 64)
	if err != nil || version == 0 {
		return 0, "", "", errCorrupt
	}
	n, err := strconv.ParseUint(rec[versionDigits:headerLen], 10, 64)
	if err != nil || n > uint64(len(rec)-headerLen) {
		return 0, "", "", errCorrupt
	}
	return version, rec[headerLen : headerLen+int(n)], rec[headerLen+int(n):], nil
}
