-- The shape a service gives one collection's conversation (see
-- services/progress/store/migrations/0004_discussion.sql and
-- services/media/store/migrations/0007_media_discussion.sql), on an items
-- table of its own, for the store's contract tests.

-- +goose Up
CREATE TABLE items (
    child_id TEXT NOT NULL,
    id       TEXT NOT NULL,
    PRIMARY KEY (child_id, id)
);

CREATE TABLE item_comments (
    child_id    TEXT   NOT NULL,
    item_id     TEXT   NOT NULL,
    id          TEXT   NOT NULL,
    author      TEXT   NOT NULL,
    text        TEXT   NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (child_id, item_id, id),
    FOREIGN KEY (child_id, item_id) REFERENCES items (child_id, id) ON DELETE CASCADE
);
CREATE INDEX item_comments_by_time ON item_comments (child_id, item_id, create_time, id);

CREATE TABLE item_reactions (
    child_id    TEXT    NOT NULL,
    item_id     TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    kind        INTEGER NOT NULL,
    create_time BIGINT  NOT NULL,
    update_time BIGINT  NOT NULL,
    PRIMARY KEY (child_id, item_id, user_id),
    FOREIGN KEY (child_id, item_id) REFERENCES items (child_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE item_reactions;
DROP TABLE item_comments;
DROP TABLE items;
