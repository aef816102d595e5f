package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// refDelta collects the changes a transaction makes to reference counts,
// so each blob's row is written once, and all of them in one order.
type refDelta map[string]int64

func (d refDelta) add(shas []string, n int64) {
	for _, sha := range shas {
		if sha != "" {
			d[sha] += n
		}
	}
}

// apply writes the changes, blobs in ascending order: two transactions
// adjusting the same blobs then lock their rows in the same order and
// queue rather than deadlock on PostgreSQL.
//
// A new reference on a condemned row fails with ErrBlobCondemned: its
// bytes may be gone, and only a writer that pins and Puts them again may
// reference them (see the package documentation). A count that would drop
// below zero fails with ErrNotPinned, rolling the whole write back: it
// means the bookkeeping is wrong, and going on could sweep bytes in use.
func (d refDelta) apply(ctx context.Context, tx *sqldb.Tx, now time.Time) error {
	shas := make([]string, 0, len(d))
	for sha, n := range d {
		if n != 0 {
			shas = append(shas, sha)
		}
	}
	slices.Sort(shas)
	for _, sha := range shas {
		if n := d[sha]; n > 0 {
			// zero_since goes: the blob is in use again.
			res, err := tx.ExecContext(ctx, `INSERT INTO blob_refs (sha256, refs) VALUES ($1, $2)
				ON CONFLICT (sha256) DO UPDATE SET refs = blob_refs.refs + excluded.refs, zero_since = NULL
				WHERE blob_refs.condemned_by IS NULL`, sha, n)
			if err := oneRow(res, err, fmt.Errorf("blob %s: %w", sha, ErrBlobCondemned)); err != nil {
				return err
			}
		} else {
			// The CASE sees the row as it was before the update, on both
			// dialects: the count reaches zero when it equalled the decrement.
			res, err := tx.ExecContext(ctx, `UPDATE blob_refs SET refs = refs - $2,
				zero_since = CASE WHEN refs = $2 THEN CAST($3 AS BIGINT) ELSE zero_since END
				WHERE sha256 = $1 AND refs >= $2`, sha, -n, sqldb.Micros(now))
			if err := oneRow(res, err, fmt.Errorf("blob %s: dropping %d references: %w", sha, -n, ErrNotPinned)); err != nil {
				return err
			}
		}
	}
	return nil
}

// execResult is what ExecContext returns.
type execResult interface{ RowsAffected() (int64, error) }

// oneRow returns err, or none when the statement changed a row, or
// otherwise.
func oneRow(res execResult, err, otherwise error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return otherwise
	}
	return nil
}

// releasePins drops every pin holder has and adds the dropped references
// to delta.
func releasePins(ctx context.Context, tx *sqldb.Tx, holder Holder, delta refDelta) error {
	rows, err := tx.QueryContext(ctx, `DELETE FROM blob_pins WHERE holder = $1 RETURNING sha256`, string(holder))
	if err != nil {
		return fmt.Errorf("release pins: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			return err
		}
		delta[sha]--
	}
	return rows.Err()
}

// PinBlob takes a reference for holder on bytes about to be written.
//
// On a condemned row it fails with ErrBlobCondemned while the sweeper's
// lease runs; once the lease has run out (by this process's clock) the pin
// takes the row over, which is safe because the writer's Put follows the
// pin and the sweeper bounded its Delete by its lease.
func (s *SQL) PinBlob(ctx context.Context, sha256 string, holder Holder) error {
	if sha256 == "" || holder == "" {
		return fmt.Errorf("pin blob %q for %q: %w", sha256, holder, ErrInvalid)
	}
	now := s.stamp()
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO blob_pins (sha256, holder, create_time) VALUES ($1, $2, $3)
			ON CONFLICT (sha256, holder) DO NOTHING`, sha256, string(holder), sqldb.Micros(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // already pinned by holder: already counted
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO blob_refs (sha256, refs) VALUES ($1, 1)
			ON CONFLICT (sha256) DO UPDATE SET refs = blob_refs.refs + 1, zero_since = NULL,
				condemned_by = NULL, condemned_until = NULL
			WHERE blob_refs.condemned_until IS NULL OR blob_refs.condemned_until < $2`, sha256, sqldb.Micros(now))
		return oneRow(res, err, fmt.Errorf("blob %s: %w", sha256, ErrBlobCondemned))
	})
	if err != nil {
		return wrap("pin blob", err)
	}
	return nil
}

