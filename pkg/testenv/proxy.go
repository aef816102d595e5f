package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy stands between clients and a server on a loopback port, so that a
// test can break the network under a client without touching the server,
// which other tests may keep using. It forwards until told otherwise:
//
//   - Cut drops every connection and refuses new ones until Restore;
//     CutFor refuses them for a while only.
//   - Hang drops every connection and lets new ones in without ever
//     answering, as a black-holed host.
//   - TripAfter does a cut by itself once enough bytes went from clients to
//     the target, or, with stall, holds every connection open and silent
//     until Release instead, as a network that stopped carrying bytes.
//
// Release, which runs when the test ends, closes it all.
type Proxy struct {
	target string
	ln     net.Listener
	held   chan struct{} // closed by Release: stalled connections end
	once   sync.Once
	wg     sync.WaitGroup

	mu       sync.Mutex
	mode     proxyMode
	upAgain  time.Time             // while forwarding, new connections are refused until then
	budget   int64                 // bytes to the target before the trip; < 0 never trips
	stall    bool                  // the trip holds connections instead of dropping them
	down     time.Duration         // after a trip, how long new connections are refused
	tripped  bool                  // the armed trip happened
	conns    map[net.Conn]struct{} // client and server sides alike
	accepted int                   // connections carried through to the target
	gate     chan struct{}         // while paused, bytes to the target wait for it to close; nil: open
}

// proxyMode is what a Proxy does with new connections.
type proxyMode int

const (
	forward proxyMode = iota // pass bytes both ways to the target
	refuse                   // close every new connection at once
	hang                     // accept new connections and never answer, as a black-holed host
)

// NewProxy listens on a random loopback port and forwards to target
// (host:port). It is released when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{target: target, ln: ln, held: make(chan struct{}), budget: -1, conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		p.Release()
		p.wg.Wait()
	})
	return p
}

// Addr is the host:port clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut drops every connection and refuses new ones until Restore.
func (p *Proxy) Cut() { p.set(refuse) }

// CutFor drops every connection and refuses new ones for down; later ones
// are forwarded again.
func (p *Proxy) CutFor(down time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.upAgain = time.Now().Add(down)
	p.dropLocked()
}

// Hang drops every connection and lets new ones in without ever answering.
func (p *Proxy) Hang() { p.set(hang) }

// Restore forwards new connections again, at once (those held by Hang are
// dropped).
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.upAgain = time.Time{}
	p.mode = forward
	p.dropLocked()
}

// Pause holds the bytes clients send to the target, keeping every
// connection open, as a link that stalls: they go on, in order, on Resume.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
}

// Resume lets held bytes through again.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
}

// TripAfter arms the proxy to trip once budget more bytes went from clients
// to the target, over all connections: the bytes up to the budget are
// forwarded, and then every connection is dropped and new ones refused for
// down; or, with stall, every connection is held open and silent (not one
// more byte reaches the target) until Release. A later TripAfter re-arms it.
func (p *Proxy) TripAfter(budget int64, stall bool, down time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget, p.stall, p.down, p.tripped = budget, stall, down, false
}

// Release ends the proxy: stalled connections are closed, as a network that
// gave up would close them, and no new ones are accepted.
func (p *Proxy) Release() {
	p.once.Do(func() {
		p.ln.Close()
		close(p.held)
		p.mu.Lock()
		p.dropLocked()
		p.mu.Unlock()
	})
}

// Connections is how many connections the proxy carried through to the
// target, refused ones not counted.
func (p *Proxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

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
			return // released
		}
		// Under the lock, so that a connection accepted as Cut runs is dropped with the others.
		p.mu.Lock()
		switch {
		case p.mode == refuse, p.mode == forward && time.Now().Before(p.upAgain):
			c.Close()
		case p.mode == hang:
			p.conns[c] = struct{}{}
		default:
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				c.Close()
				break
			}
			p.accepted++
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.wg.Go(func() { p.upstream(up, c) })
			p.wg.Go(func() { p.downstream(c, up) })
		}
		p.mu.Unlock()
	}
}

// downstream copies the target's bytes to the client; when either side
// ends it closes both, so the copy the other way ends too.
func (p *Proxy) downstream(c, up net.Conn) {
	defer p.end(c, up)
	// It ends on EOF, a reset or a drop: the connection is over either way.
	_, _ = io.Copy(c, up)
}

// upstream copies the client's bytes to the target within the budget, and
// trips the proxy when it runs out.
func (p *Proxy) upstream(up, c net.Conn) {
	defer p.end(c, up)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			allowed, trip, stall := p.spend(int64(n))
			if allowed < 0 { // tripped with stall before: not one more byte
				<-p.held
				return
			}
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			if gate != nil {
				select {
				case <-gate:
				case <-p.held:
					return
				}
			}
			if _, err := up.Write(buf[:allowed]); err != nil {
				return
			}
			if trip {
				if stall {
					<-p.held
					return
				}
				p.mu.Lock()
				p.dropLocked()
				p.mu.Unlock()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// spend takes n bytes read from a client against the budget. It says how
// many of them to forward (< 0: none, and stall), and whether this spending
// tripped the proxy, and if so whether the trip stalls.
func (p *Proxy) spend(n int64) (allowed int64, trip, stall bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tripped && p.stall {
		return -1, false, true
	}
	allowed = n
	if p.budget >= 0 && !p.tripped {
		allowed = min(allowed, p.budget)
		p.budget -= allowed
		if p.budget == 0 {
			p.tripped = true
			p.upAgain = time.Now().Add(p.down)
			return allowed, true, p.stall
		}
	}
	return allowed, false, false
}

// end closes both sides of a connection and forgets them.
func (p *Proxy) end(c, up net.Conn) {
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}
