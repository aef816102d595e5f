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

const invitationColumns = `child_id, id, token_hash, role, relation, creator, redeemer, create_time, expire_time, redeem_time, revoke_time, by_admin`

func scanInvitation(row scanner) (Invitation, error) {
	var i Invitation
	var created, expires, redeemed, revoked int64
	err := row.Scan(&i.ChildID, &i.ID, &i.TokenHash, &i.Role, &i.Relation, &i.Creator, &i.Redeemer, &created, &expires, &redeemed, &revoked, &i.ByAdmin)
	if errors.Is(err, sql.ErrNoRows) {
		return Invitation{}, ErrNotFound
	}
	if err != nil {
		return Invitation{}, err
	}
	i.CreateTime, i.ExpireTime = sqldb.FromMicros(created), sqldb.FromMicros(expires)
	i.RedeemTime, i.RevokeTime = optionalTime(redeemed), optionalTime(revoked)
	return i, nil
}

// optionalTime reads a time stored as 0 when absent.
func optionalTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return sqldb.FromMicros(us)
}

func optionalMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return sqldb.Micros(t)
}

// stillActive is the condition of an invitation active at $now.
const stillActive = `redeem_time = 0 AND revoke_time = 0 AND expire_time > `

// CreateInvitation counts and inserts under the child's row lock, so two
// concurrent creates cannot both take the last place.
func (s *SQL) CreateInvitation(ctx context.Context, inv Invitation, maxActive, maxByCreator int) (Invitation, error) {
	inv.CreateTime = sqldb.FromMicros(sqldb.Micros(inv.CreateTime))
	inv.ExpireTime = sqldb.FromMicros(sqldb.Micros(inv.ExpireTime))
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		// A write that changes nothing: it locks the child's row on
		// PostgreSQL (SQLite's transactions are serial already) and tells
		// whether the child exists.
		locked, err := oneRow(tx.ExecContext(ctx, `UPDATE children SET revision = revision WHERE id = $1`, inv.ChildID))
		if err != nil {
			return err
		}
		if !locked {
			return ErrNotFound
		}
		var active int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM invitations WHERE child_id = $1 AND `+stillActive+`$2`,
			inv.ChildID, sqldb.Micros(inv.CreateTime)).Scan(&active); err != nil {
			return err
		}
		if active >= maxActive {
			return ErrLimit
		}
		if maxByCreator > 0 {
			var mine int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM invitations WHERE child_id = $1 AND creator = $2 AND `+stillActive+`$3`,
				inv.ChildID, inv.Creator, sqldb.Micros(inv.CreateTime)).Scan(&mine); err != nil {
				return err
			}
			if mine >= maxByCreator {
				return ErrCreatorLimit
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO invitations (`+invitationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			inv.ChildID, inv.ID, inv.TokenHash, inv.Role, inv.Relation, inv.Creator, inv.Redeemer,
			sqldb.Micros(inv.CreateTime), sqldb.Micros(inv.ExpireTime), optionalMicros(inv.RedeemTime), optionalMicros(inv.RevokeTime), inv.ByAdmin)
		if sqldb.IsUniqueViolation(err) {
			return ErrAlreadyExists
		}
		return err
	})
	if err != nil {
		return Invitation{}, err
	}
	return inv, nil
}

// GetInvitation returns one invitation.
func (s *SQL) GetInvitation(ctx context.Context, childID, id string) (Invitation, error) {
	return scanInvitation(s.db.QueryRowContext(ctx,
		`SELECT `+invitationColumns+` FROM invitations WHERE child_id = $1 AND id = $2`, childID, id))
}

// InvitationByToken looks an invitation up by its token's hash.
func (s *SQL) InvitationByToken(ctx context.Context, tokenHash string) (Invitation, error) {
	return scanInvitation(s.db.QueryRowContext(ctx,
		`SELECT `+invitationColumns+` FROM invitations WHERE token_hash = $1`, tokenHash))
}

// ListInvitations returns a page of a child's invitations, newest first.
func (s *SQL) ListInvitations(ctx context.Context, childID string, after *InvitationCursor, limit int) ([]Invitation, error) {
	query, args := `SELECT `+invitationColumns+` FROM invitations WHERE child_id = $1`, []any{childID}
	if after != nil {
		query += ` AND (create_time < $2 OR (create_time = $2 AND id < $3))`
		args = append(args, sqldb.Micros(after.CreateTime), after.ID)
	}
	query += fmt.Sprintf(` ORDER BY create_time DESC, id DESC LIMIT $%d`, len(args)+1)
	rows, err := s.db.QueryContext(ctx, query, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	defer rows.Close()
	var out []Invitation
	for rows.Next() {
		i, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// RevokeInvitation revokes with a conditional update: an invitation
// redeemed meanwhile stays redeemed.
func (s *SQL) RevokeInvitation(ctx context.Context, childID, id string, now time.Time) (Invitation, error) {
	at := sqldb.Micros(now)
	revoked, err := oneRow(s.db.ExecContext(ctx, `UPDATE invitations SET revoke_time = $1
		WHERE child_id = $2 AND id = $3 AND `+stillActive+`$1`, at, childID, id))
	if err != nil {
		return Invitation{}, fmt.Errorf("revoke invitation: %w", err)
	}
	inv, err := s.GetInvitation(ctx, childID, id)
	if err != nil {
		return Invitation{}, err
	}
	if !revoked {
		return inv, ErrNotActive
	}
	return inv, nil
}

// RedeemInvitation uses the invitation up and grants the guardianship in
// one transaction. The conditional update comes first: on PostgreSQL a
// concurrent redeem waits on its row lock and then finds the invitation
// used; on SQLite transactions are serial.
func (s *SQL) RedeemInvitation(ctx context.Context, childID, id string, g Guardianship, now time.Time, events ...outbox.Message) (Guardianship, error) {
	at := sqldb.Micros(now)
	g.ChildID = childID
	g.CreateTime = sqldb.FromMicros(at)
	g.UpdateTime = g.CreateTime
	g.Revision = 1
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		used, err := oneRow(tx.ExecContext(ctx, `UPDATE invitations SET redeemer = $1, redeem_time = $2
			WHERE child_id = $3 AND id = $4 AND `+stillActive+`$2`, g.User, at, childID, id))
		if err != nil {
			return err
		}
		if !used {
			return ErrNotActive
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO guardianships (`+guardianshipColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
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
