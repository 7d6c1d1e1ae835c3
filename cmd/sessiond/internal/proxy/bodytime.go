package proxy

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// BodyDeadline bounds the time a client may take to send a request body:
// timeout (--body-timeout) from the moment its headers are in. Without it
// a client that sends a byte every few seconds holds a connection and a
// goroutine for as long as it likes. The deadline ends when the body has been read
// (a deadline left in place would cancel a long response's context), and
// a proxied upload may take longer as long as it keeps a pace (see
// timedBody.upload). Requests without a body are untouched: the server's
// ReadHeaderTimeout bounds their headers.
func BodyDeadline(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			b := &timedBody{ReadCloser: r.Body, rc: http.NewResponseController(w), start: time.Now(), timeout: timeout}
			if b.setDeadline() == nil { // else a connection without deadlines (tests' recorders)
				r.Body = b
			}
		}
		next.ServeHTTP(w, r)
	})
}

// timedBody is a request body read under a deadline.
type timedBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	start   time.Time
	timeout time.Duration
	// minRate, once upload has been called, is the pace in bytes per
	// second that earns an upload more time.
	minRate int
	// n counts the bytes read so far (the proxy reads the body on a
	// goroutine of its own).
	n atomic.Int64
}

// deadline is when the body's time is up, by what it has earned so far.
func (b *timedBody) deadline() time.Time {
	d := b.timeout
	if b.minRate > 0 {
		d += time.Duration(b.n.Load()) * time.Second / time.Duration(b.minRate)
	}
	return b.start.Add(d)
}

// setDeadline sets the read deadline the body has earned so far.
func (b *timedBody) setDeadline() error {
	return b.rc.SetReadDeadline(b.deadline())
}

// cutOff reports whether a proxied body ran out of time: the reason, if
// so, that the request to the upstream failed.
func (b *timedBody) cutOff() bool {
	return b.minRate > 0 && time.Now().After(b.deadline())
}

// upload lets a body that is proxied to the upstream go on for as long
// as it arrives at minRate bytes per second or faster: its deadline is
// --body-timeout plus one second per minRate bytes received. minRate 0
// lifts the deadline altogether.
func (b *timedBody) upload(minRate int) {
	b.minRate = minRate
	if minRate == 0 {
		_ = b.rc.SetReadDeadline(time.Time{})
		return
	}
	_ = b.setDeadline()
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	switch {
	case err == io.EOF:
		// The whole body is in: the connection goes back to waiting for
		// the next request under the server's own timeouts.
		_ = b.rc.SetReadDeadline(time.Time{})
	case n > 0 && b.minRate > 0:
		_ = b.setDeadline()
	}
	return n, err
}
