package pickle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// cpythonValue is the value cpythonPickles hold, as Decode returns it.
func cpythonValue() map[string]any {
	return map[string]any{
		"s":   "hé€",
		"b":   []byte{0, 0xff},
		"e":   []byte{},
		"i":   int64(1 << 40),
		"n":   int64(-3),
		"big": int64(math.MinInt64),
		"f":   1.5,
		"t":   []any{int64(1), int64(2), int64(3), int64(4)},
		"l":   []any{nil, true, false},
		"dt":  time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC),
		"tz":  time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("", 0)),
		"tz2": time.Date(2024, 5, 6, 0, 0, 0, 0, time.FixedZone("EST", -5*3600)),
		"nested": map[string]any{
			"a": []any{map[string]any{"b": []any{}}},
		},
	}
}

// Every protocol CPython writes, from the text protocol 0 to protocol 5,
// decodes to the same plain values.
func TestDecodeCPythonPickles(t *testing.T) {
	for proto, p := range cpythonPickles {
		got, err := Decode([]byte(p))
		if err != nil {
			t.Fatalf("protocol %d: %v", proto, err)
		}
		if want := cpythonValue(); !reflect.DeepEqual(got, want) {
			t.Errorf("protocol %d:\n got %#v\nwant %#v", proto, got, want)
		}
	}
}

