package beaker

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/sesame-go/sesame/beaker/internal/pickle"
)

// maxJSONLength bounds the decompressed JSON of one cookie. Beaker's
// cookies hold at most MaxPayloadLength bytes of compressed data; real
// sessions expand a few times, a crafted stream up to about a thousand.
const maxJSONLength = 1 << 20

// The range of seconds since the epoch a Python datetime can hold (years
// 1 to 9999), for _creation_time and _accessed_time.
const (
	minUnix = -62135596800
	maxUnix = 253402300799
)

// deserialize reads the session dict from verified, decrypted data.
func (c *Codec) deserialize(data []byte) (map[string]any, error) {
	var v any
	if c.serializer == JSON {
		var err error
		if v, err = decodeJSON(data); err != nil {
			return nil, err
		}
	} else {
		var err error
		v, err = pickle.Decode(data)
		switch {
		case errors.Is(err, pickle.ErrRefused):
			return nil, fmt.Errorf("%w: %v", ErrRefused, err)
		case err != nil:
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	dict, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the session is a %T, not a dict", ErrMalformed, v)
	}
	return dict, nil
}

// decodeJSON reads Beaker's JsonSerializer format: zlib-compressed JSON.
// Numbers without a fraction or exponent are ints, as in Python.
func decodeJSON(data []byte) (any, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrMalformed, err)
	}
	text, err := io.ReadAll(io.LimitReader(zr, maxJSONLength+1))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrMalformed, err)
	}
	if len(text) > maxJSONLength {
		return nil, fmt.Errorf("%w: more than %d bytes of JSON", ErrMalformed, maxJSONLength)
	}
	return parseJSON(text)
}

// parseJSON reads one JSON document into plain values. Numbers without a
// fraction or exponent are ints, as in Python.
func parseJSON(text []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: JSON: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: JSON: data after the value", ErrMalformed)
	}
	return jsonNumbers(v, 0)
}

// jsonNumbers replaces json.Number with int64 or float64 and bounds the
// nesting as the pickle reader does.
func jsonNumbers(v any, depth int) (any, error) {
	if depth > pickle.MaxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrRefused, pickle.MaxDepth)
	}
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: integer %.40s is out of int64 range", ErrRefused, s)
			}
			return i, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: float %.40s is out of range", ErrRefused, s)
		}
		return f, nil
	case []any:
		for i, item := range x {
			n, err := jsonNumbers(item, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	case map[string]any:
		for k, item := range x {
			n, err := jsonNumbers(item, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	}
	return v, nil
}

// sessionFrom splits Beaker's keys from the application's.
func sessionFrom(dict map[string]any) (*Session, error) {
	s := &Session{Values: make(map[string]any, len(dict))}
	for k, v := range dict {
		if !reserved(k) {
			s.Values[k] = v
		}
	}
	id, ok := dict[keyID].(string)
	if !ok {
		return nil, fmt.Errorf("%w: %s is missing or not a str", ErrMalformed, keyID)
	}
	s.ID = id
	var err error
	if s.Created, err = unixTime(dict, keyCreated); err != nil {
		return nil, err
	}
	if s.Accessed, err = unixTime(dict, keyAccessed); err != nil {
		return nil, err
	}
	switch e := dict[keyExpires].(type) {
	case nil, bool:
		// Absent, or Beaker's True: until the browser closes. (Beaker
		// never stores False, which it turns into a date.)
		if e == false {
			return nil, fmt.Errorf("%w: %s is False", ErrMalformed, keyExpires)
		}
	case time.Time:
		// Beaker writes a naive datetime into the cookie's Expires
		// attribute as GMT; an aware one is converted.
		s.Expires = e.UTC()
	default:
		return nil, fmt.Errorf("%w: %s is a %T", ErrMalformed, keyExpires, e)
	}
	if s.Domain, err = optionalString(dict, keyDomain); err != nil {
		return nil, err
	}
	if s.Path, err = optionalString(dict, keyPath); err != nil {
		return nil, err
	}
	return s, nil
}

// unixTime reads a time Beaker stores as time.time(): a float (or an int)
// of seconds since the epoch.
func unixTime(dict map[string]any, key string) (time.Time, error) {
	var f float64
	switch v := dict[key].(type) {
	case float64:
		f = v
	case int64:
		f = float64(v)
	default:
		return time.Time{}, fmt.Errorf("%w: %s is missing or not a number", ErrMalformed, key)
	}
	if !(f >= minUnix && f <= maxUnix) {
		return time.Time{}, fmt.Errorf("%w: %s %v is out of range", ErrMalformed, key, f)
	}
	// Microseconds, as time.time() and Encode give them: a float64 of
	// seconds since the epoch holds them exactly enough to round back.
	sec := math.Floor(f)
	usec := math.Round((f - sec) * 1e6)
	return time.Unix(int64(sec), int64(usec)*1000), nil
}

func optionalString(dict map[string]any, key string) (string, error) {
	switch v := dict[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("%w: %s is a %T", ErrMalformed, key, v)
	}
}

// serialize writes the session dict: the values and Beaker's keys. It
// also returns the most bytes Beaker's serializer can write for the same
// dict: the length of the pickle, which is CPython's length or more (see
// package pickle), or with JSON, whose compression differs between
// CPython's zlib and Go's (either may be some per cent shorter), the
// length of the JSON text as zlib stores it uncompressed, which zlib
// never exceeds.
func (c *Codec) serialize(s *Session) (data []byte, beakerMax int, err error) {
	dict := make(map[string]any, len(s.Values)+6)
	for k, v := range s.Values {
		dict[k] = v
	}
	dict[keyID] = s.ID
	dict[keyCreated] = unixFloat(s.Created)
	dict[keyAccessed] = unixFloat(s.Accessed)
	if s.Domain != "" {
		dict[keyDomain] = s.Domain
	}
	if s.Path != "" {
		dict[keyPath] = s.Path
	}
	if c.serializer == JSON {
		plain, err := pickle.Plain(dict)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %v", ErrInvalidValue, err)
		}
		text, err := appendJSON(nil, plain, pythonJSON)
		if err != nil {
			return nil, 0, err
		}
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		zw.Write(text) // a bytes.Buffer does not fail
		zw.Close()
		return buf.Bytes(), zlibStoredLen(len(text)), nil
	}
	if !s.Expires.IsZero() {
		// A naive datetime in UTC, as Beaker's utcnow() + cookie_expires.
		dict[keyExpires] = s.Expires
	}
	data, err = pickle.Encode(dict)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrInvalidValue, err)
	}
	return data, len(data), nil
}

