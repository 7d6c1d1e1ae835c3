package beaker

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
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

// serialize writes the session dict: the values and Beaker's keys.
func (c *Codec) serialize(s *Session) ([]byte, error) {
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
			return nil, fmt.Errorf("%w: %v", ErrInvalidValue, err)
		}
		text, err := appendJSON(nil, plain)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		zw := zlib.NewWriter(&buf)
		zw.Write(text) // a bytes.Buffer does not fail
		zw.Close()
		return buf.Bytes(), nil
	}
	if !s.Expires.IsZero() {
		// A naive datetime in UTC, as Beaker's utcnow() + cookie_expires.
		dict[keyExpires] = s.Expires
	}
	data, err := pickle.Encode(dict)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidValue, err)
	}
	return data, nil
}

func unixFloat(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// appendJSON writes a plain value (pickle.Plain's form) as JSON that
// Python's json module reads back to the same types: a float always has
// a fraction or an exponent, so it stays a float.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		q, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidValue, err)
		}
		return append(b, q...), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return append(b, s...), nil
	case []any:
		b = append(b, '[')
		for i, item := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, item); err != nil {
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
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, k); err != nil {
				return nil, err
			}
			b = append(b, ':')
			if b, err = appendJSON(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("%w: the JSON serializer cannot store a %T (Beaker's cannot either); use Pickle", ErrInvalidValue, v)
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
