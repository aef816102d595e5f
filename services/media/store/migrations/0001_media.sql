-- The media service's state: items, the reference counts of their blobs,
-- resumable upload sessions and durable processing jobs. Portable SQL: the
-- same file runs on SQLite and PostgreSQL; times are unix microseconds.

-- +goose Up

-- A child's photos, videos, artwork and documents. Thumbnails are a JSON
-- array: they are always read and written with their item, never queried.
CREATE TABLE media_items (
    child_id        TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    kind            INTEGER NOT NULL,
    title           TEXT    NOT NULL DEFAULT '',
    caption         TEXT    NOT NULL DEFAULT '',
    content_type    TEXT    NOT NULL DEFAULT '',
    size_bytes      BIGINT  NOT NULL DEFAULT 0,
    -- NULL until known: NULLs never collide in the unique index below.
    original_sha256 TEXT,
    content_sha256  TEXT    NOT NULL DEFAULT '',
    width           INTEGER NOT NULL DEFAULT 0,
    height          INTEGER NOT NULL DEFAULT 0,
    duration_us     BIGINT  NOT NULL DEFAULT 0,
    taken_time      BIGINT,                  -- NULL when the file does not say
    state           INTEGER NOT NULL,
    failure_reason  TEXT    NOT NULL DEFAULT '',
    thumbnails      TEXT    NOT NULL DEFAULT '[]',
    uploaded_by     TEXT    NOT NULL,
    filename        TEXT    NOT NULL DEFAULT '',
    create_time     BIGINT  NOT NULL,
    update_time     BIGINT  NOT NULL,
    revision        BIGINT  NOT NULL,
    PRIMARY KEY (child_id, id)
);
-- The same upload is stored once per child: of two concurrent identical
-- uploads, the second insert fails here and finds the first.
CREATE UNIQUE INDEX media_items_by_original ON media_items (child_id, original_sha256);
-- Listings are newest first by (create_time, id) within a child.
CREATE INDEX media_items_by_creation ON media_items (child_id, create_time, id);

-- How many references each blob has: one per item that uses it (its stored
-- bytes, each thumbnail) and one per pin. A row whose count dropped to 0
-- stays, with zero_since, until a sweeper has deleted the bytes; while a
-- sweeper does, condemned_by and condemned_until name it and its lease.
CREATE TABLE blob_refs (
    sha256          TEXT   PRIMARY KEY,
    refs            BIGINT NOT NULL CHECK (refs >= 0),
    zero_since      BIGINT,
    condemned_by    TEXT,
    condemned_until BIGINT
);
CREATE INDEX blob_refs_unreferenced ON blob_refs (zero_since) WHERE refs = 0;

-- References held by work in progress (an upload, a processing job) on
-- bytes it is about to write: one per (blob, holder), so a retry never
-- counts twice.
CREATE TABLE blob_pins (
    sha256      TEXT   NOT NULL,
    holder      TEXT   NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (sha256, holder)
);
CREATE INDEX blob_pins_by_holder ON blob_pins (holder);

-- Resumable uploads. committed_offset only moves by compare-and-set.
CREATE TABLE upload_sessions (
    id               TEXT    PRIMARY KEY,
    child_id         TEXT    NOT NULL,
    kind             INTEGER NOT NULL DEFAULT 0,
    title            TEXT    NOT NULL DEFAULT '',
    caption          TEXT    NOT NULL DEFAULT '',
    filename         TEXT    NOT NULL DEFAULT '',
    size_bytes       BIGINT  NOT NULL,
    sha256           TEXT    NOT NULL DEFAULT '',
    committed_offset BIGINT  NOT NULL DEFAULT 0,
    temp_key         TEXT    NOT NULL,
    uploaded_by      TEXT    NOT NULL,
    idle_timeout_us  BIGINT  NOT NULL,
    create_time      BIGINT  NOT NULL,
    update_time      BIGINT  NOT NULL,
    expire_time      BIGINT  NOT NULL,
    CHECK (committed_offset >= 0 AND committed_offset <= size_bytes)
);
CREATE INDEX upload_sessions_by_expiry ON upload_sessions (expire_time);
CREATE INDEX upload_sessions_by_child ON upload_sessions (child_id);

-- Processing (thumbnails, metadata) that must survive restarts. A worker
-- claims a due job by moving lease_until forward with a compare-and-set;
-- lease_until 0 is never leased.
CREATE TABLE media_jobs (
    id           TEXT    PRIMARY KEY,
    child_id     TEXT    NOT NULL,
    item_id      TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt BIGINT  NOT NULL,
    last_error   TEXT    NOT NULL DEFAULT '',
    lease_owner  TEXT    NOT NULL DEFAULT '',
    lease_until  BIGINT  NOT NULL DEFAULT 0,
    create_time  BIGINT  NOT NULL
);
CREATE INDEX media_jobs_due ON media_jobs (next_attempt, id);
CREATE INDEX media_jobs_by_item ON media_jobs (child_id, item_id);
CREATE INDEX media_jobs_by_age ON media_jobs (create_time);

-- +goose Down
DROP TABLE media_jobs;
DROP TABLE upload_sessions;
DROP TABLE blob_pins;
DROP TABLE blob_refs;
DROP TABLE media_items;
