package main

import (
	"errors"
	"net"
	"sync"
)

// stoppableListener is sessiond's listener. Closing a listening socket
// resets every connection the kernel has completed but the server not yet
// accepted, and a proxy may already have sent a request on one: under load
// a dozen sit in that queue, and nginx answers 502 to a POST it cannot
// resend. stop instead takes every queued connection and stops listening
// in one go (on Linux, with nothing in between; elsewhere it just closes),
// and Accept hands the taken connections to the server before it reports
// the listener closed.
type stoppableListener struct {
	net.Listener

	mu       sync.Mutex
	stopping bool
	stopped  chan struct{} // closed once handed is complete
	handed   []net.Conn    // taken from the queue by stop, for Accept
}

func newStoppableListener(ln net.Listener) *stoppableListener {
	return &stoppableListener{Listener: ln, stopped: make(chan struct{})}
}

// Accept returns the next connection: one stop took from the queue, or a
// new one.
func (l *stoppableListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if len(l.handed) > 0 {
			c := l.handed[0]
			l.handed = l.handed[1:]
			l.mu.Unlock()
			return c, nil
		}
		stopping := l.stopping
		l.mu.Unlock()
		if stopping {
			// Once stop has taken the queue, hand that out, then close.
			<-l.stopped
			l.mu.Lock()
			n := len(l.handed)
			l.mu.Unlock()
			if n == 0 {
				return nil, net.ErrClosed
			}
			continue
		}
		c, err := l.Listener.Accept()
		if err != nil {
			l.mu.Lock()
			stopping = l.stopping
			l.mu.Unlock()
			if stopping {
				continue
			}
			return nil, err
		}
		return c, nil
	}
}

// Close stops the listener as stop does. http.Server.Shutdown closes the
// listeners it serves, which sessiond has stopped already: closing again
// is not an error, or the shutdown would fail.
func (l *stoppableListener) Close() error { return l.stop() }

// stop stops listening: new connections are refused, and those the
// kernel had queued are served.
func (l *stoppableListener) stop() error {
	l.mu.Lock()
	if l.stopping {
		l.mu.Unlock()
		return nil
	}
	l.stopping = true
	l.mu.Unlock()
	conns, err := takeQueueAndStop(l.Listener)
	l.mu.Lock()
	l.handed = append(l.handed, conns...)
	l.mu.Unlock()
	close(l.stopped)
	if cerr := l.Listener.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}
