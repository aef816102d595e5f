package discussion

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// ErrNotFound means the item, the comment or the reaction does not exist.
var ErrNotFound = errors.New("not found")

// Tables names one collection's tables in its service's database. The
// service's migration creates them (see testdata/schema.sql for their
// shape): Comments and Reactions reference Items (child_id, id) with ON
// DELETE CASCADE, which is what deletes a conversation with its item.
type Tables struct {
	Items     string // the items: columns child_id, id
	Comments  string
	Reactions string
}

// Comment is one comment on an item.
type Comment struct {
	ChildID    string
	ItemID     string
	ID         string
	Author     string
	Text       string
	CreateTime time.Time
}

// Reaction is one user's reaction to an item.
type Reaction struct {
	ChildID    string
	ItemID     string
	User       string
	Kind       Kind
	CreateTime time.Time
	UpdateTime time.Time
}

// Summary is an item's conversation in numbers, as one user sees it.
type Summary struct {
	Counts   [maxKind + 1]int // by kind; Counts[0] unused
	Mine     Kind
	Comments int
}

// CommentCursor is the position after a page of comments, listed oldest
// first by (create time, id).
type CommentCursor struct {
	CreateTime int64  `json:"t"`
	ID         string `json:"i"`
}

// Store keeps one collection's comments and reactions. Its writes run in
// transactions of their own, with the outbox rows announcing them.
type Store struct {
	db  *sqldb.DB
	t   Tables
	now func() time.Time
}

// NewStore returns the store of the collection whose tables are t.
func NewStore(db *sqldb.DB, t Tables) *Store {
	return &Store{db: db, t: t, now: time.Now}
}

// SetClock replaces the store's clock (tests).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

func (s *Store) stamp() time.Time { return sqldb.FromMicros(sqldb.Micros(s.now())) }

// isForeignKeyViolation reports a reference to a row that is gone: the
// item was deleted while the write ran (PostgreSQL 23503, SQLite
// SQLITE_CONSTRAINT_FOREIGNKEY).
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// ItemExists reports whether the item is there.
func (s *Store) ItemExists(ctx context.Context, childID, itemID string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM `+s.t.Items+` WHERE child_id = $1 AND id = $2`, childID, itemID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("item exists: %w", err)
	}
	return true, nil
}

// addEvents adds the outbox rows in the write's transaction, after its rows.
func addEvents(ctx context.Context, tx *sqldb.Tx, events []outbox.Message) error {
	for _, ev := range events {
		if _, err := outbox.Add(ctx, tx, ev); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// AddComment stores a comment (its ID and CreateTime are set here) with
// its events; ErrNotFound when the item does not exist.
func (s *Store) AddComment(ctx context.Context, c Comment, events ...outbox.Message) (Comment, error) {
	c.ID, c.CreateTime = names.NewID(), s.stamp()
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO `+s.t.Comments+` (child_id, item_id, id, author, text, create_time)
			SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM `+s.t.Items+` WHERE child_id = $1 AND id = $2)`,
			c.ChildID, c.ItemID, c.ID, c.Author, c.Text, sqldb.Micros(c.CreateTime))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return addEvents(ctx, tx, events)
	})
	if isForeignKeyViolation(err) {
		return Comment{}, ErrNotFound
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Comment{}, fmt.Errorf("add comment: %w", err)
	}
	return c, err
}

const commentColumns = `child_id, item_id, id, author, text, create_time`

func scanComment(row interface{ Scan(...any) error }) (Comment, error) {
	var c Comment
	var created int64
	err := row.Scan(&c.ChildID, &c.ItemID, &c.ID, &c.Author, &c.Text, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Comment{}, ErrNotFound
	}
	c.CreateTime = sqldb.FromMicros(created)
	return c, err
}

// GetComment returns one comment.
func (s *Store) GetComment(ctx context.Context, childID, itemID, id string) (Comment, error) {
	return scanComment(s.db.QueryRowContext(ctx, `SELECT `+commentColumns+` FROM `+s.t.Comments+`
		WHERE child_id = $1 AND item_id = $2 AND id = $3`, childID, itemID, id))
}

