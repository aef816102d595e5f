package client_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy forwards TCP connections to a target, so a test can break the
// network under a client: cut drops every connection, and refuses new
// ones for a while; a trip does so by itself once budget bytes went from
// clients to the target, or, with stall, holds every connection open and
// silent instead, as a network that stopped carrying bytes would.
type proxy struct {
	lis    net.Listener
	target string
	held   chan struct{} // closed by release: stalled connections end

	mu       sync.Mutex
	budget   int64 // bytes to the target before the trip; < 0 never trips
	stall    bool
	down     time.Duration // after a trip, how long new connections are refused
	tripped  bool
	upAgain  time.Time
	conns    map[net.Conn]bool
	accepted int
	wg       sync.WaitGroup
	once     sync.Once
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{lis: lis, target: target, budget: -1, held: make(chan struct{}), conns: map[net.Conn]bool{}}
	p.wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
	t.Cleanup(func() {
		p.release()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.lis.Addr().String() }

// tripAfter arms the proxy to trip once, after budget more bytes.
func (p *proxy) tripAfter(budget int64, stall bool, down time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget, p.stall, p.down, p.tripped = budget, stall, down, false
}

// cut drops every connection and refuses new ones for down.
func (p *proxy) cut(down time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.upAgain = time.Now().Add(down)
	p.closeAll()
}

func (p *proxy) closeAll() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) forward(c net.Conn) {
	p.mu.Lock()
	refused := time.Now().Before(p.upAgain)
	p.mu.Unlock()
	if refused {
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.accepted++
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	var copies sync.WaitGroup
	copies.Go(func() {
		io.Copy(c, up)
		c.Close()
		up.Close()
	})
	copies.Go(func() {
		p.upstream(up, c)
		c.Close()
		up.Close()
	})
	copies.Wait()
}

// upstream copies client bytes to the target within the budget.
func (p *proxy) upstream(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			allowed := int64(n)
			if p.budget >= 0 && !p.tripped {
				allowed = min(allowed, p.budget)
				p.budget -= allowed
			}
			trip := p.budget == 0 && !p.tripped
			stalled := p.tripped && p.stall
			if trip {
				p.tripped = true
				p.upAgain = time.Now().Add(p.down)
			}
			p.mu.Unlock()
			if stalled {
				<-p.held
				return
			}
			if _, werr := dst.Write(buf[:allowed]); werr != nil {
				return
			}
			if trip {
				if p.stall {
					<-p.held
					return
				}
				p.mu.Lock()
				p.closeAll()
				p.mu.Unlock()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// release ends the proxy: stalled connections are closed, as a network
// that gave up would close them, and no new ones are accepted.
func (p *proxy) release() {
	p.once.Do(func() {
		p.lis.Close()
		close(p.held)
		p.mu.Lock()
		p.closeAll()
		p.mu.Unlock()
	})
}

func (p *proxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}
