package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// execer is what both a DB and a Tx offer.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// touchProgress raises the child's progress revision, failing with
// ErrNotFound when the child is gone. It runs inside the writing
// transaction, so the revision and the change commit together.
func touchProgress(ctx context.Context, x execer, childID string) error {
	res, err := x.ExecContext(ctx, `UPDATE children SET progress_revision = progress_revision + 1 WHERE id = $1`, childID)
	if err != nil {
		return fmt.Errorf("touch progress: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ProgressRevision returns the child's progress revision.
func (s *SQL) ProgressRevision(ctx context.Context, childID string) (int64, error) {
	var rev int64
	err := s.db.QueryRowContext(ctx, `SELECT progress_revision FROM children WHERE id = $1`, childID).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	return rev, err
}

// nullable stores an empty request id as NULL, so rows without one never
// collide in the unique index.
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

// dated starts the filter shared by dated listings: the child, the date
// range, and the page cursor over (date, id).
func dated(col, childID, start, end string, after *DateCursor) *filter {
	f := &filter{}
	f.where("child_id = " + f.arg(childID))
	if start != "" {
		f.where(col + " >= " + f.arg(start))
	}
	if end != "" {
		f.where(col + " <= " + f.arg(end))
	}
	if after != nil {
		d := f.arg(after.Date)
		f.where(fmt.Sprintf("(%s > %s OR (%s = %s AND id > %s))", col, d, col, d, f.arg(after.ID)))
	}
	return f
}

// query completes a dated listing.
func (f *filter) query(columns, table, order string, limit int) string {
	q := `SELECT ` + columns + ` FROM ` + table + ` WHERE ` + strings.Join(f.conds, " AND ") + ` ORDER BY ` + order
	if limit > 0 {
		q += " LIMIT " + f.arg(limit)
	}
	return q
}

const assessmentColumns = `child_id, id, subject, title, kind, score_kind, points_earned, points_possible, letter_grade,
	assessed_date, teacher_comment, recorded_by, COALESCE(request_id, ''), create_time, update_time, revision,
	state, approved_by, approve_time, edited_by`

func scanAssessment(row scanner) (Assessment, error) {
	var a Assessment
	var created, updated, approved int64
	err := row.Scan(&a.ChildID, &a.ID, &a.Subject, &a.Title, &a.Kind, &a.Score.Kind, &a.Score.Earned, &a.Score.Possible,
		&a.Score.Letter, &a.AssessedDate, &a.TeacherComment, &a.RecordedBy, &a.RequestID, &created, &updated, &a.Revision,
		&a.State, &a.ApprovedBy, &approved, &a.EditedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return Assessment{}, ErrNotFound
	}
	a.CreateTime, a.UpdateTime = sqldb.FromMicros(created), sqldb.FromMicros(updated)
	a.ApproveTime = approveTimeOf(approved)
	return a, err
}

// CreateAssessment stores an assessment, or returns the one an earlier
// request with the same request id created.
func (s *SQL) CreateAssessment(ctx context.Context, a Assessment, events ...outbox.Message) (Assessment, bool, error) {
	a.CreateTime = s.stamp()
	a.UpdateTime, a.Revision = a.CreateTime, 1
	a.State = stateOf(a.Approval)
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := touchProgress(ctx, tx, a.ChildID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO assessments (child_id, id, subject, title, kind, score_kind, points_earned,
			points_possible, letter_grade, assessed_date, teacher_comment, recorded_by, request_id, create_time, update_time, revision,
			state, approved_by, approve_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
			a.ChildID, a.ID, a.Subject, a.Title, a.Kind, a.Score.Kind, a.Score.Earned, a.Score.Possible, a.Score.Letter,
			a.AssessedDate, a.TeacherComment, a.RecordedBy, nullable(a.RequestID), sqldb.Micros(a.CreateTime), sqldb.Micros(a.UpdateTime), a.Revision,
			a.State, a.ApprovedBy, approveTimeArg(a.ApproveTime))
		if err != nil {
			return err
		}
		return addEvents(ctx, tx, events)
	})
	if sqldb.IsUniqueViolation(err) && a.RequestID != "" {
		first, err := scanAssessment(s.db.QueryRowContext(ctx,
			`SELECT `+assessmentColumns+` FROM assessments WHERE child_id = $1 AND request_id = $2`, a.ChildID, a.RequestID))
		return first, false, err
	}
	if err != nil {
		return Assessment{}, false, wrap("create assessment", err)
	}
	return a, true, nil
}

// wrap keeps the store's own errors recognisable and names the rest.
func wrap(what string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrStale) || errors.Is(err, ErrAlreadyExists) {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// GetAssessment returns one assessment.
func (s *SQL) GetAssessment(ctx context.Context, childID, id string) (Assessment, error) {
	return scanAssessment(s.db.QueryRowContext(ctx,
		`SELECT `+assessmentColumns+` FROM assessments WHERE child_id = $1 AND id = $2`, childID, id))
}

// ListAssessments returns assessments by (assessed_date, id).
func (s *SQL) ListAssessments(ctx context.Context, q AssessmentQuery) ([]Assessment, error) {
	f := dated("assessed_date", q.ChildID, q.StartDate, q.EndDate, q.After)
	if q.Subject != "" {
		f.where("subject = " + f.arg(q.Subject))
	}
	if q.Kind != 0 {
		f.where("kind = " + f.arg(q.Kind))
	}
	if q.State != 0 {
		f.where("state = " + f.arg(q.State))
	}
	query := f.query(assessmentColumns, "assessments", "assessed_date, id", q.Limit)
	rows, err := s.db.QueryContext(ctx, query, f.args...)
	if err != nil {
		return nil, fmt.Errorf("list assessments: %w", err)
	}
	defer rows.Close()
	var out []Assessment
	for rows.Next() {
		a, err := scanAssessment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// UpdateAssessment changes an assessment with an optimistic
// read-modify-write, raising the child's progress revision with it and
// adding the events announce makes of the assessment before and after.
func (s *SQL) UpdateAssessment(ctx context.Context, childID, id string, expectRevision int64, change func(*Assessment) error,
	announce func(before, after Assessment) []outbox.Message) (Assessment, error) {
	var before Assessment
	a, err := optimistic(expectRevision,
		func() (Assessment, error) {
			var err error
			before, err = s.GetAssessment(ctx, childID, id)
			return before, err
		},
		func(a *Assessment) *int64 { return &a.Revision },
		change,
		func(a *Assessment, read int64) (bool, error) {
			a.ChildID, a.ID, a.UpdateTime = childID, id, s.stamp()
			a.Approval = edited(before.Approval, a.Approval)
			return s.writeRecord(ctx, childID, announceEdit(announce, before, *a), `UPDATE assessments SET subject = $1, title = $2,
				kind = $3, score_kind = $4, points_earned = $5, points_possible = $6, letter_grade = $7, assessed_date = $8,
				teacher_comment = $9, update_time = $10, revision = $11, state = $12, approved_by = $13, approve_time = $14,
				edited_by = $15 WHERE child_id = $16 AND id = $17 AND revision = $18`,
				a.Subject, a.Title, a.Kind, a.Score.Kind, a.Score.Earned, a.Score.Possible, a.Score.Letter, a.AssessedDate,
				a.TeacherComment, sqldb.Micros(a.UpdateTime), a.Revision, a.State, a.ApprovedBy, approveTimeArg(a.ApproveTime),
				a.EditedBy, childID, id, read)
		})
	return a, wrap("update assessment", err)
}

// announceEdit is what announce makes of an edit; nothing without it.
func announceEdit[T any](announce func(before, after T) []outbox.Message, before, after T) []outbox.Message {
	if announce == nil {
		return nil
	}
	return announce(before, after)
}

// writeRecord runs an UPDATE of one of a child's records and, when it
// changed its row, raises the child's progress revision and adds events
// in the same transaction.
func (s *SQL) writeRecord(ctx context.Context, childID string, events []outbox.Message, query string, args ...any) (bool, error) {
	var written bool
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		ok, err := oneRow(tx.ExecContext(ctx, query, args...))
		if err != nil || !ok {
			return err
		}
		written = true
		if err := touchProgress(ctx, tx, childID); err != nil {
			return err
		}
		return addEvents(ctx, tx, events)
	})
	return written, err
}

// DeleteAssessment removes an assessment.
func (s *SQL) DeleteAssessment(ctx context.Context, childID, id string, expectRevision int64) error {
	return s.deleteRecord(ctx, "assessments", childID, id, expectRevision, func(ctx context.Context) error {
		_, err := s.GetAssessment(ctx, childID, id)
		return err
	})
}

// deleteRecord deletes one row of a child's records in a transaction that
// also raises the child's progress revision.
func (s *SQL) deleteRecord(ctx context.Context, table, childID, id string, expectRevision int64, exists func(context.Context) error) error {
	query, args := `DELETE FROM `+table+` WHERE child_id = $1 AND id = $2`, []any{childID, id}
	if expectRevision != 0 {
		query, args = query+` AND revision = $3`, append(args, expectRevision)
	}
	var deleted bool
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		deleted = true
		return touchProgress(ctx, tx, childID)
	})
	if err != nil {
		return wrap("delete from "+table, err)
	}
	if deleted {
		return nil
	}
	if err := exists(ctx); err != nil {
		return err
	}
	return ErrStale
}

const milestoneColumns = `child_id, id, title, description, category, achieved_date, recorded_by, COALESCE(request_id, ''),
	create_time, update_time, revision, state, approved_by, approve_time, edited_by`

func scanMilestone(row scanner) (Milestone, error) {
	var m Milestone
	var created, updated, approved int64
	err := row.Scan(&m.ChildID, &m.ID, &m.Title, &m.Description, &m.Category, &m.AchievedDate, &m.RecordedBy, &m.RequestID,
		&created, &updated, &m.Revision, &m.State, &m.ApprovedBy, &approved, &m.EditedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return Milestone{}, ErrNotFound
	}
	m.CreateTime, m.UpdateTime = sqldb.FromMicros(created), sqldb.FromMicros(updated)
	m.ApproveTime = approveTimeOf(approved)
	return m, err
}

// CreateMilestone stores a milestone, or returns the one an earlier request
// with the same request id created.
func (s *SQL) CreateMilestone(ctx context.Context, m Milestone, events ...outbox.Message) (Milestone, bool, error) {
	m.CreateTime = s.stamp()
	m.UpdateTime, m.Revision = m.CreateTime, 1
	m.State = stateOf(m.Approval)
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := touchProgress(ctx, tx, m.ChildID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO milestones (child_id, id, title, description, category, achieved_date,
			recorded_by, request_id, create_time, update_time, revision, state, approved_by, approve_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			m.ChildID, m.ID, m.Title, m.Description, m.Category, m.AchievedDate, m.RecordedBy, nullable(m.RequestID),
			sqldb.Micros(m.CreateTime), sqldb.Micros(m.UpdateTime), m.Revision, m.State, m.ApprovedBy, approveTimeArg(m.ApproveTime))
		if err != nil {
			return err
		}
		return addEvents(ctx, tx, events)
	})
	if sqldb.IsUniqueViolation(err) && m.RequestID != "" {
		first, err := scanMilestone(s.db.QueryRowContext(ctx,
			`SELECT `+milestoneColumns+` FROM milestones WHERE child_id = $1 AND request_id = $2`, m.ChildID, m.RequestID))
		return first, false, err
	}
	if err != nil {
		return Milestone{}, false, wrap("create milestone", err)
	}
	return m, true, nil
}

