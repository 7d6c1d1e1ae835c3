// Package redisstore keeps sesame sessions in Redis: a standalone server or
// a Redis Cluster, through one constructor. It uses the rueidis client,
// which finds out by itself whether the addresses it is given belong to a
// cluster.
//
// Each record is one string under "<prefix>s:{<key>}" holding the version,
// the user and the value. A conditional Save is one server-side Lua script
// (one round trip), and the record expires natively at SaveOptions.ExpiresAt
// (SET ... PXAT). A Load is one GET. A renewal (sesame.Renewer: every
// login) is one round trip too. It needs Redis 6.2 or newer.
//
// The store implements sesame.UserIndex with one sorted set per user under
// "<prefix>u:{<hash of the user>}". On a standalone server the save script
// files the key in its user's set itself. In a cluster a user's set and a
// session's record usually live in different hash slots, so no single
// script may touch both: Save writes the record (with its user) in its
// script and adds the index entry with a second one pipelined in the same
// round trip. The index may therefore list keys that are gone or that now
// belong to someone else; UserSessions and DeleteUser check every listed
// record's user before they return or delete it, and remove such entries
// lazily. See the README for the exact consistency this gives.
package redisstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/sesame-go/sesame"
)

// DefaultPrefix is the key prefix a Store uses when Config.Prefix is empty.
const DefaultPrefix = "sesame:"

// DefaultReplicaTimeout is how long a write waits for Config.MinReplicas
// replicas when Config.ReplicaTimeout is zero.
const DefaultReplicaTimeout = time.Second

// Config says where the Redis server or cluster is and how to use it. The
// zero value, with Addrs set, is a good configuration.
type Config struct {
	// Addrs are host:port addresses of a standalone server, or of one or
	// more nodes of a Redis Cluster. Required unless Client.InitAddress is
	// set.
	Addrs []string

	// Prefix starts every key the store writes, so that several stores (or
	// applications) can share a server. It must not contain '{' or '}',
	// which Redis Cluster reads as hash tags. Empty means DefaultPrefix.
	Prefix string

	// ClientSideCache, when positive, serves loads from rueidis'
	// server-assisted client-side cache (RESP3 client tracking), keeping a
	// record in this process's memory for at most this long. Redis tells
	// the client when a cached record changes, so a load normally sees a
	// change within a network delay; when that notice is lost (a broken
	// connection, a failover) a load may return a stale record, and a
	// revoked session may be served from this process's cache, for at most
	// ClientSideCache. Keep it short (a few seconds). Zero, the default,
	// disables the cache.
	ClientSideCache time.Duration

	// MinReplicas, when positive, makes every write the store acknowledges
	// durable through the failover of one master: Save, Renew, Delete
	// and DeleteUser send Redis's WAIT after their writes, on the same
	// connection to each master they wrote to (the record's and, for a
	// Save with a user, the user index's; for a Renew, both records' and
	// the index's; every record a DeleteUser deletes), and return nil only once at least MinReplicas replicas of
	// each of those masters hold the writes. If WAIT does not reach the
	// count within ReplicaTimeout, the call returns an error saying so
	// (which wraps ErrNotReplicated): the write stays on the master, but is
	// not acknowledged, and a failover may undo it. With MinReplicas zero,
	// the default, a write is acknowledged as soon as its master has it,
	// and a master that fails before its replica caught up takes the
	// write with it: a login, a logout or a revocation can be undone.
	// Redis Cluster with one replica per master wants 1. See the README.
	MinReplicas int

	// ReplicaTimeout bounds each WAIT of MinReplicas (and never exceeds
	// the call's context deadline). Zero means DefaultReplicaTimeout.
	ReplicaTimeout time.Duration

	// DB is the number of the database to use on a standalone server
	// (SELECT). Zero is the server's default database, and the only one a
	// Redis Cluster has.
	DB int

	// Username and Password, when set, authenticate the connections
	// (AUTH); a Password without a Username is the default user's.
	Username string
	Password string

	// TLS, when set, makes every connection use TLS with this
	// configuration.
	TLS *tls.Config

	// Client holds further rueidis options: timeouts, pool sizes, a
	// dialer. The fields above take precedence: Addrs, DB, Username,
	// Password and TLS, when set, replace its InitAddress, SelectDB,
	// Username, Password and TLSConfig, and its DisableCache is set when
	// ClientSideCache is zero; its DisableRetry is always set: the store
	// retries reads itself.
	Client rueidis.ClientOption
}

