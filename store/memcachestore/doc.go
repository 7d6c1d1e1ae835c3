// Package memcachestore is a [sesame.Store] kept in memcached, through
// github.com/bradfitz/gomemcache. It suits several app servers that share
// sessions and can afford to lose them: memcached keeps everything in
// memory, so a memcached restart (or an eviction under memory pressure)
// forgets every session it held, and their users must log in again. For
// sessions that must survive, use a persistent store.
//
// # No user index
//
// memcached cannot list or scan keys, so Store does not implement
// [sesame.UserIndex]: a Manager with this store cannot list a user's
// sessions, revoke all of them, or cap how many a user has.
//
// # Items
//
// A record is one item under Config.KeyPrefix + key. Its value is a 16-byte
// header, the version and the expiry (Unix nanoseconds), both big-endian
// uint64, followed by the session's value.
//
// # Conditional saves and round trips
//
//   - Version 0 (create): one add, which memcached refuses when the key
//     exists: ErrConflict. If the item that exists has expired by its
//     header (memcached's clock has 1-second resolution, see below), the
//     store reads it and replaces it with a cas: three round trips, only in
//     that second.
//   - Version N: memcached's cas needs the item's CAS id, which only a read
//     returns. Load remembers the CAS id of what it read, keyed by key and
//     version, in a small bounded cache (Config.CASCacheSize entries). A
//     Save of the version just loaded, the Manager's usual load-then-save,
//     takes that id and costs one round trip: a cas. Without it (the entry
//     was evicted from the cache, or the record was never loaded through
//     this Store) Save reads the item (gets), checks its version, and then
//     does the cas: two round trips. A cas that fails because the item
//     changed since the read means another writer won: ErrConflict.
//   - Load is one round trip (gets); Delete is one.
//
// # Versions
//
// A new version is a random 63-bit number (from math/rand/v2, seeded by the
// runtime from the operating system), never 0 and never the version it
// replaces. Versions are not counters, so a key that is deleted and created
// again does not give back a version that a request in flight still holds
// (no ABA), except with probability 2⁻⁶³.
//
// # Expiry
//
// A record is checked against the exact expiry in its header on every
// Load and Save, so it loads until SaveOptions.ExpiresAt and is gone
// from then on. memcached's own expiration only reclaims the item: its
// clock ticks once a second, so an item given whole seconds can vanish up
// to a second early. Items therefore get ExpiresAt plus two seconds,
// rounded up to whole seconds: relative seconds up to 30 days ahead, an
// absolute Unix time beyond.
//
// # Sizes
//
// memcached's default item size limit is 1 MiB, including the key and
// memcached's own overhead, so a value of a full 1 MiB needs the server to
// be started with a larger limit, e.g. `memcached -I 2m`. A Save that the
// server refuses as too large fails with [ErrTooLarge].
//
// # Contexts, timeouts and failures
//
// gomemcache has no context support and cannot interrupt a call; its
// Client.Timeout (500 ms by default) bounds each call, which therefore
// takes at most about twice that (a dial, then the exchange). Store checks
// the context before every round trip. When the context's deadline is
// sooner than that bound, the round trip runs on another goroutine and the
// call returns the context's error as soon as the deadline passes or the
// context is cancelled; the goroutine finishes on its own within the bound
// (nothing leaks), and a write abandoned this way may still be applied by
// the server, as with any network store. Otherwise the round trip runs on
// the caller's goroutine, which costs nothing extra (a goroutine per call
// costs about half a round trip on a busy two-core machine), and a
// cancellation without a near deadline is noticed when the round trip
// returns, within the bound. Set Client.Timeout to the longest a session
// call may wait, on a client of your own given as Config.Client (a Store
// made from Config.Servers keeps gomemcache's default).
//
// A server that is down fails calls at once (connection refused); one that
// hangs fails them within Client.Timeout or the context's deadline,
// whichever is sooner. Errors name the operation and Config.Server, never
// a value.
package memcachestore
