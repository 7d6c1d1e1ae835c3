package ticket

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"math"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Verification failures. Every error Parse returns matches exactly one of
// these with errors.Is.
var (
	// ErrMalformed: the value is not a ticket (bad encoding, too short, no
	// separator, a bad timestamp field, NUL bytes, an empty user id).
	ErrMalformed = errors.New("ticket: malformed")
	// ErrTooLarge: the value is longer than Config.MaxLength. It is refused
	// before any decoding or hashing.
	ErrTooLarge = errors.New("ticket: too large")
	// ErrBadSignature: the digest matches neither the secret nor the old
	// secret for this client address (tampered, wrong secret, wrong IP, or
	// another digest type).
	ErrBadSignature = errors.New("ticket: bad signature")
	// ErrExpired: the ticket is older than Config.Timeout.
	ErrExpired = errors.New("ticket: expired")
	// ErrNotYetValid: the ticket's timestamp is further in the future than
	// Config.MaxSkew allows.
	ErrNotYetValid = errors.New("ticket: timestamp in the future")
	// ErrNotIPv4: IP binding is on and the client address is not IPv4.
	// mod_auth_tkt cannot bind a ticket to an IPv6 address: with
	// TKTAuthIgnoreIP off it refuses every ticket from an IPv6 client
	// ("Converting remote_ip to long failed"), and so do Issue and Parse.
	ErrNotIPv4 = errors.New("ticket: IP binding needs an IPv4 client address")
)

// Issue failures.
var (
	// ErrInvalidField: a uid, token or user data value that would change
	// the meaning of the ticket for a reader ("!" in uid or tokens, "," in
	// a token, NUL anywhere, control characters in uid or tokens, an empty
	// uid or token), that is not valid UTF-8 (plone.session decodes the
	// ticket as UTF-8 and cannot verify it; Apache would hand the raw
	// bytes on in REMOTE_USER), or a timestamp outside the format's 32
	// bits.
	ErrInvalidField = errors.New("ticket: invalid field")
)

// Digest is the hash a ticket's signature uses, as TKTAuthDigestType.
// Both sides must agree on it: a ticket of one type never verifies as
// another.
type Digest uint8

const (
	// SHA256 is the default (the zero value).
	SHA256 Digest = iota
	// SHA512 is TKTAuthDigestType SHA512.
	SHA512
	// LegacyMD5 is TKTAuthDigestType MD5, mod_auth_tkt's own default and
	// the only type older peers (plone.session before 3, Apache::AuthTkt
	// before 2.1) know. Use it only to talk to such a peer.
	LegacyMD5
)

// String returns the name TKTAuthDigestType uses: "SHA256", "SHA512" or
// "MD5".
func (d Digest) String() string {
	switch d {
	case SHA256:
		return "SHA256"
	case SHA512:
		return "SHA512"
	case LegacyMD5:
		return "MD5"
	}
	return "Digest(" + strconv.Itoa(int(d)) + ")"
}

// hexLen is the length of the digest in hex, which is also the length of
// the digest field of a ticket.
func (d Digest) hexLen() int {
	switch d {
	case SHA512:
		return 2 * sha512.Size
	case LegacyMD5:
		return 2 * md5.Size
	}
	return 2 * sha256.Size
}

func (d Digest) new() hash.Hash {
	switch d {
	case SHA512:
		return sha512.New()
	case LegacyMD5:
		return md5.New()
	}
	return sha256.New()
}

// Format is the layout and signature scheme of a ticket. Both sides must
// agree on it: a ticket of one format never verifies as another.
type Format uint8

