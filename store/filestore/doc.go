// Package filestore is a [sesame.Store] that keeps one file per session in
// a directory. It needs nothing but the standard library and a local file
// system, and is safe for concurrent use by goroutines and, on platforms
// with flock(2), by several processes sharing the directory.
//
// # Layout
//
// [New] creates (mode 0700) and owns this tree below [Config].Dir:
//
//	data/<name>               one record file (mode 0600) per key
//	tmp/<name>.<random>       a record being written; renamed into data/
//	expiry/<minute>/<name>    empty marker: the record expires in that minute
//	users/<sha256(user)>/<name>  empty marker: the record belongs to user
//	locks/00 … locks/63       lock files, one per lock stripe
//
// <name> is the key in lower-case base32hex, so two keys that differ only
// in case never share a file on a case-insensitive file system. Keys are
// checked with [sesame.ValidKey] before any path is built from them.
// <minute> is the expiry time in whole minutes since the Unix epoch, and a
// user directory is named by the hex SHA-256 of the user name, so neither
// user names nor values ever appear in a path.
//
// # Record format
//
// All integers are big-endian.
//
//	offset  size  field
//	0       1     format, 1
//	1       8     record version, never 0
//	9       8     expiry, Unix nanoseconds; 0 means none
//	17      4     user length U
//	21      8     value length V
//	29      U     user
//	29+U    V     value
//	29+U+V  4     CRC-32C (Castagnoli) of all the bytes before it
//
// A file whose length, format byte, version or checksum is wrong is
// reported as [ErrCorrupt]; it never makes the process panic.
//
// # Writes and locking
//
// A Save or Delete takes the lock stripe its key hashes to: first an
// in-process lock (flock does not exclude two holders of one open file),
// then flock(2) on that stripe's lock file, which is kept open. Loads take
// no lock: a record file is only ever replaced by rename(2), so a reader
// sees the old record or the new one, whole. Save writes the new record to
// tmp/, fsyncs it, renames it over data/<name> and fsyncs data/; see
// [Durability] for weaker, faster choices.
//
// On platforms without flock(2) (Windows, Plan 9, js/wasm, Solaris, AIX)
// the lock is in-process only: there, only one Store, in one process, may
// use a directory at a time.
//
// # Versions
//
// A new version is a random 63-bit number other than 0, the version the
// caller named and the version on disk. Versions are not counters, so a
// key that is deleted and saved again does not reuse an old version: a
// writer still holding a version from before the delete gets
// [sesame.ErrConflict] instead of overwriting the new record (no ABA). The
// chance that a re-created record draws exactly the version such a writer
// holds is 2⁻⁶³.
//
// # Expiry
//
// Load treats a record whose expiry has passed as absent, and so does Save:
// an expired record is never revived. Files are reclaimed by [Store.Sweep],
// which a background goroutine runs every [DefaultSweepInterval] unless
// [Config].SweepInterval says otherwise. Every record with an expiry has a
// marker in the bucket of the minute it expires in; Sweep visits only the
// buckets of minutes that have passed (one minute late, so that it never
// races a Save into a bucket), so its work is proportional to the
// records that expired, not to the records that exist. For each marker it
// rereads the record under its lock and deletes it only if it really has
// expired. Sweep also removes temporary files older than an hour, which
// only a crash leaves behind.
//
// # Users
//
// Store implements [sesame.UserIndex]: a record saved with a user gets a
// marker in that user's directory, moved when the record changes user and
// removed when it is deleted. Markers whose record has gone are dropped
// lazily, when [Store.UserSessions] or [Store.DeleteUser] meets them.
package filestore
