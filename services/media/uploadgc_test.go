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

// TestUploadGCScalesWithLiveHeap: collections come every few MiB on a small
// heap, and every eighth of the live heap on a large one, so a server
// holding much (open feeds) does not mark it all every 4 MiB uploaded.
func TestUploadGCScalesWithLiveHeap(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, 4 << 20},
		{16 << 20, 4 << 20},
		{32 << 20, 4 << 20},
		{256 << 20, 32 << 20},
	} {
		if got := collectEvery(4<<20, c.live); got != c.want {
			t.Errorf("live heap %d MiB: every %d MiB, want %d", c.live>>20, got>>20, c.want>>20)
		}
	}
}
