package storetest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on the loopback interface between a store and its
// server, for making honest network faults in tests: Cut drops every
// connection and refuses new ones, as a crashed server or a pulled cable
// would; Hang accepts connections and never answers, as a wedged server
// would; Restore forwards again. The server itself keeps running, so
// other tests that share it are not disturbed.
//
// Point the store's client at Addr instead of at the server. A Proxy is
// safe for concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	state  proxyState
	conns  map[net.Conn]bool // open connections: true from a client, false to the server
	wg     sync.WaitGroup
}

// proxyState is what a Proxy does with connections.
type proxyState int

const (
	proxyUp   proxyState = iota // forward to the target
	proxyDown                   // refuse: close each connection at once
	proxyHang                   // accept and keep open, never answer
)

// StartProxy listens on a free port of 127.0.0.1 (never any other
// interface) and forwards each connection to target, a host:port, until
// the test ends or Close is called. It fails the test if it cannot
// listen.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("storetest: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, state: proxyUp, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Addr returns the host:port that clients dial to reach the target
// through the proxy.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Conns returns how many connections from clients the proxy holds open:
// a test can tell by it whether a store closed its connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, client := range p.conns {
		if client {
			n++
		}
	}
	return n
}

// Cut closes every open connection and refuses new ones (each is closed
// as soon as it is accepted) until Restore.
func (p *Proxy) Cut() { p.set(proxyDown) }

// Hang closes every open connection and then accepts new ones but never
// answers or closes them, until Restore or Cut closes them.
func (p *Proxy) Hang() { p.set(proxyHang) }

// Restore closes every open connection (hung ones too) and forwards new
// connections to the target again.
func (p *Proxy) Restore() { p.set(proxyUp) }

// Close stops listening, closes every connection and waits for the
// proxy's goroutines to end. StartProxy arranges for it to run when the
// test ends; calling it earlier, or more than once, is fine.
func (p *Proxy) Close() {
	p.ln.Close()
	p.set(proxyDown)
	p.wg.Wait()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		state := p.state
		if state != proxyDown {
			p.conns[c] = true
		}
		p.mu.Unlock()
		switch state {
		case proxyDown:
			c.Close()
		case proxyUp:
			p.wg.Go(func() { p.forward(c) })
		} // proxyHang: keep c open and silent until a state change or Close
	}
}

func (p *Proxy) forward(c net.Conn) {
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

// track adds a server connection unless the proxy left proxyUp meanwhile.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != proxyUp {
		return false
	}
	p.conns[c] = false
	return true
}

func (p *Proxy) drop(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// set changes the state and closes every open connection, as a server
// crash or a cable cut would.
func (p *Proxy) set(state proxyState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = state
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}
