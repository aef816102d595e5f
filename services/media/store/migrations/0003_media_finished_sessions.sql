-- A finished upload session is kept until it expires, naming the item it
-- became, so a client that lost the answer to its last write can still
-- learn the item. '' while the session is open. Portable SQL, as 0001.

-- +goose Up
ALTER TABLE upload_sessions ADD COLUMN item_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE upload_sessions DROP COLUMN item_id;
