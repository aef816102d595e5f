package media

import (
	"context"
	"runtime"
	rtmetrics "runtime/metrics"
	"sync/atomic"
)

// uploadGCEvery is how many bytes received make a collection due, at the
// least: a collection marks the whole live heap, so with a large one (many
// open feeds in serve all, say) it comes only every liveHeapShare of it,
// which bounds the GC's work per byte uploaded whatever the heap holds.
const (
	uploadGCEvery  = 4 << 20
	liveHeapShare  = 8
	liveHeapMetric = "/gc/heap/live:bytes"
)

// uploadGC collects the garbage uploads leave, so that an upload's memory
// does not grow with its size. Every chunk received is garbage once
// written: the gRPC codec unmarshals each message's bytes into a slice of
// their own (protobuf's consumeBytes: as many bytes allocated as
// received, the only allocator of note in a heap profile of an upload),
// and the gateway's REST and tus paths add their own copies in the same
// process. Left to GOGC, the heap of a server whose live heap is small
// grows by tens of MiB between collections while bytes stream in; counted
// by bytes received, a collection every few MiB keeps the rise to those
// few MiB per upload, at the cost of a GC cycle over a small heap.
type uploadGC struct {
	min     int64        // the least bytes between collections
	every   atomic.Int64 // bytes between collections, given the live heap
	garbage atomic.Int64 // bytes received since the last collection
	kick    chan struct{}
	cycles  atomic.Int64 // collections run, for tests
}

func newUploadGC(every int64) *uploadGC {
	g := &uploadGC{min: every, kick: make(chan struct{}, 1)}
	g.every.Store(every)
	return g
}

// collectEvery is the bytes between collections for a live heap of live
// bytes.
func collectEvery(least int64, live uint64) int64 {
	return max(least, int64(live/liveHeapShare))
}

// received counts n bytes received; it never blocks.
func (g *uploadGC) received(n int) {
	if g.garbage.Add(int64(n)) < g.every.Load() {
		return
	}
	select {
	case g.kick <- struct{}{}:
	default: // a collection is due already
	}
}

// run collects whenever enough bytes were received, until ctx is done.
func (g *uploadGC) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.kick:
			g.garbage.Store(0)
			runtime.GC()
			g.cycles.Add(1)
			live := []rtmetrics.Sample{{Name: liveHeapMetric}}
			rtmetrics.Read(live)
			if live[0].Value.Kind() == rtmetrics.KindUint64 {
				g.every.Store(collectEvery(g.min, live[0].Value.Uint64()))
			}
		}
	}
}
