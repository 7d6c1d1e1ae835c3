package beaker

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Decode failures. Every error Decode returns for a cookie matches exactly
// one of these with errors.Is. (Only a platform that forbids PBKDF2-SHA1,
// in a FIPS 140-only mode, makes Decode fail otherwise.)
var (
	// ErrMalformed: the value is not a Beaker cookie this Codec can read
	// (too short, not ASCII, bad base64, a payload that does not decrypt
	// to the serializer's format, a session without _id, _creation_time
	// or _accessed_time, or with one of Beaker's keys of the wrong type).
	ErrMalformed = errors.New("beaker: malformed cookie")
	// ErrTooLarge: the value is longer than any cookie Beaker writes
	// (MaxCookieLength). It is refused before any other work.
	ErrTooLarge = errors.New("beaker: cookie too large")
	// ErrBadSignature: the HMAC-SHA1 signature does not match the
	// validate key, or (CryptoCryptography) the AES-GCM tag does not
	// match the encrypt key: tampered, or written with other keys.
	ErrBadSignature = errors.New("beaker: bad signature")
	// ErrExpired: the session was last accessed longer ago than
	// Config.Timeout, or its cookie expiry (_expires) has passed.
	ErrExpired = errors.New("beaker: session expired")
	// ErrRefused: the session is authentic but holds data that is not
	// plain (see the package documentation): a pickled class, function
	// or object, a set, an int beyond int64, a non-finite float, a dict
	// key that is not a str. Nothing in it was run.
	ErrRefused = errors.New("beaker: session data refused")
)

// ErrInvalidValue is what Encode returns for a session it cannot write:
// a value of a type it does not store, a key reserved for Beaker's own
// data, or a value the configured serializer cannot carry (bytes or a
// time in JSON). A session too large for a cookie is ErrTooLarge.
var ErrInvalidValue = errors.New("beaker: invalid session value")

// CryptoType is Beaker's crypto_type setting: the encryption used when
// Config.EncryptKey is set. Both sides must agree on it.
type CryptoType string

const (
	// CryptoDefault is Beaker's "default", the zero value. Beaker picks
	// its first importable backend: with pycryptodome (Debian's
	// python3-pycryptodome, or pycryptopp) that is its pycrypto module,
	// so this is CryptoPycrypto. Only if python-nss is installed does
	// Beaker pick nss instead, which this package does not speak.
	CryptoDefault CryptoType = "default"
	// CryptoPycrypto is Beaker's "pycrypto": AES-256 in CTR mode with a
	// counter starting at zero, under a key derived for each cookie from
	// a random nonce. It has no authentication of its own; the cookie's
	// HMAC-SHA1 signature (the validate key) is all that protects it.
	CryptoPycrypto CryptoType = "pycrypto"
	// CryptoCryptography is Beaker's "cryptography" (pyca/cryptography):
	// AES-256-GCM with a random 96-bit IV, under the same derived key, so
	// the data is authenticated by the encrypt key as well.
	CryptoCryptography CryptoType = "cryptography"
)

// Serializer is Beaker's data_serializer setting. Both sides must agree
// on it.
type Serializer string

const (
	// Pickle is Beaker's default. Decode reads only plain data from a
	// pickle and runs nothing (see the package documentation); Encode
	// writes protocol 2, as Beaker does.
	Pickle Serializer = "pickle"
	// JSON is zlib-compressed JSON, as Beaker's JsonSerializer writes it.
	// It cannot carry bytes or datetimes.
	JSON Serializer = "json"
)

// Limits and defaults.
const (
	// MaxPayloadLength is the longest cookie payload (the value without
	// its 40-character signature) Beaker writes; Encode refuses longer
	// ones with ErrTooLarge, as Beaker does ("Cookie value is too long
	// to store").
	MaxPayloadLength = 4064
	// MaxCookieLength is the longest value Decode reads: the signature,
	// the longest payload, and a pair of double quotes.
	MaxCookieLength = sigLength + MaxPayloadLength + 2
	// DefaultNonceBits is Beaker's default encrypt_nonce_bits.
	DefaultNonceBits = 128
	// MinKeyLength is the shortest ValidateKey or EncryptKey New accepts
	// without AllowShortKeys.
	MinKeyLength = 16
)

