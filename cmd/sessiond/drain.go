package main

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// drainer lets sessiond stop without failing a request that a proxy has
// just sent on a kept-alive connection. Closing an idle keep-alive
// connection races with the proxy, which may be writing a request to it at
// that moment; the proxy then sees the connection closed or reset, and
// must fail the request unless it may safely send it again (nginx does
// not resend a POST). So on shutdown sessiond first stops accepting
// connections (a refused connection is safe to retry elsewhere), then
// keeps serving the connections already open, answering each request with
// "Connection: close", so that each is closed after a response rather
// than under a request, until none is left or --drain-timeout has passed.
// Only then does http.Server.Shutdown close the idle ones left, and wait
// for the requests in flight.
type drainer struct {
	draining atomic.Bool
	open     atomic.Int64 // connections accepted and not yet closed
}

// connState is the http.Server's ConnState hook: it counts open
// connections.
func (d *drainer) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		d.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		d.open.Add(-1)
	}
}

// handler answers every request with "Connection: close" once draining.
func (d *drainer) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// drain starts draining and returns once no connection is open, timeout
// has passed, or ctx has ended.
func (d *drainer) drain(ctx context.Context, timeout time.Duration) {
	d.draining.Store(true)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for d.open.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}
