package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// sessionInsertColumns are written by CreateSession; sessionColumns read
// them back in the same order, with the hold (HoldSession) after them.
const sessionInsertColumns = `id, child_id, kind, title, caption, filename, size_bytes, sha256, committed_offset, temp_key,
	uploaded_by, idle_timeout_us, create_time, update_time, expire_time, item_id, hash_state`

const sessionColumns = sessionInsertColumns + `, held_by, held_until`

func scanSession(row scanner) (Session, error) {
	var s Session
	var idle, created, updated, expires, heldUntil int64
	var hashState string
	err := row.Scan(&s.ID, &s.ChildID, &s.Metadata.Kind, &s.Metadata.Title, &s.Metadata.Caption, &s.Metadata.Filename,
		&s.Metadata.SizeBytes, &s.Metadata.SHA256, &s.CommittedOffset, &s.TempKey, &s.UploadedBy, &idle,
		&created, &updated, &expires, &s.ItemID, &hashState, &s.HeldBy, &heldUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if state, herr := hex.DecodeString(hashState); herr == nil {
		s.HashState = string(state) // else not known: the bytes are hashed again
	}
	s.IdleTimeout = time.Duration(idle) * time.Microsecond
	s.CreateTime, s.UpdateTime, s.ExpireTime = sqldb.FromMicros(created), sqldb.FromMicros(updated), sqldb.FromMicros(expires)
	if heldUntil != 0 {
		s.HeldUntil = sqldb.FromMicros(heldUntil)
	}
	return s, err
}

// CreateSession stores a new upload session at offset 0, expiring
// IdleTimeout from now, unless its child was deleted, or it would put its
// uploader over caps (a *CapError). An empty ID is generated.
func (s *SQL) CreateSession(ctx context.Context, sess Session, caps UploadCaps) (Session, error) {
	if sess.ID == "" {
		sess.ID = newID()
	}
	if sess.Metadata.SizeBytes < 0 {
		return Session{}, fmt.Errorf("create session: size %d: %w", sess.Metadata.SizeBytes, ErrInvalid)
	}
	if sess.IdleTimeout <= 0 {
		sess.IdleTimeout = DefaultIdleTimeout
	}
	sess.IdleTimeout = sess.IdleTimeout.Truncate(time.Microsecond)
	sess.CommittedOffset = 0
	sess.CreateTime = s.stamp()
	sess.UpdateTime = sess.CreateTime
	sess.ExpireTime = sess.CreateTime.Add(sess.IdleTimeout)
	m := sess.Metadata
	sess.ItemID = ""
	sess.HeldBy, sess.HeldUntil = "", time.Time{}
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := childLive(ctx, tx, sess.ChildID); err != nil {
			return err
		}
		if err := withinCaps(ctx, tx, sess, caps); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO upload_sessions (`+sessionInsertColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			sess.ID, sess.ChildID, m.Kind, m.Title, m.Caption, m.Filename, m.SizeBytes, m.SHA256, sess.CommittedOffset,
			sess.TempKey, sess.UploadedBy, sess.IdleTimeout.Microseconds(), sqldb.Micros(sess.CreateTime),
			sqldb.Micros(sess.UpdateTime), sqldb.Micros(sess.ExpireTime), sess.ItemID, hex.EncodeToString([]byte(sess.HashState)))
		return err
	})
	if sqldb.IsUniqueViolation(err) {
		return Session{}, ErrAlreadyExists
	}
	if err != nil {
		return Session{}, wrap("create session", err)
	}
	return sess, nil
}

// UploadCaps bound what one user may have under way at once; a zero field
// does not bound.
type UploadCaps struct {
	// Sessions is how many open sessions (neither finished nor expired)
	// the user may have.
	Sessions int
	// Bytes is how many bytes the user's open sessions may have declared
	// and not yet committed, in all.
	Bytes int64
}

// CapError refuses a session that would put its uploader over a cap.
type CapError struct {
	// Sessions is true when the cap on open sessions refused it, false
	// when the cap on bytes did.
	Sessions bool
	// Open is how many sessions the uploader has open; Outstanding is how
	// many bytes they declared and have not committed.
	Open        int
	Outstanding int64
	// FreesAt is when enough of the open sessions expire, if none is
	// written to meanwhile, for the refused one to fit; zero if it never
	// fits.
	FreesAt time.Time
}

func (e *CapError) Error() string {
	if e.Sessions {
		return fmt.Sprintf("%d upload sessions open", e.Open)
	}
	return fmt.Sprintf("%d bytes declared and not yet received", e.Outstanding)
}

// Unwrap makes a CapError an ErrCapReached.
func (e *CapError) Unwrap() error { return ErrCapReached }

// withinCaps checks that sess fits its uploader's caps, holding the
// uploader's row lock until the transaction ends.
func withinCaps(ctx context.Context, tx *sqldb.Tx, sess Session, caps UploadCaps) error {
	if caps.Sessions <= 0 && caps.Bytes <= 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO media_uploaders (user_id) VALUES ($1)
		ON CONFLICT (user_id) DO UPDATE SET user_id = excluded.user_id`, sess.UploadedBy); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT size_bytes - committed_offset, expire_time FROM upload_sessions
		WHERE uploaded_by = $1 AND item_id = '' AND expire_time > $2 ORDER BY expire_time`, sess.UploadedBy, sqldb.Micros(sess.CreateTime))
	if err != nil {
		return err
	}
	type open struct {
		outstanding int64
		expires     time.Time
	}
	var sessions []open
	var outstanding int64
	for rows.Next() {
		var o open
		var expires int64
		if err := rows.Scan(&o.outstanding, &expires); err != nil {
			rows.Close()
			return err
		}
		o.expires = sqldb.FromMicros(expires)
		sessions = append(sessions, o)
		outstanding += o.outstanding
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	refusal := &CapError{Open: len(sessions), Outstanding: outstanding}
	if caps.Sessions > 0 && len(sessions) >= caps.Sessions {
		refusal.Sessions = true
		refusal.FreesAt = sessions[len(sessions)-caps.Sessions].expires
		return refusal
	}
	size := sess.Metadata.SizeBytes
	if caps.Bytes > 0 && outstanding+size > caps.Bytes {
		if size <= caps.Bytes {
			for _, o := range sessions {
				outstanding -= o.outstanding
				if outstanding+size <= caps.Bytes {
					refusal.FreesAt = o.expires
					break
				}
			}
		}
		return refusal
	}
	return nil
}

// GetSession returns a session, expired or not: the caller compares
// ExpireTime with its clock, and ChildID with the resource name.
func (s *SQL) GetSession(ctx context.Context, id string) (Session, error) {
	return scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM upload_sessions WHERE id = $1`, id))
}