// Config says how cookies are signed, encrypted and serialized. Each field
// names the Beaker setting (session.<name> in a Pylons or Pyramid .ini
// file) it must equal on the Python side.
type Config struct {
	// ValidateKey is validate_key: the HMAC-SHA1 key every cookie is
	// signed with. Required; at least MinKeyLength bytes unless
	// AllowShortKeys. With an EncryptKey it must be ASCII, since Beaker
	// salts the key derivation with it as ASCII.
	ValidateKey string
	// EncryptKey is encrypt_key. When set, the session data is encrypted
	// (see CryptoType); when empty, it is only signed, and anyone holding
	// the cookie can read it. ASCII, at least MinKeyLength bytes unless
	// AllowShortKeys.
	EncryptKey string
	// CryptoType is crypto_type; the zero value means CryptoDefault.
	CryptoType CryptoType
	// Serializer is data_serializer; the zero value means Pickle.
	Serializer Serializer
	// EncryptNonceBits is encrypt_nonce_bits: the size of the random
	// nonce each encrypted cookie's key is derived from. Zero means
	// DefaultNonceBits; 48 reads cookies of Beaker before 1.8. A multiple
	// of 8, from 48 to 1024.
	EncryptNonceBits int
	// AllowShortKeys lets New accept keys shorter than MinKeyLength (but
	// not empty ones) and log a warning each time. It exists only to
	// join a Beaker deployment whose keys cannot be changed yet: a short
	// validate key can be guessed offline from one cookie, and whoever
	// guesses it can write any session, including, for a Python
	// application using the pickle serializer, one that runs code there.
	AllowShortKeys bool
	// Logger receives New's warnings; nil means slog.Default().
	Logger *slog.Logger
	// Timeout is timeout: a session not accessed for longer than this is
	// expired. Beaker counts in whole seconds; zero means none (Beaker's
	// default). Beaker treats exactly Timeout as still valid; so does
	// Decode. With a sesame.Manager, set its IdleTimeout to the same.
	Timeout time.Duration
	// CookieExpires is cookie_expires given as a number of seconds or a
	// timedelta: a new session's cookie expires this long after it is
	// first written, and keeps that expiry (Beaker stores it in the
	// session as _expires). Zero means Beaker's default, cookie_expires
	// = true: a cookie that lasts until the browser closes.
	CookieExpires time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// UserKey is the session key that holds the logged-in user when a
	// sesame.Manager serves the sessions (Config.CookieCodec): Login
	// writes the user there as a str, and a str there is the session's
	// user (sesame.Session.User). The default, DefaultUserKey, is where
	// Pyramid's SessionAuthenticationPolicy keeps its userid. The plain
	// Decode and Encode treat it as any other key.
	UserKey string
	// FlashKey is the session key that holds the flash messages when a
	// sesame.Manager serves the sessions: a list of str there is what
	// sesame.Session.Flashes returns, and Flash appends to it. The
	// default, DefaultFlashKey, is the default queue of Pyramid's
	// session.flash and pop_flash.
	FlashKey string
}

// Defaults of Config.UserKey and Config.FlashKey.
const (
	DefaultUserKey  = "auth.userid"
	DefaultFlashKey = "_f_"
)

// sigLength is the length of the hex HMAC-SHA1 signature that starts
// every cookie value.
const sigLength = 40

// Codec reads and writes Beaker cookie sessions with one Config. It is
// safe for concurrent use.
type Codec struct {
	validateKey []byte
	encryptKey  string
	crypto      CryptoType // "" when not encrypting; else CryptoPycrypto or CryptoCryptography
	serializer  Serializer
	nonceLen    int // random bytes in a nonce
	nonceB64Len int // characters of its base64 at the head of the payload
	timeout     time.Duration
	expires     time.Duration
	now         func() time.Time
	userKey     string // where a Manager keeps the user
	flashKey    string // where a Manager keeps the flash messages
}

