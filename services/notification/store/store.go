// Package store keeps the notification service's state: inboxes with a
// per-user sequence, the events already published, and subscriptions.
// One SQL implementation serves SQLite and PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the schema migrations.
func Migrations() fs.FS { return sqldb.MigrationsDir(migrations, "migrations") }

// ErrNotFound reports a missing row.
var ErrNotFound = errors.New("not found")

// Notification is one inbox entry.
type Notification struct {
	User       string
	Sequence   int64
	EventID    string
	Type       int // the contract's EventType
	ChildID    string
	Title      string
	Body       string
	Link       string
	CreateTime time.Time
	Read       bool
}

// Subscription narrows what a user hears about a child.
type Subscription struct {
	User       string
	ChildID    string
	EventTypes []int // empty: all
	Muted      bool
	CreateTime time.Time
	UpdateTime time.Time
}

// Wants reports whether the subscription lets an event of this type through.
func (s Subscription) Wants(eventType int) bool {
	if s.Muted {
		return false
	}
	if len(s.EventTypes) == 0 {
		return true
	}
	for _, t := range s.EventTypes {
		if t == eventType {
			return true
		}
	}
	return false
}

// SQL is the store on a SQLite or PostgreSQL database.
type SQL struct {
	db  *sqldb.DB
	now func() time.Time
}

// NewSQL returns the store on a migrated database.
func NewSQL(db *sqldb.DB) *SQL { return &SQL{db: db, now: time.Now} }

// Deliver stores one notification per recipient for an event, each with
// the recipient's next sequence, and records the event as published, all
// in one transaction. A second delivery of the same event id stores
// nothing and returns fresh=false with the rows the first one stored (and
// that are still in the inboxes): the caller announces them to live feeds
// again, because a retry may follow a delivery that committed but whose
// caller never got to announce it (its answer was lost).
//
// Sequences are taken by an upsert on the user's feed row, which holds
// that row's lock until commit: a publisher that got a later sequence
// cannot commit before one that got an earlier sequence, so a reader who
// has seen sequence n never later finds a committed n-1 it skipped.
func (s *SQL) Deliver(ctx context.Context, n Notification, recipients []string) (stored []Notification, fresh bool, err error) {
	now := sqldb.FromMicros(sqldb.Micros(s.now()))
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		stored = stored[:0]
		_, err := tx.ExecContext(ctx, `INSERT INTO published_events (event_id, child_id, publish_time, recipient_count) VALUES ($1, $2, $3, $4)`,
			n.EventID, n.ChildID, sqldb.Micros(now), len(recipients))
		if sqldb.IsUniqueViolation(err) {
			return errDuplicate
		}
		if err != nil {
			return err
		}
		for _, user := range recipients {
			var seq int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO user_feeds (user_id, last_sequence) VALUES ($1, 1)
				ON CONFLICT (user_id) DO UPDATE SET last_sequence = user_feeds.last_sequence + 1
				RETURNING last_sequence`, user).Scan(&seq); err != nil {
				return fmt.Errorf("next sequence: %w", err)
			}
			row := n
			row.User, row.Sequence, row.Read = user, seq, false
			if row.CreateTime.IsZero() {
				row.CreateTime = now
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (user_id, sequence, event_id, type, child_id, title, body, link, create_time, is_read)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE)`,
				row.User, row.Sequence, row.EventID, row.Type, row.ChildID, row.Title, row.Body, row.Link, sqldb.Micros(row.CreateTime)); err != nil {
				return fmt.Errorf("insert notification: %w", err)
			}
			stored = append(stored, row)
		}
		return nil
	})
	if errors.Is(err, errDuplicate) {
		stored, err := s.ofEvent(ctx, n.EventID)
		return stored, false, err
	}
	if err != nil {
		return nil, false, err
	}
	return stored, true, nil
}

// ofEvent returns the notifications an event stored, in user order.
func (s *SQL) ofEvent(ctx context.Context, eventID string) ([]Notification, error) {
	return s.query(ctx, `SELECT `+columns+` FROM notifications WHERE event_id = $1 ORDER BY user_id`, eventID)
}

var errDuplicate = errors.New("event already published")

const columns = `user_id, sequence, event_id, type, child_id, title, body, link, create_time, is_read`

