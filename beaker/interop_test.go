package beaker

import (
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/beaker/internal/pickle"
)

const (
	testValidateKey = "the validate key shared with Python"
	testEncryptKey  = "the encrypt key shared with Python"
	cookieName      = "beaker.session.id" // Beaker's default session.key
)

// combo is one Beaker configuration and the Config that matches it.
type combo struct {
	name    string
	options map[string]any // Beaker's settings, without "session."
	cfg     Config
}

func (c combo) encrypted() bool { return c.cfg.EncryptKey != "" }

func (c combo) with(extra map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range c.options {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// combos is every crypto_type and serializer Beaker offers for cookie
// sessions, plus the 48-bit nonces of Beaker before 1.8.
func combos() []combo {
	type cryptoSetting struct {
		name    string
		options map[string]any
		cfg     Config
	}
	cryptos := []cryptoSetting{
		{"signed only", map[string]any{}, Config{}},
		{"crypto_type default", map[string]any{"encrypt_key": testEncryptKey},
			Config{EncryptKey: testEncryptKey}},
		{"crypto_type pycrypto", map[string]any{"encrypt_key": testEncryptKey, "crypto_type": "pycrypto"},
			Config{EncryptKey: testEncryptKey, CryptoType: CryptoPycrypto}},
		{"crypto_type cryptography", map[string]any{"encrypt_key": testEncryptKey, "crypto_type": "cryptography"},
			Config{EncryptKey: testEncryptKey, CryptoType: CryptoCryptography}},
		{"crypto_type cryptography, 48-bit nonces", map[string]any{"encrypt_key": testEncryptKey, "crypto_type": "cryptography", "encrypt_nonce_bits": 48},
			Config{EncryptKey: testEncryptKey, CryptoType: CryptoCryptography, EncryptNonceBits: 48}},
		{"crypto_type pycrypto, 48-bit nonces", map[string]any{"encrypt_key": testEncryptKey, "crypto_type": "pycrypto", "encrypt_nonce_bits": 48},
			Config{EncryptKey: testEncryptKey, CryptoType: CryptoPycrypto, EncryptNonceBits: 48}},
	}
	var out []combo
	for _, ser := range []Serializer{Pickle, JSON} {
		for _, cr := range cryptos {
			cb := combo{name: cr.name + ", " + string(ser), options: map[string]any{}, cfg: cr.cfg}
			for k, v := range cr.options {
				cb.options[k] = v
			}
			cb.options["validate_key"] = testValidateKey
			cb.options["data_serializer"] = string(ser)
			cb.cfg.ValidateKey = testValidateKey
			cb.cfg.Serializer = ser
			out = append(out, cb)
		}
	}
	return out
}

// pythonValues is what a Python application stores: every plain type the
// serializer carries. goForm gives what Decode returns for it.
func pythonValues(ser Serializer) map[string]any {
	v := map[string]any{
		"user":        "alice",
		"unicode":     "žluťoučký kůň 😀 \u2028",
		"empty":       "",
		"specials":    "a\"b;c,d\\e\nf\x00g",
		"int":         int64(42),
		"negative":    int64(-7),
		"max int64":   int64(math.MaxInt64),
		"min int64":   int64(math.MinInt64),
		"float":       0.1,
		"whole float": 3.0,
		"tiny float":  -2.5e-300,
		"true":        true,
		"false":       false,
		"none":        nil,
		"list":        []any{int64(1), "two", []any{}, map[string]any{}},
		"nested":      map[string]any{"a": map[string]any{"b": []any{nil, 1.5}}},
	}
	if ser == Pickle {
		v["bytes"] = []byte{0, 1, 0x7f, 0x80, 0xff}
		v["empty bytes"] = []byte{}
		v["naive datetime"] = time.Date(2031, 7, 8, 9, 10, 11, 123456000, time.UTC)
		v["aware datetime"] = time.Date(2031, 7, 8, 9, 10, 11, 0, time.FixedZone("", 5*3600+30*60))
		v["named timezone"] = time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.FixedZone("EST", -5*3600))
		v["tuple"] = pyTuple{int64(1), pyTuple{"nested"}, pyTuple{}}
	}
	return v
}

// goForm is v as Decode returns it: tuples become []any.
func goForm(v any) any { return mapLeaves(v, func(leaf any) any { return leaf }) }

// namesDropped is v as it comes back from a pickle Go wrote: Encode
// writes a timezone's offset, not its name.
func namesDropped(v any) any {
	return mapLeaves(v, func(leaf any) any {
		if t, ok := leaf.(time.Time); ok && t.Location() != time.UTC {
			_, off := t.Zone()
			return t.In(time.FixedZone("", off))
		}
		return leaf
	})
}

// mapLeaves copies v with f applied to every value that is not a list,
// tuple or dict; tuples become []any.
func mapLeaves(v any, f func(any) any) any {
	switch x := v.(type) {
	case pyTuple:
		return mapLeaves([]any(x), f)
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = mapLeaves(item, f)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[k] = mapLeaves(item, f)
		}
		return out
	}
	return f(v)
}

