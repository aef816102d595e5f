package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// overlap is a receiver shared by several relays that notices when two of
// them are inside Deliver at the same time.
type overlap struct {
	mu          sync.Mutex
	inflight    map[string]int // relay -> deliveries in progress
	overlaps    int
	deliveredBy map[string]string // message id -> relay, first delivery
	rec         recorder
}

func newOverlap() *overlap {
	return &overlap{inflight: map[string]int{}, deliveredBy: map[string]string{}}
}

func (o *overlap) enter(relay string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for other, n := range o.inflight {
		if other != relay && n > 0 {
			o.overlaps++
		}
	}
	o.inflight[relay]++
}

func (o *overlap) leave(relay string, m *outbox.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inflight[relay]--
	if m != nil {
		if _, ok := o.deliveredBy[m.ID]; !ok {
			o.deliveredBy[m.ID] = relay
		}
	}
}

// deliver returns the Deliver of one relay. A message whose payload is
// "slow" takes slow to deliver; the others a millisecond or two.
func (o *overlap) deliver(relay string, slow time.Duration) outbox.Deliver {
	return func(ctx context.Context, m outbox.Message) error {
		o.enter(relay)
		d := time.Duration(rand.IntN(2000)) * time.Microsecond
		if string(m.Payload) == "slow" {
			d = slow
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			o.leave(relay, nil)
			return ctx.Err()
		}
		o.rec.record(m)
		o.leave(relay, &m)
		return nil
	}
}

func (o *overlap) by(id string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.deliveredBy[id]
}

func (o *overlap) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.overlaps
}

// TestTwoRelaysNeverOverlap runs two instances' relays on one database: one
// delivers at a time, even through a delivery longer than the lease TTL,
// and the other takes over once the first stops.
func TestTwoRelaysNeverOverlap(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const ttl = time.Second
		dsn := b.dsn(t)
		db := open(t, dsn)
		o := newOverlap()
		relays := map[string]func(){}
		logs := newLogRecorder()
		t.Cleanup(func() {
			if t.Failed() {
				for _, r := range logs.all() {
					t.Log(r)
				}
			}
		})
		for _, name := range []string{"a", "b"} {
			opts := fast(name)
			opts.LeaseTTL = ttl
			opts.Logger = slog.New(logs)
			relays[name] = start(t, outbox.NewRelay(open(t, dsn), o.deliver(name, 2*ttl), opts))
		}

		want := map[string][]string{}
		var ids []string
		addAll := func(phase, perKey int) {
			for i := range perKey {
				for k := range 4 {
					payload := fmt.Sprintf("%d-%d", phase, i)
					if phase == 1 && k == 0 && i == 5 {
						payload = "slow"
					}
					m := mustAdd(t, db, key(k), payload)
					want[key(k)] = append(want[key(k)], payload)
					ids = append(ids, m.ID)
				}
			}
		}
		delivered := func() bool {
			for _, id := range ids {
				if o.by(id) == "" {
					return false
				}
			}
			return true
		}

		// The slow message blocks its delivery for twice the TTL, which the
		// holder's fence would cut short without renewals: that it gets
		// delivered at all shows the lease is renewed while delivering.
		addAll(1, 15)
		waitFor(t, "the first phase", delivered)
		holder := o.by(ids[0])
		// A machine starved enough to delay a renewal past the fence makes
		// the lease change hands, which is correct, only not the usual
		// case; then no relay may still deliver at once, but repeats and a
		// change of holder are allowed.
		handovers := func() int { return len(logs.find(slog.LevelWarn, "outbox: stopped delivering")) }
		if n := handovers(); n > 0 {
			t.Logf("the lease changed hands %d times: checking overlap and order only", n)
			for _, line := range logs.all() {
				t.Log(line)
			}
		} else {
			for _, id := range ids {
				if by := o.by(id); by != holder {
					t.Errorf("message %s delivered by %s while %s held the lease", id, by, holder)
				}
			}
		}

		// The holder stops (and releases the lease); the other carries on.
		relays[holder]()
		phase2 := len(ids)
		addAll(2, 10)
		waitFor(t, "the second phase", delivered)
		for _, id := range ids[phase2:] {
			if by := o.by(id); by == holder {
				t.Errorf("message %s delivered by the stopped relay %s", id, by)
			}
		}

		if n := o.count(); n != 0 {
			t.Errorf("two relays were delivering at once %d times", n)
		}
		for k, w := range want {
			if got := firstDeliveries(o.rec.messages(), k); !slices.Equal(got, w) {
				t.Errorf("key %s delivered %v, want %v", k, got, w)
			}
		}
		if got := o.rec.count(); got != len(ids) && handovers() == 0 {
			t.Errorf("%d deliveries of %d messages", got, len(ids))
		}
	})
}

