package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// TestMigrate checks the outbox schema lives beside a service's own
// migrations, numbered independently, and re-applies as a no-op.
func TestMigrate(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		// The service's own version 1, which the outbox's version 1 must not
		// be mistaken for.
		service := fstest.MapFS{"0001_children.sql": {Data: []byte(
			"-- +goose Up\nCREATE TABLE children (id TEXT PRIMARY KEY);\n-- +goose Down\nDROP TABLE children;\n")}}
		db, err := sqldb.Open(ctx, b.dsn(t), sqldb.Options{Migrations: service, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for range 2 {
			if err := outbox.Migrate(ctx, db); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
		}
		for table, want := range map[string]int64{"goose_db_version": 1, outbox.VersionTable: 1} {
			var n int64
			if err := db.QueryRowContext(ctx,
				`SELECT count(*) FROM `+table+` WHERE version_id > 0`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("%s holds %d versions, want %d", table, n, want)
			}
		}
		var lease int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox_lease`).Scan(&lease); err != nil || lease != 1 {
			t.Errorf("outbox_lease rows = %d (%v), want 1", lease, err)
		}
	})
}

func TestAdd(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := open(t, b.dsn(t))

		before := time.Now()
		m := mustAdd(t, db, "children/a", "hello")
		if len(m.ID) != 36 || m.ID[14] != '7' {
			t.Errorf("generated ID %q is not a UUIDv7", m.ID)
		}
		if m.CreateTime.Before(before.Add(-time.Second)) || m.Key != "children/a" || string(m.Payload) != "hello" {
			t.Errorf("Add returned %+v", m)
		}

		// A caller's own id is kept, and used for de-duplication.
		err := db.InTx(ctx, func(tx *sqldb.Tx) error {
			_, err := outbox.Add(ctx, tx, outbox.Message{ID: m.ID, Key: "children/b"})
			return err
		})
		if !sqldb.IsUniqueViolation(err) {
			t.Errorf("Add with a duplicate ID: %v, want a unique violation", err)
		}

		err = db.InTx(ctx, func(tx *sqldb.Tx) error {
			_, err := outbox.Add(ctx, tx, outbox.Message{Payload: []byte("x")})
			return err
		})
		if !errors.Is(err, outbox.ErrEmptyKey) {
			t.Errorf("Add without a key: %v, want ErrEmptyKey", err)
		}

		// An empty payload is still an event.
		empty := mustAdd(t, db, "children/a", "")
		rec := &recorder{}
		start(t, outbox.NewRelay(db, rec.deliver, fast("r")))
		waitFor(t, "both messages", func() bool { return rec.count() == 2 })
		if got := rec.messages(); got[0].ID != m.ID || got[1].ID != empty.ID || len(got[1].Payload) != 0 {
			t.Errorf("delivered %+v", got)
		}
	})
}

// TestRolledBackNeverDelivered adds in a transaction that rolls back: the
// message must never reach the receiver, nor leave a gap in its key.
func TestRolledBackNeverDelivered(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := open(t, b.dsn(t))
		errAbort := errors.New("abort")
		err := db.InTx(ctx, func(tx *sqldb.Tx) error {
			if _, err := outbox.Add(ctx, tx, outbox.Message{Key: "children/a", Payload: []byte("rolled back")}); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("InTx = %v", err)
		}
		mustAdd(t, db, "children/a", "committed")
		mustAdd(t, db, "children/b", "other key")

		rec := &recorder{}
		start(t, outbox.NewRelay(db, rec.deliver, fast("r")))
		waitFor(t, "the committed messages", func() bool { return rec.count() == 2 })
		waitFor(t, "an empty outbox", func() bool { return pending(t, db) == 0 })
		if rec.has("rolled back") {
			t.Errorf("a message of a rolled-back transaction was delivered")
		}
		var last int64
		if err := db.QueryRowContext(ctx, `SELECT last_seq FROM outbox_keys WHERE msg_key = $1`, "children/a").Scan(&last); err != nil {
			t.Fatal(err)
		}
		if last != 1 {
			t.Errorf("key sequence = %d after one committed message, want 1 (the rollback took its bump back)", last)
		}
	})
}

// TestFlakyDeliveryKeepsOrder adds messages for several keys from
// concurrent producers, in transactions mixing keys and some rolling back,
// while a relay delivers them to a receiver that fails 30% of the time.
// Every committed message arrives exactly once, in its key's order.
func TestFlakyDeliveryKeepsOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const producers, keysEach, perKey = 3, 2, 25 // keysEach: key(2p) and key(2p+1)
		db := open(t, b.dsn(t))

		rec := &recorder{}
		var mu sync.Mutex
		failures := map[string]int{} // message id -> failed deliveries
		flaky := func(ctx context.Context, m outbox.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if rand.IntN(10) < 3 {
				failures[m.ID]++
				return errRefused
			}
			if m.Attempts != failures[m.ID] {
				t.Errorf("message %s delivered with Attempts=%d after %d failures", m.ID, m.Attempts, failures[m.ID])
			}
			rec.record(m)
			return nil
		}
		relay := outbox.NewRelay(db, flaky, fast("r"))
		start(t, relay)

		var wg sync.WaitGroup
		want := map[string][]string{}
		var wantMu sync.Mutex
		for p := range producers {
			wg.Go(func() {
				ctx := t.Context()
				keys := []string{key(2 * p), key(2*p + 1)}
				next := map[string]int{}
				for next[keys[0]] < perKey || next[keys[1]] < perKey {
					// One or both of this producer's keys, always in the same
					// order; now and then the transaction rolls back.
					var batch []string
					for _, k := range keys {
						if rand.IntN(2) == 0 && next[k] < perKey {
							batch = append(batch, k)
						}
					}
					if len(batch) == 0 {
						for _, k := range keys {
							if next[k] < perKey {
								batch = append(batch, k)
								break
							}
						}
					}
					rollback := rand.IntN(8) == 0
					err := db.InTx(ctx, func(tx *sqldb.Tx) error {
						for _, k := range batch {
							payload := fmt.Sprintf("%s#%d", k, next[k])
							if rollback {
								payload += " rolled back"
							}
							if _, err := outbox.Add(ctx, tx, outbox.Message{Key: k, Payload: []byte(payload)}); err != nil {
								return err
							}
						}
						if rollback {
							return errRollback
						}
						return nil
					})
					if rollback && errors.Is(err, errRollback) {
						continue
					}
					if err != nil {
						t.Errorf("producer %d: %v", p, err)
						return
					}
					relay.Notify()
					wantMu.Lock()
					for _, k := range batch {
						want[k] = append(want[k], fmt.Sprintf("%s#%d", k, next[k]))
						next[k]++
					}
					wantMu.Unlock()
				}
			})
		}
		wg.Wait()
		total := producers * keysEach * perKey
		waitFor(t, "every message", func() bool { return rec.count() >= total })
		waitFor(t, "an empty outbox", func() bool { return pending(t, db) == 0 })

		if got := rec.count(); got != total {
			t.Errorf("delivered %d messages, want %d exactly", got, total)
		}
		for k, w := range want {
			if got := rec.payloads(k); !slices.Equal(got, w) {
				t.Errorf("key %s delivered\n %v\nwant\n %v", k, got, w)
			}
		}
		mu.Lock()
		retried := len(failures)
		mu.Unlock()
		if retried == 0 {
			t.Errorf("no delivery failed: the test proved nothing about retries")
		}
	})
}

var errRollback = errors.New("rollback")

// TestSameKeyCommitOrder holds a transaction open after adding for a key:
// another transaction adding for the same key cannot commit before it, so
// the sequence follows commit order.
func TestSameKeyCommitOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		db := open(t, b.dsn(t))

		added, release := make(chan struct{}), make(chan struct{})
		firstDone, secondDone := make(chan error, 1), make(chan error, 1)
		go func() {
			firstDone <- db.InTx(ctx, func(tx *sqldb.Tx) error {
				if _, err := outbox.Add(ctx, tx, outbox.Message{Key: "children/a", Payload: []byte("first")}); err != nil {
					close(added)
					return err
				}
				close(added)
				<-release
				return nil
			})
		}()
		<-added
		go func() {
			_, err := add(ctx, db, "children/a", "second")
			secondDone <- err
		}()
		// Give the second a chance to overtake, which it must not take.
		time.Sleep(50 * time.Millisecond)
		select {
		case err := <-secondDone:
			t.Fatalf("the second transaction finished (%v) while the first held the key", err)
		default:
		}
		close(release)
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
		if err := <-secondDone; err != nil {
			t.Fatal(err)
		}

		rec := &recorder{}
		start(t, outbox.NewRelay(db, rec.deliver, fast("r")))
		waitFor(t, "both messages", func() bool { return rec.count() == 2 })
		if got := rec.payloads("children/a"); !slices.Equal(got, []string{"first", "second"}) {
			t.Errorf("delivered %v, want [first second]", got)
		}
	})
}

// TestConcurrentAddsOneKey has many transactions add for one key at once:
// none fails, and the key's sequence is 1..n with no gap or repeat.
func TestConcurrentAddsOneKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const writers, each = 6, 10
		ctx := t.Context()
		db := open(t, b.dsn(t))
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if _, err := add(ctx, db, "children/a", fmt.Sprint(w, "-", i)); err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
				}
			})
		}
		wg.Wait()
		rows, err := db.QueryContext(ctx, `SELECT seq FROM outbox_messages WHERE msg_key = $1 ORDER BY seq`, "children/a")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var want int64 = 1
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				t.Fatal(err)
			}
			if seq != want {
				t.Fatalf("sequence %d where %d was due", seq, want)
			}
			want++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if want-1 != writers*each {
			t.Errorf("%d messages, want %d", want-1, writers*each)
		}
	})
}

// TestFailingKeyDoesNotBlockOthers gives the receiver a key it refuses:
// the other keys are delivered meanwhile, the refused key's later message
// never overtakes it, and its attempts are stored and logged. Once the
// receiver accepts again, the key catches up in order.
func TestFailingKeyDoesNotBlockOthers(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := open(t, b.dsn(t))
		logs := newLogRecorder()
		var mu sync.Mutex
		healed := false
		rec := &recorder{}
		deliver := func(ctx context.Context, m outbox.Message) error {
			mu.Lock()
			refuse := m.Key == "children/poison" && !healed
			mu.Unlock()
			if refuse {
				return errRefused
			}
			rec.record(m)
			return nil
		}
		opts := fast("r")
		opts.Logger = slog.New(logs)
		opts.MaxBackoff = 4 * time.Millisecond // reached on the third failure

		poison := mustAdd(t, db, "children/poison", "p1")
		mustAdd(t, db, "children/poison", "p2")
		for i := range 3 {
			mustAdd(t, db, key(i), "m1")
		}
		start(t, outbox.NewRelay(db, deliver, opts))
		for i := range 3 {
			mustAdd(t, db, key(i), "m2")
		}
		waitFor(t, "the healthy keys", func() bool { return rec.count() == 6 })
		waitFor(t, "several stored attempts", func() bool { return attempts(t, db, poison.ID) >= 4 })
		if rec.has("p1") || rec.has("p2") {
			t.Fatal("the refused key was delivered")
		}
		for i := range 3 {
			if got := rec.payloads(key(i)); !slices.Equal(got, []string{"m1", "m2"}) {
				t.Errorf("key %s delivered %v", key(i), got)
			}
		}
		waitFor(t, "the poison message logged at error level", func() bool {
			return len(logs.find(slog.LevelError, "outbox: message keeps failing, still retrying")) > 0
		})
		for _, line := range logs.find(slog.LevelWarn, "outbox: delivery failed, will retry") {
			if line["id"].String() != poison.ID || line["attempts"].Int64() < 1 || line["err"].String() == "" {
				t.Errorf("failure logged as %v", line)
			}
		}
		var lastErr string
		if err := db.QueryRowContext(t.Context(), `SELECT last_error FROM outbox_messages WHERE id = $1`, poison.ID).Scan(&lastErr); err != nil || lastErr != errRefused.Error() {
			t.Errorf("last_error = %q (%v)", lastErr, err)
		}

		mu.Lock()
		healed = true
		mu.Unlock()
		waitFor(t, "the healed key", func() bool { return rec.count() == 8 })
		if got := rec.payloads("children/poison"); !slices.Equal(got, []string{"p1", "p2"}) {
			t.Errorf("healed key delivered %v, want [p1 p2]", got)
		}
		for _, m := range rec.messages() {
			if m.ID == poison.ID && m.Attempts < 4 {
				t.Errorf("poison message delivered with Attempts=%d, want the stored count", m.Attempts)
			}
		}
	})
}

// TestKilledMidDelivery stops a relay while Deliver blocks: the message
// stays in the outbox, untouched, and the next relay delivers it.
func TestKilledMidDelivery(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		db := open(t, dsn)
		m := mustAdd(t, db, "children/a", "event")

		entered := make(chan struct{})
		var once sync.Once
		blocking := func(ctx context.Context, _ outbox.Message) error {
			once.Do(func() { close(entered) })
			<-ctx.Done()
			return ctx.Err()
		}
		stop := start(t, outbox.NewRelay(db, blocking, fast("first")))
		<-entered
		stop()

		if n := pending(t, db); n != 1 {
			t.Fatalf("%d messages left after the relay died mid-delivery, want 1", n)
		}
		if n := attempts(t, db, m.ID); n != 0 {
			t.Errorf("attempts = %d: a relay stopping is not the message's failure", n)
		}

		// Another instance, with a database handle of its own.
		rec := &recorder{}
		start(t, outbox.NewRelay(open(t, dsn), rec.deliver, fast("second")))
		waitFor(t, "the redelivery", func() bool { return rec.count() == 1 })
		if got := rec.messages()[0]; got.ID != m.ID || string(got.Payload) != "event" {
			t.Errorf("redelivered %+v, want the same message", got)
		}
		waitFor(t, "an empty outbox", func() bool { return pending(t, db) == 0 })
	})
}

func TestRunTwice(t *testing.T) {
	db := open(t, backends[0].dsn(t))
	rec := &recorder{}
	r := outbox.NewRelay(db, rec.deliver, fast("r"))
	start(t, r)
	// Once the first Run has delivered, it is surely running.
	mustAdd(t, db, "children/a", "x")
	waitFor(t, "the first Run", func() bool { return rec.count() == 1 })
	if err := r.Run(t.Context()); err == nil {
		t.Error("a second Run of a running relay returned nil")
	}
}

// TestNotify shows a committed message is delivered at once on Notify,
// without waiting for a poll an hour away.
func TestNotify(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := open(t, b.dsn(t))
		rec := &recorder{}
		opts := fast("r")
		opts.PollInterval = time.Hour
		relay := outbox.NewRelay(db, rec.deliver, opts)
		start(t, relay)
		waitFor(t, "the lease", func() bool { return leaseHolder(t, db) == "r" })
		for i := range 3 {
			mustAdd(t, db, "children/a", strconv.Itoa(i))
			relay.Notify()
			waitFor(t, "the notified message", func() bool { return rec.count() == i+1 })
		}
	})
}

func leaseHolder(t *testing.T, db *sqldb.DB) string {
	t.Helper()
	var holder string
	if err := db.QueryRowContext(t.Context(), `SELECT holder FROM outbox_lease`).Scan(&holder); err != nil {
		t.Fatalf("lease: %v", err)
	}
	return holder
}

// TestTraceContinuation checks a delivery joins the trace of the request
// that added the message, as a child and by a link, with its baggage.
func TestTraceContinuation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		exporter := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
		t.Cleanup(func() { tp.Shutdown(context.Background()) })
		db := open(t, b.dsn(t))

		const secret = "payload-must-not-leak"
		member, _ := baggage.NewMember("school", "north")
		bag, _ := baggage.New(member)
		reqCtx, req := tp.Tracer("test").Start(baggage.ContextWithBaggage(ctx, bag), "POST /assessments")
		m, err := add(reqCtx, db, "children/a", secret)
		req.End()
		if err != nil {
			t.Fatal(err)
		}
		if m.Carrier["traceparent"] == "" || m.Carrier["uber-trace-id"] == "" || m.Carrier["baggage"] == "" {
			t.Errorf("carrier %v lacks W3C, Jaeger or baggage entries", m.Carrier)
		}
		untraced := mustAdd(t, db, "children/b", "no trace")

		type seen struct {
			span   trace.SpanContext
			school string
		}
		var mu sync.Mutex
		got := map[string]seen{}
		deliver := func(ctx context.Context, m outbox.Message) error {
			mu.Lock()
			defer mu.Unlock()
			got[m.ID] = seen{trace.SpanContextFromContext(ctx), baggage.FromContext(ctx).Member("school").Value()}
			return nil
		}
		opts := fast("r")
		opts.TracerProvider = tp
		start(t, outbox.NewRelay(db, deliver, opts))
		waitFor(t, "both deliveries", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) == 2
		})

		mu.Lock()
		traced, plain := got[m.ID], got[untraced.ID]
		mu.Unlock()
		reqSC := req.SpanContext()
		if traced.span.TraceID() != reqSC.TraceID() {
			t.Errorf("deliver ran in trace %s, want the request's %s", traced.span.TraceID(), reqSC.TraceID())
		}
		if traced.school != "north" {
			t.Errorf("baggage school = %q, want north", traced.school)
		}
		if plain.span.TraceID() == reqSC.TraceID() || !plain.span.IsValid() {
			t.Errorf("untraced message delivered in span %v", plain.span)
		}

		// A delivery's span ends once its row is removed, after Deliver.
		var spans []sdktrace.ReadOnlySpan
		waitFor(t, "two outbox.deliver spans", func() bool {
			spans = spans[:0]
			for _, s := range exporter.GetSpans().Snapshots() {
				if s.Name() == "outbox.deliver" {
					spans = append(spans, s)
				}
			}
			return len(spans) >= 2
		})
		if len(spans) != 2 {
			t.Fatalf("%d outbox.deliver spans, want 2", len(spans))
		}
		for _, s := range spans {
			if s.SpanKind() != trace.SpanKindProducer {
				t.Errorf("span kind %v, want producer", s.SpanKind())
			}
			attrs := map[attribute.Key]string{}
			for _, kv := range s.Attributes() {
				attrs[kv.Key] = kv.Value.Emit()
				if strings.Contains(kv.Value.Emit(), secret) {
					t.Errorf("attribute %s carries the payload", kv.Key)
				}
			}
			id := attrs["messaging.message.id"]
			if attrs["messaging.operation.type"] != "send" || attrs["messaging.system"] == "" {
				t.Errorf("span attributes %v", attrs)
			}
			switch id {
			case m.ID:
				if !s.SpanContext().Equal(traced.span) {
					t.Errorf("deliver's context does not hold the outbox.deliver span")
				}
				if s.Parent().SpanID() != reqSC.SpanID() || s.Parent().TraceID() != reqSC.TraceID() {
					t.Errorf("parent %v, want the request span %v", s.Parent(), reqSC)
				}
				// No link to the parent as well: Jaeger would turn the pair
				// into one FOLLOWS_FROM reference instead of CHILD_OF.
				if links := s.Links(); len(links) != 0 {
					t.Errorf("links %v, want none (the request span is the parent)", links)
				}
			case untraced.ID:
				if s.Parent().IsValid() || len(s.Links()) != 0 {
					t.Errorf("untraced message: parent %v, links %v; want a root without links", s.Parent(), s.Links())
				}
			default:
				t.Errorf("span for unknown message %q", id)
			}
		}
	})
}