const (
	// ModAuthTkt is Apache mod_auth_tkt's format (the zero value). The
	// digest field is hex(H(hex(H(ip ‖ ts ‖ secret ‖ uid ‖ NUL ‖ tokens ‖
	// NUL ‖ data)) ‖ secret)) with H chosen by Config.Digest.
	ModAuthTkt Format = iota
	// Plone is plone.session's format, as its tktauth module writes and
	// reads it. With Config.Digest SHA256 (the zero value) it is
	// plone.session's default: the digest field holds the 32 raw bytes of
	// HMAC-SHA256(secret, ip ‖ ts ‖ uid ‖ NUL ‖ tokens ‖ NUL ‖ data). With
	// Config.Digest LegacyMD5 it is plone.session's mod_auth_tkt mode (the
	// session plugin's mod_auth_tkt property), whose digest is
	// mod_auth_tkt's MD5 one; SHA512 does not exist in plone.session.
	//
	// plone.session's reading rules apply in both: the ticket must be
	// valid UTF-8 after the digest and split into exactly two or three
	// parts on "!" (so Issue refuses "!" in the user data), and a ticket
	// expires at the last second of Config.Timeout rather than after it.
	// The cookie is base64 as plone.session makes it; Parse also reads it
	// in the forms Zope sends: URL-quoted (Zope 4.8, 5.5 and later) or
	// URL-quoted within double quotes (older Zope).
	Plone
)

