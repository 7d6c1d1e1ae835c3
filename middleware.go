package sesame

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// errResponseFailed is what writes return after the session could not be
// saved and the error handler has answered instead.
var errResponseFailed = errors.New("sesame: response replaced by the session error handler")

// Handler returns next wrapped with session handling. Handlers under it get
// their session with FromContext. Nothing is read until a handler uses the
// session; changes are saved just before the response header is written
// (or at Commit), and if the handler writes nothing, when it returns.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &requestState{}
		st.s.m = m
		st.w.ResponseWriter, st.w.s = w, &st.s
		st.ctx.Context, st.ctx.s = r.Context(), &st.s
		r = r.WithContext(&st.ctx)
		st.s.req, st.s.out = r, w
		next.ServeHTTP(&st.w, r)
		st.w.finish()
	})
}

// requestState is everything the middleware needs for one request, in one
// allocation.
type requestState struct {
	s   Session
	w   responseWriter
	ctx sessionContext
}

// sessionContext carries the session without a separate context.WithValue
// allocation.
type sessionContext struct {
	context.Context
	s *Session
}

// Value returns the session for our key and defers to the parent otherwise.
func (c *sessionContext) Value(key any) any {
	if key == (ctxKey{}) {
		return c.s
	}
	return c.Context.Value(key)
}

// responseWriter commits the session just before the header goes out. It
// calls into the Session, never the other way round: the Session sets
// headers on the ResponseWriter it wraps. Whether the header has been
// sent is the Session's headerSent, written only by this writer's
// goroutine and with s.mu held (Session.Commit, which a handler may call
// from another goroutine, reads it there); this goroutine may read it
// without the lock.
type responseWriter struct {
	http.ResponseWriter
	s      *Session
	failed bool
}

// beforeHeader commits the session; on failure it lets the error handler
// answer instead of the handler.
func (w *responseWriter) beforeHeader() {
	s := w.s
	s.mu.Lock()
	err := s.commitBeforeHeader()
	s.mu.Unlock()
	if err != nil {
		w.failed = true
		s.m.onError(w.ResponseWriter, s.req, err)
	}
}

// WriteHeader commits the session, then sends the header. Informational
// (1xx) headers pass through without a commit.
func (w *responseWriter) WriteHeader(code int) {
	if w.failed {
		return
	}
	if !w.s.headerSent {
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			w.ResponseWriter.WriteHeader(code)
			return
		}
		w.beforeHeader()
		if w.failed {
			return
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write commits the session if the header has not been sent, then writes.
func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.s.headerSent {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return 0, errResponseFailed
	}
	return w.ResponseWriter.Write(b)
}

// WriteString writes s without converting it to a byte slice when the
// wrapped writer can do the same.
func (w *responseWriter) WriteString(s string) (int, error) {
	if !w.s.headerSent {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return 0, errResponseFailed
	}
	return io.WriteString(w.ResponseWriter, s)
}

// ReadFrom keeps the server's sendfile path for io.Copy into the response.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.s.headerSent {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return 0, errResponseFailed
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
}

// Flush commits the session, sends the header and flushes, like
// http.Flusher; FlushError is the same with the error (as
// http.ResponseController uses it).
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush reporting failure.
func (w *responseWriter) FlushError() error {
	if !w.s.headerSent {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return errResponseFailed
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack commits the session and hands over the connection, like
// http.Hijacker. Set-Cookie cannot be sent on a hijacked connection, so a
// change that needs one fails with ErrHeadersWritten.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.failed {
		return nil, nil, errResponseFailed
	}
	w.commitLate()
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("sesame: hijack: %w", err)
	}
	return conn, rw, nil
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish runs after the handler returns: it commits what was not yet
// committed, and reports changes that came too late for the header.
func (w *responseWriter) finish() {
	switch {
	case w.failed:
	case w.s.headerSent:
		w.commitLate()
	default:
		// The handler wrote nothing: the server sends the header after us.
		w.beforeHeader()
	}
}

// commitLate commits once no header can be added any more: changes that
// need no cookie are saved, the rest are reported with ErrHeadersWritten.
func (w *responseWriter) commitLate() {
	s := w.s
	s.mu.Lock()
	err := s.commitAfterHeader()
	s.mu.Unlock()
	if err != nil {
		if !errors.Is(err, ErrHeadersWritten) {
			err = fmt.Errorf("%w: %w", ErrHeadersWritten, err)
		}
		s.m.onError(discardWriter{}, s.req, err)
	}
}

// discardWriter is handed to the error handler once the response has begun.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header {
	if d.h == nil {
		return http.Header{}
	}
	return d.h
}
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
