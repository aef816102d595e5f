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

// SQL is the Store on a SQLite or PostgreSQL database.
type SQL struct {
	db  *sqldb.DB
	now func() time.Time
}

// NewSQL returns a Store on db, whose schema must be migrated.
func NewSQL(db *sqldb.DB) *SQL {
	return &SQL{db: db, now: time.Now}
}

// UseClock makes now the store's clock for the times it stamps (creations,
// updates), so they agree with the service's (when invitations expire).
func (s *SQL) UseClock(now func() time.Time) { s.now = now }

// stamp returns the current time at the stored precision, so what a write
// returns equals what a later read returns.
func (s *SQL) stamp() time.Time { return sqldb.FromMicros(sqldb.Micros(s.now())) }

const childColumns = `id, display_name, birth_date, school, grade_level, time_zone, create_time, update_time, revision, guardians_may_invite,
	require_approval`

type scanner interface{ Scan(dest ...any) error }

func scanChild(row scanner) (Child, error) {
	var c Child
	var created, updated int64
	var requireApproval int
	err := row.Scan(&c.ID, &c.DisplayName, &c.BirthDate, &c.School, &c.GradeLevel, &c.TimeZone, &created, &updated, &c.Revision, &c.GuardiansMayInvite,
		&requireApproval)
	if errors.Is(err, sql.ErrNoRows) {
		return Child{}, ErrNotFound
	}
	c.RequireApproval = requireApproval != 0
	c.CreateTime, c.UpdateTime = sqldb.FromMicros(created), sqldb.FromMicros(updated)
	return c, err
}

// CreateChild stores a new child at revision 1.
func (s *SQL) CreateChild(ctx context.Context, c Child) (Child, error) {
	c.CreateTime = s.stamp()
	c.UpdateTime = c.CreateTime
	c.Revision = 1
	_, err := s.db.ExecContext(ctx, `INSERT INTO children (`+childColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.DisplayName, c.BirthDate, c.School, c.GradeLevel, c.TimeZone, sqldb.Micros(c.CreateTime), sqldb.Micros(c.UpdateTime), c.Revision,
		c.GuardiansMayInvite, boolInt(c.RequireApproval))
	if sqldb.IsUniqueViolation(err) {
		return Child{}, ErrAlreadyExists
	}
	if err != nil {
		return Child{}, fmt.Errorf("insert child: %w", err)
	}
	return c, nil
}

// GetChild returns one child.
func (s *SQL) GetChild(ctx context.Context, id string) (Child, error) {
	return scanChild(s.db.QueryRowContext(ctx, `SELECT `+childColumns+` FROM children WHERE id = $1`, id))
}