// String returns "mod_auth_tkt" or "plone.session".
func (f Format) String() string {
	switch f {
	case ModAuthTkt:
		return "mod_auth_tkt"
	case Plone:
		return "plone.session"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ploneDigestLen is the length of plone.session's digest field in both of
// its modes: 32 raw bytes of HMAC-SHA256, or 32 hex digits of MD5.
const ploneDigestLen = 32

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout      = 2 * time.Hour   // mod_auth_tkt's default TKTAuthTimeout
	DefaultRefreshRatio = 0.5             // mod_auth_tkt's default TKTAuthTimeoutRefresh
	DefaultMaxSkew      = 5 * time.Minute // tolerance for a peer's clock running ahead
	DefaultMaxLength    = 4096            // a browser keeps at most 4096 bytes per cookie
	// MinSecretLength is the shortest Config.Secret New accepts.
	MinSecretLength = 16
)

// Config says how tickets are signed and checked. It mirrors the
// mod_auth_tkt directives named on each field; the peers sharing a login
// must agree on Format, Secret, Digest and IgnoreIP.
type Config struct {
	// Format is the ticket format; the zero value is ModAuthTkt. Plone
	// speaks plone.session's.
	Format Format
	// Secret signs and verifies tickets (TKTAuthSecret). At least
	// MinSecretLength bytes unless AllowShortSecret is set; no NUL.
	Secret string
	// OldSecret, if set, is still accepted while secrets rotate
	// (TKTAuthSecretOld); a ticket signed with it verifies but asks for a
	// re-issue with Secret. The same length rule as Secret applies.
	OldSecret string
	// AllowShortSecret lets New accept a Secret or OldSecret shorter than
	// MinSecretLength (but not an empty one), and log a warning each time
	// it does. It exists only to join an Apache or Plone deployment whose
	// secret cannot be changed yet: a short secret can be guessed offline
	// from any one ticket, and whoever guesses it can sign in as anyone.
	// Replace the secret on every peer as soon as possible.
	AllowShortSecret bool
	// Logger receives New's warnings; nil means slog.Default().
	Logger *slog.Logger
	// Digest is the signature hash; the zero value is SHA256. With Format
	// Plone, SHA256 means plone.session's HMAC-SHA256 and LegacyMD5 its
	// mod_auth_tkt mode.
	Digest Digest
	// IgnoreIP signs tickets for 0.0.0.0 instead of the client's IPv4
	// address (TKTAuthIgnoreIP on). Leave it false only where every
	// client reaches every peer over IPv4 from one stable address.
	IgnoreIP bool
	// Timeout is how long a ticket is valid after its timestamp
	// (TKTAuthTimeout), in whole seconds. Zero means DefaultTimeout;
	// negative means no timeout (TKTAuthTimeout 0), which also disables
	// refreshing.
	Timeout time.Duration
	// RefreshRatio asks for a re-issue when less than RefreshRatio ×
	// Timeout remains (TKTAuthTimeoutRefresh). Zero means
	// DefaultRefreshRatio; negative means never (TKTAuthTimeoutRefresh 0);
	// 1 means on every request. Values above 1 are refused.
	RefreshRatio float64
	// MaxSkew is how far in the future a timestamp may lie (a peer's clock
	// running ahead). Zero means DefaultMaxSkew; negative means no
	// tolerance at all.
	// mod_auth_tkt has no such check.
	MaxSkew time.Duration
	// MaxLength bounds a cookie value in bytes, checked before decoding or
	// hashing; Issue refuses tickets that would exceed it. Zero means
	// DefaultMaxLength.
	MaxLength int
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// Codec issues and verifies tickets under one Config. It is safe for
// concurrent use.
type Codec struct {
	secret, oldSecret []byte
	format            Format
	digest            Digest
	ignoreIP          bool
	timeout           int64 // seconds; 0: none
	refresh           float64
	skew              int64 // seconds
	maxLen            int
	now               func() time.Time
}

// New checks c, applies its defaults and returns a Codec.
func New(c Config) (*Codec, error) {
	if c.Secret == "" {
		return nil, errors.New("ticket: no secret")
	}
	for _, s := range []struct{ name, v string }{{"secret", c.Secret}, {"old secret", c.OldSecret}} {
		if s.v == "" || len(s.v) >= MinSecretLength {
			continue
		}
		if !c.AllowShortSecret {
			return nil, fmt.Errorf("ticket: %s must be at least %d bytes (Config.AllowShortSecret accepts a shorter one to join an existing deployment)",
				s.name, MinSecretLength)
		}
		log := c.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("ticket: accepting a "+s.name+" shorter than the minimum because Config.AllowShortSecret is set; "+
			"anyone holding one ticket can guess it offline and sign in as anyone: replace it on every peer",
			slog.Int("length", len(s.v)), slog.Int("minimum", MinSecretLength))
	}
	if strings.IndexByte(c.Secret, 0) >= 0 || strings.IndexByte(c.OldSecret, 0) >= 0 {
		return nil, errors.New("ticket: secret contains NUL")
	}
	if c.Digest > LegacyMD5 {
		return nil, fmt.Errorf("ticket: unknown digest %v", c.Digest)
	}
	switch {
	case c.Format > Plone:
		return nil, fmt.Errorf("ticket: unknown format %v", c.Format)
	case c.Format == Plone && c.Digest == SHA512:
		return nil, errors.New("ticket: plone.session has no SHA512 tickets (SHA256 is its HMAC default, LegacyMD5 its mod_auth_tkt mode)")
	}
	k := &Codec{
		secret:   []byte(c.Secret),
		format:   c.Format,
		digest:   c.Digest,
		ignoreIP: c.IgnoreIP,
		refresh:  c.RefreshRatio,
		maxLen:   c.MaxLength,
		now:      c.Now,
	}
	if c.OldSecret != "" {
		k.oldSecret = []byte(c.OldSecret)
	}
	switch {
	case c.Timeout == 0:
		k.timeout = int64(DefaultTimeout / time.Second)
	case c.Timeout > 0:
		if c.Timeout < time.Second || c.Timeout/time.Second > math.MaxUint32 {
			return nil, errors.New("ticket: timeout must be between 1s and 2^32 s")
		}
		k.timeout = int64(c.Timeout / time.Second)
	}
	switch {
	case c.RefreshRatio == 0:
		k.refresh = DefaultRefreshRatio
	case c.RefreshRatio < 0:
		k.refresh = 0
	case c.RefreshRatio > 1 || math.IsNaN(c.RefreshRatio):
		return nil, errors.New("ticket: refresh ratio must be at most 1")
	}
	switch {
	case c.MaxSkew == 0:
		k.skew = int64(DefaultMaxSkew / time.Second)
	case c.MaxSkew > 0:
		k.skew = int64(c.MaxSkew / time.Second)
	}
	if k.maxLen <= 0 {
		k.maxLen = DefaultMaxLength
	}
	if k.now == nil {
		k.now = time.Now
	}
	return k, nil
}

// Ticket is what a ticket says about its bearer.
type Ticket struct {
	// UID is the user id (REMOTE_USER). Non-empty valid UTF-8; no "!",
	// NUL or control characters. Apache takes it literally, without URL
	// decoding.
	UID string
	// Tokens are the user's groups or roles (REMOTE_USER_TOKENS, joined
	// with ","). Each is non-empty valid UTF-8, without ",", "!", NUL or
	// control characters, and is compared exactly (TKTAuthToken).
	Tokens []string
	// UserData is free text (REMOTE_USER_DATA): valid UTF-8, anything but
	// NUL.
	UserData string
	// Issued is the ticket's timestamp, in whole seconds. Issue uses the
	// current time when it is zero; Parse sets it.
	Issued time.Time
}

// HasAnyToken reports whether t holds at least one of tokens, or whether
// tokens is empty: the any-of rule of TKTAuthToken.
func (t Ticket) HasAnyToken(tokens ...string) bool {
	if len(tokens) == 0 {
		return true
	}
	for _, have := range t.Tokens {
		for _, want := range tokens {
			if have == want {
				return true
			}
		}
	}
	return false
}

// Issue signs t for a client at address client and returns the cookie
// value: the ticket in base64, as mod_auth_tkt and plone.session write it.
// client is ignored when Config.IgnoreIP is set; otherwise it must be IPv4
// (or IPv4-mapped IPv6), else Issue returns ErrNotIPv4. Fields that would
// break the format give ErrInvalidField, a ticket longer than
// Config.MaxLength gives ErrTooLarge.
func (c *Codec) Issue(t Ticket, client netip.Addr) (string, error) {
	if err := checkFields(t); err != nil {
		return "", err
	}
	if c.format == Plone && strings.IndexByte(t.UserData, '!') >= 0 {
		return "", fmt.Errorf(`%w: user data contains "!", which plone.session cannot read`, ErrInvalidField)
	}
	ip, err := c.bindIP(client)
	if err != nil {
		return "", err
	}
	issued := t.Issued
	if issued.IsZero() {
		issued = c.now()
	}
	ts := issued.Unix()
	if ts < 0 || ts > math.MaxUint32 {
		return "", fmt.Errorf("%w: timestamp %v outside the 32-bit range", ErrInvalidField, issued)
	}
	tokens := strings.Join(t.Tokens, ",")
	n := c.digestLen() + 8 + len(t.UID) + 1 + len(tokens) + 1 + len(t.UserData)
	if base64.StdEncoding.EncodedLen(n) > c.maxLen {
		return "", fmt.Errorf("%w: ticket would be %d bytes, limit %d",
			ErrTooLarge, base64.StdEncoding.EncodedLen(n), c.maxLen)
	}
	raw := make([]byte, 0, n)
	raw = c.sign(raw, c.secret, ip, uint32(ts), t.UID, tokens, t.UserData)
	raw = fmt.Appendf(raw, "%08x", uint32(ts))
	raw = append(raw, t.UID...)
	raw = append(raw, '!')
	// mod_auth_tkt reads "uid!data" as no tokens, so the tokens field may
	// be left out when empty, as plone.session always does; Apache itself
	// always writes it on refresh ("uid!!data"). It must be written when
	// the data contains "!", or the reader would take the data's first
	// part for tokens.
	if tokens != "" || strings.IndexByte(t.UserData, '!') >= 0 {
		raw = append(raw, tokens...)
		raw = append(raw, '!')
	}
	raw = append(raw, t.UserData...)
	return base64.StdEncoding.EncodeToString(raw), nil
}

func checkFields(t Ticket) error {
	if t.UID == "" {
		return fmt.Errorf("%w: empty uid", ErrInvalidField)
	}
	if !utf8.ValidString(t.UID) {
		return fmt.Errorf("%w: uid is not valid UTF-8", ErrInvalidField)
	}
	if i := strings.IndexFunc(t.UID, badIDRune); i >= 0 {
		return fmt.Errorf("%w: uid contains %q", ErrInvalidField, t.UID[i])
	}
	for _, tok := range t.Tokens {
		if tok == "" {
			return fmt.Errorf("%w: empty token", ErrInvalidField)
		}
		if !utf8.ValidString(tok) {
			return fmt.Errorf("%w: token is not valid UTF-8", ErrInvalidField)
		}
		if i := strings.IndexFunc(tok, badTokenRune); i >= 0 {
			return fmt.Errorf("%w: token contains %q", ErrInvalidField, tok[i])
		}
	}
	if !utf8.ValidString(t.UserData) {
		return fmt.Errorf("%w: user data is not valid UTF-8", ErrInvalidField)
	}
	if strings.IndexByte(t.UserData, 0) >= 0 {
		return fmt.Errorf("%w: user data contains NUL", ErrInvalidField)
	}
	return nil
}

// badIDRune reports runes a uid cannot hold: the separator, and control
// characters (NUL ends a C string in Apache; the others end up in
// REMOTE_USER, logs and headers).
func badIDRune(r rune) bool { return r == '!' || r < 0x20 || r == 0x7f }

func badTokenRune(r rune) bool { return r == ',' || badIDRune(r) }

// bindIP returns the address the digest covers.
func (c *Codec) bindIP(client netip.Addr) ([4]byte, error) {
	if c.ignoreIP {
		return [4]byte{}, nil
	}
	client = client.Unmap()
	if !client.Is4() {
		return [4]byte{}, ErrNotIPv4
	}
	return client.As4(), nil
}

// digestLen is the length of the digest field of a ticket.
func (c *Codec) digestLen() int {
	if c.format == Plone {
		return ploneDigestLen
	}
	return c.digest.hexLen()
}

// sign appends the digest field of a ticket to dst: for mod_auth_tkt (and
// plone.session's mod_auth_tkt mode) the hex digest
// H(hex(H(ip ‖ ts ‖ secret ‖ uid ‖ NUL ‖ tokens ‖ NUL ‖ data)) ‖ secret),
// for plone.session's default the raw HMAC-SHA256 with key secret of
// ip ‖ ts ‖ uid ‖ NUL ‖ tokens ‖ NUL ‖ data.
func (c *Codec) sign(dst, secret []byte, ip [4]byte, ts uint32, uid, tokens, data string) []byte {
	var head [8]byte
	copy(head[:4], ip[:])
	head[4], head[5], head[6], head[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	if c.format == Plone && c.digest == SHA256 {
		m := hmac.New(sha256.New, secret)
		m.Write(head[:])
		m.Write([]byte(uid))
		m.Write([]byte{0})
		m.Write([]byte(tokens))
		m.Write([]byte{0})
		m.Write([]byte(data))
		return m.Sum(dst)
	}
	h := c.digest.new()
	h.Write(head[:])
	h.Write(secret)
	h.Write([]byte(uid))
	h.Write([]byte{0})
	h.Write([]byte(tokens))
	h.Write([]byte{0})
	h.Write([]byte(data))
	var sum [sha512.Size]byte
	inner := hex.AppendEncode(make([]byte, 0, 2*sha512.Size), h.Sum(sum[:0]))
	h.Reset()
	h.Write(inner)
	h.Write(secret)
	return hex.AppendEncode(dst, h.Sum(sum[:0]))
}

// Parse verifies a ticket for a client at address client and returns it.
// value may be the base64 form mod_auth_tkt, plone.session and this
// package write (itself possibly URL-escaped, as Zope sends it), the raw
// ticket, or the raw ticket URL-escaped; surrounding double quotes are
// ignored. Its length is checked before anything else.
//
// refresh reports that the caller should re-issue the ticket (with
// Issue, a new timestamp and the same fields): either less than
// RefreshRatio × Timeout remains, or it was signed with the old secret.
//
// Every failure matches one of ErrTooLarge, ErrMalformed, ErrNotIPv4,
// ErrBadSignature, ErrNotYetValid or ErrExpired.
func (c *Codec) Parse(value string, client netip.Addr) (t Ticket, refresh bool, err error) {
	if len(value) > c.maxLen {
		return Ticket{}, false, ErrTooLarge
	}
	raw, err := decode(value)
	if err != nil {
		return Ticket{}, false, err
	}
	dlen := c.digestLen()
	// The digest itself may hold any byte in plone.session's HMAC form.
	if len(raw) <= dlen+8 || strings.IndexByte(raw[dlen:], 0) >= 0 {
		return Ticket{}, false, ErrMalformed
	}
	mac, tsHex, body := raw[:dlen], raw[dlen:dlen+8], raw[dlen+8:]
	if c.format == Plone {
		// plone.session decodes the rest as UTF-8 (a ticket that is not
		// never verifies there) and wants exactly two or three parts.
		if n := strings.Count(body, "!"); n < 1 || n > 2 || !utf8.ValidString(body) {
			return Ticket{}, false, ErrMalformed
		}
	}
	uid, rest, ok := strings.Cut(body, "!")
	if !ok || uid == "" {
		return Ticket{}, false, ErrMalformed
	}
	tokens, data, ok := strings.Cut(rest, "!")
	if !ok {
		tokens, data = "", rest
	}
	ts64, err := strconv.ParseUint(tsHex, 16, 32)
	if err != nil {
		return Ticket{}, false, ErrMalformed
	}
	ts := uint32(ts64)
	ip, err := c.bindIP(client)
	if err != nil {
		return Ticket{}, false, err
	}

	var buf [2 * sha512.Size]byte // the largest digest field
	old := false
	if subtle.ConstantTimeCompare(c.sign(buf[:0], c.secret, ip, ts, uid, tokens, data), []byte(mac)) != 1 {
		if c.oldSecret == nil ||
			subtle.ConstantTimeCompare(c.sign(buf[:0], c.oldSecret, ip, ts, uid, tokens, data), []byte(mac)) != 1 {
			return Ticket{}, false, ErrBadSignature
		}
		old = true
	}

	now := c.now().Unix()
	if int64(ts) > now+c.skew {
		return Ticket{}, false, ErrNotYetValid
	}
	if c.timeout > 0 {
		// Apache accepts a ticket up to and including its last second,
		// plone.session only before it.
		remain := int64(ts) + c.timeout - now
		if remain < 0 || remain == 0 && c.format == Plone {
			return Ticket{}, false, ErrExpired
		}
		refresh = float64(remain) < c.refresh*float64(c.timeout)
	}
	t = Ticket{UID: uid, UserData: data, Issued: time.Unix(int64(ts), 0)}
	for tok := range strings.SplitSeq(tokens, ",") {
		if tok != "" { // Apache skips empty tokens too
			t.Tokens = append(t.Tokens, tok)
		}
	}
	return t, refresh || old, nil
}

// decode turns a cookie value into the raw ticket the way mod_auth_tkt
// does: a value holding "!" is raw; one holding "%21" is URL-escaped;
// anything else is base64 (padding optional, and itself possibly
// URL-escaped, as some Python writers send it).
func decode(v string) (string, error) {
	v = strings.TrimSuffix(v, `"`)
	v = strings.TrimPrefix(v, `"`)
	switch {
	case strings.IndexByte(v, '!') >= 0:
		return v, nil
	case strings.Contains(v, "%21"):
		s, err := url.PathUnescape(v)
		if err != nil {
			return "", ErrMalformed
		}
		return s, nil
	}
	if strings.IndexByte(v, '%') >= 0 {
		s, err := url.PathUnescape(v)
		if err != nil {
			return "", ErrMalformed
		}
		v = s
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(v, "="))
	if err != nil {
		return "", ErrMalformed
	}
	return string(b), nil
}
