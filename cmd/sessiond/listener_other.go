//go:build !linux

package main

import "net"

// takeQueueAndStop closes the listener: only on Linux can sessiond take
// the connections queued on it first.
func takeQueueAndStop(ln net.Listener) ([]net.Conn, error) {
	return nil, ln.Close()
}
