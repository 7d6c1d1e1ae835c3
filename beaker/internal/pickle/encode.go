package pickle

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// Encode writes v as a protocol 2 pickle, the protocol Beaker writes
// (pickle.dumps(data, 2)), which every Python since 2.3 reads. It accepts
// what Plain accepts. A time.Time in time.UTC becomes a naive datetime,
// any other a datetime with a timezone of its offset at that instant.
// Keys are written in sorted order, so equal values give equal pickles.
func Encode(v any) ([]byte, error) {
	p, err := Plain(v)
	if err != nil {
		return nil, err
	}
	e := encoder{buf: []byte{opProto, 2}}
	if err := e.value(p); err != nil {
		return nil, err
	}
	return append(e.buf, opStop), nil
}

// Plain returns v in the form Decode returns: every Go integer type as
// int64, float32 as float64, json.Number as int64 when it is an integer
// and float64 otherwise, time.Time rounded down to the microsecond, and
// []any and map[string]any copied. It accepts nil, bool, string (valid
// UTF-8), []byte, every Go integer type (within int64), float32 and
// float64 (finite), json.Number, time.Time (years 1 to 9999), []any and
// map[string]any, nested at most MaxDepth deep, and refuses anything else
// with ErrRefused.
func Plain(v any) (any, error) { return plain(v, 0) }

func plain(v any, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, refused("nested deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case nil, bool:
		return x, nil
	case string:
		if !utf8.ValidString(x) {
			return nil, refused("string %.40q is not valid UTF-8", x)
		}
		return x, nil
	case []byte:
		return append([]byte{}, x...), nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint:
		return plainUint(uint64(x))
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		return plainUint(x)
	case float32:
		return plainFloat(float64(x))
	case float64:
		return plainFloat(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, refused("json.Number %q is neither an int64 nor a float64", string(x))
		}
		return plainFloat(f)
	case time.Time:
		if x.Year() < 1 || x.Year() > 9999 {
			return nil, refused("time %v is outside the years 1 to 9999 of a Python datetime", x)
		}
		return x.Truncate(time.Microsecond), nil
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			p, err := plain(item, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			if !utf8.ValidString(k) {
				return nil, refused("key %.40q is not valid UTF-8", k)
			}
			p, err := plain(item, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = p
		}
		return out, nil
	}
	return nil, refused("cannot store a value of type %T", v)
}

func plainUint(v uint64) (any, error) {
	if v > math.MaxInt64 {
		return nil, refused("integer %d is out of int64 range", v)
	}
	return int64(v), nil
}

func plainFloat(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, refused("float %v", f)
	}
	return f, nil
}

// encoder writes protocol 2 as CPython's pickler does, memo entries
// included (BINPUT after every str, list, dict, non-empty tuple, global
// and REDUCE), so that a pickle of Go's is as long as CPython's pickle of
// the same value, or longer where CPython refers back to an object it
// already wrote: Beaker pickles again every session it loads, and the
// length of Go's pickle is what tells whether Beaker's will fit a cookie.
type encoder struct {
	buf  []byte
	memo uint32 // entries memoized so far
}

// memoize records the value just written in the memo, as CPython does.
func (e *encoder) memoize() {
	if e.memo < 256 {
		e.buf = append(e.buf, opBinPut, byte(e.memo))
	} else {
		e.buf = append(e.buf, opLongBinPut)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, e.memo)
	}
	e.memo++
}

