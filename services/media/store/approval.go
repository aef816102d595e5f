package store

import (
	"context"
	"errors"
	"time"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// PublishState is whether guardians see an item. The numbers match the
// contract's PublishState; the zero value, in a query, means any.
type PublishState int

// Publish states.
const (
	Draft     PublishState = 1
	Published PublishState = 2
)

// Approval is how an item came to be published: at once (Published, no
// approver), or as a draft approved later by ApprovedBy. A zero
// PublishState is stored as Published. EditedBy is who changed the
// item since its approval, other than its uploader (pkg/editors: one per line):
// like the uploader, none of them may approve it.
type Approval struct {
	PublishState PublishState
	ApprovedBy   string
	ApproveTime  time.Time // zero unless approved
	EditedBy     string
}

// ErrAlreadyPublished means an approval found its item published.
var ErrAlreadyPublished = errors.New("already published")

// Approvals is the part of the Store that publishes drafts.
type Approvals interface {
	// ApproveItem publishes a draft item as approved by approver, with the
	// events announce makes of the item as stored, in one transaction
	// (the lock order of SQL: media_items, then the outbox). ErrNotFound
	// without it, ErrAlreadyPublished when it is published, ErrStale when
	// expectRevision (0: any) is not current.
	ApproveItem(ctx context.Context, childID, id, approver string, expectRevision int64,
		announce func(Item) []outbox.Message) (Item, error)
	// UpdateItemAnnouncing is UpdateItem with the events announce makes
	// of the item before and after the change, in its transaction. Its
	// change may turn the item back into a draft and set its EditedBy; the
	// rest of its Approval is ApproveItem's alone.
	UpdateItemAnnouncing(ctx context.Context, childID, id string, expectRevision int64, change func(*Item) error,
		announce func(before, after Item) []outbox.Message) (Item, error)
	// FinishJobAnnouncing is FinishJob announcing what it stored.
	FinishJobAnnouncing(ctx context.Context, id, owner string, change func(*Item) error,
		announce func(Item) []outbox.Message) (Item, error)
}

// edited is the approval an update stores when its change left next: the
// change may turn the item back into a draft, which drops its approval,
// and name its editor, but only ApproveItem publishes.
func edited(cur, next Approval) Approval {
	if next.PublishState == Draft {
		return Approval{PublishState: Draft, EditedBy: next.EditedBy}
	}
	return cur
}

// stateOf is the publish state to store: zero is published.
func stateOf(a Approval) PublishState {
	if a.PublishState == 0 {
		return Published
	}
	return a.PublishState
}

// approveTimeArg stores a zero approve time as 0.
func approveTimeArg(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return sqldb.Micros(t)
}

// approveTimeOf reads what approveTimeArg stored.
func approveTimeOf(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return sqldb.FromMicros(us)
}

// ApproveItem is an optimistic compare-and-set on the item's revision, as
// UpdateItem is: a worker finishing the item's processing at the same time
// either comes first (and the approval sees the item READY) or second (and
// sees it published), never neither.
func (s *SQL) ApproveItem(ctx context.Context, childID, id, approver string, expectRevision int64,
	announce func(Item) []outbox.Message) (Item, error) {
	for {
		cur, err := s.GetItem(ctx, childID, id)
		if err != nil {
			return Item{}, err
		}
		if cur.PublishState == Published {
			return Item{}, ErrAlreadyPublished
		}
		if expectRevision != 0 && cur.Revision != expectRevision {
			return Item{}, ErrStale
		}
		next := cur
		next.UpdateTime = s.stamp()
		next.Revision = cur.Revision + 1
		next.Approval = Approval{PublishState: Published, ApprovedBy: approver, ApproveTime: next.UpdateTime}
		err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
			// What is approved is approved whoever wrote it: no editor is left.
			ok, err := oneRowChanged(tx.ExecContext(ctx, `UPDATE media_items SET publish_state = $1, approved_by = $2,
				approve_time = $3, update_time = $3, edited_by = '', revision = $4 WHERE child_id = $5 AND id = $6 AND revision = $7`,
				next.PublishState, next.ApprovedBy, sqldb.Micros(next.ApproveTime), next.Revision, childID, id, cur.Revision))
			if err != nil {
				return err
			}
			if !ok {
				return errConflict
			}
			return addEvents(ctx, tx, announce(next))
		})
		switch {
		case err == nil:
			return next, nil
		case !errors.Is(err, errConflict):
			return Item{}, wrap("approve item", err)
		case expectRevision != 0:
			return Item{}, ErrStale
		}
	}
}

// oneRowChanged reports whether an UPDATE changed a row.
func oneRowChanged(res interface{ RowsAffected() (int64, error) }, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
