-- Approval before publishing. An item uploaded by a contributor for a
-- child that requires approval is a draft until another contributor or an
-- administrator approves it. publish_state is the contract's PublishState
-- (1 draft, 2 published), apart from state, which is where processing
-- stands. Every existing item was visible to guardians, so it is
-- published; approved_by and approve_time (unix microseconds) stay empty
-- for an item published at once. Portable SQL, as 0001.

-- +goose Up
ALTER TABLE media_items ADD COLUMN publish_state INTEGER NOT NULL DEFAULT 2;
ALTER TABLE media_items ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE media_items ADD COLUMN approve_time BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE media_items DROP COLUMN approve_time;
ALTER TABLE media_items DROP COLUMN approved_by;
ALTER TABLE media_items DROP COLUMN publish_state;
