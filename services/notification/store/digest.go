package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// DigestClaim is a runner's hold on one user's digest for one local day.
type DigestClaim struct {
	User string
	// Day is the user's local calendar day, YYYY-MM-DD.
	Day string
	// ID tells this claim from an earlier one on the same day (which a
	// runner held before its lease ran out).
	ID string
	// Attempts counts the claims of this day so far, this one included.
	Attempts int
}

// ClaimDigest claims (user, day) until leaseUntil in one statement: it
// succeeds when nobody claimed the day yet, or when the last claim's lease
// ran out before now without the digest being marked sent, as long as
// fewer than maxAttempts claims were made. ok=false: another runner holds
// it, it was sent, or it was given up.
func (s *SQL) ClaimDigest(ctx context.Context, user, day, claimID string, now, leaseUntil time.Time, maxAttempts int) (c DigestClaim, ok bool, err error) {
	c = DigestClaim{User: user, Day: day, ID: claimID}
	err = s.db.QueryRowContext(ctx, `INSERT INTO digest_sends (user_id, day, state, claim_id, lease_until, attempts)
		VALUES ($1, $2, 'claimed', $3, $4, 1)
		ON CONFLICT (user_id, day) DO UPDATE SET claim_id = excluded.claim_id, lease_until = excluded.lease_until,
			attempts = digest_sends.attempts + 1
		WHERE digest_sends.state = 'claimed' AND digest_sends.lease_until <= $5 AND digest_sends.attempts < $6
		RETURNING attempts`,
		user, day, claimID, sqldb.Micros(leaseUntil), sqldb.Micros(now), maxAttempts).Scan(&c.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return DigestClaim{}, false, nil
	}
	if err != nil {
		return DigestClaim{}, false, fmt.Errorf("claim digest: %w", err)
	}
	return c, true, nil
}

// DigestDone reports whether (user, day) needs no more work: sent, or
// claimed by a lease that still holds, or given up after maxAttempts.
func (s *SQL) DigestDone(ctx context.Context, user, day string, now time.Time, maxAttempts int) (bool, error) {
	var state string
	var leaseUntil int64
	var attempts int
	err := s.db.QueryRowContext(ctx, `SELECT state, lease_until, attempts FROM digest_sends WHERE user_id = $1 AND day = $2`,
		user, day).Scan(&state, &leaseUntil, &attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("digest state: %w", err)
	}
	return state == "sent" || leaseUntil > sqldb.Micros(now) || attempts >= maxAttempts, nil
}

// MarkDigestSent records that the claim's digest was accepted by the mail
// server. It reports false when the day was marked sent already: the
// claim's lease had run out and another runner sent it too (with the same
// Message-ID).
func (s *SQL) MarkDigestSent(ctx context.Context, c DigestClaim, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE digest_sends SET state = 'sent', sent_time = $1
		WHERE user_id = $2 AND day = $3 AND state = 'claimed'`,
		sqldb.Micros(now), c.User, c.Day)
	if err != nil {
		return false, fmt.Errorf("mark digest sent: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RetryDigestAt shortens or lengthens a claim's lease, so that another
// try (by any runner) comes at retryAt: after a failed send.
func (s *SQL) RetryDigestAt(ctx context.Context, c DigestClaim, retryAt time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE digest_sends SET lease_until = $1
		WHERE user_id = $2 AND day = $3 AND claim_id = $4 AND state = 'claimed'`,
		sqldb.Micros(retryAt), c.User, c.Day, c.ID)
	if err != nil {
		return fmt.Errorf("release digest claim: %w", err)
	}
	return nil
}

// NotificationsBetween returns up to limit of user's notifications created in
// [from, to), oldest first.
func (s *SQL) NotificationsBetween(ctx context.Context, user string, from, to time.Time, limit int) ([]Notification, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sequence, event_id, type, child_id, title, body, link, create_time, is_read
		FROM notifications WHERE user_id = $1 AND create_time >= $2 AND create_time < $3
		ORDER BY create_time, sequence LIMIT $4`,
		user, sqldb.Micros(from), sqldb.Micros(to), limit)
	if err != nil {
		return nil, fmt.Errorf("notifications between: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n := Notification{User: user}
		var created int64
		if err := rows.Scan(&n.Sequence, &n.EventID, &n.Type, &n.ChildID, &n.Title, &n.Body, &n.Link, &created, &n.Read); err != nil {
			return nil, err
		}
		n.CreateTime = sqldb.FromMicros(created)
		out = append(out, n)
	}
	return out, rows.Err()
}

// DigestTokenLifetime is how long a digest's unsubscribe link works: long
// past when anyone acts on a mail, and it bounds the tokens kept per user
// (one a day) to a year's.
const DigestTokenLifetime = 365 * 24 * time.Hour

// SaveDigestToken stores an unsubscribe token's SHA-256 (hex) for user,
// and forgets the user's tokens older than DigestTokenLifetime.
func (s *SQL) SaveDigestToken(ctx context.Context, user, tokenHash string, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO digest_tokens (token_hash, user_id, create_time) VALUES ($1, $2, $3)`,
		tokenHash, user, sqldb.Micros(now))
	if err != nil {
		return fmt.Errorf("save digest token: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `DELETE FROM digest_tokens WHERE user_id = $1 AND create_time < $2`,
		user, sqldb.Micros(now.Add(-DigestTokenLifetime)))
	if err != nil {
		return fmt.Errorf("forget old digest tokens: %w", err)
	}
	return nil
}

// DigestTokenUser returns the user an unsubscribe token's hash belongs to,
// or ErrNotFound.
func (s *SQL) DigestTokenUser(ctx context.Context, tokenHash string) (string, error) {
	var user string
	err := s.db.QueryRowContext(ctx, `SELECT user_id FROM digest_tokens WHERE token_hash = $1`, tokenHash).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("digest token: %w", err)
	}
	return user, nil
}