// Encode writes protocol 2 as CPython does for ints (the smallest opcode,
// LONG1 without redundant sign bytes), so CPython's own bytes for the
// same values come out.
func TestEncodeIntsAsCPython(t *testing.T) {
	tests := []struct {
		v    int64
		want string // pickle.dumps(v, 2) by CPython, without PROTO and STOP
	}{
		{0, "K\x00"},
		{255, "K\xff"},
		{256, "M\x00\x01"},
		{65535, "M\xff\xff"},
		{65536, "J\x00\x00\x01\x00"},
		{-1, "J\xff\xff\xff\xff"},
		{math.MaxInt32, "J\xff\xff\xff\x7f"},
		{math.MinInt32, "J\x00\x00\x00\x80"},
		{math.MaxInt32 + 1, "\x8a\x05\x00\x00\x00\x80\x00"},
		{math.MinInt32 - 1, "\x8a\x05\xff\xff\xff\x7f\xff"},
		{1 << 40, "\x8a\x06\x00\x00\x00\x00\x00\x01"},
		{math.MaxInt64, "\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f"},
		{math.MinInt64, "\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80"},
		{-1 << 40, "\x8a\x06\x00\x00\x00\x00\x00\xff"},
	}
	for _, tt := range tests {
		got, err := Encode(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if want := "\x80\x02" + tt.want + "."; string(got) != want {
			t.Errorf("Encode(%d) = %q, want %q", tt.v, got, want)
		}
		back, err := Decode(got)
		if err != nil || back != tt.v {
			t.Errorf("Decode(Encode(%d)) = %v, %v", tt.v, back, err)
		}
	}
}

// Encode writes what CPython's pickle.dumps(value, 2) writes, byte for
// byte, memo entries included: constructors, containers and strings (the
// strings below are CPython 3.11's output). Beaker pickles each session
// again when it loads it, so the length of Go's pickle must tell the
// length of Beaker's.
func TestEncodeAsCPython(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{[]byte{}, "c__builtin__\nbytes\nq\x00)Rq\x01"},
		{[]byte{0, 0xff}, "c_codecs\nencode\nq\x00X\x03\x00\x00\x00\x00\xc3\xbfq\x01X\x06\x00\x00\x00latin1q\x02\x86q\x03Rq\x04"},
		{time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
			"cdatetime\ndatetime\nq\x00c_codecs\nencode\nq\x01X\x0c\x00\x00\x00\x07\xc3\xa8\x05\x06\x07\x08\t\x01\xc3\xa2@q\x02X\x06\x00\x00\x00latin1q\x03\x86q\x04Rq\x05\x85q\x06Rq\x07"},
		{time.Date(2024, 5, 6, 0, 0, 0, 0, time.FixedZone("EST", -5*3600)),
			"cdatetime\ndatetime\nq\x00c_codecs\nencode\nq\x01X\x0b\x00\x00\x00\x07\xc3\xa8\x05\x06\x00\x00\x00\x00\x00\x00q\x02X\x06\x00\x00\x00latin1q\x03\x86q\x04Rq\x05" +
				"cdatetime\ntimezone\nq\x06cdatetime\ntimedelta\nq\x07J\xff\xff\xff\xffJ0\x0b\x01\x00K\x00\x87q\x08Rq\t\x85q\nRq\x0b\x86q\x0cRq\r"},
		{map[string]any{"a": []any{int64(1), "x", map[string]any{}}, "b": "y"},
			"}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01X\x01\x00\x00\x00xq\x03}q\x04eX\x01\x00\x00\x00bq\x05X\x01\x00\x00\x00yq\x06u"},
		{[]any{"s", "n"}, "]q\x00(X\x01\x00\x00\x00sq\x01X\x01\x00\x00\x00nq\x02e"},
	}
	for _, tt := range tests {
		got, err := Encode(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if want := "\x80\x02" + tt.want + "."; string(got) != want {
			t.Errorf("Encode(%v) =\n %q\nwant\n %q", tt.v, got, want)
		}
	}
}

// Past 256 memo entries CPython's memo references take five bytes
// (LONG_BINPUT); so do Go's. The hash is of CPython 3.11's
// pickle.dumps(["x000", ..., "x299"], 2).
func TestEncodeLongMemoAsCPython(t *testing.T) {
	items := make([]any, 300)
	for i := range items {
		items[i] = fmt.Sprintf("x%03d", i)
	}
	got, err := Encode(items)
	if err != nil {
		t.Fatal(err)
	}
	const want = "848877f517bd076baf37e1068510031c5ab448251644b4d6db9c6cfcf534728e"
	if sum := sha256.Sum256(got); len(got) != 3443 || hex.EncodeToString(sum[:]) != want {
		t.Errorf("Encode of 300 strings: %d bytes, SHA-256 %x; CPython writes 3443 bytes, %s", len(got), sum, want)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	local := time.FixedZone("", 2*3600+30*60)
	tests := []struct {
		in, want any
	}{
		{nil, nil},
		{true, true},
		{"", ""},
		{"\x00 \n \\ \"quoted\" ünïcödé 😀", "\x00 \n \\ \"quoted\" ünïcödé 😀"},
		{[]byte("\x00\x01\x80\xff"), []byte("\x00\x01\x80\xff")},
		{int(-5), int64(-5)},
		{uint8(200), int64(200)},
		{uint64(math.MaxInt64), int64(math.MaxInt64)},
		{float32(0.5), 0.5},
		{-0.0, -0.0},
		{1e300, 1e300},
		{json.Number("12"), int64(12)},
		{json.Number("1.5e3"), 1500.0},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{time.Date(2030, 2, 3, 4, 5, 6, 7000, local), time.Date(2030, 2, 3, 4, 5, 6, 7000, local)},
		{time.Date(2030, 2, 3, 4, 5, 6, 0, time.FixedZone("", -13*3600-45*60)), time.Date(2030, 2, 3, 4, 5, 6, 0, time.FixedZone("", -13*3600-45*60))},
		{[]any{}, []any{}},
		{map[string]any{}, map[string]any{}},
		{map[string]any{"a": []any{int64(1), map[string]any{"": nil}}, "b": "x"},
			map[string]any{"a": []any{int64(1), map[string]any{"": nil}}, "b": "x"}},
	}
	for _, tt := range tests {
		p, err := Encode(tt.in)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", tt.in, err)
		}
		got, err := Decode(p)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)): %v", tt.in, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(Encode(%#v)) = %#v, want %#v", tt.in, got, tt.want)
		}
		if f, ok := tt.want.(float64); ok && math.Signbit(f) != math.Signbit(got.(float64)) {
			t.Errorf("sign of %v lost", f)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	deep := any("x")
	for range MaxDepth + 1 {
		deep = []any{deep}
	}
	tests := []struct {
		name string
		v    any
	}{
		{"NaN", math.NaN()},
		{"infinity", math.Inf(-1)},
		{"uint64 beyond int64", uint64(math.MaxInt64) + 1},
		{"invalid UTF-8", "\xff"},
		{"invalid UTF-8 key", map[string]any{"\xff": 1}},
		{"year 0", time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"struct", struct{}{}},
		{"[]string", []string{"a"}},
		{"too deep", deep},
		{"bad json.Number", json.Number("x")},
	}
	for _, tt := range tests {
		if _, err := Encode(tt.v); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: Encode err = %v, want ErrRefused", tt.name, err)
		}
	}
}