func scan(row interface{ Scan(...any) error }) (Notification, error) {
	var n Notification
	var created int64
	err := row.Scan(&n.User, &n.Sequence, &n.EventID, &n.Type, &n.ChildID, &n.Title, &n.Body, &n.Link, &created, &n.Read)
	n.CreateTime = sqldb.FromMicros(created)
	return n, err
}

func (s *SQL) query(ctx context.Context, q string, args ...any) ([]Notification, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// After returns a user's notifications with a sequence after the given
// one, oldest first: what a resuming stream missed.
func (s *SQL) After(ctx context.Context, user string, after int64, limit int) ([]Notification, error) {
	return s.query(ctx, `SELECT `+columns+` FROM notifications WHERE user_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3`,
		user, after, limit)
}

// Before returns a page of a user's notifications, newest first, with a
// sequence before the given one (0: from the newest).
func (s *SQL) Before(ctx context.Context, user string, before int64, unreadOnly bool, limit int) ([]Notification, error) {
	q := `SELECT ` + columns + ` FROM notifications WHERE user_id = $1`
	args := []any{user}
	if before > 0 {
		args = append(args, before)
		q += ` AND sequence < $2`
	}
	if unreadOnly {
		q += ` AND is_read = FALSE`
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY sequence DESC LIMIT $%d`, len(args))
	return s.query(ctx, q, args...)
}

// LastSequence is the newest sequence handed to the user (0 for none).
func (s *SQL) LastSequence(ctx context.Context, user string) (int64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT last_sequence FROM user_feeds WHERE user_id = $1`, user).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// CountUnread counts a user's unread notifications.
func (s *SQL) CountUnread(ctx context.Context, user string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND is_read = FALSE`, user).Scan(&n)
	return n, err
}

// MarkRead marks the given sequences, and all up to upTo (0: none), read.
func (s *SQL) MarkRead(ctx context.Context, user string, sequences []int64, upTo int64) (int64, error) {
	var total int64
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		total = 0
		mark := func(q string, args ...any) error {
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			total += n
			return err
		}
		if upTo > 0 {
			if err := mark(`UPDATE notifications SET is_read = TRUE WHERE user_id = $1 AND sequence <= $2 AND is_read = FALSE`, user, upTo); err != nil {
				return err
			}
		}
		for _, seq := range sequences {
			if err := mark(`UPDATE notifications SET is_read = TRUE WHERE user_id = $1 AND sequence = $2 AND is_read = FALSE`, user, seq); err != nil {
				return err
			}
		}
		return nil
	})
	return total, err
}

// Withdraw records a revoked guardianship or a deleted child (the event id,
// for de-duplication) and removes the child's notifications from the user's
// inbox, or, when user is empty (the child is deleted), from every inbox
// along with every subscription to the child, in one transaction. It
// returns, for each user whose inbox lost any, the highest sequence removed:
// every notification of the child up to it has left that inbox, and none can
// still arrive below it (a user's sequences commit in order), so a later one
// was stored after the removal and stays. A second withdrawal of the same
// event id removes nothing and returns fresh=false. Sequences are never
// reused: the feed rows keep their counters.
func (s *SQL) Withdraw(ctx context.Context, ev Notification, user string) (removed map[string]int64, fresh bool, err error) {
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		removed = map[string]int64{}
		_, err := tx.ExecContext(ctx, `INSERT INTO published_events (event_id, child_id, publish_time, recipient_count) VALUES ($1, $2, $3, 0)`,
			ev.EventID, ev.ChildID, sqldb.Micros(s.now()))
		if sqldb.IsUniqueViolation(err) {
			return errDuplicate
		}
		if err != nil {
			return err
		}
		if user == "" {
			// The child is deleted: so are its followers' settings for it.
			if _, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE child_id = $1`, ev.ChildID); err != nil {
				return err
			}
		}
		q, args := `DELETE FROM notifications WHERE child_id = $1`, []any{ev.ChildID}
		if user != "" {
			q, args = q+` AND user_id = $2`, append(args, user)
		}
		rows, err := tx.QueryContext(ctx, q+` RETURNING user_id, sequence`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var u string
			var seq int64
			if err := rows.Scan(&u, &seq); err != nil {
				return err
			}
			removed[u] = max(removed[u], seq)
		}
		return rows.Err()
	})
	if errors.Is(err, errDuplicate) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return removed, true, nil
}

