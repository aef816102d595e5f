package outbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
)

// Deliver hands one message to its receiver (notification.Publish over
// gRPC). A nil error means the receiver has it, and the message is removed;
// an error means it is tried again later. The receiver must de-duplicate by
// m.ID: a message may arrive more than once.
//
// ctx carries the delivery span, child of the trace that added the message
// (inject it into the outgoing call), and a deadline of Options.Timeout.
// Deliver must return soon after ctx is canceled: the relay cancels it when
// it loses its lease, and only a prompt return keeps two relays from
// delivering at once.
type Deliver func(ctx context.Context, m Message) error

// DeliverBatch hands consecutive messages of one key (1 to
// Options.MaxPerCall, oldest first) to their receiver in one call
// (notification.PublishBatch). It returns how many of them, from the first,
// the receiver has: len(ms) with a nil error when it has them all. The
// delivered ones are removed; the first one not delivered is tried again
// later, with those after it, as [Deliver]'s failures are. The receiver
// must de-duplicate by each m.ID, and ctx is as for [Deliver]: it carries
// the span of the call, a child of the first message's trace.
type DeliverBatch func(ctx context.Context, ms []Message) (delivered int, err error)

// Options tunes a [Relay]. The zero value is ready to use.
type Options struct {
	// Logger receives delivery failures and lease changes. Nil uses
	// slog.Default.
	Logger *slog.Logger
	// TracerProvider creates the delivery spans. Nil uses the otel global.
	TracerProvider trace.TracerProvider
	// MeterProvider creates the metrics. Nil uses the otel global.
	MeterProvider metric.MeterProvider

	// PollInterval is how often the relay looks for messages when nobody
	// calls Notify, and how often a relay without the lease checks on it
	// (at least every LeaseTTL/5). Default 1s.
	PollInterval time.Duration
	// BatchSize caps the messages read per round. Default 100.
	BatchSize int
	// MinBackoff and MaxBackoff bound the wait before a failed message is
	// tried again: exponential in its attempts from MinBackoff, capped at
	// MaxBackoff, with full jitter (uniform between zero and that). The
	// wait holds back the message's key only. Defaults 100ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// LeaseTTL is how long a relay waits, seeing the lease unchanged, before
	// taking it over from a holder that stopped renewing (crashed, hung or
	// cut off). Default 15s.
	LeaseTTL time.Duration
	// Name identifies the relay in the lease and the logs; it must differ
	// between relays sharing a database. Default host-pid-random.
	Name string

	// Outbox names this outbox in metrics (attribute kinbridge.outbox.name)
	// and logs: the owning service, such as "progress". One process may run
	// several relays (`kinbridge serve all`), whose series would otherwise
	// collide. Default "default".
	Outbox string
	// Concurrency is how many keys are delivered in parallel; each key still
	// gets one message at a time, in order. Default 8.
	Concurrency int
	// Timeout bounds each call to Deliver. Default 10s.
	Timeout time.Duration
	// MaxPerCall caps the messages of one key a relay made by
	// [NewBatchRelay] hands to one DeliverBatch call. Default 100.
	MaxPerCall int
}

// Relay delivers the outbox's messages. Any number of relays may run on one
// database (one per service instance); a lease lets one deliver at a time,
// which keeps each key's messages in order across instances, and passes to
// another when the holder stops.
type Relay struct {
	db      *sqldb.DB
	raw     *sql.DB // for the polling nobody wants a trace of
	deliver Deliver
	batch   DeliverBatch // when set, deliver is not used
	opts    Options
	logger  *slog.Logger
	tracer  trace.Tracer
	metrics *metrics
	lease   *lease

	notify  chan struct{}
	running atomic.Bool
	held    atomic.Bool
}

