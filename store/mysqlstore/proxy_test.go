package mysqlstore

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy is a loopback TCP proxy between a store and its server that a
// test can cut and restore: an honest network fault that does not stop
// the server other tests on this machine share.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	state  string // "up", "down" (refuse: close at once) or "hang" (accept, never answer)
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

// startProxy listens on a loopback port and forwards to target until the
// test ends.
func startProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &proxy{ln: ln, target: target, state: "up", conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		state := p.state
		if state != "down" {
			p.conns[c] = true
		}
		p.mu.Unlock()
		switch state {
		case "down":
			c.Close()
		case "up":
			p.wg.Go(func() { p.forward(c) })
		} // "hang": keep c open and silent until cut or close
	}
}

func (p *proxy) forward(c net.Conn) {
	s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		p.drop(c)
		return
	}
	if !p.track(s) {
		s.Close()
		p.drop(c)
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
	p.drop(c)
	p.drop(s)
	<-done
}

// track adds a server connection unless the proxy was cut meanwhile.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != "up" {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// set changes the state; leaving "up" closes every open connection, as a
// server crash or a cable cut would.
func (p *proxy) set(state string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = state
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.set("down")
	p.wg.Wait()
}
