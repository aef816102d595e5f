-- Comments and reactions on assessments and milestones (pkg/discussion keeps the SQL;
-- its testdata/migrations has the same shape). Each row references its
-- item with ON DELETE CASCADE: deleting an item, or a child (whose items
-- cascade from children), deletes its
-- conversation in the same transaction. Portable SQL; times are unix
-- microseconds.

-- +goose Up
CREATE TABLE assessment_comments (
    child_id    TEXT   NOT NULL,
    item_id     TEXT   NOT NULL,
    id          TEXT   NOT NULL,
    author      TEXT   NOT NULL,
    text        TEXT   NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (child_id, item_id, id),
    FOREIGN KEY (child_id, item_id) REFERENCES assessments (child_id, id) ON DELETE CASCADE
);
CREATE INDEX assessment_comments_by_time ON assessment_comments (child_id, item_id, create_time, id);

-- kind 0: a reaction its user removed, kept so that reacting again is not
-- announced again.
CREATE TABLE assessment_reactions (
    child_id    TEXT    NOT NULL,
    item_id     TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    kind        INTEGER NOT NULL,
    create_time BIGINT  NOT NULL,
    update_time BIGINT  NOT NULL,
    PRIMARY KEY (child_id, item_id, user_id),
    FOREIGN KEY (child_id, item_id) REFERENCES assessments (child_id, id) ON DELETE CASCADE
);

CREATE TABLE milestone_comments (
    child_id    TEXT   NOT NULL,
    item_id     TEXT   NOT NULL,
    id          TEXT   NOT NULL,
    author      TEXT   NOT NULL,
    text        TEXT   NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (child_id, item_id, id),
    FOREIGN KEY (child_id, item_id) REFERENCES milestones (child_id, id) ON DELETE CASCADE
);
CREATE INDEX milestone_comments_by_time ON milestone_comments (child_id, item_id, create_time, id);

-- kind 0: a reaction its user removed, kept so that reacting again is not
-- announced again.
CREATE TABLE milestone_reactions (
    child_id    TEXT    NOT NULL,
    item_id     TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    kind        INTEGER NOT NULL,
    create_time BIGINT  NOT NULL,
    update_time BIGINT  NOT NULL,
    PRIMARY KEY (child_id, item_id, user_id),
    FOREIGN KEY (child_id, item_id) REFERENCES milestones (child_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE milestone_reactions;
DROP TABLE milestone_comments;
DROP TABLE assessment_reactions;
DROP TABLE assessment_comments;