// value writes v, which is in the form Plain returns.
func (e *encoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, opNone)
	case bool:
		if x {
			e.buf = append(e.buf, opNewTrue)
		} else {
			e.buf = append(e.buf, opNewFalse)
		}
	case string:
		e.unicode(x)
	case []byte:
		e.bytes(x)
	case int64:
		e.int(x)
	case float64:
		e.buf = append(e.buf, opBinFloat)
		e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(x))
	case time.Time:
		e.datetime(x)
	case []any:
		e.buf = append(e.buf, opEmptyList)
		e.memoize()
		if len(x) == 0 {
			return nil
		}
		e.buf = append(e.buf, opMark)
		for _, item := range x {
			if err := e.value(item); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, opAppends)
	case map[string]any:
		e.buf = append(e.buf, opEmptyDict)
		e.memoize()
		if len(x) == 0 {
			return nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.buf = append(e.buf, opMark)
		for _, k := range keys {
			e.unicode(k)
			if err := e.value(x[k]); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, opSetItems)
	default:
		return refused("cannot store a value of type %T", v)
	}
	return nil
}

func (e *encoder) unicode(s string) {
	e.buf = append(e.buf, opBinUnicode)
	e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(len(s)))
	e.buf = append(e.buf, s...)
	e.memoize()
}

// bytes writes b as CPython does in protocols 0 to 2, which have no bytes
// opcode: bytes() for an empty one, _codecs.encode(latin1 str, "latin1")
// otherwise.
func (e *encoder) bytes(b []byte) {
	if len(b) == 0 {
		e.global(global{"__builtin__", "bytes"})
		e.buf = append(e.buf, opEmptyTuple, opReduce)
		e.memoize()
		return
	}
	e.global(gEncode)
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = utf8.AppendRune(s, rune(c))
	}
	e.unicode(string(s))
	e.unicode("latin1")
	e.tupleReduce(opTuple2)
}

// tupleReduce writes the tuple op (of the items before it) and REDUCE,
// memoizing both.
func (e *encoder) tupleReduce(tuple byte) {
	e.buf = append(e.buf, tuple)
	e.memoize()
	e.buf = append(e.buf, opReduce)
	e.memoize()
}

func (e *encoder) global(g global) {
	e.buf = append(e.buf, opGlobal)
	e.buf = append(e.buf, g.module...)
	e.buf = append(e.buf, '\n')
	e.buf = append(e.buf, g.name...)
	e.buf = append(e.buf, '\n')
	e.memoize()
}

// int writes v with the smallest opcode, as CPython's pickler does.
func (e *encoder) int(v int64) {
	switch {
	case v >= 0 && v <= 0xff:
		e.buf = append(e.buf, opBinInt1, byte(v))
	case v >= 0 && v <= 0xffff:
		e.buf = append(e.buf, opBinInt2)
		e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		e.buf = append(e.buf, opBinInt)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(int32(v)))
	default:
		// LONG1: little-endian two's complement, without redundant
		// sign bytes.
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		n := 8
		for n > 1 {
			top, next := b[n-1], b[n-2]
			if (top == 0 && next&0x80 == 0) || (top == 0xff && next&0x80 != 0) {
				n--
				continue
			}
			break
		}
		e.buf = append(e.buf, opLong1, byte(n))
		e.buf = append(e.buf, b[:n]...)
	}
}

// datetime writes t as datetime(state) for a naive datetime (t in
// time.UTC) or datetime(state, timezone(timedelta(...))).
func (e *encoder) datetime(t time.Time) {
	e.global(gDatetime)
	us := t.Nanosecond() / 1000
	e.bytes([]byte{
		byte(t.Year() >> 8), byte(t.Year()), byte(t.Month()), byte(t.Day()),
		byte(t.Hour()), byte(t.Minute()), byte(t.Second()),
		byte(us >> 16), byte(us >> 8), byte(us),
	})
	if t.Location() == time.UTC {
		e.tupleReduce(opTuple1)
		return
	}
	_, off := t.Zone()
	days := int64(math.Floor(float64(off) / 86400))
	secs := int64(off) - days*86400
	e.global(gTimezone)
	e.global(gTimedelta)
	e.int(days)
	e.int(secs)
	e.int(0)
	e.tupleReduce(opTuple3) // timedelta
	e.tupleReduce(opTuple1) // timezone
	e.tupleReduce(opTuple2) // datetime
}
