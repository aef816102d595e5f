package media

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestUploadGCCollects: bytes received past the threshold make one
// collection, fewer make none, and received never blocks, however many
// collections are due.
func TestUploadGCCollects(t *testing.T) {
	g := newUploadGC(1 << 20)
	for range 3 {
		g.received(512 << 10) // never blocks, before run as after
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { g.run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); g.cycles.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no collection after 1.5 MiB received with a threshold of 1 MiB")
		}
		time.Sleep(time.Millisecond)
	}
	n := g.cycles.Load()
	g.received(100) // far under the threshold
	time.Sleep(10 * time.Millisecond)
	if got := g.cycles.Load(); got != n {
		t.Errorf("%d collections after 100 bytes, want none", got-n)
	}
}