// NewRelay returns a relay delivering the outbox of db (migrated with
// [Migrate]) through deliver. Start it with [Relay.Run].
func NewRelay(db *sqldb.DB, deliver Deliver, opts Options) *Relay {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	if opts.MeterProvider == nil {
		opts.MeterProvider = otel.GetMeterProvider()
	}
	opts.PollInterval = positive(opts.PollInterval, time.Second)
	opts.BatchSize = positive(opts.BatchSize, 100)
	opts.MinBackoff = positive(opts.MinBackoff, 100*time.Millisecond)
	opts.MaxBackoff = max(positive(opts.MaxBackoff, 30*time.Second), opts.MinBackoff)
	opts.LeaseTTL = positive(opts.LeaseTTL, 15*time.Second)
	if opts.Name == "" {
		opts.Name = defaultName()
	}
	if opts.Outbox == "" {
		opts.Outbox = "default"
	}
	opts.Concurrency = positive(opts.Concurrency, 8)
	opts.Timeout = positive(opts.Timeout, 10*time.Second)
	opts.MaxPerCall = positive(opts.MaxPerCall, 100)

	return &Relay{
		db:      db,
		raw:     db.SQL(),
		deliver: deliver,
		opts:    opts,
		logger:  opts.Logger.With("outbox", opts.Outbox, "relay", opts.Name),
		tracer:  opts.TracerProvider.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		metrics: newMetrics(opts.MeterProvider, opts.Outbox),
		lease:   &lease{db: db.SQL(), name: opts.Name, ttl: opts.LeaseTTL},
		notify:  make(chan struct{}, 1),
	}
}

// NewBatchRelay returns a relay like [NewRelay] that hands each key's
// waiting messages to deliver up to Options.MaxPerCall at a time, and
// removes the delivered ones in one statement: the same order per key and
// the same retries, for a fraction of the calls and writes.
func NewBatchRelay(db *sqldb.DB, deliver DeliverBatch, opts Options) *Relay {
	r := NewRelay(db, nil, opts)
	r.batch = deliver
	return r
}

func positive[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func defaultName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [4]byte
	rand.Read(b[:]) // never fails since Go 1.24
	// The random part tells apart two relays of one process (tests, or a
	// restart that reuses a pid in a container).
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Notify tells the relay that a transaction holding a message has just
// committed, so it looks now rather than at its next poll. It never blocks,
// and does nothing on a relay that does not hold the lease (the holder,
// perhaps in another instance, finds the message at its next poll).
func (r *Relay) Notify() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// writeTimeout bounds the outbox writes that must happen even though the
// relay's context is done: recording a delivery's outcome, releasing the
// lease on the way out.
const writeTimeout = 5 * time.Second

// errLeaseLost and errLeaseExpired end a relay's turn at delivering.
var (
	errLeaseLost    = errors.New("outbox: lease taken over by another relay")
	errLeaseExpired = errors.New("outbox: lease not renewed in time")
)

// Run delivers messages until ctx is done, then returns nil once the
// deliveries in flight have returned, releasing the lease so that another
// relay takes over at once. It waits for the lease while another relay
// holds it. Run may not be called again before it returns.
//
// The gauges of the relay are reported while Run runs.
func (r *Relay) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("outbox: Run called while the relay is already running")
	}
	defer r.running.Store(false)
	defer r.metrics.register(r)()

	// A waiting relay checks the lease often enough to notice a dead holder
	// soon after the TTL.
	wait := min(r.opts.PollInterval, r.lease.renewEvery())
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		ok, start, err := r.lease.tryAcquire(ctx)
		if err != nil && ctx.Err() == nil {
			r.logger.WarnContext(ctx, "outbox: checking the delivery lease", "err", err)
		}
		if ok {
			r.logger.InfoContext(ctx, "outbox: took the delivery lease")
			r.held.Store(true)
			cause := r.hold(ctx, start)
			r.held.Store(false)
			if ctx.Err() != nil {
				r.release(ctx)
				return nil
			}
			r.logger.WarnContext(ctx, "outbox: stopped delivering", "err", cause)
		}
		timer.Reset(wait)
	}
}

// release gives the lease up on the way out of Run. ctx is done by then;
// its values (the logger's, a trace's) are still wanted.
func (r *Relay) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if err := r.lease.release(ctx); err != nil {
		// Harmless: another relay takes over after a TTL instead.
		r.logger.WarnContext(ctx, "outbox: releasing the delivery lease", "err", err)
		return
	}
	r.logger.InfoContext(ctx, "outbox: released the delivery lease")
}

// hold delivers while this relay keeps the lease taken at start, and
// returns why it stopped once every delivery in flight has returned.
func (r *Relay) hold(ctx context.Context, start time.Time) error {
	hctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	wg.Go(func() { r.keepLease(hctx, stop, start) })
	r.deliverLoop(hctx)
	stop(nil)
	wg.Wait()
	return context.Cause(hctx)
}

