-- The running SHA-256 of an upload session's committed bytes (the state of
-- Go's crypto/sha256, hex), moved with the committed offset in one update,
-- so that a finish, or a write after a restart, goes on hashing from it
-- instead of reading the bytes again. Empty: not known, hash what is on
-- disk. Portable SQL, as 0001.

-- +goose Up
ALTER TABLE upload_sessions ADD COLUMN hash_state TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE upload_sessions DROP COLUMN hash_state;
