package sesame

import (
	"encoding/json"
	"strconv"
)

// encodeValue encodes a session value as JSON, with fast paths for the
// common scalar types.
func encodeValue(v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		if plainString(x) {
			b := make([]byte, 0, len(x)+2)
			b = append(b, '"')
			b = append(b, x...)
			return append(b, '"'), nil
		}
	case int:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	case bool:
		return strconv.AppendBool(nil, x), nil
	}
	return json.Marshal(v)
}

// plainString reports whether s needs no escaping in JSON (and none of
// the HTML escaping encoding/json applies).
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// decodeValue decodes JSON into a T, with fast paths matching
// encodeValue's that do not allocate beyond the result.
func decodeValue[T any](raw []byte) (T, error) {
	var v T
	if decodeScalar(raw, &v) {
		return v, nil
	}
	p := new(T)
	err := json.Unmarshal(raw, p)
	return *p, err
}

// decodeScalar decodes raw into *v if T is a scalar type encodeValue has a
// fast path for and raw is in the form that fast path writes.
func decodeScalar[T any](raw []byte, v *T) bool {
	switch p := any(v).(type) {
	case *string:
		if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && plainString(string(raw[1:n-1])) {
			*p = string(raw[1 : n-1])
			return true
		}
	case *int:
		if i, err := strconv.ParseInt(string(raw), 10, strconv.IntSize); err == nil {
			*p = int(i)
			return true
		}
	case *int64:
		if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			*p = i
			return true
		}
	case *bool:
		switch string(raw) {
		case "true", "false":
			*p = raw[0] == 't'
			return true
		}
	}
	return false
}
