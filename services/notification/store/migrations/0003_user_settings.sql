-- Each user's settings (time zone, quiet hours, the daily digest, an
-- e-mail address) and the single-use links that confirm an address.
-- Portable SQL, as 0001; times are unix microseconds.

-- +goose Up
-- One row per user who changed anything or signed in with an e-mail claim;
-- a user without a row has the defaults (UTC, no quiet hours, no digest,
-- no address). quiet_start and quiet_end are minutes after local midnight,
-- both -1 for none. email is the address the user set ('' for none) and
-- email_state its state (1 none, 2 pending, 3 confirmed: the numbers of
-- notification.v1.EmailState); identity_email is the verified address the
-- sign-in provider vouches for, used when the user set none. version
-- counts the writes a user sees (the etag).
CREATE TABLE user_settings (
    user_id        TEXT PRIMARY KEY,
    time_zone      TEXT NOT NULL,
    quiet_start    INTEGER NOT NULL,
    quiet_end      INTEGER NOT NULL,
    digest_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    email          TEXT NOT NULL DEFAULT '',
    email_state    INTEGER NOT NULL DEFAULT 1,
    identity_email TEXT NOT NULL DEFAULT '',
    update_time    BIGINT NOT NULL,
    version        BIGINT NOT NULL
);
CREATE INDEX user_settings_digest ON user_settings (digest_enabled, user_id);

-- A mailed confirmation link: only the SHA-256 of its token is kept. A
-- used link keeps its row (use_time set) so a second use is told apart
-- from an unknown token; setting another address deletes the user's links.
CREATE TABLE email_confirmations (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    email       TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    expire_time BIGINT NOT NULL,
    use_time    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX email_confirmations_by_user ON email_confirmations (user_id);
CREATE INDEX email_confirmations_by_expiry ON email_confirmations (expire_time);

-- +goose Down
DROP TABLE email_confirmations;
DROP TABLE user_settings;
