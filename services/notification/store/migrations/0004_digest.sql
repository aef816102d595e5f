-- The daily digest (services/notification/digest). Portable SQL, as 0001;
-- times are unix microseconds.

-- +goose Up
-- One row per user and local day whose digest a runner claimed. A claim
-- holds for a lease; state 'sent' is final. A runner that died before
-- marking its send leaves a claim whose lease runs out, and the next
-- runner claims it again (attempts counts the claims).
CREATE TABLE digest_sends (
    user_id     TEXT NOT NULL,
    day         TEXT NOT NULL,
    state       TEXT NOT NULL,
    claim_id    TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    attempts    INTEGER NOT NULL,
    sent_time   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);

-- The unsubscribe tokens mailed with digests, as SHA-256 only: one per
-- mail, each turning its user's digest off.
CREATE TABLE digest_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    create_time BIGINT NOT NULL
);
CREATE INDEX digest_tokens_by_user ON digest_tokens (user_id);

-- +goose Down
DROP TABLE digest_tokens;
DROP TABLE digest_sends;
