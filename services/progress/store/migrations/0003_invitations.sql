-- Invitations: one-time links that make a relative a guardian of a child,
-- and the child's switch that lets its guardians send them. Only the
-- SHA-256 of a token is kept (hex), never the token. Times are unix
-- microseconds; 0 means "not yet" for redeem_time and revoke_time. A
-- deleted child takes its invitations with it.

-- +goose Up
ALTER TABLE children ADD COLUMN guardians_may_invite BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE invitations (
    child_id    TEXT NOT NULL REFERENCES children (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    role        INTEGER NOT NULL,
    relation    TEXT NOT NULL DEFAULT '',
    creator     TEXT NOT NULL,
    redeemer    TEXT NOT NULL DEFAULT '',
    create_time BIGINT NOT NULL,
    expire_time BIGINT NOT NULL,
    redeem_time BIGINT NOT NULL DEFAULT 0,
    revoke_time BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (child_id, id)
);
CREATE UNIQUE INDEX invitations_by_token ON invitations (token_hash);
-- Newest first, and the count of a child's active ones.
CREATE INDEX invitations_by_creation ON invitations (child_id, create_time, id);

-- +goose Down
DROP TABLE invitations;
ALTER TABLE children DROP COLUMN guardians_may_invite;