// Expire removes notifications and published-event records older than
// cutoff. The de-duplication window is therefore the retention period.
func (s *SQL) Expire(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM notifications WHERE create_time < $1`, sqldb.Micros(cutoff))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return n, err
	}
	_, err = s.db.ExecContext(ctx, `DELETE FROM published_events WHERE publish_time < $1`, sqldb.Micros(cutoff))
	return n, err
}

func encodeTypes(types []int) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = strconv.Itoa(t)
	}
	return strings.Join(parts, ",")
}

func decodeTypes(s string) []int {
	var out []int
	for _, p := range strings.Split(s, ",") {
		if t, err := strconv.Atoi(p); err == nil {
			out = append(out, t)
		}
	}
	return out
}

const subscriptionColumns = `user_id, child_id, event_types, muted, create_time, update_time`

func scanSubscription(row interface{ Scan(...any) error }) (Subscription, error) {
	var sub Subscription
	var types string
	var created, updated int64
	err := row.Scan(&sub.User, &sub.ChildID, &types, &sub.Muted, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Subscription{}, ErrNotFound
	}
	sub.EventTypes, sub.CreateTime, sub.UpdateTime = decodeTypes(types), sqldb.FromMicros(created), sqldb.FromMicros(updated)
	return sub, err
}

// PutSubscription creates or replaces a subscription.
func (s *SQL) PutSubscription(ctx context.Context, sub Subscription) (Subscription, error) {
	now := sqldb.FromMicros(sqldb.Micros(s.now()))
	sub.UpdateTime = now
	if sub.CreateTime.IsZero() {
		sub.CreateTime = now
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id, child_id) DO UPDATE SET event_types = $3, muted = $4, update_time = $6`,
		sub.User, sub.ChildID, encodeTypes(sub.EventTypes), sub.Muted, sqldb.Micros(sub.CreateTime), sqldb.Micros(sub.UpdateTime))
	if err != nil {
		return Subscription{}, err
	}
	return s.Subscription(ctx, sub.User, sub.ChildID)
}

// ErrAlreadyExists reports a subscription created twice.
var ErrAlreadyExists = errors.New("already exists")

// CreateSubscription stores a new subscription, unless the user has one
// for the child already (ErrAlreadyExists) or has limit subscriptions
// already (ErrCapReached, with how many). limit <= 0 does not cap.
func (s *SQL) CreateSubscription(ctx context.Context, sub Subscription, limit int) (Subscription, int, error) {
	now := sqldb.FromMicros(sqldb.Micros(s.now()))
	sub.CreateTime, sub.UpdateTime = now, now
	var count int
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := lockUser(ctx, tx, sub.User); err != nil {
			return err
		}
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions WHERE user_id = $1 AND child_id = $2`, sub.User, sub.ChildID).Scan(&exists); err != nil {
			return err
		}
		if exists > 0 {
			return ErrAlreadyExists
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscriptions WHERE user_id = $1`, sub.User).Scan(&count); err != nil {
			return err
		}
		if limit > 0 && count >= limit {
			return ErrCapReached
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			sub.User, sub.ChildID, encodeTypes(sub.EventTypes), sub.Muted, sqldb.Micros(sub.CreateTime), sqldb.Micros(sub.UpdateTime))
		if sqldb.IsUniqueViolation(err) {
			return ErrAlreadyExists
		}
		return err
	})
	if err != nil {
		return Subscription{}, count, err
	}
	return sub, count + 1, nil
}

// Subscription returns one subscription.
func (s *SQL) Subscription(ctx context.Context, user, childID string) (Subscription, error) {
	return scanSubscription(s.db.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE user_id = $1 AND child_id = $2`, user, childID))
}

// Subscriptions lists a user's subscriptions by child, after a child id.
func (s *SQL) Subscriptions(ctx context.Context, user, afterChild string, limit int) ([]Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE user_id = $1 AND child_id > $2 ORDER BY child_id LIMIT $3`,
		user, afterChild, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// ChildSubscriptions returns the subscriptions on a child, by user.
func (s *SQL) ChildSubscriptions(ctx context.Context, childID string) (map[string]Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE child_id = $1`, childID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Subscription{}
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		out[sub.User] = sub
	}
	return out, rows.Err()
}

// DeleteSubscription removes a subscription.
func (s *SQL) DeleteSubscription(ctx context.Context, user, childID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM subscriptions WHERE user_id = $1 AND child_id = $2`, user, childID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}
