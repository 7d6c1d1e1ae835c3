package beaker

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame/beaker/internal/pickle"
)

func fixedNow(t time.Time) func() time.Time { return func() time.Time { return t } }

// cookieOf signs and seals serialized data as c would, so tests can hand
// Decode authentic cookies holding anything.
func cookieOf(t *testing.T, c *Codec, data []byte) string {
	t.Helper()
	payload, err := c.seal(data)
	if err != nil {
		t.Fatal(err)
	}
	return c.sign(payload) + payload
}

func zlibbed(text string) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write([]byte(text))
	zw.Close()
	return buf.Bytes()
}

func TestNewRefusesBadConfig(t *testing.T) {
	long := strings.Repeat("k", MinKeyLength)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no validate key", Config{}, "ValidateKey is empty"},
		{"short validate key", Config{ValidateKey: "short"}, "shorter than 16"},
		{"short encrypt key", Config{ValidateKey: long, EncryptKey: "short"}, "EncryptKey is 5 bytes"},
		{"empty key even when short ones are allowed", Config{AllowShortKeys: true}, "ValidateKey is empty"},
		{"non-ASCII key with encryption", Config{ValidateKey: long + "é", EncryptKey: long}, "ASCII"},
		{"non-ASCII encrypt key", Config{ValidateKey: long, EncryptKey: long + "é"}, "ASCII"},
		{"nss", Config{ValidateKey: long, EncryptKey: long, CryptoType: "nss"}, `"nss"`},
		{"unknown crypto", Config{ValidateKey: long, EncryptKey: long, CryptoType: "rot13"}, "unknown CryptoType"},
		{"unknown serializer", Config{ValidateKey: long, Serializer: "yaml"}, "unknown Serializer"},
		{"nonce bits not bytes", Config{ValidateKey: long, EncryptKey: long, EncryptNonceBits: 100}, "multiple of 8"},
		{"nonce bits too few", Config{ValidateKey: long, EncryptKey: long, EncryptNonceBits: 40}, "from 48"},
		{"nonce bits too many", Config{ValidateKey: long, EncryptKey: long, EncryptNonceBits: 1032}, "to 1024"},
		{"negative timeout", Config{ValidateKey: long, Timeout: -time.Second}, "negative"},
		{"negative cookie expiry", Config{ValidateKey: long, CookieExpires: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	// A non-ASCII validate key is fine when only signing: Beaker encodes
	// it as UTF-8 for the HMAC.
	if _, err := New(Config{ValidateKey: long + "é"}); err != nil {
		t.Errorf("non-ASCII validate key without encryption: %v", err)
	}
}

func TestShortKeysAreAllowedOnlyExplicitlyAndWarned(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	c, err := New(Config{ValidateKey: "short", EncryptKey: "tiny", AllowShortKeys: true, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Errorf("%d warnings for two short keys:\n%s", n, logs.String())
	}
	v, err := c.Encode(&Session{Values: map[string]any{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := c.Decode(v); err != nil || s.Values["a"] != "b" {
		t.Fatalf("Decode = %+v, %v", s, err)
	}
}

// Every combination round-trips in Go alone, so the formats stay covered
// where Python is missing (the interop tests check them against Beaker).
func TestEncodeDecodeEveryCombination(t *testing.T) {
	for _, cb := range combos() {
		t.Run(cb.name, func(t *testing.T) {
			c := mustNew(t, cb.cfg)
			vals := goForm(pythonValues(cb.cfg.Serializer)).(map[string]any)
			s := &Session{Values: vals, Domain: ".example.org", Path: "/app"}
			v, err := c.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Decode(v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Values, namesDropped(vals)) {
				t.Errorf("Values = %#v, want %#v", got.Values, vals)
			}
			if got.ID != s.ID || !got.Created.Equal(s.Created) || !got.Accessed.Equal(s.Accessed) ||
				got.Domain != s.Domain || got.Path != s.Path {
				t.Errorf("read %+v, wrote %+v", got, s)
			}
		})
	}
}

// Beaker expires a session when now - _accessed_time > timeout: exactly
// the timeout is still valid, a nanosecond more is not.
func TestDecodeTimeoutBoundary(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	start := time.Now()
	w := mustNew(t, Config{ValidateKey: testValidateKey, Now: fixedNow(start)})
	v, err := w.Encode(&Session{Values: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	// The float of seconds Beaker stores rounds the time; read it back.
	s, err := w.Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		now     time.Time
		expired bool
	}{
		{s.Accessed, false},
		{s.Accessed.Add(timeout), false},
		{s.Accessed.Add(timeout + 1), true},
		{s.Accessed.Add(-time.Hour), false}, // a clock behind the writer's
	} {
		r := mustNew(t, Config{ValidateKey: testValidateKey, Timeout: timeout, Now: fixedNow(tt.now)})
		if _, err := r.Decode(v); errors.Is(err, ErrExpired) != tt.expired {
			t.Errorf("at accessed%+v: err = %v, want expired %v", tt.now.Sub(s.Accessed), err, tt.expired)
		}
	}
}

// A cookie whose _expires has passed is refused from that instant on,
// as the browser would have dropped it; Beaker leaves this to the browser.
func TestDecodeExpiresBoundary(t *testing.T) {
	start := time.Now()
	w := mustNew(t, Config{ValidateKey: testValidateKey, CookieExpires: 90 * time.Second, Now: fixedNow(start)})
	s := &Session{Values: map[string]any{}}
	v, err := w.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(90 * time.Second).UTC().Truncate(time.Microsecond); !s.Expires.Equal(want) || s.Expires.Location() != time.UTC {
		t.Fatalf("Expires = %v, want %v in UTC", s.Expires, want)
	}
	for _, tt := range []struct {
		now     time.Time
		expired bool
	}{
		{s.Expires.Add(-time.Microsecond), false},
		{s.Expires, true},
		{s.Expires.Add(time.Hour), true},
	} {
		r := mustNew(t, Config{ValidateKey: testValidateKey, Now: fixedNow(tt.now)})
		got, err := r.Decode(v)
		if errors.Is(err, ErrExpired) != tt.expired {
			t.Errorf("at expires%+v: err = %v, want expired %v", tt.now.Sub(s.Expires), err, tt.expired)
		}
		if err == nil && !got.Expires.Equal(s.Expires) {
			t.Errorf("Expires read as %v, written as %v", got.Expires, s.Expires)
		}
	}
}

// Encode stamps the session as Beaker's save does, and keeps what a
// cookie already carries.
func TestEncodeStampsLikeBeaker(t *testing.T) {
	t0 := time.Now().Truncate(time.Microsecond)
	c := mustNew(t, Config{ValidateKey: testValidateKey, CookieExpires: time.Hour, Now: fixedNow(t0.Add(999))})
	s := &Session{Values: map[string]any{}}
	if _, err := c.Encode(s); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`).MatchString(s.ID) {
		t.Errorf("ID %q is not a UUID4 in hex, as uuid.uuid4().hex", s.ID)
	}
	// Times keep microseconds, as the cookie does.
	if !s.Created.Equal(t0) || !s.Accessed.Equal(t0) || !s.Expires.Equal(t0.Add(time.Hour).UTC()) {
		t.Errorf("stamped %+v at %v", s, t0)
	}
	// Later: the id, creation time and cookie expiry stay; the access
	// time moves.
	id, created, expires := s.ID, s.Created, s.Expires
	t1 := t0.Add(10 * time.Minute)
	c = mustNew(t, Config{ValidateKey: testValidateKey, CookieExpires: time.Hour, Now: fixedNow(t1.Add(1))})
	if _, err := c.Encode(s); err != nil {
		t.Fatal(err)
	}
	if s.ID != id || !s.Created.Equal(created) || !s.Accessed.Equal(t1) || !s.Expires.Equal(expires) {
		t.Errorf("restamped %+v at %v", s, t1)
	}
	// Two new sessions never share an id.
	other := &Session{}
	if _, err := c.Encode(other); err != nil || other.ID == s.ID {
		t.Errorf("second id %q, %v", other.ID, err)
	}
	// Without CookieExpires the cookie lasts until the browser closes.
	c = mustNew(t, Config{ValidateKey: testValidateKey})
	s = &Session{}
	if _, err := c.Encode(s); err != nil || !s.Expires.IsZero() {
		t.Errorf("Expires = %v, %v; want zero", s.Expires, err)
	}
}

func TestEncodeRefuses(t *testing.T) {
	pickleCodec := mustNew(t, Config{ValidateKey: testValidateKey})
	jsonCodec := mustNew(t, Config{ValidateKey: testValidateKey, Serializer: JSON})
	tests := []struct {
		name   string
		c      *Codec
		values map[string]any
		want   error
	}{
		{"Beaker's _id", pickleCodec, map[string]any{"_id": "x"}, ErrInvalidValue},
		{"Beaker's _expires", jsonCodec, map[string]any{"_expires": true}, ErrInvalidValue},
		{"bytes in JSON", jsonCodec, map[string]any{"b": []byte("x")}, ErrInvalidValue},
		{"a time in JSON", jsonCodec, map[string]any{"t": time.Now()}, ErrInvalidValue},
		{"NaN", pickleCodec, map[string]any{"f": math.NaN()}, ErrInvalidValue},
		{"NaN in JSON", jsonCodec, map[string]any{"f": []any{math.Inf(1)}}, ErrInvalidValue},
		{"a struct", pickleCodec, map[string]any{"s": struct{}{}}, ErrInvalidValue},
		{"invalid UTF-8", jsonCodec, map[string]any{"s": "\xff"}, ErrInvalidValue},
		{"more than a cookie holds", pickleCodec, map[string]any{"s": strings.Repeat("x", MaxPayloadLength)}, ErrTooLarge},
	}
	for _, tt := range tests {
		if v, err := tt.c.Encode(&Session{Values: tt.values}); !errors.Is(err, tt.want) {
			t.Errorf("%s: Encode = %q, %v; want %v", tt.name, v, err, tt.want)
		}
	}
}

// Python reads back the types Go wrote: JSON floats keep a fraction or an
// exponent (Python would read "3" as an int), ints stay ints.
func TestJSONKeepsIntsAndFloatsApart(t *testing.T) {
	c := mustNew(t, Config{ValidateKey: testValidateKey, Serializer: JSON})
	vals := map[string]any{"whole": 3.0, "negative zero": math.Copysign(0, -1), "big": 1e21, "small": 1e-7,
		"int": int64(3), "json int": json.Number("4"), "json float": json.Number("4.0"), "uint8": uint8(9)}
	s := &Session{Values: vals}
	data, _, err := c.serialize(s)
	if err != nil {
		t.Fatal(err)
	}
	text, err := decodeJSONText(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"whole": 3.0`, `"negative zero": -0.0`, `"big": 1e+21`, `"small": 1e-07`, `"int": 3`, `"json int": 4`, `"json float": 4.0`, `"uint8": 9`} {
		if !strings.Contains(text, want) {
			t.Errorf("JSON %s lacks %s", text, want)
		}
	}
	got, err := decodeJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	for k, want := range map[string]any{"whole": 3.0, "big": 1e21, "int": int64(3), "json int": int64(4), "json float": 4.0, "uint8": int64(9)} {
		if !reflect.DeepEqual(m[k], want) {
			t.Errorf("%s read back as %#v, want %#v", k, m[k], want)
		}
	}
}

// The JSON serializer writes what Python's json.dumps writes for the same
// values (with sort_keys, as Go sorts them): the separators, the escapes
// of ensure_ascii and repr's floats, so that a session's JSON is as long
// in Go as in Beaker, which writes it again on every load. The wanted
// texts are CPython 3.11's.
func TestJSONWritesAsPython(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{[]any{1e16, 1e15, 9999999999999998.0, 0.0001, 1e-05, 123456789.125, math.Copysign(0, -1), 5e-324, math.MaxFloat64, 0.1, 100.0, 1.5e300},
			`[1e+16, 1000000000000000.0, 9999999999999998.0, 0.0001, 1e-05, 123456789.125, -0.0, 5e-324, 1.7976931348623157e+308, 0.1, 100.0, 1.5e+300]`},
		{"a\"b\\c/d<e>\n\r\t\b\f\x00\x1f\x7f é€😀\u2028",
			`"a\"b\\c/d<e>\n\r\t\b\f\u0000\u001f\u007f \u00e9\u20ac\ud83d\ude00\u2028"`},
		{map[string]any{"b": []any{int64(1), map[string]any{}}, "a": nil}, `{"a": null, "b": [1, {}]}`},
	}
	for _, tt := range tests {
		got, err := appendJSON(nil, tt.v, pythonJSON)
		if err != nil || string(got) != tt.want {
			t.Errorf("appendJSON(%#v) =\n %s, %v\nPython writes\n %s", tt.v, got, err, tt.want)
		}
	}
}

func decodeJSONText(data []byte) (string, error) {
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(zr)
	return buf.String(), err
}

// Authentic cookies (signed with the right key) whose contents are not a
// Beaker session are refused; every refusal matches exactly one error.
func TestDecodeRefusesAuthenticNonsense(t *testing.T) {
	now := time.Now()
	nowSecs := float64(now.Unix())
	pc := mustNew(t, Config{ValidateKey: testValidateKey, EncryptKey: testEncryptKey, Now: fixedNow(now)})
	jc := mustNew(t, Config{ValidateKey: testValidateKey, EncryptKey: testEncryptKey, CryptoType: CryptoCryptography, Serializer: JSON, Now: fixedNow(now)})
	pickled := func(v any) []byte {
		p, err := pickle.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	session := func(extra map[string]any) map[string]any {
		m := map[string]any{keyID: "id", keyCreated: nowSecs, keyAccessed: nowSecs}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name string
		c    *Codec
		data []byte
		want error
	}{
		{"a list, not a dict", pc, pickled([]any{}), ErrMalformed},
		{"no _id", pc, pickled(session(map[string]any{keyID: nil})), ErrMalformed},
		{"_id not a str", pc, pickled(session(map[string]any{keyID: int64(1)})), ErrMalformed},
		{"no _creation_time", pc, pickled(session(map[string]any{keyCreated: nil})), ErrMalformed},
		{"no _accessed_time", pc, pickled(session(map[string]any{keyAccessed: nil})), ErrMalformed},
		{"_accessed_time a str", pc, pickled(session(map[string]any{keyAccessed: "now"})), ErrMalformed},
		{"_accessed_time beyond year 9999", pc, pickled(session(map[string]any{keyAccessed: 1e12})), ErrMalformed},
		{"_expires False", pc, pickled(session(map[string]any{keyExpires: false})), ErrMalformed},
		{"_expires a number", pc, pickled(session(map[string]any{keyExpires: int64(5)})), ErrMalformed},
		{"_path a list", pc, pickled(session(map[string]any{keyPath: []any{}})), ErrMalformed},
		{"_domain an int", pc, pickled(session(map[string]any{keyDomain: int64(0)})), ErrMalformed},
		{"not a pickle", pc, []byte("{}"), ErrMalformed},
		{"a callable", pc, []byte("cos\nsystem\n(S'true'\ntR."), ErrRefused},
		{"not zlib", jc, []byte(`{"_id": "x"}`), ErrMalformed},
		{"not JSON", jc, zlibbed(`{"_id": `), ErrMalformed},
		{"two JSON values", jc, zlibbed(`{} {}`), ErrMalformed},
		{"JSON int beyond int64", jc, zlibbed(`{"n": 99999999999999999999}`), ErrRefused},
		{"JSON float overflow", jc, zlibbed(`{"n": 1e999}`), ErrRefused},
		{"JSON too deep", jc, zlibbed(strings.Repeat("[", pickle.MaxDepth+2) + strings.Repeat("]", pickle.MaxDepth+2)), ErrRefused},
		{"a zlib bomb", jc, zlibbed(`{"a": "` + strings.Repeat("a", maxJSONLength) + `"}`), ErrMalformed},
	}
	all := []error{ErrMalformed, ErrTooLarge, ErrBadSignature, ErrExpired, ErrRefused}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.c.Decode(cookieOf(t, tt.c, tt.data))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %+v, %v; want %v", s, err, tt.want)
			}
			n := 0
			for _, e := range all {
				if errors.Is(err, e) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%v matches %d of the Decode errors", err, n)
			}
		})
	}
	// The bomb's size: a cookie's worth of zlib expands to more than the
	// limit, so the limit, not the cookie size, refused it.
	if n := len(zlibbed(`{"a": "` + strings.Repeat("a", maxJSONLength) + `"}`)); n > MaxPayloadLength {
		t.Errorf("the zlib bomb is %d bytes, more than a cookie holds", n)
	}
}

func TestDecodeRefusesBeforeParsing(t *testing.T) {
	c := mustNew(t, Config{ValidateKey: testValidateKey})
	good, err := c.Encode(&Session{Values: map[string]any{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	upper := strings.ToUpper(good[:sigLength]) + good[sigLength:]
	tests := []struct {
		name, value string
		want        error
	}{
		{"empty", "", ErrMalformed},
		{"signature only", good[:sigLength], ErrMalformed},
		{"not ASCII", good + "é", ErrMalformed},
		{"too long", strings.Repeat("a", MaxCookieLength+1), ErrTooLarge},
		{"uppercase signature", upper, ErrBadSignature},
		{"signature of another value", good[:sigLength] + "e30=", ErrBadSignature},
	}
	for _, tt := range tests {
		if s, err := c.Decode(tt.value); !errors.Is(err, tt.want) {
			t.Errorf("%s: Decode = %+v, %v; want %v", tt.name, s, err, tt.want)
		}
	}
	if upper == good {
		t.Fatal("the signature has no letters to change case")
	}
	// Browsers and Python send the value within double quotes at times.
	if s, err := c.Decode(`"` + good + `"`); err != nil || s.Values["a"] != "b" {
		t.Errorf("quoted value: %+v, %v", s, err)
	}
	// The longest value Beaker writes, quoted, is still read.
	long := mustNew(t, Config{ValidateKey: testValidateKey})
	s := &Session{Values: map[string]any{"s": ""}}
	for {
		v, err := long.Encode(s)
		if errors.Is(err, ErrTooLarge) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(v) == sigLength+MaxPayloadLength {
			if _, err := long.Decode(`"` + v + `"`); err != nil {
				t.Fatalf("the longest cookie, quoted: %v", err)
			}
			return
		}
		s.Values["s"] = s.Values["s"].(string) + "x"
	}
	t.Fatal("no value of exactly the longest payload length")
}

// One Codec serves many goroutines at once.
func TestCodecIsSafeForConcurrentUse(t *testing.T) {
	for _, cb := range combos() {
		c := mustNew(t, cb.cfg)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 8 {
			wg.Go(func() {
				for i := range 10 {
					want := fmt.Sprintf("%d/%d", g, i)
					v, err := c.Encode(&Session{Values: map[string]any{"k": want}})
					if err != nil {
						errs <- err
						return
					}
					s, err := c.Decode(v)
					if err != nil || s.Values["k"] != want {
						errs <- fmt.Errorf("%s: %v %v", cb.name, s, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}
