package pickle

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Opcodes, named as in CPython's Lib/pickle.py.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opPersID         = 'P'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opString         = 'S'
	opBinString      = 'T'
	opShortBinString = 'U'
	opUnicode        = 'V'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opInst           = 'i'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opObj            = 'o'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'

	opProto          = 0x80
	opNewObj         = 0x81
	opExt1           = 0x82
	opExt2           = 0x83
	opExt4           = 0x84
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opEmptySet       = 0x8f
	opAddItems       = 0x90
	opFrozenSet      = 0x91
	opNewObjEx       = 0x92
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
	opByteArray8     = 0x96
	opNextBuffer     = 0x97
	opReadOnlyBuffer = 0x98
)

// highestProtocol is the newest protocol CPython (3.8 and later) writes.
const highestProtocol = 5

// refusedOps are opcodes that build objects, reach outside the pickle, or
// make values that are not plain data. They are refused where they
// appear, before anything else happens.
var refusedOps = map[byte]string{
	opPersID:         "PERSID (persistent id)",
	opBinPersID:      "BINPERSID (persistent id)",
	opBuild:          "BUILD (object state)",
	opInst:           "INST (object construction)",
	opObj:            "OBJ (object construction)",
	opNewObj:         "NEWOBJ (object construction)",
	opNewObjEx:       "NEWOBJ_EX (object construction)",
	opExt1:           "EXT1 (extension registry)",
	opExt2:           "EXT2 (extension registry)",
	opExt4:           "EXT4 (extension registry)",
	opEmptySet:       "EMPTY_SET (set)",
	opAddItems:       "ADDITEMS (set)",
	opFrozenSet:      "FROZENSET (frozenset)",
	opByteArray8:     "BYTEARRAY8 (bytearray)",
	opNextBuffer:     "NEXT_BUFFER (out-of-band buffer)",
	opReadOnlyBuffer: "READONLY_BUFFER (out-of-band buffer)",
}

// Values on the machine's stack besides the plain Go ones (nil, bool,
// int64, float64, string, []byte, time.Time). Lists and dicts are
// pointers because APPEND and SETITEM change them after they are
// memoised; tuples are immutable.
type (
	list  struct{ items []any }
	dict  struct{ m map[string]any }
	tuple []any
	// global is a class or function named by GLOBAL or STACK_GLOBAL,
	// one of the few plain-data constructors (see allowedGlobal).
	global struct{ module, name string }
	// timedelta and tzinfo exist only as arguments of the timezone and
	// datetime constructors.
	timedelta struct{ days, seconds, micros int64 }
	tzinfo    struct{ loc *time.Location }
)

// The constructors CPython's pickler writes for plain data.
var (
	gDatetime  = global{"datetime", "datetime"}
	gTimezone  = global{"datetime", "timezone"}
	gTimedelta = global{"datetime", "timedelta"}
	gEncode    = global{"_codecs", "encode"}
	gBytes     = global{"builtins", "bytes"}
)

func allowedGlobal(g global) bool {
	switch g {
	case gDatetime, gTimezone, gTimedelta, gEncode, gBytes:
		return true
	}
	return false
}

