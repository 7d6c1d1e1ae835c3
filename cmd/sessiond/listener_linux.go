package main

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// takeQueueAndStop accepts every connection queued on a TCP listener and
// then shuts its socket down for reading, which stops it listening, in
// one callback on one thread: a connection can only be reset if its
// handshake completes in the microseconds between the last accept and the
// shutdown. The listener must still be closed afterwards.
func takeQueueAndStop(ln net.Listener) ([]net.Conn, error) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil, nil
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fds []int
	var stopErr error
	err = rc.Control(func(fd uintptr) {
		for {
			nfd, _, err := syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
			if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ECONNABORTED) {
				continue
			}
			if err != nil {
				break // EAGAIN: the queue is empty
			}
			fds = append(fds, nfd)
		}
		stopErr = syscall.Shutdown(int(fd), syscall.SHUT_RD)
	})
	var conns []net.Conn
	for _, fd := range fds {
		f := os.NewFile(uintptr(fd), "tcp")
		c, ferr := net.FileConn(f)
		f.Close() // FileConn has its own copy
		if ferr != nil {
			err = errors.Join(err, ferr)
			continue
		}
		conns = append(conns, c)
	}
	return conns, errors.Join(err, stopErr)
}