func typedMap(t *testing.T, m map[string]any) map[string]typed {
	t.Helper()
	out := make(map[string]typed, len(m))
	for k, v := range m {
		out[k] = mustTyped(t, v)
	}
	return out
}

// appValues drops Beaker's own keys from a session dict Python saw.
func appValues(seen map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range seen {
		if !reserved(k) {
			out[k] = v
		}
	}
	return out
}

func mustNew(t *testing.T, cfg Config) *Codec {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func within(t *testing.T, what string, got, lo, hi time.Time) {
	t.Helper()
	if got.Before(lo.Add(-time.Millisecond)) || got.After(hi.Add(time.Millisecond)) {
		t.Errorf("%s = %v, want between %v and %v", what, got, lo, hi)
	}
}

// A session Python writes is read by Go, changed and written back, read by
// Python, changed again and read by Go, for every crypto_type and
// serializer: values, id and creation time survive every hop.
func TestInteropPythonToGoAndBack(t *testing.T) {
	py := startBeaker(t)
	for _, cb := range combos() {
		t.Run(cb.name, func(t *testing.T) {
			codec := mustNew(t, cb.cfg)
			vals := pythonValues(cb.cfg.Serializer)
			before := time.Now()
			_, cookie, resp := py.session(pyReq{Options: cb.options, Set: typedMap(t, vals), Save: true})
			after := time.Now()
			if resp.Error != "" || cookie == "" {
				t.Fatalf("Beaker wrote no cookie: %+v", resp)
			}
			if cb.encrypted() && cb.cfg.CryptoType == "" && resp.CryptoModule != "beaker.crypto.pycrypto" {
				t.Fatalf("Beaker's default crypto module is %s here, not the pycrypto one this test expects", resp.CryptoModule)
			}

			s, err := codec.Decode(cookie)
			if err != nil {
				t.Fatalf("Decode(Beaker's cookie): %v", err)
			}
			if want := goForm(vals); !reflect.DeepEqual(s.Values, want) {
				t.Fatalf("Go read\n %#v\nPython wrote\n %#v", s.Values, want)
			}
			if len(s.ID) != 32 || s.Path != "/" || s.Domain != "" || !s.Expires.IsZero() {
				t.Errorf("Beaker's keys read as ID %q, Path %q, Domain %q, Expires %v", s.ID, s.Path, s.Domain, s.Expires)
			}
			within(t, "Created", s.Created, before, after)
			within(t, "Accessed", s.Accessed, before, after)

			// Go changes the session; Python reads what Go wrote.
			s.Values["from go"] = "héllo"
			delete(s.Values, "user")
			created := s.Created
			v, err := codec.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			seen, cookie2, resp := py.session(pyReq{
				Options: cb.options, Cookie: cookieName + "=" + v,
				Set: map[string]typed{"from python": mustTyped(t, int64(7))}, Save: true,
			})
			if resp.Error != "" || resp.IsNew {
				t.Fatalf("Beaker did not load Go's cookie: %+v", resp)
			}
			if got, want := appValues(seen), namesDropped(s.Values); !reflect.DeepEqual(got, want) {
				t.Fatalf("Python read\n %#v\nGo wrote\n %#v", got, want)
			}
			if seen[keyID] != s.ID {
				t.Errorf("Python read _id %v, Go wrote %v", seen[keyID], s.ID)
			}
			if ct, _ := seen[keyCreated].(float64); math.Abs(ct-unixFloat(created)) > 1e-6 {
				t.Errorf("Python read _creation_time %v, Go wrote %v", ct, unixFloat(created))
			}

			// Python's change comes back to Go.
			s2, err := codec.Decode(cookie2)
			if err != nil {
				t.Fatalf("Decode(Beaker's second cookie): %v", err)
			}
			want := namesDropped(s.Values).(map[string]any)
			want["from python"] = int64(7)
			if !reflect.DeepEqual(s2.Values, want) {
				t.Fatalf("Go read\n %#v\nwant\n %#v", s2.Values, want)
			}
			if s2.ID != s.ID || s2.Created.Sub(created).Abs() > time.Microsecond {
				t.Errorf("second hop: ID %q created %v, want %q %v", s2.ID, s2.Created, s.ID, created)
			}
		})
	}
}

// A session Go starts is read by Python, with the cookie expiry Go set.
func TestInteropGoToPython(t *testing.T) {
	py := startBeaker(t)
	for _, cb := range combos() {
		t.Run(cb.name, func(t *testing.T) {
			cfg := cb.cfg
			cfg.CookieExpires = time.Hour
			codec := mustNew(t, cfg)
			vals := goForm(pythonValues(cb.cfg.Serializer)).(map[string]any)
			s := &Session{Values: vals}
			v, err := codec.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			options := cb.options
			if cb.cfg.Serializer == Pickle {
				// With JSON, Beaker fails to save a loaded session whose
				// cookie_expires is a duration: it cannot serialize the
				// _expires datetime it adds.
				options = cb.with(map[string]any{"cookie_expires": 3600})
			}
			seen, _, resp := py.session(pyReq{Options: options, Cookie: cookieName + "=" + v, Save: true})
			if resp.Error != "" || resp.IsNew {
				t.Fatalf("Beaker did not load Go's cookie: %+v", resp)
			}
			if got := appValues(seen); !reflect.DeepEqual(got, namesDropped(vals)) {
				t.Fatalf("Python read\n %#v\nGo wrote\n %#v", got, vals)
			}
			if seen[keyID] != s.ID {
				t.Errorf("Python read _id %v, Go wrote %v", seen[keyID], s.ID)
			}
			if cb.cfg.Serializer != Pickle {
				return // JSON cannot carry _expires; Python computes its own
			}
			exp, ok := seen[keyExpires].(time.Time)
			if !ok || !exp.Equal(s.Expires) {
				t.Fatalf("Python read _expires %v, Go wrote %v", seen[keyExpires], s.Expires)
			}
			c, err := http.ParseSetCookie(strings.TrimSpace(resp.SetCookie))
			if err != nil {
				t.Fatal(err)
			}
			if !c.Expires.Equal(s.Expires.Truncate(time.Second)) {
				t.Errorf("Beaker's cookie expires %v, want Go's %v", c.Expires, s.Expires)
			}
		})
	}
}

// tamperings change a cookie value the ways an attacker would; each maps
// to the error Decode gives.
func tamperings(v string) map[string]error {
	flip := func(i int) string {
		b := []byte(v)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	return map[string]error{
		flip(3):             ErrBadSignature, // in the signature
		flip(sigLength + 5): ErrBadSignature, // in the nonce or data
		flip(len(v) - 3):    ErrBadSignature,
		v[:len(v)-4]:        ErrBadSignature,
		v + "AAAA":          ErrBadSignature,
		v[:sigLength]:       ErrMalformed, // nothing signed
	}
}

// Cookies changed in transit, or signed or encrypted with other keys, are
// refused by both sides.
func TestInteropTamperedRefusedBothWays(t *testing.T) {
	py := startBeaker(t)
	for _, cb := range combos() {
		t.Run(cb.name, func(t *testing.T) {
			codec := mustNew(t, cb.cfg)
			vals := map[string]any{"user": "alice"}
			_, pyCookie, resp := py.session(pyReq{Options: cb.options, Set: typedMap(t, vals), Save: true})
			if resp.Error != "" {
				t.Fatal(resp.Error)
			}
			goCookie, err := codec.Encode(&Session{Values: vals})
			if err != nil {
				t.Fatal(err)
			}
			strict := cb.with(map[string]any{"invalidate_corrupt": false})
			for bad, want := range tamperings(pyCookie) {
				if _, err := codec.Decode(bad); !errors.Is(err, want) {
					t.Errorf("Go read Python's cookie changed to %q: err = %v, want %v", bad, err, want)
				}
			}
			for bad := range tamperings(goCookie) {
				if _, _, resp := py.session(pyReq{Options: strict, Cookie: cookieName + "=" + bad}); !strings.Contains(resp.Error, "Invalid signature") {
					t.Errorf("Python read Go's cookie changed to %q: %+v", bad, resp)
				}
				// Beaker's middleware default (invalidate_corrupt on) starts
				// an empty session instead.
				seen, _, resp := py.session(pyReq{Options: cb.options, Cookie: cookieName + "=" + bad})
				if resp.Error != "" || seen["user"] != nil {
					t.Errorf("Python's middleware kept Go's cookie changed to %q: %v %+v", bad, seen, resp)
				}
			}

			// Another validate key.
			other := cb.cfg
			other.ValidateKey = "some other validate key, as long"
			if _, err := mustNew(t, other).Decode(pyCookie); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Go read Python's cookie with another validate key: %v", err)
			}
			if _, _, resp := py.session(pyReq{Options: cb.with(map[string]any{"validate_key": other.ValidateKey, "invalidate_corrupt": false}),
				Cookie: cookieName + "=" + goCookie}); !strings.Contains(resp.Error, "Invalid signature") {
				t.Errorf("Python read Go's cookie with another validate key: %+v", resp)
			}

			if !cb.encrypted() {
				return
			}
			// Another encrypt key under the right validate key: what an
			// attacker who knows only the validate key can make. AES-GCM
			// refuses it; CTR decrypts it to garbage that does not parse.
			other = cb.cfg
			other.EncryptKey = "some other encrypt key, as long"
			_, err = mustNew(t, other).Decode(pyCookie)
			if cb.cfg.CryptoType == CryptoCryptography {
				if !errors.Is(err, ErrBadSignature) {
					t.Errorf("Go read Python's cookie with another encrypt key: %v", err)
				}
			} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrRefused) {
				t.Errorf("Go read Python's cookie with another encrypt key: %v", err)
			}
			_, _, resp = py.session(pyReq{Options: cb.with(map[string]any{"encrypt_key": other.EncryptKey, "invalidate_corrupt": false}),
				Cookie: cookieName + "=" + goCookie})
			if resp.Error == "" {
				t.Errorf("Python read Go's cookie with another encrypt key: %+v", resp)
			}
			if cb.cfg.CryptoType == CryptoCryptography && !strings.Contains(resp.Error, "InvalidTag") {
				t.Errorf("Python's error for another encrypt key is %q, want InvalidTag", resp.Error)
			}
		})
	}
}

