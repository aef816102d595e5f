package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// ErrCapReached reports a write refused because the user already has as
// many of the thing as the cap allows.
var ErrCapReached = errors.New("cap reached")

// lockUser takes the row lock of the user's feed row, creating the row
// (at sequence 0, which LastSequence reports for a user without a row
// anyway) if needed. Writes that check a per-user cap take it first, so
// that two of them for the same user cannot both see room for one more.
func lockUser(ctx context.Context, tx *sqldb.Tx, user string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO user_feeds (user_id, last_sequence) VALUES ($1, 0)
		ON CONFLICT (user_id) DO UPDATE SET last_sequence = user_feeds.last_sequence`, user)
	return err
}

// The live feeds of every instance are rows, so that a cap on a user's
// open feeds holds across instances. An instance holds a lease it renews
// while it runs (RenewInstance); feeds count only while their instance's
// lease lasts, so those of an instance that died stop counting when its
// lease runs out, and SweepInstances deletes them.

// OpenFeed records a live feed of user on instance, unless the user's
// feeds that count (on every instance whose lease lasts) are limit or
// more already: then nothing is recorded, and it returns how many there
// are with ErrCapReached. limit <= 0 does not cap.
func (s *SQL) OpenFeed(ctx context.Context, feedID, instance, user string, limit int) (open int, err error) {
	now := sqldb.Micros(s.now())
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := lockUser(ctx, tx, user); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM live_feeds f
			JOIN live_instances i ON i.instance_id = f.instance_id
			WHERE f.user_id = $1 AND i.lease_until > $2`, user, now).Scan(&open); err != nil {
			return err
		}
		if limit > 0 && open >= limit {
			return ErrCapReached
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO live_feeds (feed_id, instance_id, user_id, open_time) VALUES ($1, $2, $3, $4)`,
			feedID, instance, user, now)
		return err
	})
	return open, err
}

// RestoreFeed records a live feed again, without checking any cap: an
// instance whose lease ran out (its database was away) may have had its
// feeds swept by another instance while they stayed open.
func (s *SQL) RestoreFeed(ctx context.Context, feedID, instance, user string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO live_feeds (feed_id, instance_id, user_id, open_time) VALUES ($1, $2, $3, $4)
		ON CONFLICT (feed_id) DO NOTHING`, feedID, instance, user, sqldb.Micros(s.now()))
	return err
}

// CloseFeed forgets a live feed; one already forgotten is no error.
func (s *SQL) CloseFeed(ctx context.Context, feedID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM live_feeds WHERE feed_id = $1`, feedID)
	return err
}

// RenewInstance extends the instance's lease to until, registering the
// instance if needed. lapsed reports that the lease had run out (or never
// existed): the instance's feeds may have been swept meanwhile.
func (s *SQL) RenewInstance(ctx context.Context, instance string, until time.Time) (lapsed bool, err error) {
	now := sqldb.Micros(s.now())
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var prev int64
		switch err := tx.QueryRowContext(ctx, `SELECT lease_until FROM live_instances WHERE instance_id = $1`, instance).Scan(&prev); {
		case errors.Is(err, sql.ErrNoRows):
			lapsed = true
		case err != nil:
			return err
		default:
			lapsed = prev <= now
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO live_instances (instance_id, lease_until) VALUES ($1, $2)
			ON CONFLICT (instance_id) DO UPDATE SET lease_until = $2`, instance, sqldb.Micros(until))
		return err
	})
	return lapsed, err
}

// DropInstance forgets an instance that stops, with its feeds.
func (s *SQL) DropInstance(ctx context.Context, instance string) error {
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM live_feeds WHERE instance_id = $1`, instance); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM live_instances WHERE instance_id = $1`, instance)
		return err
	})
}

// SweepInstances deletes the instances whose lease ran out before cutoff,
// and the feeds of any instance not holding a lease since cutoff (they
// stopped counting when the lease ran out), and returns how many feeds
// went.
func (s *SQL) SweepInstances(ctx context.Context, cutoff time.Time) (feeds int64, err error) {
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM live_feeds WHERE instance_id NOT IN
			(SELECT instance_id FROM live_instances WHERE lease_until >= $1)`, sqldb.Micros(cutoff))
		if err != nil {
			return err
		}
		if feeds, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM live_instances WHERE lease_until < $1`, sqldb.Micros(cutoff))
		return err
	})
	return feeds, err
}
