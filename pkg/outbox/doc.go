// Package outbox is the transactional outbox of every Kinbridge service that
// produces events (progress, media): nothing lost, nothing doubled.
//
// A change others must hear about is written in the same database
// transaction as an outbox row ([Add]). A [Relay] delivers the rows through
// a [Deliver] func (notification.Publish over gRPC) with retries, backoff
// and jitter, in order per key, and removes each once delivered. A relay
// made by [NewBatchRelay] hands each key's waiting messages to a
// [DeliverBatch] func (notification.PublishBatch) up to Options.MaxPerCall
// at a time instead, with the same order and retries:
//
//	if err := outbox.Migrate(ctx, db); err != nil { ... }   // beside the service's own migrations
//	relay := outbox.NewRelay(db, publish, outbox.Options{Outbox: "progress", ...})
//	go relay.Run(ctx)
//
//	err := db.InTx(ctx, func(tx *sqldb.Tx) error {
//		if err := store.recordAssessment(ctx, tx, a); err != nil { // locks the child's row
//			return err
//		}
//		_, err := outbox.Add(ctx, tx, outbox.Message{Key: a.Child, Payload: event})
//		return err
//	})
//	if err == nil {
//		relay.Notify() // deliver now rather than at the next poll
//	}
//
// # Guarantees
//
// Nothing is lost: a message exists exactly when the producer's transaction
// committed, and leaves the outbox only after Deliver returned nil for it,
// so a crash anywhere in between leaves it for the next relay. A message is
// delivered at least once: a relay that dies after Deliver succeeded but
// before the row was removed, or a Deliver that failed after the receiver
// stored the event, causes a second delivery with the same [Message.ID],
// which the receiver de-duplicates. A message that keeps failing (poison)
// is retried forever with capped backoff, its attempts stored and logged
// at Error level once the backoff reaches its cap; it is never dropped, and
// it holds back only the later messages of its own key.
//
// # Ordering
//
// Messages with the same key are delivered one at a time, in the order
// their transactions committed. Each message gets a sequence number from a
// counter row per key (table outbox_keys), which [Add] bumps with
// INSERT ... ON CONFLICT DO UPDATE ... RETURNING inside the producer's
// transaction. The bump holds the counter row locked until that transaction
// commits or rolls back (PostgreSQL row lock; on SQLite every write
// transaction holds the database's single write lock), and a second
// transaction adding for the same key waits for it and then reads the
// committed value. So for one key the sequence is strictly increasing in
// commit order and has no gaps, and the relay can never see message n+1
// committed while message n is still in flight: it delivers the lowest
// sequence first and nothing after a message that failed.
//
// An identity or autoincrement column would not do as well: its numbers
// are taken when a row is inserted, not when its transaction commits, so
// a transaction could take 5 and commit after another took 6. It is safe
// only when the producers already serialize on something else taken first;
// in Kinbridge they do (transactions writing one child's events also write
// that child's row), but that would be a rule for every caller to keep,
// where the counter row makes it the outbox's own business. There is no
// common syntax for one either. The cost is a row per key ever used, kept
// so that a key's sequence never restarts while a message of it is pending.
//
// Call Add after the statements that lock the child's row, as above: the
// two locks are then always taken in the same order, and concurrent
// producers queue instead of deadlocking. Messages of different keys are
// not ordered with respect to each other.
//
// # Relays and the lease
//
// Every instance of a service may run a relay on the shared database. A
// single lease row (outbox_lease) lets one of them deliver at a time, which
// keeps per-key order across instances without SELECT ... FOR UPDATE SKIP
// LOCKED: the holder renews it every LeaseTTL/5 while delivering and stops,
// canceling the deliveries in flight, when it cannot renew within
// 3/5 LeaseTTL; the others take it over once it has not changed for a whole
// LeaseTTL by their own clocks (so the machines' clocks need not agree), or
// at once when the holder releases it on a clean stop. Within the holder,
// up to Options.Concurrency keys are delivered in parallel, each key's
// messages one after the other. The polling queries and lease renewals run
// untraced (they would make a root span every second); a delivery's span
// covers the removal of its row.
//
// # Tracing
//
// Add captures the trace context of its ctx with the global propagator
// into [Message.Carrier]. Each delivery attempt runs in a span
// "outbox.deliver" (kind producer) that is a child of that context, in the
// same trace as the request that caused the message, and also links to it.
// It carries messaging.system ("kinbridge.outbox"), messaging.operation.type
// (send), messaging.operation.name (deliver), messaging.message.id,
// messaging.message.body.size, kinbridge.outbox.name, kinbridge.outbox.key
// and kinbridge.outbox.attempt; never anything of the payload.
//
// # Metrics
//
// Through Options.MeterProvider, every series with the attribute
// kinbridge.outbox.name (Options.Outbox):
//
//	name                         kind     unit        value
//	kinbridge.outbox.lag         gauge    s           age of the oldest message not yet delivered, 0 when none
//	kinbridge.outbox.pending     gauge    {message}   messages waiting, those backing off included
//	kinbridge.outbox.lease.held  gauge                1 while this relay holds the lease, else 0
//	kinbridge.outbox.deliveries  counter  {delivery}  attempts, by kinbridge.outbox.outcome: delivered, failed
//
// In Prometheus: kinbridge_outbox_lag_seconds, kinbridge_outbox_pending,
// kinbridge_outbox_lease_held, kinbridge_outbox_deliveries_total. The
// gauges are read from the database when collected, by every running relay
// whether it holds the lease or not, so the lag alert keeps working when
// the holder is stuck: aggregate them with max. Alert on lag, not on
// failed deliveries alone.
//
// # Schema
//
// [Migrate] applies [Migrations] with goose, recorded in the version table
// outbox_db_version (so its numbers never collide with the service's):
//
//	outbox_keys      (msg_key PK, last_seq)                     per-key sequence counter
//	outbox_messages  (msg_key, seq) PK, id UNIQUE, payload, carrier (JSON),
//	                 create_us, attempts, next_attempt_us, last_error
//	outbox_lease     (name PK = 'relay', holder, version)
//
// Only the first message of a key is ever attempted, so attempts,
// next_attempt_us and last_error describe the key's head; last_error is
// there for whoever inspects a stuck outbox by hand.
package outbox
