package outbox

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
)

// VersionTable is the goose version table the outbox schema is recorded in,
// apart from the owning service's goose_db_version, so that the two sets of
// migration numbers never collide.
const VersionTable = "outbox_db_version"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the outbox schema as goose SQL migrations, for
// [sqldb.Migrate] with [sqldb.WithVersionTable]([VersionTable]); [Migrate]
// does exactly that.
func Migrations() fs.FS { return sqldb.MigrationsDir(migrations, "migrations") }

// Migrate applies the outbox schema to db. Run it where the service applies
// its own migrations, before any [Add] or [Relay.Run]; it is safe for
// several instances to run it at once.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := sqldb.Migrate(ctx, db, Migrations(), sqldb.WithVersionTable(VersionTable)); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Message is one event waiting in the outbox.
type Message struct {
	// ID is the event's unique id, which the receiver de-duplicates by: a
	// message may be delivered more than once. [Add] generates one (a UUIDv7)
	// when it is empty.
	ID string
	// Key orders messages: those with the same key are delivered one at a
	// time, in the order their transactions committed. Kinbridge uses the
	// child's resource name. It must not be empty.
	Key string
	// Payload is the event itself (a serialized proto); the outbox never
	// looks inside.
	Payload []byte
	// Carrier is the trace context (W3C traceparent and tracestate, Jaeger's
	// uber-trace-id, baggage) of the request that caused the message, which
	// the delivery continues. [Add] fills it from its context.
	Carrier map[string]string
	// CreateTime is when the message was added; [Add] sets it when zero. The
	// lag metric is measured from it.
	CreateTime time.Time
	// Attempts counts the failed deliveries so far: 0 on the first try.
	Attempts int
}

// ErrEmptyKey is returned by [Add] for a message without a Key.
var ErrEmptyKey = errors.New("outbox: message has no key")

// Add inserts m into the outbox within the caller's transaction: it is
// delivered only if tx commits, and is never lost once it has. Add returns
// m as stored, with its ID, Carrier and CreateTime filled in.
//
// The trace context of ctx is captured with the global otel propagator
// (which telemetry.Init sets: W3C traceparent and tracestate, Jaeger, W3C
// baggage) and added to m.Carrier, replacing keys of the same name, so that
// the delivery joins the caller's trace.
//
// Call Add after the statements that write the change the message
// announces (the child's row first, then its event): Add locks the key's
// sequence row until tx ends, and taking the two locks in the same order
// everywhere is what keeps concurrent writers from deadlocking.
//
// A duplicate ID fails with an error for which [sqldb.IsUniqueViolation]
// reports true.
func Add(ctx context.Context, tx *sqldb.Tx, m Message) (Message, error) {
	if m.Key == "" {
		return Message{}, ErrEmptyKey
	}
	if m.ID == "" {
		m.ID = newID()
	}
	if m.CreateTime.IsZero() {
		m.CreateTime = time.Now()
	}
	if m.Payload == nil {
		// NOT NULL in the schema: an event with no body is still an event.
		m.Payload = []byte{}
	}
	m.Attempts = 0
	carrier := make(map[string]string, len(m.Carrier)+3)
	maps.Copy(carrier, m.Carrier)
	maps.Copy(carrier, telemetry.Carrier(ctx))
	m.Carrier = carrier
	carrierJSON, err := json.Marshal(m.Carrier)
	if err != nil {
		return Message{}, fmt.Errorf("outbox: add: carrier: %w", err)
	}

	// The per-key counter, not an identity column: see "Ordering" in the
	// package documentation.
	var seq int64
	if err := tx.QueryRowContext(ctx,
		`INSERT INTO outbox_keys (msg_key, last_seq) VALUES ($1, 1)
		 ON CONFLICT (msg_key) DO UPDATE SET last_seq = outbox_keys.last_seq + 1
		 RETURNING last_seq`, m.Key).Scan(&seq); err != nil {
		return Message{}, fmt.Errorf("outbox: add: next sequence: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO outbox_messages (msg_key, seq, id, payload, carrier, create_us)
		 VALUES ($1, $2, $3, $4, $5, $6)`,
		m.Key, seq, m.ID, m.Payload, string(carrierJSON), m.CreateTime.UnixMicro()); err != nil {
		return Message{}, fmt.Errorf("outbox: add: %w", err)
	}
	return m, nil
}

// newID returns a UUIDv7 (RFC 9562): unique, and sortable by creation time,
// which makes event ids easy to follow in logs and in the receiver's table.
func newID() string {
	var b [16]byte
	rand.Read(b[6:]) // never fails since Go 1.24
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // variant 10
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
