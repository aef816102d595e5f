package notification

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
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
	n, err := notificationOf("event", ev)
	if err != nil {
		return nil, err
	}
	switch ev.GetType() {
	case notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED, notificationv1.EventType_EVENT_TYPE_CHILD_DELETED:
		return p.withdraw(ctx, n, ev)
	case notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED:
		p.guardians.forget(ev.GetChild()) // the new guardian is among the recipients
	}
	recipients, err := p.recipients(ctx, ev, n, map[string]audience{})
	if err != nil {
		return nil, err
	}
	stored, fresh, err := p.store.Deliver(ctx, n, recipients)
	if err != nil {
		return nil, internal(ctx, p.logger, "deliver", err)
	}
	// A repeated event stored nothing, but what it stored the first time is
	// announced again: see store.Deliver.
	for _, row := range stored {
		p.push(ctx, row.User, row.Sequence, notificationToProto(row))
	}
	if !fresh {
		return &notificationpeerv1.PublishResponse{Accepted: false}, nil
	}
	return &notificationpeerv1.PublishResponse{Accepted: true, RecipientCount: int32(len(stored))}, nil
}

// PublishBatch publishes the events in order with the outcome of as many
// Publish calls. Consecutive events that only add to inboxes form a run,
// stored in one transaction; a revocation or a deletion goes through
// withdraw alone, between the runs before and after it; a grant starts a
// new run, whose guardians are asked afresh, so the new guardian receives
// the grant and what follows it, as with Publish.
func (p *publishServer) PublishBatch(ctx context.Context, req *notificationpeerv1.PublishBatchRequest) (*notificationpeerv1.PublishBatchResponse, error) {
	evs := req.GetEvents()
	results := make([]*notificationpeerv1.PublishResponse, len(evs))
	for i := 0; i < len(evs); {
		if withdraws(evs[i]) {
			n, err := notificationOf(fmt.Sprintf("events[%d]", i), evs[i])
			if err != nil {
				return nil, err
			}
			r, err := p.withdraw(ctx, n, evs[i])
			if err != nil {
				return nil, err
			}
			results[i] = r
			i++
			continue
		}
		j := i + 1
		for j < len(evs) && !withdraws(evs[j]) && evs[j].GetType() != notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED {
			j++
		}
		if err := p.publishRun(ctx, i, evs[i:j], results[i:j]); err != nil {
			return nil, err
		}
		i = j
	}
	return &notificationpeerv1.PublishBatchResponse{Results: results}, nil
}

// withdraws says whether an event removes notifications from inboxes.
func withdraws(ev *notificationpeerv1.Event) bool {
	t := ev.GetType()
	return t == notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED || t == notificationv1.EventType_EVENT_TYPE_CHILD_DELETED
}

// publishRun stores a run of events (none withdraws; only the first may be
// a grant) in one transaction, then pushes what was stored, in order. The
// run starts at index first of the batch.
func (p *publishServer) publishRun(ctx context.Context, first int, evs []*notificationpeerv1.Event, results []*notificationpeerv1.PublishResponse) error {
	if evs[0].GetType() == notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED {
		p.guardians.forget(evs[0].GetChild())
	}
	seen := map[string]audience{} // each child's guardians are asked once per run
	ds := make([]store.Delivery, len(evs))
	for i, ev := range evs {
		n, err := notificationOf(fmt.Sprintf("events[%d]", first+i), ev)
		if err != nil {
			return err
		}
		recipients, err := p.recipients(ctx, ev, n, seen)
		if err != nil {
			return err
		}
		ds[i] = store.Delivery{Notification: n, Recipients: recipients}
	}
	delivered, err := p.store.DeliverBatch(ctx, ds)
	if err != nil {
		return internal(ctx, p.logger, "deliver batch", err)
	}
	for i, d := range delivered {
		results[i] = &notificationpeerv1.PublishResponse{Accepted: d.Fresh}
		if d.Fresh {
			results[i].RecipientCount = int32(len(d.Stored))
		}
		for _, row := range d.Stored { // a repeated event's too: see store.Deliver
			p.push(ctx, row.User, row.Sequence, notificationToProto(row))
		}
	}
	return nil
}

// notificationOf is the inbox entry of the event in field, without user
// or sequence.
func notificationOf(field string, ev *notificationpeerv1.Event) (store.Notification, error) {
	child, err := validate.Name(field+".child", ev.GetChild(), names.ParseChild)
	if err != nil {
		return store.Notification{}, err
	}
	n := store.Notification{
		EventID: ev.GetId(), Type: int(ev.GetType()), ChildID: child.ID,
		Title: ev.GetTitle(), Body: ev.GetBody(), Link: ev.GetLink(),
	}
	if ev.GetOccurTime() != nil {
		n.CreateTime = ev.GetOccurTime().AsTime()
	}
	return n, nil
}

// audience is who may see a child and what each chose to hear about it.
type audience struct {
	members []member
	subs    map[string]store.Subscription
}

// recipients returns the users whose inboxes take the event: the child's
// guardians the event's audience names (all of them; all but the actor;
// the contributors but the actor), less those whose subscription filters
// it out. seen holds the audiences already fetched, by child.
func (p *publishServer) recipients(ctx context.Context, ev *notificationpeerv1.Event, n store.Notification, seen map[string]audience) ([]string, error) {
	a, ok := seen[ev.GetChild()]
	if !ok {
		members, err := p.guardians.members(ctx, ev.GetChild())
		if err != nil {
			// The sender's outbox retries: nothing is lost by refusing now. The
			// reason (which may name progress's address) goes to the log only.
			p.logger.WarnContext(ctx, "asking progress for the guardians", slog.String("child", ev.GetChild()), slog.Any("error", err))
			return nil, status.Errorf(codes.Unavailable, "cannot ask the progress service for the guardians of %s right now; retry shortly", ev.GetChild())
		}
		subs, err := p.store.ChildSubscriptions(ctx, n.ChildID)
		if err != nil {
			return nil, internal(ctx, p.logger, "subscriptions", err)
		}
		a = audience{members: members, subs: subs}
		seen[ev.GetChild()] = a
	}
	recipients := make([]string, 0, len(a.members))
	for _, m := range a.members {
		if !inAudience(ev, m) {
			continue
		}
		if sub, ok := a.subs[m.user]; !ok || sub.Wants(n.Type) {
			recipients = append(recipients, m.user)
		}
	}
	return recipients, nil
}

// inAudience says whether the event's audience includes m.
func inAudience(ev *notificationpeerv1.Event, m member) bool {
	switch ev.GetAudience() {
	case notificationpeerv1.Audience_AUDIENCE_OTHERS:
		return m.user != ev.GetActor()
	case notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS:
		return m.contributor && m.user != ev.GetActor()
	}
	return true
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
