package progress

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/events"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/outbox"
)

// Events announce changes to the notification service. They are written
// to the outbox in the transaction of the change and delivered by the
// relay (see Service.Run), keyed by child so each child's events arrive in
// order.

// event builds the outbox message of one event about a child.
func event(ctx context.Context, typ notificationv1.EventType, childID, title, body, link, user string) outbox.Message {
	p, _ := auth.FromContext(ctx)
	return events.Message(&notificationpeerv1.Event{
		Type:      typ,
		Child:     names.Child{ID: childID}.String(),
		Title:     title,
		Body:      body,
		Link:      link,
		OccurTime: timestamppb.Now(),
		Actor:     p.Subject,
		User:      user,
	})
}
