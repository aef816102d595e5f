// Package events is how a service announces a change to the notification
// service: it writes the event to its outbox, in the transaction of the
// change, and its outbox relay delivers it to notification's Publish
// ([Deliver]), or a child's waiting events together to PublishBatch
// ([DeliverBatch], which progress uses).
//
// A child's deletion must reach media too, which keeps the child's photos
// and videos: [WithChildDeletions] has progress's relay hand each
// CHILD_DELETED event to media's DeleteChildData before notification, in
// the same delivery, so it is retried until both have it.
//
// Where media and notification share their access answers (Redis),
// [WithAccessChanges] has the relay drop a child's answers before it
// delivers an event that changes who may see the child.
package events

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/outbox"
)

// Message returns the outbox message of ev, keyed by its child so that a
// child's events arrive in the order they were written.
func Message(ev *notificationpeerv1.Event) outbox.Message {
	payload, err := proto.Marshal(ev)
	if err != nil {
		panic(err) // a message of strings and a timestamp always marshals
	}
	return outbox.Message{Key: ev.GetChild(), Payload: payload}
}

// eventOf decodes the event an outbox message carries.
func eventOf(m outbox.Message) (*notificationpeerv1.Event, error) {
	ev := &notificationpeerv1.Event{}
	if err := proto.Unmarshal(m.Payload, ev); err != nil {
		return nil, fmt.Errorf("outbox message %s is not an event: %w", m.ID, err)
	}
	return ev, nil
}

// Deliver returns the relay's delivery: the event, with the outbox
// message's id as its de-duplication id, to notification's Publish.
func Deliver(client notificationpeerv1.PublishServiceClient) outbox.Deliver {
	return func(ctx context.Context, m outbox.Message) error {
		ev, err := eventOf(m)
		if err != nil {
			return err
		}
		ev.Id = m.ID
		_, err = client.Publish(ctx, &notificationpeerv1.PublishRequest{Event: ev})
		return err
	}
}

// WithChildDeletions returns a delivery that first has media delete the
// child of a CHILD_DELETED event (DeleteChildData, with the outbox
// message's id as the event id), then delivers the event as deliver does;
// other events go to deliver alone. The message leaves the outbox only
// once both have succeeded, and both de-duplicate by its id, so the relay
// retries the pair until media and notification have each taken it once:
// a media outage delays the deletion, never loses it.
func WithChildDeletions(media mediapeerv1.ChildDataServiceClient, deliver outbox.Deliver) outbox.Deliver {
	return func(ctx context.Context, m outbox.Message) error {
		ev, err := eventOf(m)
		if err != nil {
			return err
		}
		if ev.GetType() == notificationv1.EventType_EVENT_TYPE_CHILD_DELETED {
			if _, err := media.DeleteChildData(ctx, &mediapeerv1.DeleteChildDataRequest{EventId: m.ID, Child: ev.GetChild()}); err != nil {
				return fmt.Errorf("media: deleting the data of %s: %w", ev.GetChild(), err)
			}
		}
		return deliver(ctx, m)
	}
}

// WithAccessChanges returns a delivery that first calls invalidate with the
// child of an event that changes who may see it (a guardianship granted or
// revoked, the child deleted), then delivers the event as deliver does;
// other events go to deliver alone. A failed invalidate fails the delivery,
// so the relay retries it: once the event is delivered, no instance serves
// an access answer about the child from before it.
func WithAccessChanges(invalidate func(ctx context.Context, child string) error, deliver outbox.Deliver) outbox.Deliver {
	return func(ctx context.Context, m outbox.Message) error {
		ev, err := eventOf(m)
		if err != nil {
			return err
		}
		switch ev.GetType() {
		case notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED, notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED,
			notificationv1.EventType_EVENT_TYPE_CHILD_DELETED:
			if err := invalidate(ctx, ev.GetChild()); err != nil {
				return fmt.Errorf("dropping the shared access answers about %s: %w", ev.GetChild(), err)
			}
		}
		return deliver(ctx, m)
	}
}

