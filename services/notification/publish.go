package notification

import (
	"context"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/notification/fanout"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// publishServer implements the service-only PublishService.
type publishServer struct {
	notificationpeerv1.UnimplementedPublishServiceServer
	*server
}

// Publish fans an event out to the child's guardians: every inbox row is
// stored (in one transaction, de-duplicated by event id) before anything
// is pushed live, so a live client never sees what a reload would not.
func (p *publishServer) Publish(ctx context.Context, req *notificationpeerv1.PublishRequest) (*notificationpeerv1.PublishResponse, error) {
	ev := req.GetEvent()
	childID := strings.TrimPrefix(ev.GetChild(), "children/")
	n := store.Notification{
		EventID: ev.GetId(), Type: int(ev.GetType()), ChildID: childID,
		Title: ev.GetTitle(), Body: ev.GetBody(), Link: ev.GetLink(),
	}
	if ev.GetOccurTime() != nil {
		n.CreateTime = ev.GetOccurTime().AsTime()
	}

	switch ev.GetType() {
	case notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED, notificationv1.EventType_EVENT_TYPE_CHILD_DELETED:
		return p.withdraw(ctx, n, ev)
	case notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED:
		p.guardians.forget(ev.GetChild()) // the new guardian is among the recipients
	}

	users, err := p.guardians.users(ctx, ev.GetChild())
	if err != nil {
		// The sender's outbox retries: nothing is lost by refusing now. The
		// reason (which may name progress's address) goes to the log only.
		p.logger.WarnContext(ctx, "asking progress for the guardians", slog.String("child", ev.GetChild()), slog.Any("error", err))
		return nil, status.Errorf(codes.Unavailable, "cannot ask the progress service for the guardians of %s right now; retry shortly", ev.GetChild())
	}
	subs, err := p.store.ChildSubscriptions(ctx, childID)
	if err != nil {
		return nil, internal(ctx, p.logger, "subscriptions", err)
	}
	recipients := users[:0:0]
	for _, u := range users {
		if sub, ok := subs[u]; !ok || sub.Wants(n.Type) {
			recipients = append(recipients, u)
		}
	}
	stored, fresh, err := p.store.Deliver(ctx, n, recipients)
	if err != nil {
		return nil, internal(ctx, p.logger, "deliver", err)
	}
	if !fresh {
		return &notificationpeerv1.PublishResponse{Accepted: false}, nil
	}
	for _, row := range stored {
		p.push(ctx, row.User, row.Sequence, notificationToProto(row))
	}
	return &notificationpeerv1.PublishResponse{Accepted: true, RecipientCount: int32(len(stored))}, nil
}

// withdraw handles a revoked guardianship or a deleted child: the child's
// notifications leave the affected inboxes, and the affected users' open
// feeds learn which ones left.
//
// The signal follows the removal and names exactly what it removed (the
// child's notifications up to a sequence), so a feed passes over only what
// its inbox no longer holds, and still carries what arrives for the child
// later (the guardianship granted again): what is stored after the removal
// comes from a later Publish, which asks progress who may see the child. A
// push already under way when the removal commits may still reach a feed
// before the signal; it was stored while the user could see the child.
func (p *publishServer) withdraw(ctx context.Context, n store.Notification, ev *notificationpeerv1.Event) (*notificationpeerv1.PublishResponse, error) {
	p.guardians.forget(ev.GetChild())
	user := ev.GetUser()
	if n.Type == int(notificationv1.EventType_EVENT_TYPE_CHILD_DELETED) {
		user = "" // every inbox
	} else if user == "" {
		return nil, validate.InvalidArgument(validate.Field{Path: "event.user", Description: "is required for a revoked guardianship: whose access ended"})
	}
	removed, fresh, err := p.store.Withdraw(ctx, n, user)
	if err != nil {
		return nil, internal(ctx, p.logger, "withdraw", err)
	}
	if !fresh {
		return &notificationpeerv1.PublishResponse{Accepted: false}, nil
	}
	for u, upTo := range removed {
		p.push(ctx, u, 0, &notificationv1.Notification{Type: ev.GetType(), Child: ev.GetChild(), Sequence: upTo})
	}
	return &notificationpeerv1.PublishResponse{Accepted: true}, nil
}

// push sends a notification (sequence > 0) or a withdrawal signal
// (sequence 0; the notification names the child and, as its sequence, the
// highest of the child's that left the inbox) to the user's live streams on
// every instance. It is best effort: the inbox already has the truth and
// streams heal gaps from it.
func (p *publishServer) push(ctx context.Context, user string, seq int64, n *notificationv1.Notification) {
	payload, err := proto.Marshal(n)
	if err == nil {
		err = p.bus.Publish(ctx, fanout.Message{User: user, Sequence: seq, Payload: payload})
	}
	if err != nil {
		p.logger.WarnContext(ctx, "live push failed; the inbox has it", slog.String("user", user), slog.Any("error", err))
	}
}
