package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// SQL is the Store on a SQLite or PostgreSQL database.
//
// Every transaction that touches several tables locks them in one order:
// media_children, media_items, upload_sessions, media_jobs, blob_pins,
// blob_refs (by ascending sha256), then the outbox. On PostgreSQL that order is what
// keeps concurrent writers queueing instead of deadlocking; on SQLite a
// write transaction holds the database's one write lock anyway.
type SQL struct {
	db  *sqldb.DB
	now func() time.Time
}

var _ Store = (*SQL)(nil)

// NewSQL returns a Store on db, whose schema must be migrated (and the
// outbox's too, with outbox.Migrate, when events are written).
func NewSQL(db *sqldb.DB) *SQL {
	return &SQL{db: db, now: time.Now}
}

// UseClock makes now the store's clock for the times it stamps and the
// leases it compares (holds on sessions), so tests can let time pass.
func (s *SQL) UseClock(now func() time.Time) { s.now = now }

// Times are stored as unix microseconds: portable, ordered, and as precise
// as PostgreSQL's own timestamps.

// stamp returns the current time at the stored precision, so what a write
// returns equals what a later read returns.
func (s *SQL) stamp() time.Time { return sqldb.FromMicros(sqldb.Micros(s.now())) }

// newID returns 128 random bits in hex: an id that fits every resource
// name pattern of the contract ([a-z0-9]{1,63}).
func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

type scanner interface{ Scan(dest ...any) error }

