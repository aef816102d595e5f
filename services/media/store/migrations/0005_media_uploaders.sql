-- Caps per user on upload sessions: how many a user may have open, and how
-- many bytes they may have declared and not yet sent. CreateSession counts
-- the user's open sessions under the lock of the user's row here, so two
-- creations for the same user cannot both see room for one more (on
-- PostgreSQL; SQLite has one writer at a time anyway). Portable SQL, as
-- 0001.

-- +goose Up
CREATE TABLE media_uploaders (
    user_id TEXT PRIMARY KEY
);
CREATE INDEX upload_sessions_by_uploader ON upload_sessions (uploaded_by, expire_time);

-- +goose Down
DROP INDEX upload_sessions_by_uploader;
DROP TABLE media_uploaders;
