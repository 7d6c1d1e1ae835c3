package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestListenerStopServesQueuedConnections has clients connect and send a
// request while nothing accepts, as happens under load when the server's
// accept loop is behind: the kernel holds their connections in its queue.
// Stopping the listener then refuses new connections, but hands every
// queued one to Accept, with its request, to be answered; closing the
// socket instead would reset them, and a proxy cannot resend a POST it
// had sent on one.
func TestListenerStopServesQueuedConnections(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only on Linux does sessiond take the queued connections before it stops listening")
	}
	ln := listenLoopback(t)
	addr := ln.Addr().String()
	sl := newStoppableListener(ln)
	const n = 5
	var clients []net.Conn
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "request %d\n", i)
		clients = append(clients, c)
	}
	if err := sl.stop(); err != nil {
		t.Fatal(err)
	}
	// http.Server.Shutdown closes it again, which must not fail.
	if err := sl.Close(); err != nil {
		t.Errorf("Close after stop: %v", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection after stop was accepted")
	}
	got := map[string]bool{}
	for range n {
		c, err := sl.Accept()
		if err != nil {
			t.Fatalf("Accept after stop, with %d queued connections not handed out yet: %v", n-len(got), err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("reading a queued connection's request: %v", err)
		}
		got[line] = true
		fmt.Fprintf(c, "answer to %s", line)
		c.Close()
	}
	if len(got) != n {
		t.Errorf("%d distinct requests handed out, want %d", len(got), n)
	}
	if _, err := sl.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after the queue was handed out: %v; want net.ErrClosed", err)
	}
	for i, c := range clients {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != fmt.Sprintf("answer to request %d\n", i) {
			t.Errorf("client %d got %q, %v; want its answer", i, line, err)
		}
	}
}