// Beaker's timeout is honoured both ways: a session idle longer than the
// timeout is refused by Go and emptied by Python; one idle for half of it
// is kept by both. Times are set through Go's clock, never by waiting.
func TestInteropTimeoutBothWays(t *testing.T) {
	const timeout = 60 * time.Second
	py := startBeaker(t)
	for _, cb := range combos() {
		t.Run(cb.name, func(t *testing.T) {
			options := cb.with(map[string]any{"timeout": int(timeout / time.Second)})
			vals := map[string]any{"user": "alice"}

			before := time.Now()
			_, pyCookie, resp := py.session(pyReq{Options: options, Set: typedMap(t, vals), Save: true})
			after := time.Now()
			if resp.Error != "" {
				t.Fatal(resp.Error)
			}
			at := func(now time.Time) *Codec {
				cfg := cb.cfg
				cfg.Timeout = timeout
				cfg.Now = func() time.Time { return now }
				return mustNew(t, cfg)
			}
			if _, err := at(after.Add(timeout / 2)).Decode(pyCookie); err != nil {
				t.Errorf("Go refused Python's cookie within the timeout: %v", err)
			}
			if _, err := at(before.Add(2 * timeout)).Decode(pyCookie); !errors.Is(err, ErrExpired) {
				t.Errorf("Go read Python's cookie after the timeout: %v", err)
			}

			fresh, err := at(time.Now().Add(-timeout / 2)).Encode(&Session{Values: vals})
			if err != nil {
				t.Fatal(err)
			}
			if seen, _, resp := py.session(pyReq{Options: options, Cookie: cookieName + "=" + fresh}); resp.Error != "" || seen["user"] != "alice" {
				t.Errorf("Python dropped Go's cookie within the timeout: %v %+v", seen, resp)
			}
			stale, err := at(time.Now().Add(-2 * timeout)).Encode(&Session{Values: vals})
			if err != nil {
				t.Fatal(err)
			}
			before = time.Now()
			seen, _, resp := py.session(pyReq{Options: options, Cookie: cookieName + "=" + stale})
			if resp.Error != "" || seen["user"] != nil {
				t.Errorf("Python kept Go's cookie after the timeout: %v %+v", seen, resp)
			}
			if ct, _ := seen[keyCreated].(float64); ct < unixFloat(before)-1e-3 {
				t.Errorf("Python's session after the timeout was created at %v, before the request (%v)", ct, unixFloat(before))
			}
		})
	}
}