// ListChildren returns a page of children by (create_time, id).
func (s *SQL) ListChildren(ctx context.Context, q ListChildrenQuery) ([]Child, error) {
	after := ChildCursor{CreateTime: time.UnixMicro(-1 << 62)}
	if q.After != nil {
		after = *q.After
	}
	query := `SELECT ` + childColumns + ` FROM children
		WHERE (create_time > $1 OR (create_time = $1 AND id > $2))
		ORDER BY create_time, id LIMIT $3`
	args := []any{sqldb.Micros(after.CreateTime), after.ID, q.Limit}
	if q.User != "" {
		query = `SELECT ` + childColumns + ` FROM children
			WHERE id IN (SELECT child_id FROM guardianships WHERE user_id = $4)
			AND (create_time > $1 OR (create_time = $1 AND id > $2))
			ORDER BY create_time, id LIMIT $3`
		args = append(args, q.User)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list children: %w", err)
	}
	defer rows.Close()
	var out []Child
	for rows.Next() {
		c, err := scanChild(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// UpdateChild changes a child with an optimistic read-modify-write.
func (s *SQL) UpdateChild(ctx context.Context, id string, expectRevision int64, change func(*Child) error) (Child, error) {
	return optimistic(expectRevision,
		func() (Child, error) { return s.GetChild(ctx, id) },
		func(c *Child) *int64 { return &c.Revision },
		change,
		func(c *Child, read int64) (updated bool, err error) {
			c.ID, c.UpdateTime = id, s.stamp()
			err = s.db.InTx(ctx, func(tx *sqldb.Tx) error {
				updated, err = oneRow(tx.ExecContext(ctx, `UPDATE children SET display_name = $1, birth_date = $2, school = $3,
				grade_level = $4, time_zone = $5, update_time = $6, revision = $7, guardians_may_invite = $10, require_approval = $11 WHERE id = $8 AND revision = $9`,
					c.DisplayName, c.BirthDate, c.School, c.GradeLevel, c.TimeZone, sqldb.Micros(c.UpdateTime), c.Revision, id, read,
					c.GuardiansMayInvite, boolInt(c.RequireApproval)))
				if err != nil || !updated || c.GuardiansMayInvite {
					return err
				}
				// Guardians may no longer invite: the links they sent
				// stop working with the switch, not later.
				_, err = tx.ExecContext(ctx, `UPDATE invitations SET revoke_time = $1
					WHERE child_id = $2 AND NOT by_admin AND `+stillActive+`$1`, sqldb.Micros(c.UpdateTime), id)
				return err
			})
			return updated, err
		})
}

// DeleteChild removes a child; guardianships go with it by cascade.
func (s *SQL) DeleteChild(ctx context.Context, id string, expectRevision int64, events ...outbox.Message) error {
	query, args := `DELETE FROM children WHERE id = $1`, []any{id}
	if expectRevision != 0 {
		query, args = query+` AND revision = $2`, append(args, expectRevision)
	}
	return s.deleteOne(ctx, query, args, events, func(ctx context.Context) error {
		_, err := s.GetChild(ctx, id)
		return err
	})
}

// deleteOne runs a delete that should remove one row, with its events
// and the further writes also (run in its transaction after the delete);
// when it removes none, exists tells ErrNotFound (the row is gone) from
// ErrStale (it changed).
func (s *SQL) deleteOne(ctx context.Context, query string, args []any, events []outbox.Message, exists func(context.Context) error,
	also ...func(context.Context, *sqldb.Tx) error) error {
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
		for _, f := range also {
			if err := f(ctx, tx); err != nil {
				return err
			}
		}
		return addEvents(ctx, tx, events)
	})
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if deleted {
		return nil
	}
	if err := exists(ctx); err != nil {
		return err
	}
	return ErrStale
}

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

const guardianshipColumns = `child_id, user_id, role, relation, create_time, update_time, revision`

func scanGuardianship(row scanner) (Guardianship, error) {
	var g Guardianship
	var created, updated int64
	err := row.Scan(&g.ChildID, &g.User, &g.Role, &g.Relation, &created, &updated, &g.Revision)
	if errors.Is(err, sql.ErrNoRows) {
		return Guardianship{}, ErrNotFound
	}
	g.CreateTime, g.UpdateTime = sqldb.FromMicros(created), sqldb.FromMicros(updated)
	return g, err
}

// CreateGuardianship grants access; ErrNotFound when the child does not exist.
func (s *SQL) CreateGuardianship(ctx context.Context, g Guardianship, events ...outbox.Message) (Guardianship, error) {
	g.CreateTime = s.stamp()
	g.UpdateTime = g.CreateTime
	g.Revision = 1
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM children WHERE id = $1`, g.ChildID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO guardianships (`+guardianshipColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			g.ChildID, g.User, g.Role, g.Relation, sqldb.Micros(g.CreateTime), sqldb.Micros(g.UpdateTime), g.Revision)
		if sqldb.IsUniqueViolation(err) {
			return ErrAlreadyExists
		}
		if err != nil {
			return err
		}
		return addEvents(ctx, tx, events)
	})
	if err != nil {
		return Guardianship{}, err
	}
	return g, nil
}

// GetGuardianship returns one guardianship.
func (s *SQL) GetGuardianship(ctx context.Context, childID, user string) (Guardianship, error) {
	return scanGuardianship(s.db.QueryRowContext(ctx,
		`SELECT `+guardianshipColumns+` FROM guardianships WHERE child_id = $1 AND user_id = $2`, childID, user))
}

