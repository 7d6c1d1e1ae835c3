package memcachestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sesame-go/sesame"
)

// Defaults for the zero values in Config.
const (
	// DefaultKeyPrefix is put before every store key when
	// Config.KeyPrefix is empty.
	DefaultKeyPrefix = "sesame:"

	// DefaultCASCacheSize is how many CAS ids the store remembers when
	// Config.CASCacheSize is zero.
	DefaultCASCacheSize = 4096

	// MaxKeyPrefixLen is the longest Config.KeyPrefix: memcached keys are
	// at most 250 bytes, and store keys up to sesame.MaxKeyLen.
	MaxKeyPrefixLen = 250 - sesame.MaxKeyLen
)

// headerSize is the size of the version and expiry before each value.
const headerSize = 16

// relativeLimit is memcached's rule for expiration times: a number of
// seconds up to 30 days is relative to now, a larger one is a Unix time.
const relativeLimit = 30 * 24 * 60 * 60

// Errors of this package, wrapped with the server and the operation that
// failed. Test them with errors.Is.
var (
	// ErrClosed reports a call on a Store after Close.
	ErrClosed = errors.New("memcachestore: store is closed")

	// ErrCorrupt reports an item too short to hold the store's header: the
	// key prefix is shared with something else.
	ErrCorrupt = errors.New("memcachestore: item is not a session record")

	// ErrTooLarge reports an item the server refused as larger than its
	// item size limit (memcached -I).
	ErrTooLarge = errors.New("memcachestore: item larger than the server's item size limit (raise it with memcached -I)")
)

// Config holds the options of a Store. Set either Servers or Client; for
// every other field the zero value is the usual choice.
type Config struct {
	// Servers are the memcached servers, as host:port addresses (or Unix
	// socket paths). The Store makes a client of them with gomemcache's
	// defaults (memcache.New), and Close closes it.
	Servers []string

	// Client is a memcache client of your own, for settings beyond
	// gomemcache's defaults: Timeout, MaxIdleConns, DialContext (for TLS).
	// It stays yours: other code may share it, and Close does not close
	// it.
	Client *memcache.Client

	// KeyPrefix is put before every store key to make the memcached key,
	// so that several applications can share a server. Zero means
	// DefaultKeyPrefix. It may hold up to MaxKeyPrefixLen printable ASCII
	// characters other than space.
	KeyPrefix string

	// Server names the memcached server or servers in error messages, e.g.
	// "127.0.0.1:11211"; gomemcache does not say which it used. Empty
	// means the Servers, separated by commas, or "memcached" with a
	// Client.
	Server string

	// CASCacheSize is how many CAS ids, each from a Load, the store keeps
	// so that a Save of the version just loaded takes one round trip
	// instead of two. Zero means DefaultCASCacheSize; negative turns the
	// cache off.
	CASCacheSize int
}

// Store is a sesame.Store kept in memcached. It is safe for concurrent
// use. It does not implement sesame.UserIndex: memcached cannot list keys.
type Store struct {
	client *memcache.Client
	own    bool // the Store made client from Config.Servers, and closes it
	prefix string
	server string
	cas    *casCache // nil when turned off
	closed atomic.Bool
}

var _ sesame.Store = (*Store)(nil)

// New returns a Store that keeps records in the memcached servers that
// cfg names, through a client of its own or cfg.Client. New resolves the
// servers' names but does not contact them.
func New(cfg Config) (*Store, error) {
	if (cfg.Client == nil) == (len(cfg.Servers) == 0) {
		return nil, errors.New("memcachestore: set either Config.Servers or Config.Client")
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	if len(cfg.KeyPrefix) > MaxKeyPrefixLen {
		return nil, fmt.Errorf("memcachestore: key prefix of %d bytes is longer than %d", len(cfg.KeyPrefix), MaxKeyPrefixLen)
	}
	for i := 0; i < len(cfg.KeyPrefix); i++ {
		if c := cfg.KeyPrefix[i]; c <= ' ' || c >= 0x7f {
			return nil, fmt.Errorf("memcachestore: key prefix has byte %#x; memcached keys allow printable ASCII other than space", c)
		}
	}
	if cfg.CASCacheSize == 0 {
		cfg.CASCacheSize = DefaultCASCacheSize
	}
	s := &Store{client: cfg.Client, prefix: cfg.KeyPrefix, server: cfg.Server}
	if len(cfg.Servers) > 0 {
		if slices.Contains(cfg.Servers, "") {
			return nil, errors.New("memcachestore: an empty address in Config.Servers")
		}
		var servers memcache.ServerList
		if err := servers.SetServers(cfg.Servers...); err != nil {
			return nil, fmt.Errorf("memcachestore: Config.Servers: %w", err)
		}
		s.client, s.own = memcache.NewFromSelector(&servers), true
		if s.server == "" {
			s.server = strings.Join(cfg.Servers, ",")
		}
	}
	if s.server == "" {
		s.server = "memcached"
	}
	if cfg.CASCacheSize > 0 {
		s.cas = newCASCache(cfg.CASCacheSize)
	}
	return s, nil
}

// Load returns the value and version stored under key, in one round trip,
// and remembers the item's CAS id for a following Save of that version.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := s.check(ctx, "load", key); err != nil {
		return nil, 0, err
	}
	item, err := s.get(ctx, key)
	if err != nil {
		return nil, 0, s.wrap("load", err)
	}
	h, value, err := decode(item.Value)
	if err != nil {
		return nil, 0, s.wrap("load", err)
	}
	if h.expired(time.Now()) {
		return nil, 0, s.wrap("load", sesame.ErrNotFound)
	}
	s.cas.put(key, casEntry{version: h.version, expires: h.expires, id: item.CasID})
	return value, h.version, nil
}

