// Package dirsync makes changes to a directory's entries durable: after a
// file is renamed into place, its new name survives a crash only once the
// directory itself has been fsynced.
//
// It is boltstore's copy of the core module's internal/dirsync, the twelve
// lines a module of its own may not import from another module's internal
// packages.
package dirsync