type machine struct {
	data  []byte
	pos   int
	proto int
	stack []any
	marks []int
	memo  map[uint64]any
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// Decode reads one pickle of plain data and returns its value as Go
// values (see the package documentation). The pickle must end at its
// STOP opcode, with nothing left on the stack.
func Decode(data []byte) (any, error) {
	m := &machine{data: data, memo: map[uint64]any{}}
	v, err := m.run()
	if err != nil {
		return nil, err
	}
	c := converter{onPath: map[any]bool{}}
	return c.convert(v, 0)
}

func (m *machine) read(n uint64) ([]byte, error) {
	if n > uint64(len(m.data)-m.pos) {
		return nil, malformed("truncated at byte %d", m.pos)
	}
	b := m.data[m.pos : m.pos+int(n)]
	m.pos += int(n)
	return b, nil
}

func (m *machine) readByte() (byte, error) {
	b, err := m.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (m *machine) readUint32() (uint64, error) {
	b, err := m.read(4)
	if err != nil {
		return 0, err
	}
	return uint64(binary.LittleEndian.Uint32(b)), nil
}

func (m *machine) readUint64() (uint64, error) {
	b, err := m.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// readLine returns the bytes up to the next newline, which it consumes.
func (m *machine) readLine() ([]byte, error) {
	for i := m.pos; i < len(m.data); i++ {
		if m.data[i] == '\n' {
			line := m.data[m.pos:i]
			m.pos = i + 1
			return line, nil
		}
	}
	return nil, malformed("unterminated line at byte %d", m.pos)
}

// frameStart is where the items above the innermost mark begin.
func (m *machine) frameStart() int {
	if len(m.marks) == 0 {
		return 0
	}
	return m.marks[len(m.marks)-1]
}

func (m *machine) push(v any) { m.stack = append(m.stack, v) }

func (m *machine) pop() (any, error) {
	if len(m.stack) <= m.frameStart() {
		return nil, malformed("stack underflow at byte %d", m.pos)
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

// pop2 pops the two topmost values.
func (m *machine) pop2() (below, top any, err error) {
	if len(m.stack)-m.frameStart() < 2 {
		return nil, nil, malformed("stack underflow at byte %d", m.pos)
	}
	below, top = m.stack[len(m.stack)-2], m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-2]
	return below, top, nil
}

func (m *machine) top() (any, error) {
	if len(m.stack) <= m.frameStart() {
		return nil, malformed("stack underflow at byte %d", m.pos)
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark removes the innermost mark and returns the items above it.
func (m *machine) popMark() ([]any, error) {
	if len(m.marks) == 0 {
		return nil, malformed("no mark at byte %d", m.pos)
	}
	start := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := make([]any, len(m.stack)-start)
	copy(items, m.stack[start:])
	m.stack = m.stack[:start]
	return items, nil
}

func (m *machine) run() (any, error) {
	for {
		op, err := m.readByte()
		if err != nil {
			return nil, malformed("no STOP opcode")
		}
		if what, ok := refusedOps[op]; ok {
			return nil, refused("opcode %s at byte %d", what, m.pos-1)
		}
		if op == opStop {
			v, err := m.pop()
			if err != nil {
				return nil, err
			}
			if len(m.stack) != 0 || len(m.marks) != 0 {
				return nil, malformed("values left on the stack at STOP")
			}
			if m.pos != len(m.data) {
				return nil, malformed("%d bytes after STOP", len(m.data)-m.pos)
			}
			return v, nil
		}
		if err := m.step(op); err != nil {
			return nil, err
		}
	}
}

func (m *machine) step(op byte) error {
	switch op {
	case opProto:
		v, err := m.readByte()
		if err != nil {
			return err
		}
		if v > highestProtocol {
			return malformed("unsupported protocol %d", v)
		}
		m.proto = int(v)
	case opFrame:
		n, err := m.readUint64()
		if err != nil {
			return err
		}
		if n > uint64(len(m.data)-m.pos) {
			return malformed("frame of %d bytes exceeds the input", n)
		}
	case opMark:
		m.marks = append(m.marks, len(m.stack))
	case opPop:
		if len(m.stack) > m.frameStart() {
			m.stack = m.stack[:len(m.stack)-1]
		} else if _, err := m.popMark(); err != nil {
			return err
		}
	case opPopMark:
		if _, err := m.popMark(); err != nil {
			return err
		}
	case opDup:
		v, err := m.top()
		if err != nil {
			return err
		}
		m.push(v)

	case opNone:
		m.push(nil)
	case opNewTrue:
		m.push(true)
	case opNewFalse:
		m.push(false)
	case opInt:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		switch string(line) {
		case "00":
			m.push(false)
		case "01":
			m.push(true)
		default:
			v, err := parseInt(line)
			if err != nil {
				return err
			}
			m.push(v)
		}
	case opLong:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		if len(line) > 0 && line[len(line)-1] == 'L' {
			line = line[:len(line)-1]
		}
		v, err := parseInt(line)
		if err != nil {
			return err
		}
		m.push(v)
	case opBinInt:
		b, err := m.read(4)
		if err != nil {
			return err
		}
		m.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case opBinInt1:
		b, err := m.readByte()
		if err != nil {
			return err
		}
		m.push(int64(b))
	case opBinInt2:
		b, err := m.read(2)
		if err != nil {
			return err
		}
		m.push(int64(binary.LittleEndian.Uint16(b)))
	case opLong1, opLong4:
		var n uint64
		var err error
		if op == opLong1 {
			var b byte
			b, err = m.readByte()
			n = uint64(b)
		} else {
			n, err = m.readUint32()
			if err == nil && int32(n) < 0 {
				err = malformed("LONG4 with negative length")
			}
		}
		if err != nil {
			return err
		}
		b, err := m.read(n)
		if err != nil {
			return err
		}
		v, err := decodeLong(b)
		if err != nil {
			return err
		}
		m.push(v)
	case opFloat:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		v, err := parseFloat(line)
		if err != nil {
			return err
		}
		m.push(v)
	case opBinFloat:
		b, err := m.read(8)
		if err != nil {
			return err
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(b))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return refused("float %v", v)
		}
		m.push(v)

	case opString:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		s, err := decodeStringOp(line)
		if err != nil {
			return err
		}
		m.push(s)
	case opBinString, opShortBinString:
		n, err := m.length(op == opShortBinString, false)
		if err != nil {
			return err
		}
		if op == opBinString && int32(n) < 0 {
			return malformed("BINSTRING with negative length")
		}
		b, err := m.read(n)
		if err != nil {
			return err
		}
		// Python 3 reads a Python 2 str as ASCII, unpickle's default.
		for _, c := range b {
			if c >= 0x80 {
				return malformed("Python 2 str that is not ASCII")
			}
		}
		m.push(string(b))
	case opUnicode:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		s, err := decodeRawUnicodeEscape(line)
		if err != nil {
			return err
		}
		m.push(s)
	case opBinUnicode, opShortBinUni, opBinUnicode8:
		n, err := m.length(op == opShortBinUni, op == opBinUnicode8)
		if err != nil {
			return err
		}
		b, err := m.read(n)
		if err != nil {
			return err
		}
		if !utf8.Valid(b) {
			return malformed("str that is not UTF-8 (or holds a surrogate) at byte %d", m.pos)
		}
		m.push(string(b))
	case opBinBytes, opShortBinBytes, opBinBytes8:
		n, err := m.length(op == opShortBinBytes, op == opBinBytes8)
		if err != nil {
			return err
		}
		b, err := m.read(n)
		if err != nil {
			return err
		}
		m.push(append([]byte{}, b...))

	case opEmptyDict:
		m.push(&dict{m: map[string]any{}})
	case opEmptyList:
		m.push(&list{})
	case opEmptyTuple:
		m.push(tuple{})
	case opDict:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		d := &dict{m: map[string]any{}}
		if err := d.setItems(items); err != nil {
			return err
		}
		m.push(d)
	case opList:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(&list{items: items})
	case opTuple:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		m.push(tuple(items))
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(m.stack)-m.frameStart() < n {
			return malformed("stack underflow at byte %d", m.pos)
		}
		t := make(tuple, n)
		copy(t, m.stack[len(m.stack)-n:])
		m.stack = m.stack[:len(m.stack)-n]
		m.push(t)
	case opSetItem:
		k, v, err := m.pop2()
		if err != nil {
			return err
		}
		d, err := m.topDict()
		if err != nil {
			return err
		}
		if err := d.setItems([]any{k, v}); err != nil {
			return err
		}
	case opSetItems:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		d, err := m.topDict()
		if err != nil {
			return err
		}
		if err := d.setItems(items); err != nil {
			return err
		}
	case opAppend:
		v, err := m.pop()
		if err != nil {
			return err
		}
		l, err := m.topList()
		if err != nil {
			return err
		}
		l.items = append(l.items, v)
	case opAppends:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		l, err := m.topList()
		if err != nil {
			return err
		}
		l.items = append(l.items, items...)

	case opPut, opBinPut, opLongBinPut, opMemoize:
		var idx uint64
		var err error
		switch op {
		case opPut:
			idx, err = m.textIndex()
		case opBinPut:
			var b byte
			b, err = m.readByte()
			idx = uint64(b)
		case opLongBinPut:
			idx, err = m.readUint32()
		case opMemoize:
			idx = uint64(len(m.memo))
		}
		if err != nil {
			return err
		}
		v, err := m.top()
		if err != nil {
			return err
		}
		m.memo[idx] = v
	case opGet, opBinGet, opLongBinGet:
		var idx uint64
		var err error
		switch op {
		case opGet:
			idx, err = m.textIndex()
		case opBinGet:
			var b byte
			b, err = m.readByte()
			idx = uint64(b)
		case opLongBinGet:
			idx, err = m.readUint32()
		}
		if err != nil {
			return err
		}
		v, ok := m.memo[idx]
		if !ok {
			return malformed("memo %d not defined", idx)
		}
		m.push(v)

	case opGlobal:
		module, err := m.readLine()
		if err != nil {
			return err
		}
		name, err := m.readLine()
		if err != nil {
			return err
		}
		g, err := m.global(string(module), string(name))
		if err != nil {
			return err
		}
		m.push(g)
	case opStackGlobal:
		module, name, err := m.pop2()
		if err != nil {
			return err
		}
		ms, ok1 := module.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return malformed("STACK_GLOBAL needs two str")
		}
		g, err := m.global(ms, ns)
		if err != nil {
			return err
		}
		m.push(g)
	case opReduce:
		f, args, err := m.pop2()
		if err != nil {
			return err
		}
		g, ok := f.(global)
		if !ok {
			return refused("REDUCE of a %s", typeName(f))
		}
		t, ok := args.(tuple)
		if !ok {
			return malformed("REDUCE arguments are a %s, not a tuple", typeName(args))
		}
		v, err := construct(g, t)
		if err != nil {
			return err
		}
		m.push(v)
	default:
		return malformed("unknown opcode 0x%02x at byte %d", op, m.pos-1)
	}
	return nil
}

// length reads the length prefix of a str or bytes opcode: one byte when
// short, eight when long, four otherwise.
func (m *machine) length(short, long bool) (uint64, error) {
	switch {
	case short:
		b, err := m.readByte()
		return uint64(b), err
	case long:
		return m.readUint64()
	}
	return m.readUint32()
}

// textIndex reads the decimal memo index of PUT and GET.
func (m *machine) textIndex() (uint64, error) {
	line, err := m.readLine()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(line), 10, 63)
	if err != nil {
		return 0, malformed("bad memo index %q", line)
	}
	return v, nil
}

func (m *machine) topDict() (*dict, error) {
	v, err := m.top()
	if err != nil {
		return nil, err
	}
	d, ok := v.(*dict)
	if !ok {
		return nil, malformed("SETITEM on a %s", typeName(v))
	}
	return d, nil
}

func (m *machine) topList() (*list, error) {
	v, err := m.top()
	if err != nil {
		return nil, err
	}
	l, ok := v.(*list)
	if !ok {
		return nil, malformed("APPEND on a %s", typeName(v))
	}
	return l, nil
}

func (d *dict) setItems(items []any) error {
	if len(items)%2 != 0 {
		return malformed("odd number of dict items")
	}
	for i := 0; i < len(items); i += 2 {
		k, ok := items[i].(string)
		if !ok {
			return refused("dict key of type %s (only str keys are plain data here)", typeName(items[i]))
		}
		d.m[k] = items[i+1]
	}
	return nil
}

// global resolves a class or function reference: only the plain-data
// constructors pass. Protocols 0 to 2 name Python 2's modules, which
// Python 3 maps to its own (fix_imports); only __builtin__ matters here.
func (m *machine) global(module, name string) (global, error) {
	if m.proto < 3 && module == "__builtin__" {
		module = "builtins"
	}
	g := global{module, name}
	if !allowedGlobal(g) {
		return global{}, refused("global %q (only plain data is accepted; nothing is imported or called)", module+"."+name)
	}
	return g, nil
}

// construct builds the value of REDUCE(g, args) for the argument shapes
// CPython's pickler writes, without calling anything.
func construct(g global, args tuple) (any, error) {
	switch g {
	case gBytes: // bytes(): protocols 0 to 2 write b"" so
		if len(args) == 0 {
			return []byte{}, nil
		}
	case gEncode: // _codecs.encode(str, "latin1"): bytes in protocols 0 to 2
		if len(args) == 2 {
			s, ok1 := args[0].(string)
			enc, ok2 := args[1].(string)
			if ok1 && ok2 && enc == "latin1" {
				b := make([]byte, 0, len(s))
				for _, r := range s {
					if r > 0xff {
						return nil, malformed("_codecs.encode: character U+%04X is not latin1", r)
					}
					b = append(b, byte(r))
				}
				return b, nil
			}
		}
	case gTimedelta: // timedelta(days, seconds, microseconds), normalised
		if len(args) == 3 {
			d, ok1 := args[0].(int64)
			s, ok2 := args[1].(int64)
			us, ok3 := args[2].(int64)
			if ok1 && ok2 && ok3 {
				if d < -999999999 || d > 999999999 || s < 0 || s >= 86400 || us < 0 || us >= 1000000 {
					return nil, malformed("timedelta(%d, %d, %d) is not normalised", d, s, us)
				}
				return timedelta{d, s, us}, nil
			}
		}
	case gTimezone: // timezone(offset) or timezone(offset, name)
		if len(args) == 1 || len(args) == 2 {
			off, ok := args[0].(timedelta)
			name := ""
			if len(args) == 2 {
				var ok2 bool
				name, ok2 = args[1].(string)
				ok = ok && ok2
			}
			if ok {
				secs := off.days*86400 + off.seconds
				if off.micros != 0 || secs <= -86400 || secs >= 86400 {
					return nil, refused("timezone offset %v is not whole seconds within a day", off)
				}
				return tzinfo{time.FixedZone(name, int(secs))}, nil
			}
		}
	case gDatetime: // datetime(state) or datetime(state, tzinfo)
		if len(args) == 1 || len(args) == 2 {
			state, ok := args[0].([]byte)
			loc := time.UTC
			if len(args) == 2 {
				tz, ok2 := args[1].(tzinfo)
				ok = ok && ok2
				loc = tz.loc
			}
			if ok {
				return datetimeFromState(state, loc)
			}
		}
	}
	return nil, refused("%s.%s called with arguments CPython does not write for plain data", g.module, g.name)
}

// datetimeFromState decodes the 10-byte state of a pickled datetime:
// year (2 bytes, big-endian), month (its high bit is the fold), day, hour,
// minute, second, microsecond (3 bytes, big-endian).
func datetimeFromState(b []byte, loc *time.Location) (time.Time, error) {
	if len(b) != 10 {
		return time.Time{}, malformed("datetime state of %d bytes", len(b))
	}
	year := int(b[0])<<8 | int(b[1])
	month := int(b[2] & 0x7f)
	day, hour, minute, sec := int(b[3]), int(b[4]), int(b[5]), int(b[6])
	us := int(b[7])<<16 | int(b[8])<<8 | int(b[9])
	if year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 ||
		day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 || us > 999999 {
		return time.Time{}, malformed("datetime state %x is not a valid date and time", b)
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, us*1000, loc), nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// decodeLong reads a little-endian two's complement integer of any
// length, as LONG1 and LONG4 carry it; it must fit in int64.
func decodeLong(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	neg := b[len(b)-1]&0x80 != 0
	for len(b) > 8 {
		top := b[len(b)-1]
		if (neg && top != 0xff) || (!neg && top != 0) {
			return 0, refused("integer of %d bytes is out of int64 range", len(b))
		}
		b = b[:len(b)-1]
	}
	if (b[len(b)-1]&0x80 != 0) != neg {
		return 0, refused("integer is out of int64 range")
	}
	var u uint64
	for i := len(b) - 1; i >= 0; i-- {
		u = u<<8 | uint64(b[i])
	}
	if neg && len(b) < 8 {
		u |= ^uint64(0) << (8 * len(b))
	}
	return int64(u), nil
}

// parseInt reads the decimal argument of INT and LONG.
func parseInt(b []byte) (int64, error) {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, refused("integer %.40s is out of int64 range", b)
		}
		return 0, malformed("bad integer %q", b)
	}
	return v, nil
}

// parseFloat reads the argument of FLOAT, which CPython writes with
// repr().
func parseFloat(b []byte) (float64, error) {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, refused("float %q (only finite decimal floats are accepted)", b)
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		if math.IsInf(v, 0) {
			return 0, refused("float %q overflows", b)
		}
		return 0, malformed("bad float %q", b)
	}
	return v, nil
}

// decodeStringOp reads the argument of STRING (a Python 2 str in
// protocol 0): quoted, with the escapes of codecs.escape_decode, and
// ASCII, as Python 3 reads it by default.
func decodeStringOp(b []byte) (string, error) {
	if len(b) < 2 || b[0] != b[len(b)-1] || (b[0] != '"' && b[0] != '\'') {
		return "", malformed("STRING argument is not quoted")
	}
	b = b[1 : len(b)-1]
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(b) {
			return "", malformed("STRING ends with a backslash")
		}
		switch c = b[i]; c {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, c)
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7'; k++ {
				i++
				v = v<<3 | int(b[i]-'0')
			}
			out = append(out, byte(v))
		case 'x':
			if i+2 >= len(b) {
				return "", malformed("truncated \\x escape in STRING")
			}
			v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return "", malformed("bad \\x escape in STRING")
			}
			out = append(out, byte(v))
			i += 2
		default:
			out = append(out, '\\', c)
		}
	}
	for _, c := range out {
		if c >= 0x80 {
			return "", malformed("Python 2 str that is not ASCII")
		}
	}
	return string(out), nil
}

