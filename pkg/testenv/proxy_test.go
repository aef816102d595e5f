package testenv_test

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// echo starts a plain TCP echo server. Each connection, when it ends,
// reports on received how many bytes arrived on it.
func echo(t *testing.T) (addr string, received <-chan int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int64, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				var n int64
				buf := make([]byte, 4<<10)
				for {
					k, err := c.Read(buf)
					n += int64(k)
					// The client may be gone already: what counts is what arrived.
					_, _ = c.Write(buf[:k])
					if err != nil {
						got <- n
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String(), got
}

// arrived is what the target reports for the next connection that ends.
func arrived(t *testing.T, received <-chan int64) int64 {
	t.Helper()
	select {
	case n := <-received:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no connection to the target ended within 10s")
		return 0
	}
}

// dial connects to addr; the connection gives up after 10s, so that a
// wrong proxy fails the test instead of hanging it.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return c
}

// roundTrip sends msg over a new connection to addr and reads it back.
func roundTrip(t *testing.T, addr, msg string) error {
	t.Helper()
	c := dial(t, addr)
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	b := make([]byte, len(msg))
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if string(b) != msg {
		t.Fatalf("echoed %q, want %q", b, msg)
	}
	return nil
}

// dropped says whether c was closed under its reader, rather than left
// open past its deadline.
func dropped(c net.Conn) bool {
	_, err := io.ReadAll(c)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

func TestProxyForwards(t *testing.T) {
	target, received := echo(t)
	p := testenv.NewProxy(t, target)
	if err := roundTrip(t, p.Addr(), "hello"); err != nil {
		t.Fatal(err)
	}
	if n := arrived(t, received); n != 5 {
		t.Errorf("the target received %d bytes, want 5", n)
	}
	if n := p.Connections(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestProxyCut(t *testing.T) {
	target, _ := echo(t)
	p := testenv.NewProxy(t, target)
	open := dial(t, p.Addr())
	if _, err := open.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(open, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}

	p.Cut()
	if !dropped(open) {
		t.Error("Cut left a connection open")
	}
	if err := roundTrip(t, p.Addr(), "cut"); err == nil {
		t.Error("a cut proxy forwarded")
	}
	p.Restore()
	if err := roundTrip(t, p.Addr(), "restored"); err != nil {
		t.Fatalf("after Restore: %v", err)
	}

	p.CutFor(time.Hour)
	if err := roundTrip(t, p.Addr(), "cut for an hour"); err == nil {
		t.Error("a proxy cut for an hour forwarded")
	}
	p.Restore()
	if err := roundTrip(t, p.Addr(), "restored early"); err != nil {
		t.Fatalf("after Restore: %v", err)
	}

	// A short cut ends by itself.
	p.CutFor(time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for roundTrip(t, p.Addr(), "up again") != nil {
		if time.Now().After(deadline) {
			t.Fatal("still cut 10s after CutFor(1ms)")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := p.Connections(); n != 4 {
		t.Errorf("%d connections carried, want 4 (refused ones not counted)", n)
	}
}

func TestProxyTripCuts(t *testing.T) {
	target, received := echo(t)
	p := testenv.NewProxy(t, target)
	p.TripAfter(10, false, time.Hour)
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("0123456789abcdefghij")); err != nil {
		t.Fatal(err)
	}
	if !dropped(c) {
		t.Error("the trip left the connection open")
	}
	if n := arrived(t, received); n != 10 {
		t.Errorf("the target received %d bytes, want the budget of 10", n)
	}
	if err := roundTrip(t, p.Addr(), "while down"); err == nil {
		t.Error("a tripped proxy forwarded while down")
	}
	p.Restore()
	// The trip happens once: later connections pass freely.
	big := string(make([]byte, 100))
	if err := roundTrip(t, p.Addr(), big); err != nil {
		t.Fatalf("after the trip: %v", err)
	}
	if n := arrived(t, received); n != 100 {
		t.Errorf("after the trip the target received %d bytes, want 100", n)
	}
}

func TestProxyTripStalls(t *testing.T) {
	target, received := echo(t)
	p := testenv.NewProxy(t, target)
	p.TripAfter(10, true, 0)
	a := dial(t, p.Addr())
	if _, err := a.Write([]byte("0123456789abcdefghij")); err != nil {
		t.Fatal(err)
	}
	// The budget reaches the target, which echoes it: bytes still come back.
	if b := make([]byte, 10); func() error { _, err := io.ReadFull(a, b); return err }() != nil || string(b) != "0123456789" {
		t.Fatalf("echoed %q before the stall, want the budget", b)
	}
	// A connection made after the trip is held too.
	b := dial(t, p.Addr())
	if _, err := b.Write([]byte("later")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []net.Conn{a, b} {
		if err := c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if dropped(c) {
			t.Fatal("a stalled connection was closed before Release")
		}
	}

	p.Release()
	for _, c := range []net.Conn{a, b} {
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if !dropped(c) {
			t.Fatal("Release left a stalled connection open")
		}
	}
	got := []int64{arrived(t, received), arrived(t, received)}
	slices.Sort(got)
	if !slices.Equal(got, []int64{0, 10}) {
		t.Errorf("the target received %v bytes on the two connections, want [0 10]: nothing past the budget", got)
	}
	if n := p.Connections(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Error("a released proxy accepted a connection")
	}
}