// keepLease renews the lease until hctx is done, and ends hctx (stop) when
// the lease is lost or could not be renewed in time.
//
// The fence is a timer of its own rather than a check between renewals: a
// renewal can be stuck in the database well past it (SQLite's busy wait
// does not heed the context), and deliveries must stop on time regardless.
func (r *Relay) keepLease(hctx context.Context, stop context.CancelCauseFunc, lastOK time.Time) {
	fenceAfter := r.lease.fenceAfter()
	fence := time.AfterFunc(time.Until(lastOK.Add(fenceAfter)), func() { stop(errLeaseExpired) })
	defer fence.Stop()
	ticker := time.NewTicker(r.lease.renewEvery())
	defer ticker.Stop()
	for {
		select {
		case <-hctx.Done():
			return
		case <-ticker.C:
		}
		start := time.Now()
		rctx, cancel := context.WithDeadline(hctx, lastOK.Add(fenceAfter))
		ok, err := r.lease.renew(rctx)
		cancel()
		switch {
		case hctx.Err() != nil:
			return
		case err != nil:
			// Try again at the next tick; the fence stands meanwhile.
			r.logger.WarnContext(hctx, "outbox: renewing the delivery lease", "err", err)
		case !ok:
			stop(errLeaseLost)
			return
		default:
			// Counted from when the renewal started, not ended: a waiting
			// relay may have seen the version it replaced until then.
			lastOK = start
			fence.Reset(time.Until(start.Add(fenceAfter)))
		}
	}
}

// deliverLoop runs delivery rounds until hctx is done.
func (r *Relay) deliverLoop(hctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		full, err := r.round(hctx)
		if hctx.Err() != nil {
			return
		}
		wait := r.opts.PollInterval
		switch {
		case err != nil:
			r.logger.WarnContext(hctx, "outbox: delivery round", "err", err)
		case full:
			// More may be waiting right now.
			wait = 0
		default:
			// Wake up when the first key backing off may try again, if that
			// comes before the next poll.
			next, err := r.nextRetry(hctx)
			if err != nil && hctx.Err() == nil {
				r.logger.WarnContext(hctx, "outbox: next retry", "err", err)
			}
			if !next.IsZero() {
				wait = max(0, min(wait, time.Until(next)))
			}
		}
		// Since Go 1.23 Reset also discards an expiry not yet received.
		timer.Reset(wait)
		select {
		case <-hctx.Done():
			return
		case <-r.notify:
		case <-timer.C:
		}
	}
}

// queued is a message as read from the outbox.
type queued struct {
	Message
	seq int64
}

