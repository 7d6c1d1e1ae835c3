// Package pickle reads and writes Python pickles that hold plain data only:
// dict (with str keys), list, tuple, str, bytes, int (within int64), float
// (finite), bool, None and datetime.datetime (naive, or with a
// datetime.timezone).
//
// Decode runs a small pickle machine that knows only the opcodes such data
// needs. It never imports or calls anything: the few constructor paths
// CPython writes for plain data (bytes through _codecs.encode, datetime,
// timezone and timedelta through their classes) are recognised by name and
// argument shape and built in Go. Every other class or function reference,
// object construction, persistent id or extension code is refused with
// ErrRefused, so a pickle carrying a callable can do nothing here.
//
// Go values: str → string, int → int64, float → float64, bool → bool,
// None → nil, bytes → []byte, list and tuple → []any, dict → map[string]any,
// naive datetime → time.Time in time.UTC with the same wall clock, aware
// datetime → time.Time in a time.FixedZone of its offset.
package pickle

import (
	"errors"
)

var (
	// ErrMalformed: the input is not a well-formed pickle (truncated, an
	// unknown opcode, a stack or memo misuse, bad text fields, trailing
	// data after STOP, invalid UTF-8 in a str).
	ErrMalformed = errors.New("pickle: malformed")
	// ErrRefused: the pickle is well formed but holds something that is
	// not plain data: a reference to a class or function other than the
	// plain-data constructors, object construction (REDUCE of anything
	// else, BUILD, INST, OBJ, NEWOBJ, NEWOBJ_EX), persistent ids,
	// extension codes, out-of-band buffers, sets, bytearrays, an int out
	// of int64 range, a float that is NaN or infinite, a dict key that is
	// not a str, a str holding a lone surrogate, a recursive structure,
	// or more nesting or values than the limits allow.
	ErrRefused = errors.New("pickle: refused")
)

// Limits on what Decode builds and Encode writes. A pickle that shares
// one list many times can describe far more values than it has bytes;
// Decode expands shared values, so it counts them.
const (
	// MaxDepth is the deepest nesting of containers accepted.
	MaxDepth = 200
	// MaxValues is the largest number of values (counting each use of a
	// shared value) one Decode returns.
	MaxValues = 1 << 16
)
