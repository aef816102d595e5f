package fanout_test

import (
	"io"
	"net"
	"sync"
	"testing"
)

// proxyMode is what a proxy does with connections.
type proxyMode int

const (
	forward proxyMode = iota // pass bytes both ways to the target
	refuse                   // close every new connection at once
	hang                     // accept new connections and never answer, as a black-holed host
)

// proxy stands between a NATS client and its server on a loopback port, so that a test can cut
// the connection without touching the server, which other clients keep using.
type proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu    sync.Mutex
	mode  proxyMode
	conns map[net.Conn]struct{} // client and server sides alike
}

// newProxy listens on a random loopback port and forwards to target until the test ends.
func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: target, ln: ln, conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// URL returns the NATS URL clients connect to.
func (p *proxy) URL() string { return "nats://" + p.ln.Addr().String() }

// Cut drops every connection and refuses new ones.
func (p *proxy) Cut() { p.set(refuse) }

// Hang drops every connection and lets new ones in without ever answering.
func (p *proxy) Hang() { p.set(hang) }

// Restore forwards new connections again (those held by Hang are dropped).
func (p *proxy) Restore() { p.set(forward) }

func (p *proxy) set(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	p.dropLocked()
}

func (p *proxy) dropLocked() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) accept() {
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

// pipe copies src to dst; when either side ends it closes both, so the copy the other way
// ends too.
func pipe(dst, src net.Conn) {
	// It ends on EOF, a reset or a close by Cut: the connection is over either way.
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.dropLocked()
	p.mu.Unlock()
	p.wg.Wait()
}