// ListGuardianships returns a page of a child's guardianships by user
// (limit 0: all of them).
func (s *SQL) ListGuardianships(ctx context.Context, childID, afterUser string, limit int) ([]Guardianship, error) {
	query, args := `SELECT `+guardianshipColumns+` FROM guardianships WHERE child_id = $1 AND user_id > $2 ORDER BY user_id`, []any{childID, afterUser}
	if limit > 0 {
		query, args = query+` LIMIT $3`, append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list guardianships: %w", err)
	}
	defer rows.Close()
	var out []Guardianship
	for rows.Next() {
		g, err := scanGuardianship(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// UpdateGuardianship changes a guardianship with an optimistic read-modify-write.
func (s *SQL) UpdateGuardianship(ctx context.Context, childID, user string, expectRevision int64, change func(*Guardianship) error) (Guardianship, error) {
	return optimistic(expectRevision,
		func() (Guardianship, error) { return s.GetGuardianship(ctx, childID, user) },
		func(g *Guardianship) *int64 { return &g.Revision },
		change,
		func(g *Guardianship, read int64) (bool, error) {
			g.UpdateTime = s.stamp()
			return oneRow(s.db.ExecContext(ctx, `UPDATE guardianships SET role = $1, relation = $2, update_time = $3, revision = $4
				WHERE child_id = $5 AND user_id = $6 AND revision = $7`,
				g.Role, g.Relation, sqldb.Micros(g.UpdateTime), g.Revision, childID, user, read))
		})
}

// DeleteGuardianship revokes access, and revokes at now the invitations
// to the child the user sent that are still active, in the same
// transaction: a removed relative's links must not let anyone back in.
func (s *SQL) DeleteGuardianship(ctx context.Context, childID, user string, expectRevision int64, now time.Time, events ...outbox.Message) error {
	query, args := `DELETE FROM guardianships WHERE child_id = $1 AND user_id = $2`, []any{childID, user}
	if expectRevision != 0 {
		query, args = query+` AND revision = $3`, append(args, expectRevision)
	}
	revokeSent := func(ctx context.Context, tx *sqldb.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE invitations SET revoke_time = $1
			WHERE child_id = $2 AND creator = $3 AND `+stillActive+`$1`, sqldb.Micros(now), childID, user)
		return err
	}
	return s.deleteOne(ctx, query, args, events, func(ctx context.Context) error {
		_, err := s.GetGuardianship(ctx, childID, user)
		return err
	}, revokeSent)
}

// Role answers in one query whether the child exists and what the user may do.
func (s *SQL) Role(ctx context.Context, childID, user string) (Role, bool, error) {
	var role sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT g.role FROM children c
		LEFT JOIN guardianships g ON g.child_id = c.id AND g.user_id = $2
		WHERE c.id = $1`, childID, user).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return RoleNone, false, nil
	}
	if err != nil {
		return RoleNone, false, fmt.Errorf("role: %w", err)
	}
	return Role(role.Int64), true, nil
}

// FollowedChildren lists a user's children with their guardianships: one
// query through guardianships_by_user, so its cost follows the user's
// guardianships, not the number of children.
func (s *SQL) FollowedChildren(ctx context.Context, user string, limit int) ([]FollowedChild, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.id, c.display_name, g.role, g.relation
		FROM guardianships g JOIN children c ON c.id = g.child_id
		WHERE g.user_id = $1
		ORDER BY c.create_time, c.id LIMIT $2`, user, limit)
	if err != nil {
		return nil, fmt.Errorf("followed children: %w", err)
	}
	defer rows.Close()
	var out []FollowedChild
	for rows.Next() {
		var f FollowedChild
		if err := rows.Scan(&f.ChildID, &f.DisplayName, &f.Role, &f.Relation); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Guardians lists every guardianship of a child, by user: the recipients of
// the child's events. Guardianships per child are few, so no paging.
func (s *SQL) Guardians(ctx context.Context, childID string) ([]Guardianship, error) {
	return s.ListGuardianships(ctx, childID, "", 0)
}
