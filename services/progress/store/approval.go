package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// PublishState is whether guardians see a record. The numbers match the
// contract's PublishState; the zero value, in a query, means any.
type PublishState int

// Publish states.
const (
	Draft     PublishState = 1
	Published PublishState = 2
)

// Approval is how a record came to be published: at once (State
// Published, no approver), or as a draft approved later by ApprovedBy.
// A zero State is stored as Published. EditedBy is who changed the
// record since its approval, other than its author (pkg/editors: one per line):
// like the author, none of them may approve it.
type Approval struct {
	State       PublishState
	ApprovedBy  string
	ApproveTime time.Time // zero unless approved
	EditedBy    string
}

// ErrAlreadyPublished means an approval found its record published.
var ErrAlreadyPublished = errors.New("already published")

// Approvals is the part of the Store that keeps drafts and their
// approval.
type Approvals interface {
	// Access returns the user's role on the child (RoleNone without one),
	// whether the child exists, and whether it requires approval: Role
	// and the child's RequireApproval in one query.
	Access(ctx context.Context, childID, user string) (role Role, childExists, requireApproval bool, err error)
	// ApproveAssessment publishes a draft assessment as approved by
	// approver, raising the child's progress revision and adding the
	// events announce makes of the published assessment, in one
	// transaction. ErrNotFound without it, ErrAlreadyPublished when it is
	// published, ErrStale when expectRevision (0: any) is not current.
	ApproveAssessment(ctx context.Context, childID, id, approver string, expectRevision int64,
		announce func(Assessment) []outbox.Message) (Assessment, error)
	// ApproveMilestone is ApproveAssessment for a milestone.
	ApproveMilestone(ctx context.Context, childID, id, approver string, expectRevision int64,
		announce func(Milestone) []outbox.Message) (Milestone, error)
}

// edited is the approval an update stores when its change left next: the
// change may turn the record back into a draft, which drops its approval,
// and name its editor, but only an approval publishes.
func edited(cur, next Approval) Approval {
	if next.State == Draft {
		return Approval{State: Draft, EditedBy: next.EditedBy}
	}
	return cur
}

// stateOf is the state to store: a zero state is published.
func stateOf(a Approval) PublishState {
	if a.State == 0 {
		return Published
	}
	return a.State
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

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Access answers in one query what Role does, and the child's
// require_approval.
func (s *SQL) Access(ctx context.Context, childID, user string) (Role, bool, bool, error) {
	var role sql.NullInt64
	var require int
	err := s.db.QueryRowContext(ctx, `SELECT g.role, c.require_approval FROM children c
		LEFT JOIN guardianships g ON g.child_id = c.id AND g.user_id = $2
		WHERE c.id = $1`, childID, user).Scan(&role, &require)
	if errors.Is(err, sql.ErrNoRows) {
		return RoleNone, false, false, nil
	}
	if err != nil {
		return RoleNone, false, false, fmt.Errorf("access: %w", err)
	}
	return Role(role.Int64), true, require != 0, nil
}

// approve publishes the draft row id of childID in table: a
// compare-and-set on its state (and revision, when expected), the child's
// progress revision raised, the row read back and announced, all in one
// transaction. When nothing was set it tells why.
func (s *SQL) approve(ctx context.Context, table, childID, id, approver string, expectRevision int64,
	readBack func(context.Context, execer) error, announce func() []outbox.Message) error {
	now := s.stamp()
	// What is approved is approved whoever wrote it: no editor is left.
	query := `UPDATE ` + table + ` SET state = $1, approved_by = $2, approve_time = $3, update_time = $3,
		edited_by = '', revision = revision + 1 WHERE child_id = $4 AND id = $5 AND state = $6`
	args := []any{Published, approver, sqldb.Micros(now), childID, id, Draft}
	if expectRevision != 0 {
		query, args = query+` AND revision = $7`, append(args, expectRevision)
	}
	var approved bool
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		ok, err := oneRow(tx.ExecContext(ctx, query, args...))
		if err != nil || !ok {
			return err
		}
		approved = true
		if err := touchProgress(ctx, tx, childID); err != nil {
			return err
		}
		if err := readBack(ctx, tx); err != nil {
			return err
		}
		return addEvents(ctx, tx, announce())
	})
	if err != nil {
		return wrap("approve", err)
	}
	if approved {
		return nil
	}
	// Why not: gone, published already, or changed since the etag.
	if err := readBack(ctx, s.db); err != nil {
		return err
	}
	return nil
}

// ApproveAssessment publishes a draft assessment.
func (s *SQL) ApproveAssessment(ctx context.Context, childID, id, approver string, expectRevision int64,
	announce func(Assessment) []outbox.Message) (Assessment, error) {
	var a Assessment
	read := func(ctx context.Context, x execer) error {
		var err error
		a, err = scanAssessment(x.QueryRowContext(ctx,
			`SELECT `+assessmentColumns+` FROM assessments WHERE child_id = $1 AND id = $2`, childID, id))
		return err
	}
	var announced bool
	err := s.approve(ctx, "assessments", childID, id, approver, expectRevision, read, func() []outbox.Message {
		announced = true
		return announce(a)
	})
	if err != nil {
		return Assessment{}, err
	}
	if !announced {
		return Assessment{}, whyNotApproved(a.Approval)
	}
	return a, nil
}

// ApproveMilestone publishes a draft milestone.
func (s *SQL) ApproveMilestone(ctx context.Context, childID, id, approver string, expectRevision int64,
	announce func(Milestone) []outbox.Message) (Milestone, error) {
	var m Milestone
	read := func(ctx context.Context, x execer) error {
		var err error
		m, err = scanMilestone(x.QueryRowContext(ctx,
			`SELECT `+milestoneColumns+` FROM milestones WHERE child_id = $1 AND id = $2`, childID, id))
		return err
	}
	var announced bool
	err := s.approve(ctx, "milestones", childID, id, approver, expectRevision, read, func() []outbox.Message {
		announced = true
		return announce(m)
	})
	if err != nil {
		return Milestone{}, err
	}
	if !announced {
		return Milestone{}, whyNotApproved(m.Approval)
	}
	return m, nil
}

// whyNotApproved explains a compare-and-set that set nothing on a row
// that exists: it is published, or else its revision is not the one
// expected.
func whyNotApproved(a Approval) error {
	if a.State == Published {
		return ErrAlreadyPublished
	}
	return ErrStale
}