// Store is a sesame.Store and sesame.UserIndex backed by Redis or Redis
// Cluster. It is safe for concurrent use. Close it when done.
type Store struct {
	client rueidis.Client
	prefix string
	server string        // names the server(s) in errors
	cache  time.Duration // 0: no client-side cache
	// cluster is set for a Redis Cluster, where one script may touch only
	// keys of one slot; a standalone server's scripts touch any keys.
	cluster bool
	wrote   writtenSet // keys this process wrote within a cache lifetime

	minReplicas    int           // 0: acknowledge writes without WAIT
	replicaTimeout time.Duration // bound of each WAIT
}

var (
	_ sesame.Store     = (*Store)(nil)
	_ sesame.UserIndex = (*Store)(nil)
	_ sesame.Renewer   = (*Store)(nil)
)

// New connects to the Redis server or cluster that cfg names and returns a
// Store that uses it. It fails if no server answers, or if cfg is invalid.
func New(cfg Config) (*Store, error) {
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q contains '{' or '}', which Redis Cluster reads as a hash tag", prefix)
	}
	if cfg.ClientSideCache < 0 {
		return nil, fmt.Errorf("redisstore: negative ClientSideCache %v", cfg.ClientSideCache)
	}
	if cfg.DB < 0 {
		return nil, fmt.Errorf("redisstore: negative DB %d", cfg.DB)
	}
	if cfg.MinReplicas < 0 || cfg.ReplicaTimeout < 0 {
		return nil, fmt.Errorf("redisstore: negative MinReplicas %d or ReplicaTimeout %v", cfg.MinReplicas, cfg.ReplicaTimeout)
	}
	if cfg.ReplicaTimeout > 0 && cfg.ReplicaTimeout < time.Millisecond {
		return nil, fmt.Errorf("redisstore: ReplicaTimeout %v is under WAIT's resolution of a millisecond", cfg.ReplicaTimeout)
	}
	opt := cfg.Client
	if len(cfg.Addrs) > 0 {
		opt.InitAddress = append([]string(nil), cfg.Addrs...)
	}
	if cfg.DB != 0 {
		opt.SelectDB = cfg.DB
	}
	if cfg.Username != "" {
		opt.Username = cfg.Username
	}
	if cfg.Password != "" {
		opt.Password = cfg.Password
	}
	if cfg.TLS != nil {
		opt.TLSConfig = cfg.TLS
	}
	if len(opt.InitAddress) == 0 {
		return nil, errors.New("redisstore: no server address: set Config.Addrs")
	}
	if cfg.ClientSideCache == 0 {
		opt.DisableCache = true
	}
	// Reads retry by themselves (see retry); writes are never retried.
	opt.DisableRetry = true
	server := strings.Join(opt.InitAddress, ",")
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redisstore: connect to redis %s: %w", server, err)
	}
	return &Store{
		client: client, prefix: prefix, server: server, cache: cfg.ClientSideCache,
		cluster:     client.Mode() == rueidis.ClientModeCluster,
		minReplicas: cfg.MinReplicas, replicaTimeout: cmp.Or(cfg.ReplicaTimeout, DefaultReplicaTimeout),
	}, nil
}

// Close closes the store's connections. Calls after Close fail.
func (s *Store) Close() error {
	s.client.Close()
	return nil
}

// recordKey is the Redis key of a session record. The session key is the
// hash tag, so anything else one day stored for the session shares its slot.
func (s *Store) recordKey(key string) string {
	return s.prefix + "s:{" + key + "}"
}

// userKey is the Redis key of a user's index. User names are opaque and may
// hold any byte, braces included, so the key holds a hash of the name; the
// records keep the name itself, which is what the index is checked against.
func (s *Store) userKey(user string) string {
	h := sha256.Sum256([]byte(user))
	return s.prefix + "u:{" + base64.RawURLEncoding.EncodeToString(h[:]) + "}"
}

