// Package dirsync makes changes to a directory's entries durable: after a
// file is renamed into place, its new name survives a crash only once the
// directory itself has been fsynced. filestore uses it; boltstore, a
// module of its own, keeps its own copy in store/boltstore/internal,
// because no module imports another module's internal packages.
package dirsync
