-- Inboxes: every user's notifications in a strictly increasing sequence.
-- Portable SQL: the same file runs on SQLite and PostgreSQL; times are
-- unix microseconds.

-- +goose Up
-- Events already fanned out, so a redelivered event is recognised.
CREATE TABLE published_events (
    event_id        TEXT PRIMARY KEY,
    child_id        TEXT NOT NULL,
    publish_time    BIGINT NOT NULL,
    recipient_count INTEGER NOT NULL
);
CREATE INDEX published_events_by_time ON published_events (publish_time);

-- One row per user: the last sequence handed out. Updating it takes the
-- row lock that orders concurrent publishers for the same user.
CREATE TABLE user_feeds (
    user_id       TEXT PRIMARY KEY,
    last_sequence BIGINT NOT NULL
);

CREATE TABLE notifications (
    user_id     TEXT NOT NULL,
    sequence    BIGINT NOT NULL,
    event_id    TEXT NOT NULL,
    type        INTEGER NOT NULL,
    child_id    TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    link        TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    is_read     BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, sequence)
);
CREATE UNIQUE INDEX notifications_by_event ON notifications (user_id, event_id);
CREATE INDEX notifications_by_child ON notifications (child_id);
CREATE INDEX notifications_by_time ON notifications (create_time);

CREATE TABLE subscriptions (
    user_id     TEXT NOT NULL,
    child_id    TEXT NOT NULL,
    event_types TEXT NOT NULL DEFAULT '',
    muted       BOOLEAN NOT NULL DEFAULT FALSE,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    PRIMARY KEY (user_id, child_id)
);

-- +goose Down
DROP TABLE subscriptions;
DROP TABLE notifications;
DROP TABLE user_feeds;
DROP TABLE published_events;