// AdvanceSession is a compare-and-set on the committed offset: of several
// writers that wrote from the same offset, exactly one moves it, and the
// others learn the offset to resume from. Each success pushes the expiry
// IdleTimeout past now. An expired session no longer moves (the sweeper
// may be deleting its bytes) and is reported as ErrNotFound; a finished one
// is reported as ErrFinished, with the session. to == from only extends
// the expiry.
func (s *SQL) AdvanceSession(ctx context.Context, id string, from, to int64) (Session, error) {
	return s.advance(ctx, id, from, to, "", "")
}

// CommitSession is AdvanceSession recording, with the offset, the running
// hash of the bytes up to it and, when part is not empty, the part that
// holds the bytes from from to to (see Parts).
func (s *SQL) CommitSession(ctx context.Context, id string, from, to int64, hashState, part string) (Session, error) {
	if part != "" && to == from {
		return Session{}, fmt.Errorf("commit session: an empty part: %w", ErrInvalid)
	}
	return s.advance(ctx, id, from, to, hashState, part)
}

// advance moves the offset, and the hash state and the part when given.
func (s *SQL) advance(ctx context.Context, id string, from, to int64, hashState, part string) (Session, error) {
	if from < 0 || to < from {
		return Session{}, fmt.Errorf("advance session from %d to %d: %w", from, to, ErrInvalid)
	}
	now := s.stamp()
	var sess Session
	var moved bool
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE upload_sessions
			SET committed_offset = $3, update_time = $4, expire_time = $4 + idle_timeout_us,
				hash_state = CASE WHEN $5 = '' THEN hash_state ELSE $5 END
			WHERE id = $1 AND committed_offset = $2 AND expire_time > $4 AND size_bytes >= $3 AND item_id = ''`,
			id, from, to, sqldb.Micros(now), hex.EncodeToString([]byte(hashState)))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		moved = true
		if part != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO upload_parts (session_id, start_offset, end_offset, part)
				VALUES ($1, $2, $3, $4)`, id, from, to, part); err != nil {
				return err
			}
		}
		sess, err = scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM upload_sessions WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return Session{}, wrap("advance session", err)
	}
	if moved {
		return sess, nil
	}
	cur, err := s.GetSession(ctx, id)
	switch {
	case err != nil:
		return Session{}, err
	case !cur.ExpireTime.After(now):
		return Session{}, ErrNotFound
	case cur.ItemID != "":
		return cur, ErrFinished
	case cur.CommittedOffset != from:
		return cur, ErrOffsetMismatch
	case to > cur.Metadata.SizeBytes:
		return cur, fmt.Errorf("advance session to %d beyond its size %d: %w", to, cur.Metadata.SizeBytes, ErrInvalid)
	}
	// Moved away and back between our update and our read: report the
	// race rather than guess.
	return cur, ErrOffsetMismatch
}