// Save stores value under key if the stored version equals version (0: no
// live record) and returns the new, random version. See the package
// documentation for its round trips.
func (s *Store) Save(ctx context.Context, key string, value []byte, version uint64, opts sesame.SaveOptions) (uint64, error) {
	if err := s.check(ctx, "save", key); err != nil {
		return 0, err
	}
	now := time.Now()
	nv := newVersion(version)
	item := &memcache.Item{
		Key:        s.prefix + key,
		Value:      encode(nv, unixNano(opts.ExpiresAt), value), // copies value
		Expiration: expiration(opts.ExpiresAt, now),
	}
	var err error
	if version == 0 {
		s.cas.drop(key)
		err = s.create(ctx, key, item)
	} else {
		err = s.replace(ctx, key, item, version)
	}
	if err != nil {
		return 0, s.wrap("save", err)
	}
	return nv, nil
}

// create is Save with version 0: an add, which fails if the key exists,
// unless what exists has expired by its header and memcached's
// one-second clock has not yet caught up.
func (s *Store) create(ctx context.Context, key string, item *memcache.Item) error {
	err := s.do(ctx, func() error { return s.client.Add(item) })
	if !errors.Is(err, memcache.ErrNotStored) {
		return err
	}
	old, err := s.get(ctx, key)
	if errors.Is(err, sesame.ErrNotFound) {
		// Gone since the add: one more try, no loop.
		err := s.do(ctx, func() error { return s.client.Add(item) })
		if errors.Is(err, memcache.ErrNotStored) {
			return fmt.Errorf("%w: another writer created the key", sesame.ErrConflict)
		}
		return err
	}
	if err != nil {
		return err
	}
	if h, _, err := decode(old.Value); err == nil && !h.expired(time.Now()) {
		return fmt.Errorf("%w: a live record exists", sesame.ErrConflict)
	}
	item.CasID = old.CasID
	return s.compareAndSwap(ctx, item)
}

// replace is Save with a version: one cas with the CAS id Load remembered,
// or a gets, a version check and a cas.
// Either way the remembered id is used up: the item changes.
func (s *Store) replace(ctx context.Context, key string, item *memcache.Item, version uint64) error {
	if e, ok := s.cas.take(key, version); ok {
		if e.expired(time.Now()) {
			return fmt.Errorf("%w: the record of version %d has expired", sesame.ErrConflict, version)
		}
		item.CasID = e.id
		err := s.compareAndSwap(ctx, item)
		if !errors.Is(err, sesame.ErrConflict) {
			return err
		}
		// The item changed since that Load. Almost surely another writer
		// won, but make sure with a fresh read rather than trust the
		// remembered id.
	}
	old, err := s.get(ctx, key)
	if errors.Is(err, sesame.ErrNotFound) {
		return fmt.Errorf("%w: no live record, but the caller read version %d", sesame.ErrConflict, version)
	}
	if err != nil {
		return err
	}
	h, _, err := decode(old.Value)
	if err != nil {
		return err
	}
	if h.expired(time.Now()) {
		return fmt.Errorf("%w: the record of version %d has expired", sesame.ErrConflict, version)
	}
	if h.version != version {
		return fmt.Errorf("%w: stored version %d, the caller read %d", sesame.ErrConflict, h.version, version)
	}
	item.CasID = old.CasID
	return s.compareAndSwap(ctx, item)
}

// compareAndSwap does a cas, naming a lost race ErrConflict.
func (s *Store) compareAndSwap(ctx context.Context, item *memcache.Item) error {
	err := s.do(ctx, func() error { return s.client.CompareAndSwap(item) })
	if errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrNotStored) || errors.Is(err, memcache.ErrCacheMiss) {
		return fmt.Errorf("%w: the item changed since it was read", sesame.ErrConflict)
	}
	return err
}

// Delete removes the record under key, in one round trip.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, "delete", key); err != nil {
		return err
	}
	s.cas.drop(key)
	err := s.do(ctx, func() error { return s.client.Delete(s.prefix + key) })
	if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return s.wrap("delete", err)
	}
	return nil
}

// Close makes every later call fail with ErrClosed and forgets the
// remembered CAS ids. It closes the connections of the client the Store
// made from Config.Servers, but not a Config.Client's, which belong to the
// caller. It may be called more than once.
func (s *Store) Close() error {
	wasClosed := s.closed.Swap(true)
	s.cas.clear()
	if wasClosed || !s.own {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("memcachestore: close the connections to %s: %w", s.server, err)
	}
	return nil
}

