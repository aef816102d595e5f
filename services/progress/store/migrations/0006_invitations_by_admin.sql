-- Whether an invitation was sent by an administrator. The others live only
-- while the child lets its guardians invite (turning guardians_may_invite
-- off revokes them), so the store must know which is which. Links made
-- before this migration count as a guardian's: turning the switch off
-- revokes too many rather than too few.

-- +goose Up
ALTER TABLE invitations ADD COLUMN by_admin BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE invitations DROP COLUMN by_admin;