// Beaker stores a cookie_expires duration as _expires once it has set the
// cookie; Go reads it, keeps it, and refuses the session after it.
func TestInteropCookieExpiresFromPython(t *testing.T) {
	const expires = 60 * time.Second
	py := startBeaker(t)
	for _, cb := range combos() {
		if cb.cfg.Serializer != Pickle {
			continue // Beaker's JSON serializer cannot store _expires
		}
		t.Run(cb.name, func(t *testing.T) {
			options := cb.with(map[string]any{"cookie_expires": int(expires / time.Second)})
			_, first, resp := py.session(pyReq{Options: options, Set: typedMap(t, map[string]any{"user": "alice"}), Save: true})
			if resp.Error != "" {
				t.Fatal(resp.Error)
			}
			// Beaker puts _expires into the cookie from its second save on.
			before := time.Now()
			seen, second, resp := py.session(pyReq{Options: options, Cookie: cookieName + "=" + first, Save: true})
			after := time.Now()
			if resp.Error != "" || seen["user"] != "alice" {
				t.Fatalf("%v %+v", seen, resp)
			}
			at := func(now time.Time) *Codec {
				cfg := cb.cfg
				cfg.Now = func() time.Time { return now }
				return mustNew(t, cfg)
			}
			s, err := at(after).Decode(second)
			if err != nil {
				t.Fatal(err)
			}
			within(t, "Expires", s.Expires, before.Add(expires).Add(-time.Second), after.Add(expires).Add(time.Second))
			if _, err := at(s.Expires).Decode(second); !errors.Is(err, ErrExpired) {
				t.Errorf("Go read the cookie at its expiry: %v", err)
			}
			// Go keeps the expiry when it writes the session back.
			expiry := s.Expires
			v, err := at(after).Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			seen, _, resp = py.session(pyReq{Options: options, Cookie: cookieName + "=" + v})
			if got, ok := seen[keyExpires].(time.Time); resp.Error != "" || !ok || !got.Equal(expiry) {
				t.Errorf("Python read _expires %v from Go, want %v (%+v)", seen[keyExpires], expiry, resp)
			}
		})
	}
}

