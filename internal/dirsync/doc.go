// Package dirsync makes changes to a directory's entries durable: after a
// file is renamed into place, its new name survives a crash only once the
// directory itself has been fsynced. The stores under store/ share it.
package dirsync
