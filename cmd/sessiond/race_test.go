//go:build race

package main

// raceEnabled is true under the race detector, whose sync.Pool drops a
// share of what is put back on purpose, so pooled buffers allocate.
const raceEnabled = true