// A pickle carrying a callable, as anyone knowing the validate key could
// write one, is refused by Go. The same cookie runs its command in
// Python, which shows the payload is live.
func TestInteropCallablePickleRefused(t *testing.T) {
	py := startBeaker(t)
	for _, cb := range combos() {
		if cb.cfg.Serializer != Pickle {
			continue
		}
		t.Run(cb.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			_, cookie, resp := py.session(pyReq{Options: cb.options, Save: true,
				Set: map[string]typed{"x": mustTyped(t, pyCallable("touch "+marker))}})
			if resp.Error != "" {
				t.Fatal(resp.Error)
			}
			_, err := mustNew(t, cb.cfg).Decode(cookie)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), `"posix.system"`) {
				t.Fatalf("Decode = %v, want ErrRefused naming posix.system", err)
			}
			if _, err := os.Stat(marker); !os.IsNotExist(err) {
				t.Fatalf("the command ran before Python read the cookie: %v", err)
			}
			py.session(pyReq{Options: cb.options, Cookie: cookieName + "=" + cookie})
			if _, err := os.Stat(marker); err != nil {
				t.Fatalf("Python did not run the pickled command, so this test proves nothing: %v", err)
			}
		})
	}
}

// Pickles of every protocol CPython writes decode in Go to what Python
// holds, and Go's pickles load in Python to what Go holds; what is not
// plain data is refused.
func TestInteropPickleProtocols(t *testing.T) {
	py := startBeaker(t)
	vals := pythonValues(Pickle)
	vals["long string"] = strings.Repeat("é\\\n\"'", 100)
	vals["long bytes"] = []byte(strings.Repeat("\x00\xff\n", 100))
	vals["ints"] = []any{int64(255), int64(256), int64(65535), int64(65536), int64(-1), int64(math.MaxInt32), int64(math.MaxInt32 + 1), int64(math.MinInt32), int64(math.MinInt32 - 1), int64(1 << 40)}
	vals["many"] = make([]any, 2500) // more than one batch of APPENDS
	for i := range vals["many"].([]any) {
		vals["many"].([]any)[i] = int64(i)
	}
	want := goForm(vals)
	for proto := 0; proto <= 5; proto++ {
		tv := mustTyped(t, vals)
		resp := py.call(pyReq{Op: "pickle", Value: &tv, Protocol: proto})
		data, err := base64.StdEncoding.DecodeString(resp.Pickle)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pickle.Decode(data)
		if err != nil {
			t.Fatalf("protocol %d: %v", proto, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("protocol %d: Go read\n %#v\nPython wrote\n %#v", proto, got, want)
		}
	}

	data, err := pickle.Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	resp := py.call(pyReq{Op: "unpickle", Pickle: base64.StdEncoding.EncodeToString(data)})
	if resp.Error != "" {
		t.Fatal(resp.Error)
	}
	got, err := fromTyped(*resp.Value)
	if err != nil {
		t.Fatal(err)
	}
	if want := namesDropped(want); !reflect.DeepEqual(got, want) {
		t.Errorf("Python read\n %#v\nGo wrote\n %#v", got, want)
	}

	refusedValues := map[string]typed{
		"int beyond int64": {T: "int", V: raw("123456789012345678901234567890")},
		"int key":          {T: "dict", V: raw([][2]typed{{mustTyped(t, int64(1)), mustTyped(t, "one")}})},
		"callable":         mustTyped(t, pyCallable("true")),
		"NaN":              {T: "float", V: raw("nan")},
	}
	for name, tv := range refusedValues {
		for proto := 0; proto <= 5; proto++ {
			resp := py.call(pyReq{Op: "pickle", Value: &tv, Protocol: proto})
			data, err := base64.StdEncoding.DecodeString(resp.Pickle)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := pickle.Decode(data); !errors.Is(err, pickle.ErrRefused) {
				t.Errorf("%s, protocol %d: Decode = %#v, %v; want ErrRefused", name, proto, v, err)
			}
		}
	}
}
