-- Children and who may follow them. Portable SQL: the same file runs on
-- SQLite and PostgreSQL; times are unix microseconds.

-- +goose Up
CREATE TABLE children (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    birth_date   TEXT NOT NULL DEFAULT '',
    school       TEXT NOT NULL DEFAULT '',
    grade_level  TEXT NOT NULL DEFAULT '',
    time_zone    TEXT NOT NULL DEFAULT 'UTC',
    create_time  BIGINT NOT NULL,
    update_time  BIGINT NOT NULL,
    revision     BIGINT NOT NULL
);
CREATE INDEX children_by_creation ON children (create_time, id);

CREATE TABLE guardianships (
    child_id    TEXT NOT NULL REFERENCES children (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    role        INTEGER NOT NULL,
    relation    TEXT NOT NULL DEFAULT '',
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    revision    BIGINT NOT NULL,
    PRIMARY KEY (child_id, user_id)
);
CREATE INDEX guardianships_by_user ON guardianships (user_id, child_id);

-- +goose Down
DROP TABLE guardianships;
DROP TABLE children;
