-- Who changed an item since its approval, other than its uploader, one
-- user id per line (pkg/editors): like the uploader, none may approve it,
-- so what guardians see is always approved by someone who did not write
-- it. Empty for an item only its uploader changed, and again once it is
-- approved. Portable SQL, as 0001; an added column with a default, so an
-- expand step.

-- +goose Up
ALTER TABLE media_items ADD COLUMN edited_by TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE media_items DROP COLUMN edited_by;