// DeliverBatch returns the batch relay's delivery: a key's events, each
// with its outbox message's id as its de-duplication id, to notification's
// PublishBatch in one call. PublishBatch either publishes them all or
// fails, and the retry of the whole batch is de-duplicated, so a failure
// counts none delivered.
func DeliverBatch(client notificationpeerv1.PublishServiceClient) outbox.DeliverBatch {
	return func(ctx context.Context, ms []outbox.Message) (int, error) {
		evs := make([]*notificationpeerv1.Event, len(ms))
		for i, m := range ms {
			ev, err := eventOf(m)
			if err != nil {
				// Deliver the ones before it; it fails on its own.
				if i > 0 {
					if n, err := DeliverBatch(client)(ctx, ms[:i]); err != nil {
						return n, err
					}
				}
				return i, err
			}
			ev.Id = m.ID
			evs[i] = ev
		}
		if _, err := client.PublishBatch(ctx, &notificationpeerv1.PublishBatchRequest{Events: evs}); err != nil {
			return 0, err
		}
		return len(ms), nil
	}
}

// BatchWithChildDeletions is [WithChildDeletions] for a batch delivery:
// before each CHILD_DELETED event of the batch reaches deliver, the events
// before it are delivered and media deletes the child's data, so media and
// notification see it where it stands among the key's events.
func BatchWithChildDeletions(media mediapeerv1.ChildDataServiceClient, deliver outbox.DeliverBatch) outbox.DeliverBatch {
	return before(func(ctx context.Context, m outbox.Message, ev *notificationpeerv1.Event) error {
		if ev.GetType() != notificationv1.EventType_EVENT_TYPE_CHILD_DELETED {
			return nil
		}
		if _, err := media.DeleteChildData(ctx, &mediapeerv1.DeleteChildDataRequest{EventId: m.ID, Child: ev.GetChild()}); err != nil {
			return fmt.Errorf("media: deleting the data of %s: %w", ev.GetChild(), err)
		}
		return nil
	}, deliver)
}

// BatchWithAccessChanges is [WithAccessChanges] for a batch delivery: the
// child's shared access answers are dropped right before an event that
// changes who may see it is delivered, after the events before it.
func BatchWithAccessChanges(invalidate func(ctx context.Context, child string) error, deliver outbox.DeliverBatch) outbox.DeliverBatch {
	return before(func(ctx context.Context, _ outbox.Message, ev *notificationpeerv1.Event) error {
		switch ev.GetType() {
		case notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED, notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED,
			notificationv1.EventType_EVENT_TYPE_CHILD_DELETED:
			if err := invalidate(ctx, ev.GetChild()); err != nil {
				return fmt.Errorf("dropping the shared access answers about %s: %w", ev.GetChild(), err)
			}
		}
		return nil
	}, deliver)
}

// before returns a batch delivery that cuts the batch before each event
// that changes who may see its child (see changesAccess): the messages
// before it go to deliver first, then hook runs on it, then delivery goes
// on from it. A hook's work thus happens exactly where the single-message
// wrappers do it, between the events before and the event itself.
func before(hook func(ctx context.Context, m outbox.Message, ev *notificationpeerv1.Event) error, deliver outbox.DeliverBatch) outbox.DeliverBatch {
	return func(ctx context.Context, ms []outbox.Message) (int, error) {
		done := 0
		for i, m := range ms {
			ev, err := eventOf(m)
			if err != nil {
				return done, err
			}
			if !changesAccess(ev) {
				continue
			}
			if i > done {
				n, err := deliver(ctx, ms[done:i])
				done += n
				if err != nil {
					return done, err
				}
			}
			if err := hook(ctx, m, ev); err != nil {
				return done, err
			}
		}
		if done < len(ms) {
			n, err := deliver(ctx, ms[done:])
			return done + n, err
		}
		return done, nil
	}
}

// changesAccess says whether an event changes who may see its child (or
// deletes it): the events the hooks of [before] may act on.
func changesAccess(ev *notificationpeerv1.Event) bool {
	switch ev.GetType() {
	case notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED, notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED,
		notificationv1.EventType_EVENT_TYPE_CHILD_DELETED:
		return true
	}
	return false
}
