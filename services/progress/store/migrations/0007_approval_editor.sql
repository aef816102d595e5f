-- Who changed a record since its approval, other than its author, one user
-- id per line (pkg/editors): like the author, none may approve it, so what
-- guardians see is always approved by someone who did not write it. Empty
-- for a record only its author changed, and again once it is approved.
-- Portable SQL, as 0001; an added column with a default, so an expand
-- step.

-- +goose Up
ALTER TABLE assessments ADD COLUMN edited_by TEXT NOT NULL DEFAULT '';
ALTER TABLE milestones ADD COLUMN edited_by TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE milestones DROP COLUMN edited_by;
ALTER TABLE assessments DROP COLUMN edited_by;