// round delivers one batch: the due keys' messages, oldest key first, each
// key's in order. full reports that the batch was full, so more may wait.
func (r *Relay) round(hctx context.Context) (full bool, err error) {
	batch, err := r.load(hctx)
	if err != nil {
		return false, err
	}
	// Split into one lane per key, keeping each key's order.
	var lanes [][]queued
	index := map[string]int{}
	for _, q := range batch {
		i, ok := index[q.Key]
		if !ok {
			i = len(lanes)
			index[q.Key] = i
			lanes = append(lanes, nil)
		}
		lanes[i] = append(lanes[i], q)
	}

	work := make(chan []queued)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range min(r.opts.Concurrency, len(lanes)) {
		wg.Go(func() {
			for lane := range work {
				if err := r.deliverLane(hctx, lane); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, lane := range lanes {
		work <- lane
	}
	close(work)
	wg.Wait()
	return len(batch) == r.opts.BatchSize, errors.Join(errs...)
}

// load reads the next batch. A key is due when its first message (the only
// one ever tried) is not backing off; its messages come in sequence order.
// Rows are ranked within their key and sorted by rank first, so a batch cut
// short by its LIMIT holds, for every key in it, a prefix of the key's
// messages; the keys whose first message is oldest go first, so a busy
// key cannot starve the others.
func (r *Relay) load(ctx context.Context) ([]queued, error) {
	rows, err := r.raw.QueryContext(ctx, `
SELECT msg_key, seq, id, payload, carrier, create_us, attempts
FROM (
    SELECT msg_key, seq, id, payload, carrier, create_us, attempts,
           row_number() OVER w AS rn,
           first_value(next_attempt_us) OVER w AS head_next_us,
           first_value(create_us) OVER w AS head_create_us
    FROM outbox_messages
    WINDOW w AS (PARTITION BY msg_key ORDER BY seq)
) AS queued
WHERE head_next_us <= $1
ORDER BY rn, head_create_us, msg_key
LIMIT $2`, time.Now().UnixMicro(), r.opts.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("outbox: load: %w", err)
	}
	defer rows.Close()
	var batch []queued
	for rows.Next() {
		var q queued
		var carrier string
		var createUS int64
		if err := rows.Scan(&q.Key, &q.seq, &q.ID, &q.Payload, &carrier, &createUS, &q.Attempts); err != nil {
			return nil, fmt.Errorf("outbox: load: %w", err)
		}
		q.CreateTime = time.UnixMicro(createUS)
		if err := json.Unmarshal([]byte(carrier), &q.Carrier); err != nil {
			// Only the trace is lost: deliver the event all the same.
			r.logger.WarnContext(ctx, "outbox: unreadable trace carrier", "id", q.ID, "err", err)
		}
		batch = append(batch, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: load: %w", err)
	}
	return batch, nil
}

// nextRetry returns when the first key backing off may be tried again, or
// the zero time when none is.
func (r *Relay) nextRetry(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	if err := r.raw.QueryRowContext(ctx,
		`SELECT min(next_attempt_us) FROM outbox_messages WHERE next_attempt_us > $1`,
		time.Now().UnixMicro()).Scan(&next); err != nil || !next.Valid {
		return time.Time{}, err
	}
	return time.UnixMicro(next.Int64), nil
}

// deliverLane delivers one key's messages in order, stopping at the first
// that fails: the ones after it must not overtake it.
func (r *Relay) deliverLane(hctx context.Context, lane []queued) error {
	if r.batch != nil {
		for chunk := range slices.Chunk(lane, r.opts.MaxPerCall) {
			if hctx.Err() != nil {
				return nil
			}
			if ok, err := r.deliverChunk(hctx, chunk); !ok || err != nil {
				return err
			}
		}
		return nil
	}
	for _, q := range lane {
		if hctx.Err() != nil {
			return nil
		}
		if ok, err := r.deliverOne(hctx, q); !ok || err != nil {
			return err
		}
	}
	return nil
}

// deliverOne delivers q and records the outcome: removed when delivered,
// attempts and backoff when not. ok reports that q was delivered; err, that
// the outbox could not be updated.
func (r *Relay) deliverOne(hctx context.Context, q queued) (ok bool, err error) {
	// The delivery continues the trace of the request that added q, as its
	// child, never whatever span hctx may carry. No span link to that same
	// parent: Jaeger would merge the two into one FOLLOWS_FROM reference.
	parent := telemetry.Continue(hctx, q.Carrier)
	startOpts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("kinbridge.outbox"),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("deliver"),
			semconv.MessagingMessageID(q.ID),
			semconv.MessagingMessageBodySize(len(q.Payload)),
			AttrOutbox.String(r.opts.Outbox),
			attrKey.String(q.Key),
			attrAttempt.Int(q.Attempts+1),
		),
	}
	ctx, span := r.tracer.Start(parent, "outbox.deliver", startOpts...)
	defer span.End()

	dctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	derr := r.deliver(dctx, q.Message)
	cancel()

	// What follows must be recorded even if the lease was lost meanwhile:
	// a delivered message left in the outbox would be sent again.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer wcancel()

	if derr == nil {
		r.metrics.deliveries.Add(ctx, 1, r.metrics.delivered)
		if _, err := r.db.ExecContext(wctx,
			`DELETE FROM outbox_messages WHERE msg_key = $1 AND seq = $2`, q.Key, q.seq); err != nil {
			// It stays at the head of its key and is delivered again.
			span.RecordError(err)
			return false, fmt.Errorf("outbox: remove delivered message %s: %w", q.ID, err)
		}
		return true, nil
	}

	return r.recordFailure(ctx, wctx, hctx, span, q, derr)
}

// recordFailure records that q was not delivered: the error on its span,
// and its attempts and next try in the outbox, with a backoff that grows
// with its attempts. A relay that is stopping or lost its lease records
// nothing: the message did nothing wrong.
func (r *Relay) recordFailure(ctx, wctx, hctx context.Context, span trace.Span, q queued, derr error) (bool, error) {
	span.RecordError(derr)
	span.SetStatus(codes.Error, derr.Error())
	span.SetAttributes(semconv.ErrorType(derr))
	if hctx.Err() != nil {
		// The relay is stopping or lost its lease: the message did nothing
		// wrong, so it keeps its attempts and no backoff.
		return false, nil
	}

	r.metrics.deliveries.Add(ctx, 1, r.metrics.failed)
	attempts := q.Attempts + 1
	ceiling := r.ceiling(attempts)
	delay := jitter(ceiling)
	if _, err := r.db.ExecContext(wctx,
		`UPDATE outbox_messages SET attempts = $1, next_attempt_us = $2, last_error = $3
		 WHERE msg_key = $4 AND seq = $5`,
		attempts, time.Now().Add(delay).UnixMicro(), truncate(derr.Error(), 1000), q.Key, q.seq); err != nil {
		return false, fmt.Errorf("outbox: record failed delivery of %s: %w", q.ID, err)
	}
	level, msg := slog.LevelWarn, "outbox: delivery failed, will retry"
	if ceiling >= r.opts.MaxBackoff {
		// Backoff at its cap: no longer a hiccup but a message the receiver
		// keeps refusing. It is never dropped, so it must be seen.
		level, msg = slog.LevelError, "outbox: message keeps failing, still retrying"
	}
	r.logger.Log(ctx, level, msg,
		"id", q.ID, "key", q.Key, "attempts", attempts, "retry_in", delay, "err", derr)
	return false, nil
}

// deliverChunk delivers consecutive messages of one key in one DeliverBatch
// call, removes the delivered ones in one statement and records a failure
// on the first one not delivered. ok reports that all were delivered; err,
// that the outbox could not be updated.
func (r *Relay) deliverChunk(hctx context.Context, chunk []queued) (ok bool, err error) {
	// The call continues the trace of the first message; the others' traces
	// are linked to it.
	first := chunk[0]
	parent := telemetry.Continue(hctx, first.Carrier)
	var links []trace.Link
	for _, q := range chunk[1:] {
		if sc := trace.SpanContextFromContext(telemetry.Continue(hctx, q.Carrier)); sc.IsValid() && sc.TraceID() != trace.SpanContextFromContext(parent).TraceID() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx, span := r.tracer.Start(parent, "outbox.deliver", trace.WithSpanKind(trace.SpanKindProducer), trace.WithLinks(links...),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("kinbridge.outbox"),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("deliver"),
			semconv.MessagingMessageID(first.ID),
			semconv.MessagingBatchMessageCount(len(chunk)),
			AttrOutbox.String(r.opts.Outbox),
			attrKey.String(first.Key),
			attrAttempt.Int(first.Attempts+1),
		))
	defer span.End()

	ms := make([]Message, len(chunk))
	for i, q := range chunk {
		ms[i] = q.Message
	}
	dctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	n, derr := r.batch(dctx, ms)
	cancel()
	n = max(0, min(n, len(chunk)))
	if n < len(chunk) && derr == nil {
		derr = fmt.Errorf("the receiver took %d of %d messages", n, len(chunk))
	}

	// What follows must be recorded even if the lease was lost meanwhile:
	// a delivered message left in the outbox would be sent again.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer wcancel()
	if n > 0 {
		r.metrics.deliveries.Add(ctx, int64(n), r.metrics.delivered)
		// By seq, never "up to a seq": on PostgreSQL a message with a lower
		// seq may commit after the batch was read, and must stay.
		var q strings.Builder
		q.WriteString(`DELETE FROM outbox_messages WHERE msg_key = $1 AND seq IN (`)
		args := []any{first.Key}
		for i, c := range chunk[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			args = append(args, c.seq)
			fmt.Fprintf(&q, "$%d", len(args))
		}
		q.WriteString(")")
		if _, err := r.db.ExecContext(wctx, q.String(), args...); err != nil {
			// They stay at the head of their key and are delivered again.
			span.RecordError(err)
			return false, fmt.Errorf("outbox: remove %d delivered messages from %s on: %w", n, first.ID, err)
		}
	}
	if derr == nil {
		return true, nil
	}
	return r.recordFailure(ctx, wctx, hctx, span, chunk[n], derr)
}

// Span attributes without a semantic convention of their own.
const (
	attrKey     = attribute.Key("kinbridge.outbox.key")
	attrAttempt = attribute.Key("kinbridge.outbox.attempt")
)

// ceiling is the backoff bound after attempts failures: MinBackoff doubled
// per failure after the first, capped at MaxBackoff.
func (r *Relay) ceiling(attempts int) time.Duration {
	d := r.opts.MinBackoff
	for i := 1; i < attempts && d < r.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.opts.MaxBackoff)
}

// jitter returns a wait drawn uniformly from [0, ceiling] ("full jitter"),
// so that keys failing together do not retry together.
func jitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(mrand.Int64N(int64(ceiling) + 1))
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
