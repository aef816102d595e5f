-- Media's view of children: one row per child it has stored anything for,
-- and a tombstone once progress says the child was deleted (deleted_time,
-- and the id of the event that said so). A write that adds to a child
-- (an item, an upload session) upserts the row in its transaction and is
-- refused once the tombstone is there; deleting the child updates the row
-- first. The row lock is what orders the two on PostgreSQL: an upload that
-- finishes after the deletion cannot leave an item behind. Child ids are
-- never reused, so tombstones are kept. Portable SQL, as 0001.

-- +goose Up
CREATE TABLE media_children (
    child_id     TEXT   PRIMARY KEY,
    deleted_time BIGINT,
    delete_event TEXT   NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE media_children;
