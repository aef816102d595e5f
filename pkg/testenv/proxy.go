package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy stands between clients and a shared server on a loopback port, so
// that a test can cut their connections without touching the server, which
// other tests keep using. It forwards until the test ends.
type Proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu    sync.Mutex
	mode  proxyMode
	conns map[net.Conn]struct{} // client and server sides alike
}

// proxyMode is what a Proxy does with connections.
type proxyMode int

const (
	forward proxyMode = iota // pass bytes both ways to the target
	refuse                   // close every new connection at once
	hang                     // accept new connections and never answer, as a black-holed host
)

// NewProxy listens on a random loopback port and forwards to target (host:port).
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{target: target, ln: ln, conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Addr is the host:port clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut drops every connection and refuses new ones.
func (p *Proxy) Cut() { p.set(refuse) }

// Hang drops every connection and lets new ones in without ever answering.
func (p *Proxy) Hang() { p.set(hang) }

// Restore forwards new connections again (those held by Hang are dropped).
func (p *Proxy) Restore() { p.set(forward) }

func (p *Proxy) set(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	p.dropLocked()
}

func (p *Proxy) dropLocked() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		// Under the lock, so that a connection accepted as Cut runs is dropped with the others.
		p.mu.Lock()
		switch p.mode {
		case refuse:
			c.Close()
		case hang:
			p.conns[c] = struct{}{}
		case forward:
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				break
			}
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.wg.Go(func() { pipe(up, c) })
			p.wg.Go(func() { pipe(c, up) })
		}
		p.mu.Unlock()
	}
}

// pipe copies src to dst; when either side ends it closes both, so the copy
// the other way ends too.
func pipe(dst, src net.Conn) {
	// It ends on EOF, a reset or a close by Cut: the connection is over either way.
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.dropLocked()
	p.mu.Unlock()
	p.wg.Wait()
}