// firstDeliveries returns the payloads of key in the order each first
// arrived: at least once means a repeat is allowed, not a reordering.
func firstDeliveries(msgs []outbox.Message, key string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range msgs {
		if m.Key == key && !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, string(m.Payload))
		}
	}
	return out
}

// TestDeadHolderTakeover leaves the lease to a holder that died without
// releasing it: a relay takes over once the lease has not changed for its
// TTL, and delivers.
func TestDeadHolderTakeover(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := open(t, b.dsn(t))
		if _, err := db.ExecContext(t.Context(), `UPDATE outbox_lease SET holder = $1, version = $2`, "ghost", 41); err != nil {
			t.Fatal(err)
		}
		mustAdd(t, db, "children/a", "event")
		rec := &recorder{}
		opts := fast("heir")
		opts.LeaseTTL = 300 * time.Millisecond
		start(t, outbox.NewRelay(db, rec.deliver, opts))
		waitFor(t, "the delivery", func() bool { return rec.count() == 1 })
		if h := leaseHolder(t, db); h != "heir" {
			t.Errorf("lease holder = %q, want heir", h)
		}
	})
}

// TestLostLeaseCancelsDelivery takes the lease from under a relay blocked
// in Deliver: the relay cancels the delivery when its renewal fails, does
// not count it against the message, and delivers it once the lease is
// back (the thief never renews).
func TestLostLeaseCancelsDelivery(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := open(t, b.dsn(t))
		m := mustAdd(t, db, "children/a", "event")
		entered := make(chan struct{})
		canceled := make(chan struct{})
		var calls int
		var mu sync.Mutex
		rec := &recorder{}
		deliver := func(ctx context.Context, m outbox.Message) error {
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if !first {
				return rec.deliver(ctx, m)
			}
			close(entered)
			<-ctx.Done()
			close(canceled)
			return ctx.Err()
		}
		opts := fast("victim")
		opts.LeaseTTL = 300 * time.Millisecond
		opts.Timeout = time.Hour // only the lost lease may end the delivery
		start(t, outbox.NewRelay(db, deliver, opts))
		<-entered
		if _, err := db.ExecContext(t.Context(),
			`UPDATE outbox_lease SET holder = 'thief', version = version + 1`); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the delivery canceled", func() bool {
			select {
			case <-canceled:
				return true
			default:
				return false
			}
		})
		waitFor(t, "the delivery after the lease came back", func() bool { return rec.count() == 1 })
		if got := rec.messages()[0]; got.ID != m.ID || got.Attempts != 0 {
			t.Errorf("delivered %+v; want %s with no attempts counted", got, m.ID)
		}
	})
}

// TestUnrenewableLeaseStopsDelivery blocks the holder's renewals (a
// transaction holding the lease row, or SQLite's write lock): the holder
// must cancel its delivery in flight while the renewal still hangs, since
// another relay may take the lease over at the TTL, and resume once it can
// write again.
func TestUnrenewableLeaseStopsDelivery(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		db := open(t, dsn)
		m := mustAdd(t, db, "children/a", "event")
		entered := make(chan struct{})
		cause := make(chan error, 1)
		var calls int
		var mu sync.Mutex
		rec := &recorder{}
		deliver := func(ctx context.Context, m outbox.Message) error {
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if !first {
				return rec.deliver(ctx, m)
			}
			close(entered)
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		}
		opts := fast("holder")
		opts.LeaseTTL = 300 * time.Millisecond
		opts.Timeout = time.Hour // only the fence may end the delivery
		start(t, outbox.NewRelay(db, deliver, opts))
		<-entered

		locker := open(t, dsn)
		locked, unlock := make(chan struct{}), make(chan struct{})
		txDone := make(chan error, 1)
		go func() {
			txDone <- locker.InTx(context.WithoutCancel(t.Context()), func(tx *sqldb.Tx) error {
				_, err := tx.ExecContext(t.Context(), `UPDATE outbox_lease SET holder = holder WHERE name = 'relay'`)
				close(locked)
				if err != nil {
					return err
				}
				<-unlock
				return nil
			})
		}()
		<-locked
		err := <-cause // while the lock is still held
		close(unlock)
		if err := <-txDone; err != nil {
			t.Fatalf("locking transaction: %v", err)
		}
		if err == nil || !strings.Contains(err.Error(), "not renewed in time") {
			t.Errorf("delivery canceled with cause %v, want the lease not renewed in time", err)
		}
		waitFor(t, "the delivery once the lease could be renewed", func() bool { return rec.count() == 1 })
		if got := rec.messages()[0]; got.ID != m.ID || got.Attempts != 0 {
			t.Errorf("delivered %+v; want %s with no attempts counted", got, m.ID)
		}
	})
}

