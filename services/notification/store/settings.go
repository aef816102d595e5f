package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// E-mail states, numbered as notification.v1.EmailState.
const (
	EmailNone         = 1 // no address
	EmailPending      = 2 // the user set it; the mailed link is not yet used
	EmailConfirmed    = 3 // the user set it and used the mailed link
	EmailFromIdentity = 4 // none set: the sign-in provider's verified address
)

// NoQuietHours is QuietStart and QuietEnd of a user without quiet hours.
const NoQuietHours = -1

// DefaultTimeZone is the time zone of a user who never chose one.
const DefaultTimeZone = "UTC"

// Settings are a user's settings.
type Settings struct {
	User     string
	TimeZone string // IANA name
	// QuietStart and QuietEnd are minutes after local midnight, both
	// NoQuietHours for none; End < Start wraps midnight.
	QuietStart, QuietEnd int
	DigestEnabled        bool
	// Email is the address the user sees: the one they set, or, when they
	// set none, IdentityEmail (EmailState EmailFromIdentity).
	Email         string
	EmailState    int
	IdentityEmail string    // the sign-in provider's verified address, "" if none
	UpdateTime    time.Time // zero for a user never stored
	Version       int64     // the etag's revision; 0 for a user never stored
}

// Address is where mail to the user may go: Email when confirmed or
// vouched for by the sign-in provider, else "".
func (s Settings) Address() string {
	if s.EmailState == EmailConfirmed || s.EmailState == EmailFromIdentity {
		return s.Email
	}
	return ""
}

// HasQuietHours reports whether the user set quiet hours.
func (s Settings) HasQuietHours() bool { return s.QuietStart >= 0 && s.QuietEnd >= 0 }

// DefaultSettings are the settings of a user who never changed any.
func DefaultSettings(user string) Settings {
	return Settings{User: user, TimeZone: DefaultTimeZone, QuietStart: NoQuietHours, QuietEnd: NoQuietHours, EmailState: EmailNone}
}

// Errors of the settings and the e-mail confirmation links.
var (
	// ErrConflict: the settings changed since the version the write names.
	ErrConflict = errors.New("settings changed since read")
	// ErrLinkUsed: the confirmation link was used already.
	ErrLinkUsed = errors.New("confirmation link already used")
	// ErrLinkExpired: the confirmation link's time ran out.
	ErrLinkExpired = errors.New("confirmation link expired")
	// ErrLinkBudget: the user had as many confirmation links sent as the
	// window allows.
	ErrLinkBudget = errors.New("too many confirmation links sent")
)

const settingsColumns = `user_id, time_zone, quiet_start, quiet_end, digest_enabled, email, email_state, identity_email, update_time, version`

func scanSettings(row interface{ Scan(...any) error }) (Settings, error) {
	var st Settings
	var updated int64
	err := row.Scan(&st.User, &st.TimeZone, &st.QuietStart, &st.QuietEnd, &st.DigestEnabled, &st.Email, &st.EmailState, &st.IdentityEmail, &updated, &st.Version)
	if err != nil {
		return Settings{}, err
	}
	st.UpdateTime = sqldb.FromMicros(updated)
	if st.Email == "" {
		st.EmailState = EmailNone
		if st.IdentityEmail != "" {
			st.Email, st.EmailState = st.IdentityEmail, EmailFromIdentity
		}
	}
	return st, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readSettings(ctx context.Context, q querier, user string) (Settings, error) {
	st, err := scanSettings(q.QueryRowContext(ctx, `SELECT `+settingsColumns+` FROM user_settings WHERE user_id = $1`, user))
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultSettings(user), nil
	}
	return st, err
}

// Settings returns a user's settings: the defaults when none are stored.
func (s *SQL) Settings(ctx context.Context, user string) (Settings, error) {
	return readSettings(ctx, s.db, user)
}