// addEvents puts the events announcing a write into the outbox, in the
// write's transaction and after its rows (the lock order outbox.Add asks for).
func addEvents(ctx context.Context, tx *sqldb.Tx, events []outbox.Message) error {
	for _, ev := range events {
		if _, err := outbox.Add(ctx, tx, ev); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// wrap keeps the store's own errors recognisable and names the rest.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	for _, own := range []error{ErrNotFound, ErrAlreadyExists, ErrStale, ErrOffsetMismatch, ErrInvalid,
		ErrBlobCondemned, ErrNotPinned, ErrLeaseLost, ErrChildDeleted, ErrSessionHeld} {
		if errors.Is(err, own) {
			return err
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// nullable stores an empty string as NULL, so rows without a value never
// collide in a unique index.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// filter collects WHERE conditions and their numbered arguments.
type filter struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return fmt.Sprintf("$%d", len(f.args))
}

func (f *filter) where(cond string) { f.conds = append(f.conds, cond) }

// --- children ---

// childLive takes the child's row for a write that adds to the child,
// creating it, and fails with ErrChildDeleted once the child is deleted.
// The upsert locks the row until the transaction ends, which orders the
// write against a DeleteChild of the same child on PostgreSQL: whichever
// comes second sees what the first did.
func childLive(ctx context.Context, tx *sqldb.Tx, childID string) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO media_children (child_id) VALUES ($1)
		ON CONFLICT (child_id) DO UPDATE SET child_id = excluded.child_id WHERE media_children.deleted_time IS NULL`, childID)
	return oneRow(res, err, fmt.Errorf("child %s: %w", childID, ErrChildDeleted))
}

// --- items ---

// itemInsertColumns are written in this order by CreateItem; itemColumns
// read them back in the same order.
const itemInsertColumns = `child_id, id, kind, title, caption, content_type, size_bytes, original_sha256, content_sha256,
	width, height, duration_us, taken_time, state, failure_reason, thumbnails, uploaded_by, filename,
	create_time, update_time, revision, publish_state, approved_by, approve_time, edited_by`

const itemColumns = `child_id, id, kind, title, caption, content_type, size_bytes, COALESCE(original_sha256, ''), content_sha256,
	width, height, duration_us, taken_time, state, failure_reason, thumbnails, uploaded_by, filename,
	create_time, update_time, revision, publish_state, approved_by, approve_time, edited_by`

func scanItem(row scanner) (Item, error) {
	var it Item
	var durationUS, created, updated, approved int64
	var taken sql.NullInt64
	var thumbs string
	err := row.Scan(&it.ChildID, &it.ID, &it.Kind, &it.Title, &it.Caption, &it.ContentType, &it.SizeBytes,
		&it.OriginalSHA256, &it.ContentSHA256, &it.Width, &it.Height, &durationUS, &taken, &it.State,
		&it.FailureReason, &thumbs, &it.UploadedBy, &it.Filename, &created, &updated, &it.Revision,
		&it.PublishState, &it.ApprovedBy, &approved, &it.EditedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	if err != nil {
		return Item{}, err
	}
	if it.Thumbnails, err = decodeThumbnails(thumbs); err != nil {
		return Item{}, fmt.Errorf("item %s/%s: %w", it.ChildID, it.ID, err)
	}
	it.Duration = time.Duration(durationUS) * time.Microsecond
	if taken.Valid {
		it.TakenTime = sqldb.FromMicros(taken.Int64)
	}
	it.CreateTime, it.UpdateTime = sqldb.FromMicros(created), sqldb.FromMicros(updated)
	it.ApproveTime = approveTimeOf(approved)
	return it, nil
}

func decodeThumbnails(s string) ([]Thumbnail, error) {
	var ts []Thumbnail
	if err := json.Unmarshal([]byte(s), &ts); err != nil {
		return nil, fmt.Errorf("thumbnails: %w", err)
	}
	if len(ts) == 0 {
		return nil, nil
	}
	return ts, nil
}

func encodeThumbnails(ts []Thumbnail) string {
	if len(ts) == 0 {
		return "[]"
	}
	b, err := json.Marshal(ts)
	if err != nil {
		panic(err) // strings and integers always marshal
	}
	return string(b)
}

// normalize brings an item to what a read of it returns: times and the
// duration at the stored precision, no empty thumbnail slice.
func normalize(it *Item) {
	it.Duration = it.Duration.Truncate(time.Microsecond)
	if !it.TakenTime.IsZero() {
		it.TakenTime = sqldb.FromMicros(sqldb.Micros(it.TakenTime))
	}
	if len(it.Thumbnails) == 0 {
		it.Thumbnails = nil
	}
}

func takenArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return sqldb.Micros(t)
}

// CreateItem stores a new item with its references, jobs and events, or
// returns the child's item with the same original bytes.
func (s *SQL) CreateItem(ctx context.Context, it Item, jobs []Job, events ...outbox.Message) (Item, bool, error) {
	it.CreateTime = s.stamp()
	it.UpdateTime, it.Revision = it.CreateTime, 1
	it.PublishState = stateOf(it.Approval)
	normalize(&it)
	jobs = s.prepareJobs(jobs, it.ChildID, it.ID)
	// A clash on the original may be with an item deleted by the time we
	// look for it; then the insert is worth another try.
	for attempt := 0; ; attempt++ {
		err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
			if err := childLive(ctx, tx, it.ChildID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO media_items (`+itemInsertColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
				it.ChildID, it.ID, it.Kind, it.Title, it.Caption, it.ContentType, it.SizeBytes, nullable(it.OriginalSHA256),
				it.ContentSHA256, it.Width, it.Height, it.Duration.Microseconds(), takenArg(it.TakenTime), it.State,
				it.FailureReason, encodeThumbnails(it.Thumbnails), it.UploadedBy, it.Filename,
				sqldb.Micros(it.CreateTime), sqldb.Micros(it.UpdateTime), it.Revision,
				it.PublishState, it.ApprovedBy, approveTimeArg(it.ApproveTime), it.EditedBy); err != nil {
				return err
			}
			if err := insertJobs(ctx, tx, jobs); err != nil {
				return err
			}
			delta := refDelta{}
			delta.add(it.blobs(), +1)
			if err := delta.apply(ctx, tx, it.CreateTime); err != nil {
				return err
			}
			return addEvents(ctx, tx, events)
		})
		if err == nil {
			return it, true, nil
		}
		if !sqldb.IsUniqueViolation(err) {
			return Item{}, false, wrap("create item", err)
		}
		if it.OriginalSHA256 != "" {
			existing, ferr := s.FindByOriginal(ctx, it.ChildID, it.OriginalSHA256)
			if ferr == nil {
				return existing, false, nil
			}
			if !errors.Is(ferr, ErrNotFound) {
				return Item{}, false, wrap("create item", ferr)
			}
		}
		// Not the original, then the id (or a job's or event's id).
		if _, gerr := s.GetItem(ctx, it.ChildID, it.ID); gerr == nil || attempt >= 2 {
			return Item{}, false, ErrAlreadyExists
		}
	}
}

// GetItem returns one item.
func (s *SQL) GetItem(ctx context.Context, childID, id string) (Item, error) {
	return scanItem(s.db.QueryRowContext(ctx,
		`SELECT `+itemColumns+` FROM media_items WHERE child_id = $1 AND id = $2`, childID, id))
}

// FindByOriginal returns the child's item uploaded with these bytes.
func (s *SQL) FindByOriginal(ctx context.Context, childID, originalSHA256 string) (Item, error) {
	if originalSHA256 == "" {
		return Item{}, ErrNotFound
	}
	return scanItem(s.db.QueryRowContext(ctx,
		`SELECT `+itemColumns+` FROM media_items WHERE child_id = $1 AND original_sha256 = $2`, childID, originalSHA256))
}

