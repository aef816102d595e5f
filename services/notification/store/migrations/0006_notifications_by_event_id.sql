-- A retried delivery of an event finds the rows its first delivery
-- stored, to announce them to live feeds again (store.Deliver).

-- +goose Up
CREATE INDEX notifications_by_event_id ON notifications (event_id);

-- +goose Down
DROP INDEX notifications_by_event_id;
