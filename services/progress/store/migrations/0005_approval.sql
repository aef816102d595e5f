-- Approval before publishing. children.require_approval (0 or 1) makes
-- what a contributor records a draft until another contributor or an
-- administrator approves it. A record's state is the contract's
-- PublishState: 1 draft, 2 published. Every existing record was visible
-- to guardians, so it is published; approved_by and approve_time stay
-- empty for a record published at once. Portable SQL, as 0001.

-- +goose Up
ALTER TABLE children ADD COLUMN require_approval INTEGER NOT NULL DEFAULT 0;
ALTER TABLE assessments ADD COLUMN state INTEGER NOT NULL DEFAULT 2;
ALTER TABLE assessments ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE assessments ADD COLUMN approve_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE milestones ADD COLUMN state INTEGER NOT NULL DEFAULT 2;
ALTER TABLE milestones ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE milestones ADD COLUMN approve_time BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE milestones DROP COLUMN approve_time;
ALTER TABLE milestones DROP COLUMN approved_by;
ALTER TABLE milestones DROP COLUMN state;
ALTER TABLE assessments DROP COLUMN approve_time;
ALTER TABLE assessments DROP COLUMN approved_by;
ALTER TABLE assessments DROP COLUMN state;
ALTER TABLE children DROP COLUMN require_approval;
