-- The live feeds open on every instance, so that the cap on a user's open
-- feeds holds across instances (see the service's caps.go). Portable SQL,
-- as 0001; times are unix microseconds.

-- +goose Up
-- One row per running instance, its lease renewed while it runs: the
-- feeds of an instance whose lease ran out (it died) no longer count, and
-- the next sweep deletes them.
CREATE TABLE live_instances (
    instance_id TEXT PRIMARY KEY,
    lease_until BIGINT NOT NULL
);

-- One row per open feed: a StreamNotifications call, or a gateway's watch
-- for an SSE or WebSocket client.
CREATE TABLE live_feeds (
    feed_id     TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    open_time   BIGINT NOT NULL
);
CREATE INDEX live_feeds_by_user ON live_feeds (user_id);
CREATE INDEX live_feeds_by_instance ON live_feeds (instance_id);

-- +goose Down
DROP TABLE live_feeds;
DROP TABLE live_instances;
