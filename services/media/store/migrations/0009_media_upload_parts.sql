-- The parts of an upload session's committed bytes, kept in the blob store
-- (blob.Parts) so that any media instance can continue the upload, not
-- only the one whose upload directory holds its file. A part is recorded
-- in the same transaction that moves the session's committed offset over
-- it, after its bytes are stored, so the committed offset never claims
-- bytes that are not durable; the parts of a session tile [0,
-- committed_offset) in order. part names the object (unique per write, so
-- two writers racing from one offset never overwrite each other's bytes).
-- Rows go with their session (or when it is finished). Additive: a release
-- without this table ignores it. Portable SQL, as 0001.

-- +goose Up
CREATE TABLE upload_parts (
    session_id   TEXT   NOT NULL,
    start_offset BIGINT NOT NULL,
    end_offset   BIGINT NOT NULL,
    part         TEXT   NOT NULL,
    PRIMARY KEY (session_id, start_offset),
    CHECK (start_offset >= 0 AND end_offset > start_offset)
);

-- +goose Down
DROP TABLE upload_parts;