// ListComments returns up to limit of an item's comments after the
// cursor (nil: from the first), oldest first.
func (s *Store) ListComments(ctx context.Context, childID, itemID string, after *CommentCursor, limit int) ([]Comment, error) {
	query := `SELECT ` + commentColumns + ` FROM ` + s.t.Comments + ` WHERE child_id = $1 AND item_id = $2`
	args := []any{childID, itemID}
	if after != nil {
		query += ` AND (create_time > $3 OR (create_time = $3 AND id > $4))`
		args = append(args, after.CreateTime, after.ID)
	}
	query += fmt.Sprintf(` ORDER BY create_time, id LIMIT $%d`, len(args)+1)
	rows, err := s.db.QueryContext(ctx, query, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list comments: %w", err)
	}
	defer rows.Close()
	var out []Comment
	for rows.Next() {
		c, err := scanComment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteComment removes a comment; ErrNotFound when it is not there.
func (s *Store) DeleteComment(ctx context.Context, childID, itemID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM `+s.t.Comments+` WHERE child_id = $1 AND item_id = $2 AND id = $3`, childID, itemID, id)
	if err != nil {
		return fmt.Errorf("delete comment: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}

const reactionColumns = `child_id, item_id, user_id, kind, create_time, update_time`

func scanReaction(row interface{ Scan(...any) error }) (Reaction, error) {
	var r Reaction
	var created, updated int64
	err := row.Scan(&r.ChildID, &r.ItemID, &r.User, &r.Kind, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Reaction{}, ErrNotFound
	}
	r.CreateTime, r.UpdateTime = sqldb.FromMicros(created), sqldb.FromMicros(updated)
	return r, err
}

// SetReaction sets the user's reaction to the item, replacing the one
// they had. The events are added only when the user never reacted to the
// item before: a reaction replaced, or removed and set again, does not
// announce itself twice (a removal keeps the row, with kind 0, for that).
// It reports whether the events were added; ErrNotFound when the item
// does not exist.
func (s *Store) SetReaction(ctx context.Context, r Reaction, events ...outbox.Message) (Reaction, bool, error) {
	now := s.stamp()
	var first bool
	for attempt := 0; ; attempt++ {
		first = false
		err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
			cur, err := scanReaction(tx.QueryRowContext(ctx, `SELECT `+reactionColumns+` FROM `+s.t.Reactions+`
				WHERE child_id = $1 AND item_id = $2 AND user_id = $3`, r.ChildID, r.ItemID, r.User))
			switch {
			case errors.Is(err, ErrNotFound):
				r.CreateTime, r.UpdateTime = now, now
				res, err := tx.ExecContext(ctx, `INSERT INTO `+s.t.Reactions+` (`+reactionColumns+`)
					SELECT $1, $2, $3, $4, $5, $5 WHERE EXISTS (SELECT 1 FROM `+s.t.Items+` WHERE child_id = $1 AND id = $2)`,
					r.ChildID, r.ItemID, r.User, r.Kind, sqldb.Micros(now))
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil {
					return err
				} else if n == 0 {
					return ErrNotFound
				}
				first = true
				return addEvents(ctx, tx, events)
			case err != nil:
				return err
			case cur.Kind == r.Kind:
				r = cur // nothing changes
				return nil
			}
			r.CreateTime, r.UpdateTime = cur.CreateTime, now
			if cur.Kind == KindNone {
				r.CreateTime = now // set again after a removal
			}
			_, err = tx.ExecContext(ctx, `UPDATE `+s.t.Reactions+` SET kind = $1, create_time = $2, update_time = $3
				WHERE child_id = $4 AND item_id = $5 AND user_id = $6`,
				r.Kind, sqldb.Micros(r.CreateTime), sqldb.Micros(r.UpdateTime), r.ChildID, r.ItemID, r.User)
			return err
		})
		switch {
		case err == nil:
			return r, first, nil
		case errors.Is(err, ErrNotFound), isForeignKeyViolation(err):
			return Reaction{}, false, ErrNotFound
		case sqldb.IsUniqueViolation(err) && attempt == 0:
			continue // the user's other request inserted first: replace it
		}
		return Reaction{}, false, fmt.Errorf("set reaction: %w", err)
	}
}

// GetReaction returns the user's reaction; ErrNotFound without one.
func (s *Store) GetReaction(ctx context.Context, childID, itemID, user string) (Reaction, error) {
	return scanReaction(s.db.QueryRowContext(ctx, `SELECT `+reactionColumns+` FROM `+s.t.Reactions+`
		WHERE child_id = $1 AND item_id = $2 AND user_id = $3 AND kind <> 0`, childID, itemID, user))
}

// DeleteReaction removes the user's reaction; ErrNotFound without one.
// The row stays, with kind 0, so that setting one again is not announced
// again.
func (s *Store) DeleteReaction(ctx context.Context, childID, itemID, user string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE `+s.t.Reactions+` SET kind = 0, update_time = $1
		WHERE child_id = $2 AND item_id = $3 AND user_id = $4 AND kind <> 0`, sqldb.Micros(s.stamp()), childID, itemID, user)
	if err != nil {
		return fmt.Errorf("delete reaction: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ListReactions returns up to limit of an item's reactions by user, after
// afterUser.
func (s *Store) ListReactions(ctx context.Context, childID, itemID, afterUser string, limit int) ([]Reaction, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+reactionColumns+` FROM `+s.t.Reactions+`
		WHERE child_id = $1 AND item_id = $2 AND kind <> 0 AND user_id > $3 ORDER BY user_id LIMIT $4`,
		childID, itemID, afterUser, limit)
	if err != nil {
		return nil, fmt.Errorf("list reactions: %w", err)
	}
	defer rows.Close()
	var out []Reaction
	for rows.Next() {
		r, err := scanReaction(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// summaryChunk is how many items one summary query asks about: lists of
// any length are asked in chunks of this size (the last one padded), so
// the queries keep one shape and stay prepared.
const summaryChunk = 50

// Summaries returns the summaries of a child's items as user sees them:
// one per item id asked for (items without a conversation get a zero one).
func (s *Store) Summaries(ctx context.Context, childID string, itemIDs []string, user string) (map[string]Summary, error) {
	out := make(map[string]Summary, len(itemIDs))
	for _, id := range itemIDs {
		out[id] = Summary{}
	}
	for len(itemIDs) > 0 {
		chunk := itemIDs[:min(summaryChunk, len(itemIDs))]
		itemIDs = itemIDs[len(chunk):]
		if err := s.summarize(ctx, childID, chunk, user, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// inList returns "$first, ..." for summaryChunk placeholders and the ids
// padded to summaryChunk with the last one.
func inList(first int, ids []string) (string, []any) {
	marks := make([]string, summaryChunk)
	args := make([]any, summaryChunk)
	for i := range summaryChunk {
		marks[i] = fmt.Sprintf("$%d", first+i)
		args[i] = ids[min(i, len(ids)-1)]
	}
	return strings.Join(marks, ", "), args
}

// summarize adds the conversations of up to summaryChunk items to out.
func (s *Store) summarize(ctx context.Context, childID string, ids []string, user string, out map[string]Summary) error {
	in, idArgs := inList(3, ids)
	rows, err := s.db.QueryContext(ctx, `SELECT item_id, kind, COUNT(*), MAX(CASE WHEN user_id = $2 THEN 1 ELSE 0 END)
		FROM `+s.t.Reactions+` WHERE child_id = $1 AND kind <> 0 AND item_id IN (`+in+`) GROUP BY item_id, kind`,
		append([]any{childID, user}, idArgs...)...)
	if err != nil {
		return fmt.Errorf("reaction counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var kind Kind
		var n, mine int
		if err := rows.Scan(&id, &kind, &n, &mine); err != nil {
			return err
		}
		if kind <= KindNone || kind > maxKind {
			continue
		}
		sum := out[id]
		sum.Counts[kind] = n
		if mine == 1 {
			sum.Mine = kind
		}
		out[id] = sum
	}
	if err := rows.Err(); err != nil {
		return err
	}
	in, idArgs = inList(2, ids)
	crows, err := s.db.QueryContext(ctx, `SELECT item_id, COUNT(*) FROM `+s.t.Comments+`
		WHERE child_id = $1 AND item_id IN (`+in+`) GROUP BY item_id`, append([]any{childID}, idArgs...)...)
	if err != nil {
		return fmt.Errorf("comment counts: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var id string
		var n int
		if err := crows.Scan(&id, &n); err != nil {
			return err
		}
		sum := out[id]
		sum.Comments = n
		out[id] = sum
	}
	return crows.Err()
}
