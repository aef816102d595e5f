package outbox_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/outbox"
)

// batchReceiver takes batches; it refuses, once, the message whose payload
// is refuse, taking the ones before it in the same call.
type batchReceiver struct {
	rec     recorder
	mu      sync.Mutex
	calls   int
	sizes   []int
	refuse  string
	refused bool
}

func (b *batchReceiver) deliver(_ context.Context, ms []outbox.Message) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	b.sizes = append(b.sizes, len(ms))
	for i, m := range ms {
		if m.Key == "" || (i > 0 && m.Key != ms[0].Key) {
			return i, fmt.Errorf("a batch mixes keys %q and %q", ms[0].Key, m.Key)
		}
		if string(m.Payload) == b.refuse && !b.refused {
			b.refused = true
			return i, errRefused
		}
		b.rec.record(m)
	}
	return len(ms), nil
}

// TestBatchRelayDeliversInOrderPerKey: a batch relay delivers every message
// once, each key's in order, one key per call and at most MaxPerCall per
// call; a refused message is retried with those after it, after the ones
// before it were taken, and nothing is delivered twice.
func TestBatchRelayDeliversInOrderPerKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := open(t, b.dsn(t))
		const keys, perKey = 3, 130
		want := map[string][]string{}
		for i := range perKey {
			for k := range keys {
				p := fmt.Sprintf("%s-%03d", key(k), i)
				mustAdd(t, db, key(k), p)
				want[key(k)] = append(want[key(k)], p)
			}
		}
		recv := &batchReceiver{refuse: fmt.Sprintf("%s-%03d", key(1), 57)}
		opts := fast("batch")
		opts.BatchSize = 1000
		opts.MaxPerCall = 50
		start(t, outbox.NewBatchRelay(db, recv.deliver, opts))
		waitFor(t, "every message", func() bool { return recv.rec.count() >= keys*perKey && pending(t, db) == 0 })
		for k := range keys {
			if got := recv.rec.payloads(key(k)); !slices.Equal(got, want[key(k)]) {
				t.Errorf("%s: delivered %d messages, want %d in order; first %v", key(k), len(got), len(want[key(k)]), got[:min(5, len(got))])
			}
		}
		recv.mu.Lock()
		defer recv.mu.Unlock()
		if !recv.refused {
			t.Error("the refused message was never offered")
		}
		if m := slices.Max(recv.sizes); m > 50 {
			t.Errorf("a call carried %d messages, over MaxPerCall", m)
		}
		if recv.calls >= keys*perKey/2 {
			t.Errorf("%d calls for %d messages: not batched", recv.calls, keys*perKey)
		}
	})
}
