package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
)

// maxLastError bounds the error text kept on a job: enough to diagnose,
// never a row that grows with a tool's output.
const maxLastError = 2048

const jobColumns = `id, child_id, item_id, kind, attempts, next_attempt, last_error, lease_owner, lease_until, create_time, trace_context`

func scanJob(row scanner) (Job, error) {
	var j Job
	var next, leaseUntil, created int64
	var traceContext sql.NullString
	err := row.Scan(&j.ID, &j.ChildID, &j.ItemID, &j.Kind, &j.Attempts, &next, &j.LastError, &j.LeaseOwner,
		&leaseUntil, &created, &traceContext)
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, ErrNotFound
	}
	j.NextAttempt, j.CreateTime = sqldb.FromMicros(next), sqldb.FromMicros(created)
	if leaseUntil != 0 {
		j.LeaseUntil = sqldb.FromMicros(leaseUntil)
	}
	if err == nil && traceContext.Valid {
		// An unreadable context costs the trace only: the job still runs,
		// in a trace of its own.
		if json.Unmarshal([]byte(traceContext.String), &j.TraceContext) != nil {
			j.TraceContext = nil
		}
	}
	return j, err
}

// traceContextArg stores a job's trace context as JSON, NULL when it has
// none.
func traceContextArg(tc map[string]string) (any, error) {
	if len(tc) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(tc)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// prepareJobs returns jobs as they will be stored: ids generated, enqueued
// now, due now unless they say otherwise, never leased. Non-empty childID
// and itemID override the jobs' own (an item's jobs belong to it).
func (s *SQL) prepareJobs(jobs []Job, childID, itemID string) []Job {
	now := s.stamp()
	out := make([]Job, len(jobs))
	for i, j := range jobs {
		if j.ID == "" {
			j.ID = newID()
		}
		if childID != "" {
			j.ChildID = childID
		}
		if itemID != "" {
			j.ItemID = itemID
		}
		if j.NextAttempt.IsZero() {
			j.NextAttempt = now
		}
		j.NextAttempt = sqldb.FromMicros(sqldb.Micros(j.NextAttempt))
		j.Attempts, j.LastError, j.LeaseOwner, j.LeaseUntil, j.CreateTime = 0, "", "", time.Time{}, now
		out[i] = j
	}
	return out
}

// insertJobs stores prepared jobs. A job without a trace context takes
// ctx's, set on jobs in place so that callers return the jobs as stored.
func insertJobs(ctx context.Context, tx *sqldb.Tx, jobs []Job) error {
	for i := range jobs {
		j := &jobs[i]
		if j.ChildID == "" || j.ItemID == "" || j.Kind == "" {
			return fmt.Errorf("job %+v: child, item and kind are required: %w", *j, ErrInvalid)
		}
		if j.TraceContext == nil {
			j.TraceContext = telemetry.Carrier(ctx)
		}
		tc, err := traceContextArg(j.TraceContext)
		if err != nil {
			return fmt.Errorf("job %s: trace context: %w", j.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO media_jobs (`+jobColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			j.ID, j.ChildID, j.ItemID, j.Kind, j.Attempts, sqldb.Micros(j.NextAttempt), j.LastError, j.LeaseOwner, 0,
			sqldb.Micros(j.CreateTime), tc); err != nil {
			return fmt.Errorf("enqueue job: %w", err)
		}
	}
	return nil
}

// EnqueueJobs stores jobs in one transaction.
func (s *SQL) EnqueueJobs(ctx context.Context, jobs ...Job) error {
	jobs = s.prepareJobs(jobs, "", "")
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error { return insertJobs(ctx, tx, jobs) })
	if sqldb.IsUniqueViolation(err) {
		return ErrAlreadyExists
	}
	return wrap("enqueue jobs", err)
}

// EnqueueTx stores jobs in the caller's transaction, for writes this store
// does not offer in one call; CreateItem already enqueues its item's jobs.
// It returns the jobs as stored.
func (s *SQL) EnqueueTx(ctx context.Context, tx *sqldb.Tx, jobs ...Job) ([]Job, error) {
	jobs = s.prepareJobs(jobs, "", "")
	if err := insertJobs(ctx, tx, jobs); err != nil {
		return nil, err
	}
	return jobs, nil
}

// GetJob returns one job.
func (s *SQL) GetJob(ctx context.Context, id string) (Job, error) {
	return scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM media_jobs WHERE id = $1`, id))
}

// ClaimJobs leases due jobs to owner. It needs nothing beyond portable
// SQL (no SELECT ... FOR UPDATE SKIP LOCKED, which SQLite lacks): it lists
// candidates, then claims each with a compare-and-set that succeeds only
// while the job is still due and unleased. Of workers racing for a job,
// PostgreSQL makes all but the first re-check that condition after the
// first commits, and SQLite runs them one at a time, so exactly one
// claim changes the row and every other sees no row affected.
//
// Each claim counts as an attempt, so a job that crashes its worker still
// uses up attempts. Owner should be unique per worker (host, process and a
// random part): a lease is only as exclusive as its owner's name.
func (s *SQL) ClaimJobs(ctx context.Context, owner string, now time.Time, leaseFor time.Duration, limit int) ([]Job, error) {
	if owner == "" || leaseFor <= 0 || limit <= 0 {
		return nil, fmt.Errorf("claim jobs: owner %q, lease %v, limit %d: %w", owner, leaseFor, limit, ErrInvalid)
	}
	nowUS, until := sqldb.Micros(now), sqldb.Micros(now.Add(leaseFor))
	// Twice the limit of candidates: under contention some go to others.
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM media_jobs WHERE next_attempt <= $1 AND lease_until < $1
		ORDER BY next_attempt, id LIMIT $2`, nowUS, 2*limit)
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim jobs: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}

	var claimed []Job
	for _, id := range ids {
		if len(claimed) == limit {
			break
		}
		var job Job
		var won bool
		err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE media_jobs SET lease_owner = $2, lease_until = $3, attempts = attempts + 1
				WHERE id = $1 AND next_attempt <= $4 AND lease_until < $4`, id, owner, until, nowUS)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return err // someone else's now
			}
			job, err = scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM media_jobs WHERE id = $1`, id))
			won = err == nil
			return err
		})
		if err != nil {
			// The jobs claimed so far stay leased and are returned: their
			// leases run out if the caller drops them.
			return claimed, fmt.Errorf("claim job %s: %w", id, err)
		}
		if won {
			claimed = append(claimed, job)
		}
	}
	return claimed, nil
}

// leaseLost tells why a job owner holds was not found: gone altogether
// (ErrNotFound: completed, or deleted with its item) or someone else's
// (ErrLeaseLost).
func (s *SQL) leaseLost(ctx context.Context, id string) error {
	if _, err := s.GetJob(ctx, id); err != nil {
		return err
	}
	return ErrLeaseLost
}

// deleteJobs deletes the jobs matching where and releases their pins into
// delta.
func deleteJobs(ctx context.Context, tx *sqldb.Tx, where string, args []any, delta refDelta) error {
	rows, err := tx.QueryContext(ctx, `DELETE FROM media_jobs WHERE `+where+` RETURNING id`, args...)
	if err != nil {
		return fmt.Errorf("delete jobs: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if err := releasePins(ctx, tx, JobHolder(id), delta); err != nil {
			return err
		}
	}
	return nil
}

// CompleteJob removes a job owner holds and releases the pins it took.
// ErrLeaseLost when another worker has claimed it since; ErrNotFound when
// it is gone.
func (s *SQL) CompleteJob(ctx context.Context, id, owner string) error {
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		return s.completeJob(ctx, tx, id, owner)
	})
	if errors.Is(err, ErrLeaseLost) {
		return s.leaseLost(ctx, id)
	}
	return wrap("complete job", err)
}

// completeJob deletes the job if owner holds it and releases its pins.
// It leaves a lease held past its end to its owner as long as nobody
// else claimed the job: the work is done, and redoing it would be waste.
func (s *SQL) completeJob(ctx context.Context, tx *sqldb.Tx, id, owner string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM media_jobs WHERE id = $1 AND lease_owner = $2`, id, owner)
	if err := oneRow(res, err, ErrLeaseLost); err != nil {
		return err
	}
	delta := refDelta{}
	if err := releasePins(ctx, tx, JobHolder(id), delta); err != nil {
		return err
	}
	return delta.apply(ctx, tx, s.stamp())
}