// GetMilestone returns one milestone.
func (s *SQL) GetMilestone(ctx context.Context, childID, id string) (Milestone, error) {
	return scanMilestone(s.db.QueryRowContext(ctx,
		`SELECT `+milestoneColumns+` FROM milestones WHERE child_id = $1 AND id = $2`, childID, id))
}

// ListMilestones returns milestones by (achieved_date, id).
func (s *SQL) ListMilestones(ctx context.Context, q MilestoneQuery) ([]Milestone, error) {
	f := dated("achieved_date", q.ChildID, q.StartDate, q.EndDate, q.After)
	if q.Category != 0 {
		f.where("category = " + f.arg(q.Category))
	}
	if q.State != 0 {
		f.where("state = " + f.arg(q.State))
	}
	query := f.query(milestoneColumns, "milestones", "achieved_date, id", q.Limit)
	rows, err := s.db.QueryContext(ctx, query, f.args...)
	if err != nil {
		return nil, fmt.Errorf("list milestones: %w", err)
	}
	defer rows.Close()
	var out []Milestone
	for rows.Next() {
		m, err := scanMilestone(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// UpdateMilestone changes a milestone as UpdateAssessment does an
// assessment.
func (s *SQL) UpdateMilestone(ctx context.Context, childID, id string, expectRevision int64, change func(*Milestone) error,
	announce func(before, after Milestone) []outbox.Message) (Milestone, error) {
	var before Milestone
	m, err := optimistic(expectRevision,
		func() (Milestone, error) {
			var err error
			before, err = s.GetMilestone(ctx, childID, id)
			return before, err
		},
		func(m *Milestone) *int64 { return &m.Revision },
		change,
		func(m *Milestone, read int64) (bool, error) {
			m.ChildID, m.ID, m.UpdateTime = childID, id, s.stamp()
			m.Approval = edited(before.Approval, m.Approval)
			return s.writeRecord(ctx, childID, announceEdit(announce, before, *m), `UPDATE milestones SET title = $1,
				description = $2, category = $3, achieved_date = $4, update_time = $5, revision = $6, state = $7,
				approved_by = $8, approve_time = $9, edited_by = $10 WHERE child_id = $11 AND id = $12 AND revision = $13`,
				m.Title, m.Description, m.Category, m.AchievedDate, sqldb.Micros(m.UpdateTime), m.Revision, m.State, m.ApprovedBy,
				approveTimeArg(m.ApproveTime), m.EditedBy, childID, id, read)
		})
	return m, wrap("update milestone", err)
}

// DeleteMilestone removes a milestone.
func (s *SQL) DeleteMilestone(ctx context.Context, childID, id string, expectRevision int64) error {
	return s.deleteRecord(ctx, "milestones", childID, id, expectRevision, func(ctx context.Context) error {
		_, err := s.GetMilestone(ctx, childID, id)
		return err
	})
}

// GradingScale returns the child's own scale, if it has one.
func (s *SQL) GradingScale(ctx context.Context, childID string) (GradingScale, bool, error) {
	var raw string
	var updated int64
	var gs GradingScale
	err := s.db.QueryRowContext(ctx, `SELECT grades, update_time, revision FROM grading_scales WHERE child_id = $1`, childID).
		Scan(&raw, &updated, &gs.Revision)
	if errors.Is(err, sql.ErrNoRows) {
		return GradingScale{}, false, nil
	}
	if err != nil {
		return GradingScale{}, false, fmt.Errorf("grading scale: %w", err)
	}
	if err := json.Unmarshal([]byte(raw), &gs.Grades); err != nil {
		return GradingScale{}, false, fmt.Errorf("grading scale of %s is corrupt: %w", childID, err)
	}
	gs.UpdateTime = sqldb.FromMicros(updated)
	return gs, true, nil
}

// SetGradingScale replaces the child's scale. Revision 0 is the default
// scale: expecting it means "only if no scale was set yet".
func (s *SQL) SetGradingScale(ctx context.Context, childID string, grades []Grade, expectRevision int64) (GradingScale, error) {
	raw, err := json.Marshal(grades)
	if err != nil {
		return GradingScale{}, err
	}
	gs := GradingScale{Grades: grades, UpdateTime: s.stamp()}
	err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := touchProgress(ctx, tx, childID); err != nil {
			return err
		}
		var current int64
		err := tx.QueryRowContext(ctx, `SELECT revision FROM grading_scales WHERE child_id = $1`, childID).Scan(&current)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			current = 0
		case err != nil:
			return err
		}
		if expectRevision != 0 && expectRevision != current {
			return ErrStale
		}
		gs.Revision = current + 1
		if current == 0 {
			_, err = tx.ExecContext(ctx, `INSERT INTO grading_scales (child_id, grades, update_time, revision) VALUES ($1, $2, $3, $4)`,
				childID, string(raw), sqldb.Micros(gs.UpdateTime), gs.Revision)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE grading_scales SET grades = $1, update_time = $2, revision = $3 WHERE child_id = $4`,
				string(raw), sqldb.Micros(gs.UpdateTime), gs.Revision, childID)
		}
		return err
	})
	if sqldb.IsUniqueViolation(err) {
		return GradingScale{}, ErrStale // another writer set the first scale at the same moment
	}
	if err != nil {
		return GradingScale{}, wrap("set grading scale", err)
	}
	return gs, nil
}
