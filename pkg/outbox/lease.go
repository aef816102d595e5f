package outbox

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// leaseRow names the one row of outbox_lease: one relay delivers per
// database, which is one outbox per service.
const leaseRow = "relay"

// lease is a relay's handle on the outbox_lease row.
//
// The lease never compares clocks across machines. Every take, renewal and
// release bumps the row's version; a relay waiting for the lease notes, by
// its own monotonic clock, when it first saw the current version, and takes
// the lease over (compare-and-swap on that version) only once it has seen
// no change for a whole TTL. The holder renews every TTL/5 and, should its
// renewals fail or hang, stops delivering (a timer cancels the deliveries
// in flight) once fenceAfter (3/5 TTL) has passed since the start of its
// last successful renewal.
//
// Why that keeps two relays from delivering at once: the renewal that wrote
// the version a waiter saw started before the waiter saw it, so the holder
// stops at the latest at that start + 3/5 TTL, while the waiter takes over
// no sooner than its sighting + TTL. That leaves 2/5 TTL for a delivery in
// flight to return after its context is canceled. Only the clocks' rates
// need to agree, not their readings.
type lease struct {
	db   *sql.DB // untraced: a relay polls its lease every second
	name string
	ttl  time.Duration

	// What this relay last saw of the row while waiting for it.
	seen    bool
	holder  string
	version int64
	since   time.Time
}

// renewEvery is how often the holder renews its lease.
func (l *lease) renewEvery() time.Duration { return l.ttl / 5 }

// fenceAfter is how long after the start of its last successful renewal the
// holder may go on delivering.
func (l *lease) fenceAfter() time.Duration { return l.ttl * 3 / 5 }

// tryAcquire takes the lease if it is free, already ours, or has not changed
// for a TTL. On success it returns when the winning statement started, from
// which the holder counts its fence.
func (l *lease) tryAcquire(ctx context.Context) (ok bool, start time.Time, err error) {
	var holder string
	var version int64
	err = l.db.QueryRowContext(ctx,
		`SELECT holder, version FROM outbox_lease WHERE name = $1`, leaseRow).Scan(&holder, &version)
	if errors.Is(err, sql.ErrNoRows) {
		// The migration inserts the row; put it back if someone removed it.
		_, err = l.db.ExecContext(ctx,
			`INSERT INTO outbox_lease (name, holder, version) VALUES ($1, '', 0) ON CONFLICT (name) DO NOTHING`, leaseRow)
		return false, time.Time{}, err
	}
	if err != nil {
		return false, time.Time{}, err
	}
	now := time.Now()
	if !l.seen || holder != l.holder || version != l.version {
		l.seen, l.holder, l.version, l.since = true, holder, version, now
	}
	// Our own name means a renewal of ours whose answer was lost: nothing of
	// ours is delivering any more (Run only acquires between holds).
	if holder != "" && holder != l.name && now.Sub(l.since) < l.ttl {
		return false, time.Time{}, nil
	}
	start = time.Now()
	res, err := l.db.ExecContext(ctx,
		`UPDATE outbox_lease SET holder = $1, version = version + 1 WHERE name = $2 AND version = $3`,
		l.name, leaseRow, version)
	if err != nil {
		return false, time.Time{}, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, time.Time{}, err
	}
	l.seen = false // whatever happened, the row has changed since
	return n == 1, start, nil
}

// renew extends the lease this relay holds. It reports false when another
// relay has taken it over: renewals match on the holder alone, so a lost
// answer to an earlier renewal does not make this one fail.
func (l *lease) renew(ctx context.Context) (bool, error) {
	res, err := l.db.ExecContext(ctx,
		`UPDATE outbox_lease SET version = version + 1 WHERE name = $1 AND holder = $2`, leaseRow, l.name)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// release frees the lease if this relay holds it, so that a waiting relay
// takes over at once instead of after a TTL.
func (l *lease) release(ctx context.Context) error {
	_, err := l.db.ExecContext(ctx,
		`UPDATE outbox_lease SET holder = '', version = version + 1 WHERE name = $1 AND holder = $2`, leaseRow, l.name)
	return err
}