// FinishJob stores the job's result on its item and completes the job in
// one transaction, so a crash never leaves a READY item with its job still
// queued (which would redo the work and announce it twice) nor a completed
// job without its result. The item write is the same optimistic
// read-modify-write as UpdateItem's, retried when another writer got in
// between. The item is written before the job is deleted: DeleteItem
// locks the item before its jobs, and the same order keeps the two from
// deadlocking.
func (s *SQL) FinishJob(ctx context.Context, id, owner string, change func(*Item) error, events ...outbox.Message) (Item, error) {
	return s.FinishJobAnnouncing(ctx, id, owner, change, func(Item) []outbox.Message { return events })
}

// FinishJobAnnouncing is FinishJob with the events announce makes of the
// item as the transaction stores it (say, one event for a draft and another
// for a published item).
func (s *SQL) FinishJobAnnouncing(ctx context.Context, id, owner string, change func(*Item) error, announce func(Item) []outbox.Message) (Item, error) {
	for {
		job, err := s.GetJob(ctx, id)
		if err != nil {
			return Item{}, err
		}
		if job.LeaseOwner != owner {
			return Item{}, ErrLeaseLost
		}
		cur, err := s.GetItem(ctx, job.ChildID, job.ItemID)
		if err != nil {
			return Item{}, err
		}
		next, err := s.nextItem(cur, change)
		if err != nil {
			return Item{}, err
		}
		err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
			delta := refDelta{}
			if err := updateItemRow(ctx, tx, cur, next, delta); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM media_jobs WHERE id = $1 AND lease_owner = $2`, id, owner)
			if err := oneRow(res, err, ErrLeaseLost); err != nil {
				return err
			}
			// The item's new references and the release of the job's pins
			// are netted in one apply: a thumbnail the job pinned and the
			// item now uses never passes through zero.
			if err := releasePins(ctx, tx, JobHolder(id), delta); err != nil {
				return err
			}
			if err := delta.apply(ctx, tx, next.UpdateTime); err != nil {
				return err
			}
			return addEvents(ctx, tx, announce(next))
		})
		switch {
		case err == nil:
			return next, nil
		case errors.Is(err, errConflict):
			continue
		case errors.Is(err, ErrLeaseLost):
			return Item{}, s.leaseLost(ctx, id)
		default:
			return Item{}, wrap("finish job", err)
		}
	}
}

// FailJob records a failed attempt: the lease ends and the job is due
// again at nextAttempt (the caller's backoff). Giving up is the caller's
// decision: it marks the item FAILED with FinishJob.
func (s *SQL) FailJob(ctx context.Context, id, owner string, cause error, nextAttempt time.Time) error {
	msg := ""
	if cause != nil {
		msg = cause.Error()
	}
	if len(msg) > maxLastError {
		msg = msg[:maxLastError]
	}
	res, err := s.db.ExecContext(ctx, `UPDATE media_jobs SET lease_owner = '', lease_until = 0, next_attempt = $3, last_error = $4
		WHERE id = $1 AND lease_owner = $2`, id, owner, sqldb.Micros(nextAttempt), msg)
	if err := oneRow(res, err, ErrLeaseLost); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			return s.leaseLost(ctx, id)
		}
		return fmt.Errorf("fail job: %w", err)
	}
	return nil
}

// JobDepth is how many jobs are queued, leased or not: the queue depth
// gauge.
func (s *SQL) JobDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM media_jobs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("job depth: %w", err)
	}
	return n, nil
}

// OldestJobAge is how long ago the oldest queued job was enqueued: the
// queue age gauge, which grows when workers are stuck or a job keeps
// failing. 0 when the queue is empty.
func (s *SQL) OldestJobAge(ctx context.Context, now time.Time) (time.Duration, error) {
	var oldest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(create_time) FROM media_jobs`).Scan(&oldest); err != nil {
		return 0, fmt.Errorf("oldest job: %w", err)
	}
	if !oldest.Valid {
		return 0, nil
	}
	return max(0, now.Sub(sqldb.FromMicros(oldest.Int64))), nil
}
