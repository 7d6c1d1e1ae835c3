package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
)

// keptAlive is a raw HTTP/1.1 connection that stays open between
// requests, as a proxy's upstream keep-alive connection does.
type keptAlive struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
}

func dialKeptAlive(t *testing.T, addr string) *keptAlive {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keptAlive{addr: addr, c: c, r: bufio.NewReader(c)}
}

// get sends GET path and reads the whole response.
func (k *keptAlive) get(path string) (*http.Response, error) {
	k.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(k.c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, k.addr); err != nil {
		return nil, err
	}
	res, err := http.ReadResponse(k.r, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res, err
}

// waitRefused waits until addr refuses new connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("sessiond still accepts connections 10s after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShutdownAnswersKeptAliveConnections shuts sessiond down while a
// proxy holds idle keep-alive connections to it. New connections are
// refused at once, but a request sent on a connection already open is
// still answered, with Connection: close, and /readyz says 503; the
// connection is closed after the answer, and shutdown ends as soon as no
// connection is left. Closing the idle connections at once instead would
// fail a request the proxy sends at that moment, which nginx does not
// retry for a POST.
func TestShutdownAnswersKeptAliveConnections(t *testing.T) {
	base, _, stop := startServe(t, "--data-dir", t.TempDir(), "--store", "memory://", "--drain-timeout", "20s")
	addr := strings.TrimPrefix(base, "http://")
	a, b := dialKeptAlive(t, addr), dialKeptAlive(t, addr)
	for _, k := range []*keptAlive{a, b} {
		if res, err := k.get(pages.PathHealth); err != nil || res.StatusCode != 200 || res.Close {
			t.Fatalf("before shutdown: %v, %v; want 200 on a kept-alive connection", res, err)
		}
	}

	stopped := make(chan struct{})
	start := time.Now()
	go func() { stop(); close(stopped) }()
	waitRefused(t, addr)
	res, err := a.get(pages.PathHealth)
	if err != nil || res.StatusCode != 200 || !res.Close {
		t.Fatalf("a request on a kept-alive connection during shutdown: %v, %v; want 200 with Connection: close", res, err)
	}
	res, err = b.get(pages.PathReady)
	if err != nil || res.StatusCode != http.StatusServiceUnavailable || !res.Close {
		t.Fatalf("/readyz during shutdown: %v, %v; want 503 with Connection: close", res, err)
	}
	for _, k := range []*keptAlive{a, b} {
		if _, err := k.r.ReadByte(); err != io.EOF {
			t.Errorf("after the answer with Connection: close, the connection gives %v; want EOF", err)
		}
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatalf("shutdown not over 10s after its last connection closed (began %v ago, drain timeout 20s)", time.Since(start))
	}
}

// TestShutdownDrainTimeout holds an idle keep-alive connection open
// through shutdown: sessiond waits for it for --drain-timeout, then
// closes it and exits.
func TestShutdownDrainTimeout(t *testing.T) {
	const drain = 300 * time.Millisecond
	base, _, stop := startServe(t, "--data-dir", t.TempDir(), "--store", "memory://", "--drain-timeout", drain.String())
	k := dialKeptAlive(t, strings.TrimPrefix(base, "http://"))
	if res, err := k.get(pages.PathHealth); err != nil || res.StatusCode != 200 {
		t.Fatalf("before shutdown: %v, %v", res, err)
	}
	start := time.Now()
	stop()
	took := time.Since(start)
	if took < drain {
		t.Errorf("shutdown took %v with an idle connection open; want at least the drain timeout, %v", took, drain)
	}
	if took > drain+10*time.Second {
		t.Errorf("shutdown took %v; want about the drain timeout, %v", took, drain)
	}
	if _, err := k.r.ReadByte(); err == nil {
		t.Error("the idle connection is still open after shutdown")
	}
}