// ListItems returns a page of a child's items, newest first by
// (create_time, id).
func (s *SQL) ListItems(ctx context.Context, q ItemQuery) ([]Item, error) {
	f := &filter{}
	f.where("child_id = " + f.arg(q.ChildID))
	if q.Kind != KindUnspecified {
		f.where("kind = " + f.arg(q.Kind))
	}
	if q.PublishState != 0 {
		f.where("publish_state = " + f.arg(q.PublishState))
	}
	if !q.CreatedFrom.IsZero() {
		f.where("create_time >= " + f.arg(sqldb.Micros(q.CreatedFrom)))
	}
	if !q.CreatedBefore.IsZero() {
		f.where("create_time < " + f.arg(sqldb.Micros(q.CreatedBefore)))
	}
	if q.After != nil {
		t, id := f.arg(sqldb.Micros(q.After.CreateTime)), f.arg(q.After.ID)
		f.where(fmt.Sprintf("(create_time < %s OR (create_time = %s AND id < %s))", t, t, id))
	}
	query := `SELECT ` + itemColumns + ` FROM media_items WHERE ` + strings.Join(f.conds, " AND ") +
		` ORDER BY create_time DESC, id DESC`
	if q.Limit > 0 {
		query += " LIMIT " + f.arg(q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, f.args...)
	if err != nil {
		return nil, fmt.Errorf("list items: %w", err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// errConflict rolls back a transaction whose compare-and-set on an item's
// revision found another writer had got in between.
var errConflict = errors.New("item changed concurrently")

// nextItem applies change to a copy of cur and returns it as it would be
// stored, the immutable fields put back.
func (s *SQL) nextItem(cur Item, change func(*Item) error) (Item, error) {
	next := cur
	next.Thumbnails = slices.Clone(cur.Thumbnails) // change must not edit cur's
	if err := change(&next); err != nil {
		return Item{}, err
	}
	next.ChildID, next.ID, next.OriginalSHA256 = cur.ChildID, cur.ID, cur.OriginalSHA256
	next.UploadedBy, next.CreateTime = cur.UploadedBy, cur.CreateTime
	next.Approval = edited(cur.Approval, next.Approval) // publishing is ApproveItem's alone
	next.Revision, next.UpdateTime = cur.Revision+1, s.stamp()
	normalize(&next)
	return next, nil
}

// updateItemRow stores next over cur if cur's revision is still current,
// and adds the change of blob references to delta. It reports errConflict
// when the revision moved.
func updateItemRow(ctx context.Context, tx *sqldb.Tx, cur, next Item, delta refDelta) error {
	res, err := tx.ExecContext(ctx, `UPDATE media_items SET kind = $1, title = $2, caption = $3, content_type = $4,
		size_bytes = $5, content_sha256 = $6, width = $7, height = $8, duration_us = $9, taken_time = $10, state = $11,
		failure_reason = $12, thumbnails = $13, filename = $14, update_time = $15, revision = $16, publish_state = $17,
		approved_by = $18, approve_time = $19, edited_by = $20 WHERE child_id = $21 AND id = $22 AND revision = $23`,
		next.Kind, next.Title, next.Caption, next.ContentType, next.SizeBytes, next.ContentSHA256, next.Width,
		next.Height, next.Duration.Microseconds(), takenArg(next.TakenTime), next.State, next.FailureReason,
		encodeThumbnails(next.Thumbnails), next.Filename, sqldb.Micros(next.UpdateTime), next.Revision,
		next.PublishState, next.ApprovedBy, approveTimeArg(next.ApproveTime), next.EditedBy,
		cur.ChildID, cur.ID, cur.Revision)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errConflict
	}
	// The revision matched, so cur's blobs are exactly what was stored.
	delta.add(cur.blobs(), -1)
	delta.add(next.blobs(), +1)
	return nil
}

// UpdateItem is an optimistic read-modify-write: the write succeeds only if
// the revision it read is still current, and is retried when another writer
// got in between and the caller did not pin a revision.
func (s *SQL) UpdateItem(ctx context.Context, childID, id string, expectRevision int64, change func(*Item) error, events ...outbox.Message) (Item, error) {
	return s.UpdateItemAnnouncing(ctx, childID, id, expectRevision, change, func(Item, Item) []outbox.Message { return events })
}

// UpdateItemAnnouncing is UpdateItem announcing what it changed.
func (s *SQL) UpdateItemAnnouncing(ctx context.Context, childID, id string, expectRevision int64, change func(*Item) error,
	announce func(before, after Item) []outbox.Message) (Item, error) {
	for {
		cur, err := s.GetItem(ctx, childID, id)
		if err != nil {
			return Item{}, err
		}
		if expectRevision != 0 && cur.Revision != expectRevision {
			return Item{}, ErrStale
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
			if err := delta.apply(ctx, tx, next.UpdateTime); err != nil {
				return err
			}
			return addEvents(ctx, tx, announce(cur, next))
		})
		switch {
		case err == nil:
			return next, nil
		case !errors.Is(err, errConflict):
			return Item{}, wrap("update item", err)
		case expectRevision != 0:
			return Item{}, ErrStale
		}
	}
}

// deletedBlobs reads the (content_sha256, thumbnails) rows a DELETE ...
// RETURNING gave back into delta, and returns how many there were.
func deletedBlobs(rows *sql.Rows, delta refDelta) (int, error) {
	defer rows.Close()
	n := 0
	for rows.Next() {
		var content, thumbs string
		if err := rows.Scan(&content, &thumbs); err != nil {
			return n, err
		}
		ts, err := decodeThumbnails(thumbs)
		if err != nil {
			return n, err
		}
		it := Item{ContentSHA256: content, Thumbnails: ts}
		delta.add(it.blobs(), -1)
		n++
	}
	return n, rows.Err()
}

// DeleteItem removes an item with its unleased jobs and its references.
func (s *SQL) DeleteItem(ctx context.Context, childID, id string, expectRevision int64, events ...outbox.Message) error {
	query, args := `DELETE FROM media_items WHERE child_id = $1 AND id = $2`, []any{childID, id}
	if expectRevision != 0 {
		query, args = query+` AND revision = $3`, append(args, expectRevision)
	}
	now := s.stamp()
	var deleted bool
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		rows, err := tx.QueryContext(ctx, query+` RETURNING content_sha256, thumbnails`, args...)
		if err != nil {
			return err
		}
		delta := refDelta{}
		if n, err := deletedBlobs(rows, delta); err != nil || n == 0 {
			return err
		}
		deleted = true
		// A leased job's worker may be between pinning and writing bytes:
		// its pins are its own to release (see the package doc).
		if err := deleteJobs(ctx, tx, `child_id = $1 AND item_id = $2 AND lease_until < $3`,
			[]any{childID, id, sqldb.Micros(now)}, delta); err != nil {
			return err
		}
		if err := delta.apply(ctx, tx, now); err != nil {
			return err
		}
		return addEvents(ctx, tx, events)
	})
	if err != nil {
		return wrap("delete item", err)
	}
	if deleted {
		return nil
	}
	if _, err := s.GetItem(ctx, childID, id); err != nil {
		return err
	}
	return ErrStale
}

