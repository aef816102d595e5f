// Package events is how a service announces a change to the notification
// service: it writes the event to its outbox, in the transaction of the
// change, and its outbox relay delivers it to notification's Publish.
package events

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
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

// Deliver returns the relay's delivery: the event, with the outbox
// message's id as its de-duplication id, to notification's Publish.
func Deliver(client notificationpeerv1.PublishServiceClient) outbox.Deliver {
	return func(ctx context.Context, m outbox.Message) error {
		ev := &notificationpeerv1.Event{}
		if err := proto.Unmarshal(m.Payload, ev); err != nil {
			return fmt.Errorf("outbox message %s is not an event: %w", m.ID, err)
		}
		ev.Id = m.ID
		_, err := client.Publish(ctx, &notificationpeerv1.PublishRequest{Event: ev})
		return err
	}
}
