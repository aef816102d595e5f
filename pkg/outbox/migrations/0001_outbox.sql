-- The transactional outbox: written once, in SQL both SQLite and PostgreSQL
-- accept. Versions are recorded in outbox_db_version, apart from the owning
-- service's own goose_db_version.

-- +goose Up

-- One row per ordering key: the last sequence handed out for it. Add bumps
-- it with an upsert, which holds the row locked until the producer's
-- transaction ends, so two transactions adding for one key commit their
-- sequences in order, without gaps (a rollback rolls the bump back too).
-- Rows are kept once the key has nothing pending: deleting one could race
-- with an Add in flight and restart the key at 1 beside a pending 8.
CREATE TABLE outbox_keys (
    msg_key  TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

-- Messages not yet delivered; the relay deletes each once delivered.
-- BYTEA is PostgreSQL's binary type; SQLite accepts the name and stores the
-- blob as it is given.
CREATE TABLE outbox_messages (
    msg_key         TEXT   NOT NULL,
    seq             BIGINT NOT NULL,
    id              TEXT   NOT NULL UNIQUE,
    payload         BYTEA  NOT NULL,
    carrier         TEXT   NOT NULL,            -- trace context, a JSON object
    create_us       BIGINT NOT NULL,            -- unix microseconds
    attempts        BIGINT NOT NULL DEFAULT 0,  -- failed deliveries so far
    next_attempt_us BIGINT NOT NULL DEFAULT 0,  -- backoff: not before this
    last_error      TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (msg_key, seq)
);

-- The single lease that lets one relay deliver at a time. version changes
-- on every take, renewal and release: a relay that sees it unchanged for a
-- whole lease TTL, by its own clock, may take the lease over, so relays on
-- different machines never compare their clocks.
CREATE TABLE outbox_lease (
    name    TEXT   PRIMARY KEY,
    holder  TEXT   NOT NULL,   -- '' when free
    version BIGINT NOT NULL
);
INSERT INTO outbox_lease (name, holder, version) VALUES ('relay', '', 0);

-- +goose Down
DROP TABLE outbox_lease;
DROP TABLE outbox_messages;
DROP TABLE outbox_keys;