// TestMetrics reads the gauges and the counter through a ManualReader.
func TestMetrics(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		t.Cleanup(func() { mp.Shutdown(context.Background()) })
		db := open(t, b.dsn(t))

		rec := &recorder{}
		deliver := func(ctx context.Context, m outbox.Message) error {
			if m.Key == "children/stuck" {
				return errRefused
			}
			return rec.deliver(ctx, m)
		}
		stuck := mustAdd(t, db, "children/stuck", "1")
		mustAdd(t, db, "children/stuck", "2")
		mustAdd(t, db, "children/ok", "3")
		opts := fast("r")
		opts.MeterProvider = mp
		stop := start(t, outbox.NewRelay(db, deliver, opts))
		waitFor(t, "the healthy delivery", func() bool { return rec.count() == 1 })
		waitFor(t, "a failed attempt", func() bool { return attempts(t, db, stuck.ID) >= 1 })

		var m metrics
		// Deliver returns before the row is removed: wait for the count.
		waitFor(t, "a positive lag and two pending", func() bool {
			m = collect(t, reader)
			return m.lag > 0 && m.pending == 2
		})
		if m.pending != 2 || m.held != 1 || m.delivered != 1 || m.failed < 1 {
			t.Errorf("metrics %+v; want pending 2, lease held 1, delivered 1, failed >= 1", m)
		}
		if m.outbox != "test" {
			t.Errorf("kinbridge.outbox.name = %q, want test", m.outbox)
		}
		// An outbox whose oldest message is an hour old reports so.
		if _, err := db.ExecContext(ctx, `UPDATE outbox_messages SET create_us = $1 WHERE id = $2`,
			time.Now().Add(-time.Hour).UnixMicro(), stuck.ID); err != nil {
			t.Fatal(err)
		}
		if m = collect(t, reader); m.lag < 3600 {
			t.Errorf("lag = %vs with a message an hour old", m.lag)
		}

		stop()
		if m = collect(t, reader); m.lagReported {
			t.Errorf("lag still reported after Run returned")
		}
	})
}

type metrics struct {
	lag               float64
	lagReported       bool
	pending, held     int64
	delivered, failed int64
	outbox            string
}

func collect(t *testing.T, reader *sdkmetric.ManualReader) metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	var m metrics
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != outbox.ScopeName {
			continue
		}
		for _, inst := range sm.Metrics {
			switch data := inst.Data.(type) {
			case metricdata.Gauge[float64]:
				for _, dp := range data.DataPoints {
					if inst.Name == outbox.MetricLag {
						m.lag, m.lagReported = dp.Value, true
						v, _ := dp.Attributes.Value(outbox.AttrOutbox)
						m.outbox = v.AsString()
					}
				}
			case metricdata.Gauge[int64]:
				for _, dp := range data.DataPoints {
					switch inst.Name {
					case outbox.MetricPending:
						m.pending = dp.Value
					case outbox.MetricLeaseHeld:
						m.held = dp.Value
					}
				}
			case metricdata.Sum[int64]:
				for _, dp := range data.DataPoints {
					if inst.Name != outbox.MetricDeliveries {
						continue
					}
					switch v, _ := dp.Attributes.Value(outbox.AttrOutcome); v.AsString() {
					case "delivered":
						m.delivered = dp.Value
					case "failed":
						m.failed = dp.Value
					}
				}
			}
		}
	}
	return m
}