// DeleteChild records the child's deletion and removes what it had, in one
// transaction (see Store.DeleteChild).
func (s *SQL) DeleteChild(ctx context.Context, childID, eventID string) (ChildDeletion, error) {
	if childID == "" || eventID == "" {
		return ChildDeletion{}, fmt.Errorf("delete child %q, event %q: %w", childID, eventID, ErrInvalid)
	}
	now := s.stamp()
	var d ChildDeletion
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		d = ChildDeletion{}
		// The tombstone first: from here on no item or session is added.
		res, err := tx.ExecContext(ctx, `INSERT INTO media_children (child_id, deleted_time, delete_event) VALUES ($1, $2, $3)
			ON CONFLICT (child_id) DO UPDATE SET deleted_time = excluded.deleted_time, delete_event = excluded.delete_event
			WHERE media_children.deleted_time IS NULL`, childID, sqldb.Micros(now), eventID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		d.Fresh = n == 1
		if err := tx.QueryRowContext(ctx, `SELECT delete_event FROM media_children WHERE child_id = $1`, childID).Scan(&d.EventID); err != nil {
			return err
		}
		delta := refDelta{}
		rows, err := tx.QueryContext(ctx, `DELETE FROM media_items WHERE child_id = $1 RETURNING content_sha256, thumbnails`, childID)
		if err != nil {
			return err
		}
		if d.Items, err = deletedBlobs(rows, delta); err != nil {
			return err
		}
		// Ended, not deleted: a writer may hold one (see the package doc).
		// Expiry 0 is past on every clock.
		res, err = tx.ExecContext(ctx, `UPDATE upload_sessions SET expire_time = 0 WHERE child_id = $1 AND expire_time <> 0`, childID)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		d.Sessions = int(n)
		if err := deleteJobs(ctx, tx, `child_id = $1 AND lease_until < $2`, []any{childID, sqldb.Micros(now)}, delta); err != nil {
			return err
		}
		return delta.apply(ctx, tx, now)
	})
	if err != nil {
		return ChildDeletion{}, wrap("delete child", err)
	}
	return d, nil
}