// FinishSession records that a complete session became item itemID and
// releases its pins (the item now references what they held). The session
// stays, taking no more bytes, until IdleTimeout from now. Finishing a
// finished session changes nothing and returns it (with the item it
// became, which a racing finisher of the same bytes deduplicated to the
// same item). An incomplete or expired session cannot be finished
// (ErrInvalid, ErrNotFound).
func (s *SQL) FinishSession(ctx context.Context, id, itemID string) (Session, error) {
	if itemID == "" {
		return Session{}, fmt.Errorf("finish session: empty item id: %w", ErrInvalid)
	}
	now := s.stamp()
	var sess Session
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var err error
		sess, err = scanSession(tx.QueryRowContext(ctx, `UPDATE upload_sessions
			SET item_id = $2, update_time = $3, expire_time = $3 + idle_timeout_us
			WHERE id = $1 AND item_id = '' AND committed_offset = size_bytes AND expire_time > $3
			RETURNING `+sessionColumns, id, itemID, sqldb.Micros(now)))
		if err != nil {
			return err
		}
		// Its item holds the bytes now; the caller deletes the parts.
		if _, err := tx.ExecContext(ctx, `DELETE FROM upload_parts WHERE session_id = $1`, id); err != nil {
			return err
		}
		delta := refDelta{}
		if err := releasePins(ctx, tx, SessionHolder(id), delta); err != nil {
			return err
		}
		return delta.apply(ctx, tx, now)
	})
	if err == nil {
		return sess, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Session{}, wrap("finish session", err)
	}
	cur, err := s.GetSession(ctx, id)
	switch {
	case err != nil:
		return Session{}, err
	case cur.ItemID != "":
		return cur, nil
	case !cur.ExpireTime.After(now):
		return Session{}, ErrNotFound
	default:
		return cur, fmt.Errorf("finish session with %d of %d bytes: %w", cur.CommittedOffset, cur.Metadata.SizeBytes, ErrInvalid)
	}
}

