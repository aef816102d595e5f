-- Holds on upload sessions across hosts. The instance at work on a
-- session (writing a chunk, finishing, cancelling, or sweeping it) holds
-- it: held_by names the hold, held_until (unix microseconds) is when it
-- lapses unless renewed. A session's row, and with it its pins, is deleted
-- only by its holder or while no hold is live, so no host drops a session
-- another host is finishing. '' and 0: not held. Additive: a release
-- without these columns ignores them. Portable SQL, as 0001.

-- +goose Up
ALTER TABLE upload_sessions ADD COLUMN held_by TEXT NOT NULL DEFAULT '';
ALTER TABLE upload_sessions ADD COLUMN held_until BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE upload_sessions DROP COLUMN held_until;
ALTER TABLE upload_sessions DROP COLUMN held_by;