// decodeRawUnicodeEscape reads the argument of UNICODE (protocol 0):
// Latin-1 bytes where a \uXXXX or \UXXXXXXXX escape after an odd number
// of backslashes is a code point, as Python's raw-unicode-escape codec.
func decodeRawUnicodeEscape(b []byte) (string, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			out = utf8.AppendRune(out, rune(c))
			i++
			continue
		}
		start := i
		for i < len(b) && b[i] == '\\' {
			out = append(out, '\\')
			i++
		}
		if (i-start)%2 == 0 || i == len(b) || (b[i] != 'u' && b[i] != 'U') {
			continue
		}
		out = out[:len(out)-1]
		n := 4
		if b[i] == 'U' {
			n = 8
		}
		i++
		if len(b)-i < n {
			return "", malformed("truncated \\u escape in UNICODE")
		}
		v, err := strconv.ParseUint(string(b[i:i+n]), 16, 32)
		if err != nil {
			return "", malformed("bad \\u escape in UNICODE")
		}
		i += n
		if v > utf8.MaxRune {
			return "", malformed("\\U escape beyond U+10FFFF in UNICODE")
		}
		if v >= 0xd800 && v <= 0xdfff {
			return "", refused("str holding the lone surrogate U+%04X", v)
		}
		out = utf8.AppendRune(out, rune(v))
	}
	return string(out), nil
}

