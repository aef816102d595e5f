-- When each confirmation link was mailed, per user: the budget of links a
-- user may have sent in an hour is counted here, so every notification
-- instance keeps to the same one. Rows go with the expired links' sweep.

-- +goose Up
CREATE TABLE email_link_sends (
    user_id   TEXT NOT NULL,
    send_time BIGINT NOT NULL
);
CREATE INDEX email_link_sends_by_user ON email_link_sends (user_id, send_time);

-- +goose Down
DROP TABLE email_link_sends;
