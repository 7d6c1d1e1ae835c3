// Package boltstore is a [sesame.Store] and [sesame.UserIndex] kept in one
// bbolt file: the embedded, persistent default for a service that runs on
// one machine. Sessions survive a restart of the process, every write is
// durable (fsynced) before Save returns, and loads take about a
// microsecond and a half.
//
// # File layout
//
// [New] creates the file [Config].Path names with mode 0600. It holds three
// buckets:
//
//	records   key → record: format, version, expiry, user, value
//	expiry    big-endian expiry (Unix ns) ‖ key → empty
//	users     user ‖ 0x00 ‖ key → empty
//
// A record is, with big-endian integers: one format byte (1), the version
// (8 bytes), the expiry in Unix nanoseconds (8 bytes, 0 for none), the user
// name's length (4 bytes), the user name, and the value. A record that does
// not decode is reported as [ErrCorrupt], never a panic.
//
// # Versions
//
// A new version is the records bucket's NextSequence: a counter kept in the
// file, so versions only grow, across Delete and restarts, and a key that
// is deleted and created again never gets back a version that an old
// writer may still hold (no ABA).
//
// # Group commit
//
// Saves, Deletes and DeleteUser calls go to one committer goroutine, which
// applies every write already queued (up to [Config.MaxBatch]) in one bbolt
// transaction with one fsync, and answers each caller with its own result:
// each write checks its own version inside the transaction, so a conflict
// fails only its own caller. There is no timer: a lone writer is committed
// at once, and the writers that arrive during an fsync share the next one.
// bbolt's own DB.Batch instead waits up to 10 ms (its default
// MaxBatchDelay) for a batch to fill. With 8 concurrent writers the store
// commits about four saves per fsync. A write whose context ends while it
// is still queued is dropped and reports the context's error; once the
// committer has taken it, its caller waits for the real outcome, which is
// at most one commit away.
//
// The file is opened with bbolt's NoFreelistSync and the map free list, as
// etcd does: commits write fewer pages, and New rebuilds the free list by
// scanning the file, which costs time in proportion to the file's size.
//
// # Expiry
//
// Load and Save treat a record past its expiry as absent, swept or not. A
// background goroutine calls [Store.Sweep] every [Config.SweepInterval]; a
// sweep walks the expiry index from its start, where the soonest expiries
// are, and stops at the first entry still in the future, deleting in
// transactions of at most 1000 entries. Its work is proportional to what
// expired, not to what is stored.
//
// # Compaction
//
// bbolt reuses the pages that deleted and expired records free, but never
// gives them back: without help, the file keeps the size of its busiest
// hour. [Store.Compact] copies what is live into a new file beside the old
// one (named after it, with ".compact-" and a number), fsyncs it, renames
// it over the old file and fsyncs the directory. Loads go on during the
// copy, from the old file; writes wait until the new file is in place, so
// none is lost. If anything fails before the rename, the new file is
// removed and the Store goes on with the old one; a temporary file left by
// a crash is removed by the next [New]. The copy keeps versions (the
// counter is copied too), the indexes, and the old file's mode. [Store.Stats]
// reports the file's size, its free pages and the compactions so far.
//
// The background sweeper compacts by itself, after a sweep, when the file
// has at least [Config.CompactMinSize] bytes (default 16 MiB) of which at
// least [Config.CompactFreeShare] (default half) are free pages: after a
// burst of sessions has expired, say. The copy costs what is still live:
// with the default share, no more than what was freed. A negative
// CompactMinSize turns this off. After an automatic compaction fails, the
// sweeper waits 60 sweeps before it tries again.
//
// A second New on the file that waits for its lock while the Store
// holding it compacts does not end up with the old file: it notices that
// the name now holds another file, and opens that one.
//
// # Users
//
// A record saved with a user has an entry in the users bucket, so
// [Store.UserSessions] and [Store.DeleteUser] visit only that user's
// entries. User names are opaque bytes, up to [MaxUserLen]; a name may
// contain 0x00, and entries of a longer name that begins with name+0x00
// are told apart because a store key never contains 0x00.
//
// # Errors
//
// Errors name the file and the operation that failed, never a value, and
// wrap [sesame.ErrNotFound], [sesame.ErrConflict], [sesame.ErrInvalidKey],
// [ErrClosed], [ErrReadOnly], [ErrCorrupt], [ErrTooLarge], a context's
// error, or bbolt's.
//
// # Processes
//
// bbolt locks the file: one Store, in one process, may have it open for
// writing; a second New waits up to [Config.OpenTimeout] and fails. Any
// number of Stores opened with [Config.ReadOnly] may share it when no
// writer has it.
package boltstore
