-- What is recorded about a child: assessments, milestones, a grading scale.
-- children.progress_revision goes up with every change to them, in the
-- same transaction, so a cached summary knows when it is stale on any
-- instance.

-- +goose Up
ALTER TABLE children ADD COLUMN progress_revision BIGINT NOT NULL DEFAULT 0;

CREATE TABLE assessments (
    child_id        TEXT NOT NULL REFERENCES children (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    subject         TEXT NOT NULL,
    title           TEXT NOT NULL,
    kind            INTEGER NOT NULL,
    score_kind      INTEGER NOT NULL DEFAULT 0,
    points_earned   DOUBLE PRECISION NOT NULL DEFAULT 0,
    points_possible DOUBLE PRECISION NOT NULL DEFAULT 0,
    letter_grade    TEXT NOT NULL DEFAULT '',
    assessed_date   TEXT NOT NULL,
    teacher_comment TEXT NOT NULL DEFAULT '',
    recorded_by     TEXT NOT NULL,
    request_id      TEXT,
    create_time     BIGINT NOT NULL,
    update_time     BIGINT NOT NULL,
    revision        BIGINT NOT NULL,
    PRIMARY KEY (child_id, id)
);
-- Pages are keyed by (assessed_date, id); NULL request ids never collide.
CREATE INDEX assessments_by_date ON assessments (child_id, assessed_date, id);
CREATE UNIQUE INDEX assessments_by_request ON assessments (child_id, request_id);

CREATE TABLE milestones (
    child_id      TEXT NOT NULL REFERENCES children (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    category      INTEGER NOT NULL DEFAULT 0,
    achieved_date TEXT NOT NULL,
    recorded_by   TEXT NOT NULL,
    request_id    TEXT,
    create_time   BIGINT NOT NULL,
    update_time   BIGINT NOT NULL,
    revision      BIGINT NOT NULL,
    PRIMARY KEY (child_id, id)
);
CREATE INDEX milestones_by_date ON milestones (child_id, achieved_date, id);
CREATE UNIQUE INDEX milestones_by_request ON milestones (child_id, request_id);

CREATE TABLE grading_scales (
    child_id    TEXT PRIMARY KEY REFERENCES children (id) ON DELETE CASCADE,
    grades      TEXT NOT NULL,
    update_time BIGINT NOT NULL,
    revision    BIGINT NOT NULL
);

-- +goose Down
DROP TABLE grading_scales;
DROP TABLE milestones;
DROP TABLE assessments;
ALTER TABLE children DROP COLUMN progress_revision;
