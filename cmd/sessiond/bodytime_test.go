package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
)

// slowPost sends a POST over a raw TCP connection, its body total bytes
// long in chunks of chunk bytes, one chunk every every, and waits up to
// limit for the answer. It returns the status (0 if the server closed
// the connection without one), what came back, and how long that took.
func slowPost(t *testing.T, addr, path, cookie string, total, chunk int, every, limit time.Duration) (int, string, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nSec-Fetch-Site: same-origin\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(total) + "\r\n"
	if cookie != "" {
		head += "Cookie: " + cookie + "\r\n"
	}
	start := time.Now()
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		piece := []byte(strings.Repeat("a", chunk))
		for sent := 0; sent < total; sent += chunk {
			if _, err := conn.Write(piece[:min(chunk, total-sent)]); err != nil {
				return // the server gave up on us
			}
			select {
			case <-stop:
				return
			case <-time.After(every):
			}
		}
	}()
	conn.SetReadDeadline(start.Add(limit))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no answer after %v: the server is still waiting for the body", time.Since(start).Round(time.Millisecond))
		}
		return 0, err.Error(), time.Since(start) // closed without an answer
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, string(b), time.Since(start)
}

// TestSlowBodiesAreCutOff sends request bodies over real TCP, byte by
// byte or at a good pace, to the login page and through the proxy, with
// a short --body-timeout: a body that trickles is cut off long before it
// would have finished, an upload that keeps the pace reaches the upstream
// whole however long it takes, and --upstream-body-rate 0 lets any
// proxied upload take its time.
func TestSlowBodiesAreCutOff(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return // cut off on the way
		}
		fmt.Fprintf(w, "got %d bytes", len(b))
	}))
	defer up.Close()
	const bodyTimeout = 300 * time.Millisecond
	tests := []struct {
		name         string
		path         string
		rate         int // --upstream-body-rate
		total, chunk int
		every        time.Duration
		cut          bool // the body trickles: it must be cut off
		wantStatus   int
	}{
		// 200 bytes, one every 100 ms: 20 s if nothing stops it.
		{"login form one byte at a time", pages.PathLogin, 500, 200, 1, 100 * time.Millisecond, true, http.StatusBadRequest},
		{"proxied body one byte at a time", "/upload", 100, 200, 1, 100 * time.Millisecond, true, http.StatusRequestTimeout},
		// 64 KiB in 4 KiB chunks every 100 ms: 1.6 s, far over
		// --body-timeout, each chunk earning 4 s at 1000 bytes/s.
		{"proxied upload at a good pace", "/upload", 1000, 64 << 10, 4 << 10, 100 * time.Millisecond, false, 200},
		{"proxied upload without a rate limit", "/upload", 0, 20, 1, 50 * time.Millisecond, false, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, h := newTestServer(t, func(o *options) {
				o.Upstream = up.URL
				o.BodyTimeout = bodyTimeout
				o.UpstreamBodyRate = tt.rate
			})
			srv := httptest.NewServer(h)
			defer srv.Close()
			c := loginHTTP(t, srv.URL, "alice", "correct horse")
			drip := time.Duration(tt.total/tt.chunk) * tt.every
			// A cut-off answer comes within a fraction of the drip; a
			// whole upload within the drip and ample margin.
			limit := drip / 2
			if !tt.cut {
				limit = drip + 10*time.Second
			}
			status, body, took := slowPost(t, srv.Listener.Addr().String(), tt.path, c.Name+"="+c.Value, tt.total, tt.chunk, tt.every, limit)
			t.Logf("%d %.40q after %v", status, body, took.Round(time.Millisecond))
			if status != tt.wantStatus || (!tt.cut && body != fmt.Sprintf("got %d bytes", tt.total)) {
				t.Errorf("%d %q after %v, want %d", status, body, took, tt.wantStatus)
			}
		})
	}
}