// deleteSessions deletes the sessions matching where, releases their pins
// into delta, and returns them.
func deleteSessions(ctx context.Context, tx *sqldb.Tx, where string, args []any, delta refDelta) ([]Session, error) {
	rows, err := tx.QueryContext(ctx, `DELETE FROM upload_sessions WHERE `+where+` RETURNING `+sessionColumns, args...)
	if err != nil {
		return nil, err
	}
	var out []Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, sess)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// After the rows are read: a connection runs one statement at a time.
	for _, sess := range out {
		if err := releasePins(ctx, tx, SessionHolder(sess.ID), delta); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM upload_parts WHERE session_id = $1`, sess.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DeleteSession removes a session and releases its pins, unless another
// holder's hold on it is live (ErrSessionHeld): a host may be between
// pinning its bytes and writing them. holder is the caller's hold, "" for
// none. Delete the session's temporary bytes first: if the process dies in
// between, the session is still listed as expired and the cleanup runs
// again, whereas the other order would leave bytes no row points to.
func (s *SQL) DeleteSession(ctx context.Context, id, holder string) error {
	now := s.stamp()
	var found bool
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		delta := refDelta{}
		deleted, err := deleteSessions(ctx, tx, `id = $1 AND (held_until <= $2 OR held_by = $3)`,
			[]any{id, sqldb.Micros(now), holder}, delta)
		if err != nil {
			return err
		}
		found = len(deleted) > 0
		return delta.apply(ctx, tx, now)
	})
	if err != nil {
		return wrap("delete session", err)
	}
	if found {
		return nil
	}
	if _, err := s.GetSession(ctx, id); err != nil {
		return err
	}
	return ErrSessionHeld
}

// HoldSession takes, or renews, holder's hold on a session until leaseFor
// from now, and returns the session, expired or not. It fails with
// ErrSessionHeld while another holder's hold is live, ErrNotFound when the
// session is gone. A hold that lapsed is taken again by whoever asks
// first, its former holder included: nothing the hold guards (the row,
// its pins) can have changed hands meanwhile without the row saying so.
//
// takeOver, when not "", is a prefix of hold names the caller may take
// over though they are live: the holds of the processes that share its
// upload directory, when it has the session's file lock there, which no
// process at work on the session would have let go. One of them that
// died keeps its hold until the hold lapses; its restart need not wait.
func (s *SQL) HoldSession(ctx context.Context, id, holder string, leaseFor time.Duration, takeOver string) (Session, error) {
	if holder == "" || leaseFor <= 0 {
		return Session{}, fmt.Errorf("hold session: holder %q for %v: %w", holder, leaseFor, ErrInvalid)
	}
	now := s.stamp()
	sess, err := scanSession(s.db.QueryRowContext(ctx, `UPDATE upload_sessions SET held_by = $2, held_until = $3
		WHERE id = $1 AND (held_until <= $4 OR held_by = $2 OR ($5 <> '' AND substr(held_by, 1, $6) = $5))
		RETURNING `+sessionColumns,
		id, holder, sqldb.Micros(now.Add(leaseFor)), sqldb.Micros(now), takeOver, len(takeOver)))
	if err == nil {
		return sess, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Session{}, wrap("hold session", err)
	}
	if _, err := s.GetSession(ctx, id); err != nil {
		return Session{}, err
	}
	return Session{}, ErrSessionHeld
}

// ReleaseSession ends holder's hold on a session, if it still has it; a
// session gone or held by another is no error.
func (s *SQL) ReleaseSession(ctx context.Context, id, holder string) error {
	if holder == "" {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `UPDATE upload_sessions SET held_by = '', held_until = 0
		WHERE id = $1 AND held_by = $2`, id, holder)
	return wrap("release session", err)
}

// ExpiredSessions lists sessions whose expiry is at or before now, soonest
// first (limit 0: all of them). An expired session never moves again, so
// what is listed stays expired until deleted.
func (s *SQL) ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]Session, error) {
	query, args := `SELECT `+sessionColumns+` FROM upload_sessions WHERE expire_time <= $1 ORDER BY expire_time, id`, []any{sqldb.Micros(now)}
	if limit > 0 {
		query, args = query+` LIMIT $2`, append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("expired sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, rows.Err()
}

// Part is a piece of an upload session's committed bytes kept in the blob
// store: the bytes from Start up to End, in the object Name.
type Part struct {
	Start, End int64
	Name       string
}

// Parts returns the recorded parts of a session, in order: they tile the
// committed bytes, except those committed without a part (by a release
// that kept them only in its upload directory), which leave a gap.
func (s *SQL) Parts(ctx context.Context, id string) ([]Part, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT start_offset, end_offset, part FROM upload_parts
		WHERE session_id = $1 ORDER BY start_offset`, id)
	if err != nil {
		return nil, fmt.Errorf("session parts: %w", err)
	}
	defer rows.Close()
	var out []Part
	for rows.Next() {
		var p Part
		if err := rows.Scan(&p.Start, &p.End, &p.Name); err != nil {
			return nil, fmt.Errorf("session parts: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