// UnpinBlob drops holder's pin on a blob.
func (s *SQL) UnpinBlob(ctx context.Context, sha256 string, holder Holder) error {
	now := s.stamp()
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM blob_pins WHERE sha256 = $1 AND holder = $2`, sha256, string(holder))
		if err := oneRow(res, err, fmt.Errorf("blob %s, holder %s: %w", sha256, holder, ErrNotPinned)); err != nil {
			return err
		}
		return refDelta{sha256: -1}.apply(ctx, tx, now)
	})
	if err != nil {
		return wrap("unpin blob", err)
	}
	return nil
}

// BlobRefs returns a blob's reference count.
func (s *SQL) BlobRefs(ctx context.Context, sha256 string) (int64, error) {
	var refs int64
	err := s.db.QueryRowContext(ctx, `SELECT refs FROM blob_refs WHERE sha256 = $1`, sha256).Scan(&refs)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	return refs, err
}

// UnreferencedBlobs lists blobs without references since before olderThan
// (inclusive), oldest first, leaving out those another sweeper's lease
// covers (by this process's clock). limit 0 lists them all.
func (s *SQL) UnreferencedBlobs(ctx context.Context, olderThan time.Time, limit int) ([]string, error) {
	query := `SELECT sha256 FROM blob_refs
		WHERE refs = 0 AND zero_since <= $1 AND (condemned_until IS NULL OR condemned_until < $2)
		ORDER BY zero_since, sha256`
	args := []any{sqldb.Micros(olderThan), sqldb.Micros(s.stamp())}
	if limit > 0 {
		query, args = query+` LIMIT $3`, append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("unreferenced blobs: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sha string
		if err := rows.Scan(&sha); err != nil {
			return nil, err
		}
		out = append(out, sha)
	}
	return out, rows.Err()
}

// CondemnBlob is the sweeper's compare-and-set before it deletes bytes: it
// succeeds only while the blob has had no reference since olderThan, and
// no other sweeper's lease runs. From then until ForgetBlob, or until the
// lease ends at until, no reference can be taken on the blob.
//
// The sweeper must finish (or abandon for good) its Delete of the bytes
// before until: bound it with a context deadline well before, by more than
// the clock skew between machines.
func (s *SQL) CondemnBlob(ctx context.Context, sha256, sweeper string, olderThan, until time.Time) (bool, error) {
	if sweeper == "" {
		return false, fmt.Errorf("condemn blob: empty sweeper: %w", ErrInvalid)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE blob_refs SET condemned_by = $2, condemned_until = $3
		WHERE sha256 = $1 AND refs = 0 AND zero_since <= $4
		AND (condemned_until IS NULL OR condemned_until < $5 OR condemned_by = $2)`,
		sha256, sweeper, sqldb.Micros(until), sqldb.Micros(olderThan), sqldb.Micros(s.stamp()))
	if err != nil {
		return false, fmt.Errorf("condemn blob: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ForgetBlob removes a blob's row once sweeper has deleted its bytes. It
// removes nothing when the blob was referenced again (a pin took over after
// the lease ran out) or another sweeper condemned it since: the row then
// still describes bytes that exist, or are being dealt with by that sweeper.
func (s *SQL) ForgetBlob(ctx context.Context, sha256, sweeper string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM blob_refs WHERE sha256 = $1 AND refs = 0 AND condemned_by = $2`,
		sha256, sweeper)
	if err != nil {
		return false, fmt.Errorf("forget blob: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