// get reads the item under key, naming a miss ErrNotFound.
func (s *Store) get(ctx context.Context, key string) (*memcache.Item, error) {
	item, err := roundTrip(ctx, s.callBound(), func() (*memcache.Item, error) { return s.client.Get(s.prefix + key) })
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, sesame.ErrNotFound
	}
	return item, err
}

// do runs one round trip that returns only an error; see roundTrip.
func (s *Store) do(ctx context.Context, call func() error) error {
	_, err := roundTrip(ctx, s.callBound(), func() (struct{}, error) { return struct{}{}, call() })
	return err
}

// callBound is how long one gomemcache call can take at most: it sets its
// connection's deadline to the client's Timeout once, after a dial that
// may itself take that long.
func (s *Store) callBound() time.Duration {
	t := s.client.Timeout
	if t <= 0 {
		t = memcache.DefaultTimeout
	}
	return 2 * t
}

// roundTrip runs one round trip, which gomemcache bounds by bound but
// cannot interrupt. When ctx has a deadline sooner than that, roundTrip
// runs the call on another goroutine and returns the context's error as
// soon as ctx ends; the call then finishes within bound, on its own, and
// its result is dropped. Otherwise it runs the call on the caller's
// goroutine, which is cheaper, and a cancellation is noticed when the call
// returns, within bound.
func roundTrip[T any](ctx context.Context, bound time.Duration, call func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) >= bound {
		v, err := call()
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (and then: %v)", ctx.Err(), err)
		}
		return v, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// check validates what every call shares, before any round trip.
func (s *Store) check(ctx context.Context, op, key string) error {
	if !sesame.ValidKey(key) {
		return fmt.Errorf("memcachestore: %s on %s: %w", op, s.server, sesame.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcachestore: %s on %s: %w", op, s.server, err)
	}
	if s.closed.Load() {
		return fmt.Errorf("memcachestore: %s on %s: %w", op, s.server, ErrClosed)
	}
	return nil
}

// wrap says which server and operation an error comes from, and names a
// refused oversized item ErrTooLarge.
func (s *Store) wrap(op string, err error) error {
	if msg := err.Error(); strings.Contains(msg, "too large") || strings.Contains(msg, "out of memory storing object") {
		err = fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	return fmt.Errorf("memcachestore: %s on %s: %w", op, s.server, err)
}

// header is what precedes the value in an item.
type header struct {
	version uint64
	expires uint64 // Unix nanoseconds; 0 means never
}

func (h header) expired(now time.Time) bool {
	return h.expires != 0 && h.expires <= uint64(now.UnixNano())
}

// encode returns an item value: version, expiry, then value.
func encode(version, expires uint64, value []byte) []byte {
	b := make([]byte, headerSize+len(value))
	binary.BigEndian.PutUint64(b, version)
	binary.BigEndian.PutUint64(b[8:], expires)
	copy(b[headerSize:], value)
	return b
}

// decode splits an item value into header and value (aliasing b).
func decode(b []byte) (header, []byte, error) {
	if len(b) < headerSize {
		return header{}, nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	h := header{version: binary.BigEndian.Uint64(b), expires: binary.BigEndian.Uint64(b[8:])}
	if h.version == 0 {
		return header{}, nil, fmt.Errorf("%w: version 0", ErrCorrupt)
	}
	return h, b[headerSize:], nil
}

// unixNano returns t for the header: 0 for the zero time (never), and 1
// (long past) for a time at or before the epoch.
func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	if n := t.UnixNano(); n > 0 {
		return uint64(n)
	}
	return 1
}

// expirySlack is how much longer than ExpiresAt memcached keeps an item.
// memcached's clock ticks once a second, at its own phase, so an item
// given whole seconds from now can go up to a second early, and one more
// second covers a tick delayed on a busy server. Load hides the record at
// its exact ExpiresAt, kept in the item's header, so the slack costs only
// memory for those seconds.
const expirySlack = 2 * time.Second

// expiration returns memcached's expiration for t: 0 (never) for the zero
// time, -1 (already expired) for a time that has passed, and otherwise t
// plus expirySlack, in whole seconds rounded up: relative to now while
// they are at most 30 days, else as a Unix time.
func expiration(t, now time.Time) int32 {
	if t.IsZero() {
		return 0
	}
	d := t.Sub(now)
	if d <= 0 {
		return -1
	}
	t, d = t.Add(expirySlack), d+expirySlack
	secs := (d + time.Second - 1) / time.Second
	if secs <= relativeLimit {
		return int32(secs)
	}
	unix := t.Unix()
	if t.Nanosecond() > 0 {
		unix++
	}
	if unix > 1<<31-1 {
		return 1<<31 - 1
	}
	return int32(unix)
}

// newVersion returns a random version in [1, 2⁶³) other than old.
func newVersion(old uint64) uint64 {
	for {
		if v := rand.Uint64() >> 1; v != 0 && v != old {
			return v
		}
	}
}
