package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// Delivery is one event of a batch and the users whose inboxes take it.
type Delivery struct {
	Notification Notification
	Recipients   []string
}

// Delivered is what became of one Delivery of a batch: the rows stored,
// or fresh=false when its event id was published before (or earlier in the
// same batch) and nothing was stored. A delivery published before, in an
// earlier call, holds the rows that call stored, as Deliver returns them.
type Delivered struct {
	Stored []Notification
	Fresh  bool
}

// rowsPerInsert bounds the rows of one multi-row INSERT. It stays well
// under the bind-parameter limits of SQLite (32766) and PostgreSQL (65535),
// and small because SQLite looks each $N parameter up by name in a list,
// which makes preparing a statement quadratic in its parameters: with 200
// rows, preparing took a tenth of the server's CPU in bench/events, that
// lookup 4 %.
const rowsPerInsert = 50

// DeliverBatch stores several events as Deliver stores each, in the order
// given and in one transaction: every inbox receives the events in that
// order, with its next sequences, and an event id already published stores
// nothing. It costs a few statements per batch rather than a few per
// event and recipient.
//
// Each recipient's feed row is bumped once, by the number of rows it
// receives, and the rows are bumped in user order: two batches (or a batch
// and a Deliver) that share users take their row locks in the same order,
// so they wait for each other instead of deadlocking. As in Deliver, the
// lock is held until commit, so sequences commit in order per user.
func (s *SQL) DeliverBatch(ctx context.Context, ds []Delivery) ([]Delivered, error) {
	now := sqldb.FromMicros(sqldb.Micros(s.now()))
	var out []Delivered
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		out = make([]Delivered, len(ds))
		fresh, err := claim(ctx, tx, ds, now)
		if err != nil {
			return err
		}
		// How many rows each user receives, then one bump per user.
		counts := map[string]int64{}
		for i, d := range ds {
			if fresh[i] {
				for _, u := range d.Recipients {
					counts[u]++
				}
			}
		}
		users := make([]string, 0, len(counts))
		for u := range counts {
			users = append(users, u)
		}
		slices.Sort(users)
		next := make(map[string]int64, len(users))
		for _, u := range users {
			var last int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO user_feeds (user_id, last_sequence) VALUES ($1, $2)
				ON CONFLICT (user_id) DO UPDATE SET last_sequence = user_feeds.last_sequence + $2
				RETURNING last_sequence`, u, counts[u]).Scan(&last); err != nil {
				return fmt.Errorf("next sequences: %w", err)
			}
			next[u] = last - counts[u] + 1
		}
		var rows []Notification
		for i, d := range ds {
			if !fresh[i] {
				continue
			}
			out[i].Fresh = true
			for _, u := range d.Recipients {
				row := d.Notification
				row.User, row.Sequence, row.Read = u, next[u], false
				next[u]++
				if row.CreateTime.IsZero() {
					row.CreateTime = now
				}
				out[i].Stored = append(out[i].Stored, row)
				rows = append(rows, row)
			}
		}
		for chunk := range slices.Chunk(rows, rowsPerInsert) {
			q, args := insertNotifications(chunk)
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("insert notifications: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Read after the commit: the first delivery committed before claim
	// found its id, so its rows are visible now.
	// An id repeated within the batch was stored by its first occurrence,
	// which announces it.
	seen := map[string]bool{}
	for i, d := range ds {
		id := d.Notification.EventID
		if seen[id] {
			continue
		}
		seen[id] = true
		if !out[i].Fresh {
			if out[i].Stored, err = s.ofEvent(ctx, id); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// claim records the batch's events as published and reports which were
// not before: those are the ones to store. An id twice in the batch is
// fresh the first time only.
func claim(ctx context.Context, tx *sqldb.Tx, ds []Delivery, now time.Time) ([]bool, error) {
	first := map[string]int{} // event id -> its first index in ds
	var ids []int
	for i, d := range ds {
		if _, dup := first[d.Notification.EventID]; !dup {
			first[d.Notification.EventID] = i
			ids = append(ids, i)
		}
	}
	fresh := make([]bool, len(ds))
	for chunk := range slices.Chunk(ids, rowsPerInsert) {
		var b strings.Builder
		b.WriteString(`INSERT INTO published_events (event_id, child_id, publish_time, recipient_count) VALUES `)
		args := make([]any, 0, 4*len(chunk))
		for k, i := range chunk {
			if k > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4)
			d := ds[i]
			args = append(args, d.Notification.EventID, d.Notification.ChildID, now.UnixMicro(), len(d.Recipients))
		}
		b.WriteString(` ON CONFLICT (event_id) DO NOTHING RETURNING event_id`)
		rows, err := tx.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("record published events: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			fresh[first[id]] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return fresh, nil
}

// insertNotifications is one multi-row INSERT of rows.
func insertNotifications(rows []Notification) (string, []any) {
	var b strings.Builder
	b.WriteString(`INSERT INTO notifications (user_id, sequence, event_id, type, child_id, title, body, link, create_time, is_read) VALUES `)
	args := make([]any, 0, 9*len(rows))
	for k, r := range rows {
		if k > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, FALSE)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9)
		args = append(args, r.User, r.Sequence, r.EventID, r.Type, r.ChildID, r.Title, r.Body, r.Link, sqldb.Micros(r.CreateTime))
	}
	return b.String(), args
}