// New checks cfg and returns a Codec for it.
func New(cfg Config) (*Codec, error) {
	c := &Codec{
		validateKey: []byte(cfg.ValidateKey),
		encryptKey:  cfg.EncryptKey,
		serializer:  cfg.Serializer,
		timeout:     cfg.Timeout,
		expires:     cfg.CookieExpires,
		now:         cfg.Now,
		userKey:     cfg.UserKey,
		flashKey:    cfg.FlashKey,
	}
	if c.userKey == "" {
		c.userKey = DefaultUserKey
	}
	if c.flashKey == "" {
		c.flashKey = DefaultFlashKey
	}
	switch {
	case reserved(c.userKey), reserved(c.flashKey):
		return nil, fmt.Errorf("beaker: UserKey %q or FlashKey %q is one of Beaker's own keys", c.userKey, c.flashKey)
	case c.userKey == c.flashKey:
		return nil, fmt.Errorf("beaker: UserKey and FlashKey are both %q", c.userKey)
	}
	if c.now == nil {
		c.now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := checkKey("ValidateKey", cfg.ValidateKey, cfg.AllowShortKeys, logger); err != nil {
		return nil, err
	}
	switch c.serializer {
	case "":
		c.serializer = Pickle
	case Pickle, JSON:
	default:
		return nil, fmt.Errorf("beaker: unknown Serializer %q (Beaker knows \"pickle\" and \"json\")", cfg.Serializer)
	}
	if cfg.Timeout < 0 || cfg.CookieExpires < 0 {
		return nil, errors.New("beaker: Timeout and CookieExpires cannot be negative")
	}
	if cfg.EncryptKey != "" {
		if err := checkKey("EncryptKey", cfg.EncryptKey, cfg.AllowShortKeys, logger); err != nil {
			return nil, err
		}
		if !isASCII(cfg.EncryptKey) || !isASCII(cfg.ValidateKey) {
			return nil, errors.New("beaker: with an EncryptKey, both keys must be ASCII (Beaker derives the key from them as ASCII)")
		}
		switch cfg.CryptoType {
		case "", CryptoDefault, CryptoPycrypto:
			c.crypto = CryptoPycrypto
		case CryptoCryptography:
			c.crypto = CryptoCryptography
		case "nss":
			return nil, errors.New(`beaker: CryptoType "nss" (AES-CBC with a constant IV through python-nss) is not supported; use "cryptography"`)
		default:
			return nil, fmt.Errorf("beaker: unknown CryptoType %q", cfg.CryptoType)
		}
		bits := cfg.EncryptNonceBits
		if bits == 0 {
			bits = DefaultNonceBits
		}
		if bits%8 != 0 || bits < 48 || bits > 1024 {
			return nil, fmt.Errorf("beaker: EncryptNonceBits %d is not a multiple of 8 from 48 to 1024", bits)
		}
		c.nonceLen = bits / 8
		// Beaker's get_nonce_size; the length of the padded base64.
		c.nonceB64Len = ((4 * c.nonceLen / 3) + 3) &^ 3
	}
	return c, nil
}

func checkKey(name, key string, allowShort bool, logger *slog.Logger) error {
	switch {
	case key == "":
		return fmt.Errorf("beaker: %s is empty", name)
	case len(key) >= MinKeyLength:
		return nil
	case !allowShort:
		return fmt.Errorf("beaker: %s is %d bytes, shorter than %d (set AllowShortKeys only to join a deployment whose keys cannot change yet)",
			name, len(key), MinKeyLength)
	}
	logger.Warn("beaker: accepting a short key because AllowShortKeys is set; anyone holding one cookie can try to guess it offline",
		"key", name, "length", len(key), "minimum", MinKeyLength)
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Session is one Beaker session: the application's values and the keys
// Beaker keeps beside them in the same dict.
type Session struct {
	// Values are the application's keys: everything in the session dict
	// except Beaker's own (_id, _creation_time, _accessed_time,
	// _expires, _domain, _path). Decode fills it with plain Go values:
	// str → string, int → int64, float → float64, bool, None → nil,
	// bytes → []byte, list and tuple → []any, dict → map[string]any,
	// datetime → time.Time (naive ones in time.UTC). Encode takes the
	// same, and any Go integer type, float32 and json.Number.
	Values map[string]any
	// ID is _id, the session id Beaker generates (a UUID4 in hex);
	// Encode generates one when empty.
	ID string
	// Created is _creation_time; Encode sets it to now when zero.
	Created time.Time
	// Accessed is _accessed_time: when the session was last written.
	// Encode sets it to now, as Beaker does on every save.
	Accessed time.Time
	// Expires is the cookie expiry Beaker keeps in _expires once the
	// cookie has one (cookie_expires set to a duration): a time in UTC.
	// The zero time means the cookie lasts until the browser closes.
	// When zero, Encode sets it from Config.CookieExpires. The JSON
	// serializer cannot store it (Beaker's cannot either), so with JSON
	// it is never read from a cookie and is computed anew on each Encode.
	Expires time.Time
	// Domain and Path are _domain and _path, the cookie's domain and
	// path as the Python application set them; empty means its
	// configured cookie_domain and cookie_path.
	Domain, Path string
}

// Beaker's own keys in the session dict.
const (
	keyID       = "_id"
	keyCreated  = "_creation_time"
	keyAccessed = "_accessed_time"
	keyExpires  = "_expires"
	keyDomain   = "_domain"
	keyPath     = "_path"
)

func reserved(k string) bool {
	switch k {
	case keyID, keyCreated, keyAccessed, keyExpires, keyDomain, keyPath:
		return true
	}
	return false
}

// Decode reads a cookie value as Beaker writes it (and as a browser sends
// it back, with or without double quotes). It checks, in order: the
// length, the HMAC-SHA1 signature (in constant time), the decryption,
// the serialized data (a pickle is read by a machine that runs nothing),
// and then expiry: Config.Timeout against _accessed_time, as Beaker
// does, and _expires, which Beaker leaves to the browser.
func (c *Codec) Decode(value string) (*Session, error) {
	if len(value) > MaxCookieLength {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(value))
	}
	value = strings.Trim(value, `"`)
	if len(value) <= sigLength || !isASCII(value) {
		return nil, fmt.Errorf("%w: not a signed value", ErrMalformed)
	}
	payload := value[sigLength:]
	if !c.verify(value[:sigLength], payload) {
		return nil, ErrBadSignature
	}
	data, err := c.open(payload)
	if err != nil {
		return nil, err
	}
	dict, err := c.deserialize(data)
	if err != nil {
		return nil, err
	}
	s, err := sessionFrom(dict)
	if err != nil {
		return nil, err
	}
	now := c.now()
	if c.timeout > 0 && now.Sub(s.Accessed) > c.timeout {
		return nil, fmt.Errorf("%w: last accessed %v ago, timeout %v", ErrExpired, now.Sub(s.Accessed).Round(time.Millisecond), c.timeout)
	}
	if !s.Expires.IsZero() && !now.Before(s.Expires) {
		return nil, fmt.Errorf("%w: the cookie expired at %v", ErrExpired, s.Expires)
	}
	return s, nil
}

// Encode writes s as a cookie value Beaker reads, after stamping it as
// Beaker's save does: a new ID and Created when they are empty, Accessed
// set to now, and Expires from Config.CookieExpires when zero. Times are
// kept to the microsecond, as in the cookie. The value is ASCII and needs
// no quoting in a Set-Cookie header.
func (c *Codec) Encode(s *Session) (string, error) {
	v, _, err := c.encodeAt(s, c.now())
	return v, err
}

// encodeAt is Encode at the time now. It also returns the most bytes
// Beaker's serializer can write for the same session (see serialize).
func (c *Codec) encodeAt(s *Session, now time.Time) (value string, beakerMax int, err error) {
	for k := range s.Values {
		if reserved(k) {
			return "", 0, fmt.Errorf("%w: %q is Beaker's own key", ErrInvalidValue, k)
		}
	}
	now = now.Truncate(time.Microsecond) // what the cookie keeps
	if s.ID == "" {
		id, err := newID()
		if err != nil {
			return "", 0, err
		}
		s.ID = id
	}
	if s.Created.IsZero() {
		s.Created = now
	}
	s.Created = s.Created.Truncate(time.Microsecond)
	s.Accessed = now
	if s.Expires.IsZero() && c.expires > 0 {
		s.Expires = now.Add(c.expires)
	}
	if !s.Expires.IsZero() {
		s.Expires = s.Expires.UTC().Truncate(time.Microsecond)
	}
	data, dataMax, err := c.serialize(s)
	if err != nil {
		return "", 0, err
	}
	payload, err := c.seal(data)
	if err != nil {
		return "", 0, err
	}
	if len(payload) > MaxPayloadLength {
		return "", 0, fmt.Errorf("%w: the cookie would be %d bytes, more than the %d Beaker stores", ErrTooLarge, len(payload), MaxPayloadLength)
	}
	return c.sign(payload) + payload, dataMax, nil
}