// upsertDefaults stores the defaults for a user without a row, so that
// what follows can update it, and takes its lock.
func upsertDefaults(ctx context.Context, tx *sqldb.Tx, user string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO user_settings (user_id, time_zone, quiet_start, quiet_end, update_time, version)
		VALUES ($1, $2, $3, $3, $4, 0)
		ON CONFLICT (user_id) DO UPDATE SET version = user_settings.version`, user, DefaultTimeZone, NoQuietHours, sqldb.Micros(now))
	return err
}

// SetDigestEnabled turns a user's daily digest on or off (the one-click
// unsubscribe). A write that changes nothing keeps the version.
func (s *SQL) SetDigestEnabled(ctx context.Context, user string, on bool) error {
	now := s.now()
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := upsertDefaults(ctx, tx, user, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE user_settings SET digest_enabled = $2, update_time = $3, version = version + 1
			WHERE user_id = $1 AND digest_enabled <> $2`, user, on, sqldb.Micros(now))
		return err
	})
}

// DigestCandidates returns, by user id after afterUser, the settings of
// users with the digest on and an address mail may go to (Address).
func (s *SQL) DigestCandidates(ctx context.Context, afterUser string, limit int) ([]Settings, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+settingsColumns+` FROM user_settings
		WHERE digest_enabled = TRUE AND user_id > $1
		AND ((email <> '' AND email_state = $2) OR (email = '' AND identity_email <> ''))
		ORDER BY user_id LIMIT $3`, afterUser, EmailConfirmed, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Settings
	for rows.Next() {
		st, err := scanSettings(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// EmailLink is a confirmation link to store with an address: its token
// (only its SHA-256 is kept) and when it expires.
type EmailLink struct {
	Token  string
	Expire time.Time
	// Sent is when it is mailed, on the service's clock. When Budget is
	// positive, a user who had Budget links sent in the Window before Sent
	// gets ErrLinkBudget and nothing changes: the count is in the
	// database, so every instance keeps to one budget.
	Sent   time.Time
	Budget int
	Window time.Duration
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// AnyVersion is UpdateSettings' ifVersion that matches every version.
const AnyVersion = -1

// UpdateSettings writes the user's time zone, quiet hours, digest switch,
// e-mail address and its state (EmailFromIdentity or an empty Email store
// no address), when the stored version is still ifVersion (0 for a user
// never stored; AnyVersion: whatever it is), else ErrConflict. When
// the address changes, or link is not nil, the user's earlier links are
// deleted; link, when not nil, is stored for the new address. It returns
// what is stored, with the next version.
func (s *SQL) UpdateSettings(ctx context.Context, next Settings, ifVersion int64, link *EmailLink) (Settings, error) {
	now := sqldb.FromMicros(sqldb.Micros(s.now()))
	email, state := next.Email, next.EmailState
	if email == "" || state == EmailFromIdentity || state == EmailNone {
		email, state = "", EmailNone
	}
	var out Settings
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := upsertDefaults(ctx, tx, next.User, now); err != nil {
			return err
		}
		var version int64
		var stored string
		if err := tx.QueryRowContext(ctx, `SELECT version, email FROM user_settings WHERE user_id = $1`, next.User).Scan(&version, &stored); err != nil {
			return err
		}
		if ifVersion != AnyVersion && ifVersion != version {
			return ErrConflict
		}
		if _, err := tx.ExecContext(ctx, `UPDATE user_settings SET time_zone = $2, quiet_start = $3, quiet_end = $4,
			digest_enabled = $5, email = $6, email_state = $7, update_time = $8, version = version + 1 WHERE user_id = $1`,
			next.User, next.TimeZone, next.QuietStart, next.QuietEnd, next.DigestEnabled, email, state, sqldb.Micros(now)); err != nil {
			return err
		}
		// After the update, which holds the user's row until the end: two
		// instances count one user's links one after the other.
		if link != nil && link.Budget > 0 {
			if err := spendLinkBudget(ctx, tx, next.User, link); err != nil {
				return err
			}
		}
		if link != nil || email != stored {
			if _, err := tx.ExecContext(ctx, `DELETE FROM email_confirmations WHERE user_id = $1`, next.User); err != nil {
				return err
			}
		}
		if link != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO email_confirmations (token_hash, user_id, email, create_time, expire_time)
				VALUES ($1, $2, $3, $4, $5)`, hashToken(link.Token), next.User, email, sqldb.Micros(now), sqldb.Micros(link.Expire)); err != nil {
				return err
			}
		}
		var err error
		out, err = readSettings(ctx, tx, next.User)
		return err
	})
	return out, err
}

// RecordIdentityEmail keeps the verified address the sign-in provider
// vouches for ("" forgets it). A write that changes nothing changes
// nothing, not even the version.
func (s *SQL) RecordIdentityEmail(ctx context.Context, user, email string) error {
	st, err := s.Settings(ctx, user)
	if err != nil || st.IdentityEmail == email {
		return err
	}
	now := s.now()
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if err := upsertDefaults(ctx, tx, user, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE user_settings SET identity_email = $2, update_time = $3, version = version + 1
			WHERE user_id = $1 AND identity_email <> $2`, user, email, sqldb.Micros(now))
		return err
	})
}

// ConfirmEmail uses a confirmation link: the address it was mailed to
// becomes the user's confirmed address, and the link is spent. An unknown
// token (never issued, or the user set another address since) is
// ErrNotFound; a spent one ErrLinkUsed; one past its expiry ErrLinkExpired.
// It returns the settings of the link's user. now is the caller's clock.
func (s *SQL) ConfirmEmail(ctx context.Context, token string, at time.Time) (Settings, error) {
	now := sqldb.Micros(at)
	var out Settings
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		var user, email string
		var expire, used int64
		err := tx.QueryRowContext(ctx, `SELECT user_id, email, expire_time, use_time FROM email_confirmations WHERE token_hash = $1`,
			hashToken(token)).Scan(&user, &email, &expire, &used)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case used != 0:
			return ErrLinkUsed
		case expire <= now:
			return ErrLinkExpired
		}
		// Spent in the statement that checks it is unspent: of two uses
		// racing, one updates the row and the other finds it spent.
		res, err := tx.ExecContext(ctx, `UPDATE email_confirmations SET use_time = $2 WHERE token_hash = $1 AND use_time = 0`, hashToken(token), now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrLinkUsed
		}
		if _, err := tx.ExecContext(ctx, `UPDATE user_settings SET email_state = $3, update_time = $4, version = version + 1
			WHERE user_id = $1 AND email = $2 AND email_state <> $3`, user, email, EmailConfirmed, now); err != nil {
			return err
		}
		out, err = readSettings(ctx, tx, user)
		return err
	})
	return out, err
}

// spendLinkBudget records link as sent, or fails with ErrLinkBudget.
func spendLinkBudget(ctx context.Context, tx *sqldb.Tx, user string, link *EmailLink) error {
	var sent int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM email_link_sends WHERE user_id = $1 AND send_time > $2`,
		user, sqldb.Micros(link.Sent.Add(-link.Window))).Scan(&sent); err != nil {
		return err
	}
	if sent >= link.Budget {
		return ErrLinkBudget
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO email_link_sends (user_id, send_time) VALUES ($1, $2)`, user, sqldb.Micros(link.Sent))
	return err
}

// ExpireEmailLinks deletes confirmation links that expired before cutoff,
// and the record of links sent before it.
func (s *SQL) ExpireEmailLinks(ctx context.Context, cutoff time.Time) (int64, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM email_link_sends WHERE send_time < $1`, sqldb.Micros(cutoff)); err != nil {
		return 0, err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM email_confirmations WHERE expire_time < $1`, sqldb.Micros(cutoff))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