// zlibStoredLen is the most bytes zlib writes for n bytes: its header and
// checksum (6 bytes), and each block stored as it is, with 5 bytes of
// block header. zlib ends a block at least every 16384 symbols (at its
// default memLevel, 8) and stores a block whenever compressing it would
// make it longer.
func zlibStoredLen(n int) int {
	return 6 + n + 5*(n/16384+1)
}

func unixFloat(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// jsonMode says how appendJSON writes: as Beaker's JSON serializer, or
// for the Session API.
type jsonMode bool

const (
	// pythonJSON writes what Python's json.dumps writes with its default
	// settings, as Beaker's serializer calls it: ", " and ": " between
	// items, every character beyond ASCII escaped, floats as repr writes
	// them. Beaker serializes each session again when it loads it, so
	// the length of Go's JSON must tell the length of Beaker's. Bytes
	// and datetimes are refused, as Beaker's serializer refuses them.
	pythonJSON jsonMode = false
	// apiJSON writes compact JSON for the Session API, with bytes and
	// datetimes as encoding/json writes them: a base64 string
	// (Get[[]byte] reads it) and an RFC 3339 string (Get[time.Time]).
	apiJSON jsonMode = true
)

// appendJSON writes a plain value (pickle.Plain's form) as JSON that
// Python's json module reads back to the same types: a float always has
// a fraction or an exponent, so it stays a float. Dict keys are sorted.
func appendJSON(b []byte, v any, mode jsonMode) ([]byte, error) {
	comma, colon := ",", ":"
	if mode == pythonJSON {
		comma, colon = ", ", ": "
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		if mode == pythonJSON {
			return appendASCIIString(b, x), nil
		}
		q, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidValue, err)
		}
		return append(b, q...), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		return appendFloatRepr(b, x), nil
	case []any:
		b = append(b, '[')
		for i, item := range x {
			if i > 0 {
				b = append(b, comma...)
			}
			var err error
			if b, err = appendJSON(b, item, mode); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, comma...)
			}
			var err error
			if b, err = appendJSON(b, k, mode); err != nil {
				return nil, err
			}
			b = append(b, colon...)
			if b, err = appendJSON(b, x[k], mode); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []byte:
		if mode == apiJSON {
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, x)
			return append(b, '"'), nil
		}
	case time.Time:
		if mode == apiJSON {
			t, err := x.MarshalJSON()
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrInvalidValue, err)
			}
			return append(b, t...), nil
		}
	}
	return nil, fmt.Errorf("%w: the JSON serializer cannot store a %T (Beaker's cannot either); use Pickle", ErrInvalidValue, v)
}

// appendFloatRepr writes f as Python's repr does: the shortest digits
// that read back to f, in positional notation from 1e-4 up to 1e16 (with
// ".0" when whole) and in exponent notation, at least two digits of it,
// beyond.
func appendFloatRepr(b []byte, f float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, f, 'e', -1, 64)
	exp, _ := strconv.Atoi(string(b[start+bytes.LastIndexByte(b[start:], 'e')+1:]))
	if exp < -4 || exp >= 16 {
		return b
	}
	b = strconv.AppendFloat(b[:start], f, 'f', -1, 64)
	if bytes.IndexByte(b[start:], '.') < 0 {
		b = append(b, ".0"...)
	}
	return b
}

// appendASCIIString writes s as a JSON string the way Python's json
// module does with ensure_ascii on: every character beyond ASCII, and
// every control character, as \uXXXX (astral ones as a surrogate pair).
func appendASCIIString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch r {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		default:
			if r >= ' ' && r <= '~' {
				b = append(b, byte(r))
				continue
			}
			if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				b = appendUnicodeEscape(b, hi)
				r = lo
			}
			b = appendUnicodeEscape(b, r)
		}
	}
	return append(b, '"')
}

// appendUnicodeEscape writes the UTF-16 unit u as \uXXXX, in lower case
// as Python does.
func appendUnicodeEscape(b []byte, u rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[u>>12&0xf], hex[u>>8&0xf], hex[u>>4&0xf], hex[u&0xf])
}

// newID returns a session id as Beaker makes one: uuid.uuid4().hex.
func newID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("beaker: reading random id: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return hex.EncodeToString(u[:]), nil
}