// fail wraps err with the operation, a short form of the key and the
// server. When ctx has ended (its deadline passed, or it was cancelled)
// while the call was failing, the error wraps ctx's error too, so that
// errors.Is(err, context.DeadlineExceeded) holds, and the message keeps
// what the last attempt ran into. It never includes values or whole keys.
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	where := "redisstore: " + op
	if key != "" {
		where += " " + short(key)
	}
	where += " on redis " + s.server
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s: %w; the last attempt failed: %w%s", where, cerr, err, hint(err))
	}
	return fmt.Errorf("%s: %w%s", where, err, hint(err))
}

// hint explains the Redis errors whose text alone does not say what to do.
func hint(err error) string {
	if e := (*rueidis.RedisError)(nil); errors.As(err, &e) && e.IsClusterDown() {
		return " (the cluster refuses commands while a master is down and cluster-require-full-coverage is yes, and until a failover completes; see the redisstore README for the settings sessions want)"
	}
	return ""
}

// transient reports whether err is a failure that a moment may cure: the
// cluster is down or a slot is migrating (CLUSTERDOWN, TRYAGAIN), a node is
// loading its data, or the network failed (a node is down and its replica
// not promoted yet).
func transient(err error) bool {
	if err == nil || rueidis.IsRedisNil(err) || errors.Is(err, rueidis.ErrClosing) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if e, ok := rueidis.IsRedisErr(err); ok {
		return e.IsClusterDown() || e.IsTryAgain() || e.IsLoading()
	}
	return true
}

// retry runs a read-only call, and runs it again, every 10 to 200 ms, as
// long as it fails in a way that a moment may cure (see transient), until
// ctx ends. It returns the call's last error; when ctx ended during an
// attempt, an error that wraps both ctx's error and the failure before
// it. The store turns rueidis's own retries off (it gives up as soon as
// the time left is shorter than its next back-off, and then reports only
// the last failure, or only the context's error), so that an error says
// both that the deadline ran out and what the server kept answering.
// call must build its commands afresh each time: rueidis recycles them.
func retry(ctx context.Context, call func() error) error {
	var last error // the last transient failure
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		err := call()
		if last != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return fmt.Errorf("%w; the last attempt failed: %w", err, last)
		}
		if !transient(err) || ctx.Err() != nil {
			return err
		}
		last = err
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// checkKey rejects keys that sesame.ValidKey refuses, and done contexts,
// before anything is sent.
func checkKey(ctx context.Context, op, key string) error {
	if !sesame.ValidKey(key) {
		return fmt.Errorf("redisstore: %s: %w", op, sesame.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s %s: %w", op, short(key), err)
	}
	return nil
}

// short names a key in errors without giving it away whole.
func short(key string) string {
	if len(key) > 8 {
		return key[:8] + "…"
	}
	return key
}

// writtenSet remembers the keys this process wrote within the last cache
// lifetime, each with the version it wrote (0 for a delete, or for a save
// that conflicted or whose outcome is unknown). A cached copy of such a
// key may be older than the server's record: Redis sends a client the
// invalidation for its own write only after the write's reply, and a
// conflict says the copy is stale. So a load that the cache answers for
// such a key is served only if the copy holds the version this process
// wrote, which did not exist before it wrote it: the copy was fetched
// after the write, and any later change invalidates it as usual. Other
// loads of such keys go to the server. Entries are dropped once the cache
// lifetime has passed, so the set holds at most the keys written in one
// cache lifetime.
type writtenSet struct {
	mu    sync.Mutex
	m     map[string]written
	limit int // prune expired entries when the map grows past this
}

// written is what this process last wrote under a key, and until when
// that matters.
type written struct {
	until   time.Time
	version uint64
}

// add records that this process wrote version (0: a delete, or unknown)
// under key.
func (b *writtenSet) add(key string, version uint64, ttl time.Duration) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[string]written)
	}
	if len(b.m) >= b.limit {
		for k, w := range b.m {
			if now.After(w.until) {
				delete(b.m, k)
			}
		}
		b.limit = max(1024, 2*len(b.m))
	}
	b.m[key] = written{until: now.Add(ttl), version: version}
}

// trusts reports whether a cached copy of key's record with version v (0:
// no record, or one that does not parse) may be served.
func (b *writtenSet) trusts(key string, v uint64) bool {
	b.mu.Lock()
	w, ok := b.m[key]
	b.mu.Unlock()
	if !ok || time.Now().After(w.until) {
		return true
	}
	return w.version != 0 && v == w.version
}