func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case time.Time:
		return "datetime"
	case *list:
		return "list"
	case *dict:
		return "dict"
	case tuple:
		return "tuple"
	case global:
		return "reference to " + v.module + "." + v.name
	case timedelta:
		return "timedelta"
	case tzinfo:
		return "timezone"
	}
	return fmt.Sprintf("%T", v)
}

// converter turns the machine's result into plain Go values, expanding
// shared lists and dicts, refusing cycles and counting values.
type converter struct {
	onPath map[any]bool
	count  int
}

func (c *converter) convert(v any, depth int) (any, error) {
	c.count++
	if c.count > MaxValues {
		return nil, refused("more than %d values", MaxValues)
	}
	if depth > MaxDepth {
		return nil, refused("nested deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string, time.Time:
		return x, nil
	case []byte:
		return append([]byte{}, x...), nil
	case tuple:
		return c.convertItems(x, depth)
	case *list:
		if c.onPath[x] {
			return nil, refused("a list that contains itself")
		}
		c.onPath[x] = true
		defer delete(c.onPath, x)
		return c.convertItems(x.items, depth)
	case *dict:
		if c.onPath[x] {
			return nil, refused("a dict that contains itself")
		}
		c.onPath[x] = true
		defer delete(c.onPath, x)
		out := make(map[string]any, len(x.m))
		for k, e := range x.m {
			ce, err := c.convert(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = ce
		}
		return out, nil
	}
	return nil, refused("a %s is not plain data", typeName(v))
}

func (c *converter) convertItems(items []any, depth int) ([]any, error) {
	out := make([]any, len(items))
	for i, e := range items {
		ce, err := c.convert(e, depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = ce
	}
	return out, nil
}