// Pickles that would import or call something, or build objects, in
// Python: every one is refused, and nothing is ever called (there is
// nothing here that could call it).
func TestDecodeRefusesWhatIsNotPlainData(t *testing.T) {
	billion := "\x80\x02]q\x00(X\x01\x00\x00\x00xe"
	for i := range 20 {
		billion += "0]" + string([]byte{'q', byte(i + 1), '(', 'h', byte(i), 'h', byte(i), 'e'})
	}
	billion += "."
	deep := "\x80\x02" + strings.Repeat("]", MaxDepth+2) + strings.Repeat("a", MaxDepth+1) + "."
	tests := []struct {
		name, pickle, want string
	}{
		{"os.system via REDUCE (protocol 0)", "cos\nsystem\n(S'touch /tmp/pwned'\ntR.", `"os.system"`},
		{"posix.system via REDUCE (protocol 2)", "\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.", `"posix.system"`},
		{"builtins.eval via STACK_GLOBAL", "\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R.", `"builtins.eval"`},
		{"subprocess.Popen", "csubprocess\nPopen\n.", `"subprocess.Popen"`},
		{"__builtin__ in protocol 3", "\x80\x03c__builtin__\nbytes\n)R.", `"__builtin__.bytes"`},
		{"INST", "(S'ls'\nios\nsystem\n.", "INST"},
		{"OBJ", "(cdatetime\ndatetime\no.", "OBJ"},
		{"NEWOBJ", "\x80\x02cdatetime\ndatetime\n)\x81.", "NEWOBJ"},
		{"NEWOBJ_EX", "\x80\x04cdatetime\ndatetime\n)}\x92.", "NEWOBJ_EX"},
		{"BUILD", "\x80\x02}}b.", "BUILD"},
		{"PERSID", "P1\n.", "PERSID"},
		{"BINPERSID", "K\x01Q.", "BINPERSID"},
		{"EXT1", "\x80\x02\x82\x01.", "EXT1"},
		{"set", "\x80\x04\x8f(K\x01\x90.", "EMPTY_SET"},
		{"frozenset", "\x80\x04(K\x01\x91.", "FROZENSET"},
		{"bytearray", "\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x00.", "BYTEARRAY8"},
		{"out-of-band buffer", "\x80\x05\x97.", "NEXT_BUFFER"},
		{"a class as a value", "\x80\x02cdatetime\ndatetime\n.", "reference to datetime.datetime"},
		{"REDUCE of a non-global", "\x80\x02K\x01)R.", "REDUCE of a int"},
		{"datetime from ints", "\x80\x02cdatetime\ndatetime\nM\xe8\x07K\x01K\x01\x87R.", "datetime.datetime called"},
		{"datetime with a None tzinfo", "\x80\x03cdatetime\ndatetime\nC\x0a\x07\xe8\x05\x06\x00\x00\x00\x00\x00\x00N\x86R.", "datetime.datetime called"},
		{"_codecs.encode to UTF-8", "\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R.", "_codecs.encode called"},
		{"bytes(5)", "\x80\x02c__builtin__\nbytes\nK\x05\x85R.", "builtins.bytes called"},
		{"a bare timedelta", "\x80\x02cdatetime\ntimedelta\nK\x01K\x00K\x00\x87R.", "timedelta is not plain data"},
		{"sub-second timezone", "\x80\x02cdatetime\ntimezone\ncdatetime\ntimedelta\nK\x00K\x01K\x01\x87R\x85R.", "whole seconds"},
		{"int beyond int64", "\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00.", "out of int64 range"},
		{"negative int beyond int64", "\x80\x02\x8a\x09\xff\xff\xff\xff\xff\xff\xff\x7f\xff.", "out of int64 range"},
		{"text int beyond int64", "L99999999999999999999L\n.", "out of int64 range"},
		{"NaN", "\x80\x02G\x7f\xf8\x00\x00\x00\x00\x00\x00.", "NaN"},
		{"text infinity", "Finf\n.", "inf"},
		{"text overflow", "F1e400\n.", "overflows"},
		{"int key", "\x80\x02}K\x01K\x02s.", "dict key of type int"},
		{"tuple key", "\x80\x02})K\x02s.", "dict key of type tuple"},
		{"list containing itself", "\x80\x02]q\x00h\x00a.", "contains itself"},
		{"dict containing itself", "\x80\x02}q\x00X\x01\x00\x00\x00kh\x00s.", "contains itself"},
		{"tuple in a list containing the list", "\x80\x02]q\x00h\x00\x85a.", "contains itself"},
		{"a billion laughs", billion, "more than"},
		{"too deep", deep, "deeper than"},
		{"lone surrogate", "V\\ud800\n.", "surrogate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Decode([]byte(tt.pickle))
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("Decode = %#v, %v; want ErrRefused", v, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	tests := []struct{ name, pickle string }{
		{"empty", ""},
		{"no STOP", "\x80\x02N"},
		{"STOP on an empty stack", "."},
		{"trailing data", "N.N"},
		{"values left on the stack", "NN."},
		{"mark left", "(N."},
		{"unknown opcode", "\x80\x02\xff."},
		{"protocol 6", "\x80\x06N."},
		{"truncated BINUNICODE", "X\x05\x00\x00\x00ab."},
		{"huge BINUNICODE8", "\x8d\xff\xff\xff\xff\xff\xff\xff\xffab."},
		{"huge BINBYTES8", "\x8e\x00\x00\x00\x00\x00\x00\x00\x80."},
		{"huge frame", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7fN."},
		{"negative LONG4", "\x8b\xff\xff\xff\xff."},
		{"negative BINSTRING", "T\xff\xff\xff\xff."},
		{"str not UTF-8", "X\x01\x00\x00\x00\xff."},
		{"encoded surrogate", "X\x03\x00\x00\x00\xed\xa0\x80."},
		{"Python 2 str not ASCII", "U\x01\xe9."},
		{"STRING not ASCII", "S'\\xe9'\n."},
		{"STRING not quoted", "Sabc\n."},
		{"STRING ending in a backslash", "S'a\\'\n."},
		{"STRING truncated \\x", "S'\\x4'\n."},
		{"UNICODE truncated \\u", "V\\u12\n."},
		{"UNICODE beyond U+10FFFF", "V\\U00110000\n."},
		{"unterminated line", "I12"},
		{"bad INT", "I1x\n."},
		{"bad FLOAT", "F1.2.3\n."},
		{"bad PUT index", "Np-1\n."},
		{"GET before PUT", "\x80\x02h\x00."},
		{"POP of nothing", "0."},
		{"POP_MARK without a mark", "1."},
		{"DUP of nothing", "2."},
		{"TUPLE2 of one", "N\x86."},
		{"SETITEM on a list", "]NNs."},
		{"APPEND on a dict", "}Na."},
		{"odd DICT", "(Nd."},
		{"REDUCE args not a tuple", "cdatetime\ndatetime\nNR."},
		{"STACK_GLOBAL of ints", "\x80\x04K\x01K\x02\x93."},
		{"datetime month 13", "\x80\x03cdatetime\ndatetime\nC\x0a\x07\xe8\x0d\x01\x00\x00\x00\x00\x00\x00\x85R."},
		{"datetime 30 February", "\x80\x03cdatetime\ndatetime\nC\x0a\x07\xe8\x02\x1e\x00\x00\x00\x00\x00\x00\x85R."},
		{"datetime year 0", "\x80\x03cdatetime\ndatetime\nC\x0a\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x85R."},
		{"datetime microsecond 1e6", "\x80\x03cdatetime\ndatetime\nC\x0a\x07\xe8\x01\x01\x00\x00\x00\x0f\x42\x40\x85R."},
		{"datetime state of 9 bytes", "\x80\x03cdatetime\ndatetime\nC\x09\x07\xe8\x01\x01\x00\x00\x00\x00\x00\x85R."},
		{"timedelta not normalised", "\x80\x02cdatetime\ntimedelta\nK\x00J\x80Q\x01\x00K\x00\x87R."},
		{"_codecs.encode beyond latin1", "\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00\xc4\x80X\x06\x00\x00\x00latin1\x86R."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Decode([]byte(tt.pickle))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %#v, %v; want ErrMalformed", v, err)
			}
		})
	}
}

// The text opcodes of protocol 0 decode as CPython's codecs do
// (escape_decode for STRING, raw-unicode-escape for UNICODE).
func TestDecodeTextOpcodes(t *testing.T) {
	tests := []struct {
		pickle string
		want   any
	}{
		{`S'a\'b\"c\\d\ne\x41\101\7\08'` + "\n.", "a'b\"c\\d\neAA\a\x008"},
		{`S"unknown \q escape"` + "\n.", `unknown \q escape`},
		{`V\\u0041 \u0041 \\\u0041 \U0001F600 \u00e9 ` + "\xe9\n.", `\\u0041 A \\A 😀 é é`},
		{"I00\n.", false},
		{"I01\n.", true},
		{"I-42\n.", int64(-42)},
		{"L12L\n.", int64(12)},
		{"L-9223372036854775808L\n.", int64(math.MinInt64)},
		{"F-1.25e-05\n.", -1.25e-05},
		{"(I1\nI2\nl.", []any{int64(1), int64(2)}},
		{"(S'k'\nI1\nd.", map[string]any{"k": int64(1)}},
		{"(I1\nI2\nt.", []any{int64(1), int64(2)}},
		{"(dp0\nS'k'\np1\ng1\ns.", map[string]any{"k": "k"}},
		{"(N1N.", nil},
		{"NN0.", nil},
		{"N2\x86.", []any{nil, nil}},
		{"\x80\x04\x8c\x01a\x94h\x00\x86.", []any{"a", "a"}},
	}
	for _, tt := range tests {
		got, err := Decode([]byte(tt.pickle))
		if err != nil {
			t.Errorf("Decode(%q): %v", tt.pickle, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(%q) = %#v, want %#v", tt.pickle, got, tt.want)
		}
	}
}

// Decoding copies: changing the input afterwards changes no value.
func TestDecodeDoesNotAlias(t *testing.T) {
	p := []byte("\x80\x03C\x03abc.")
	v, err := Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	p[4] = 'X'
	if !bytes.Equal(v.([]byte), []byte("abc")) {
		t.Fatalf("value changed with its input: %q", v)
	}
}
