package progress

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/outbox"
)

// Events announce changes to the notification service. They are written
// to the outbox in the transaction of the change and delivered by the
// relay (see Service.Run), keyed by child so each child's events arrive in
// order.

// event builds the outbox message of one event about a child.
func event(ctx context.Context, typ notificationv1.EventType, childID, title, body, link, user string) outbox.Message {
	p, _ := auth.FromContext(ctx)
	payload, err := proto.Marshal(&notificationpeerv1.Event{
		Type:      typ,
		Child:     childName(childID),
		Title:     title,
		Body:      body,
		Link:      link,
		OccurTime: timestamppb.Now(),
		Actor:     p.Subject,
		User:      user,
	})
	if err != nil {
		panic(err) // a message of strings and a timestamp always marshals
	}
	return outbox.Message{Key: childName(childID), Payload: payload}
}

// publish returns the relay's delivery: the event, with the outbox
// message's id as its de-duplication id, to notification's Publish.
func publish(client notificationpeerv1.PublishServiceClient) outbox.Deliver {
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
