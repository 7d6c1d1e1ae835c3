package storetest

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// echoServer accepts connections on loopback and echoes each line back,
// until the test ends.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// roundTrip dials addr, sends a line and returns what comes back within
// 300 ms, or the error.
func roundTrip(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// echoed dials addr and has one line echoed, and returns the connection,
// which stays open until the test ends, and its reader.
func echoed(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "x\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	return c, r
}

func TestProxy(t *testing.T) {
	p := StartProxy(t, echoServer(t))
	if host, _, _ := net.SplitHostPort(p.Addr()); host != "127.0.0.1" {
		t.Fatalf("Addr() = %s; want a 127.0.0.1 address", p.Addr())
	}
	if got, err := roundTrip(p.Addr()); err != nil || got != "ping\n" {
		t.Fatalf("up: %q, %v; want the echo", got, err)
	}

	p.Cut()
	if got, err := roundTrip(p.Addr()); err == nil {
		t.Errorf("cut: %q; want an error", got)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("cut: %v; want the connection closed at once, not a timeout", err)
	}

	p.Hang()
	if got, err := roundTrip(p.Addr()); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("hang: %q, %v; want a timeout", got, err)
	}

	p.Restore()
	if got, err := roundTrip(p.Addr()); err != nil || got != "ping\n" {
		t.Errorf("restored: %q, %v; want the echo", got, err)
	}

	// An open connection is closed by a cut.
	c, r := echoed(t, p.Addr())
	p.Cut()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Errorf("read on a connection the cut closed: %v; want EOF", err)
	}

	p.Close()
	p.Close() // twice is fine
	if _, err := roundTrip(p.Addr()); err == nil {
		t.Error("the proxy still answers after Close")
	}
}

// TestProxyConns checks that Conns counts the connections clients hold
// open through the proxy, and drops one as soon as its client closes it.
func TestProxyConns(t *testing.T) {
	p := StartProxy(t, echoServer(t))
	var conns []net.Conn
	for i := range 2 {
		c, _ := echoed(t, p.Addr())
		if got := p.Conns(); got != i+1 {
			t.Fatalf("Conns() = %d with %d connections open; want %d", got, i+1, i+1)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		c.Close()
		want := len(conns) - i - 1
		deadline := time.Now().Add(5 * time.Second)
		for p.Conns() != want {
			if time.Now().After(deadline) {
				t.Fatalf("Conns() = %d for 5 s after a client closed its connection; want %d", p.Conns(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
