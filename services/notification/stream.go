package notification

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/notification/fanout"
)

// replayPage is how many stored notifications a resuming feed reads at once.
const replayPage = 500

// feed is one user's live feed from a position: the logic shared by
// StreamNotifications and the gateway's multiplexed watches.
//
// The seam: a feed subscribes to the live bus BEFORE reading the inbox, so
// nothing that commits during the replay is missed; live messages at or
// below the last sequence sent are duplicates of the replay and are
// skipped; a live message beyond the next expected sequence means the bus
// lost one, and the gap is read back from the inbox. The inbox is the
// truth; the bus only says "now".
//
// The position: every resume token a feed hands out is its position, and
// the position never passes a notification that is in the inbox and was
// not sent. deliver is the one place it moves: past a notification the
// client got, or past one the inbox no longer holds (a withdrawn child's,
// or a sequence the inbox read skips because it was removed). Sequences
// commit in order, so a removed one never comes back.
type feed struct {
	s    *server
	user string
	id   string // in the registry that counts it against the cap
	sub  *fanout.Subscription
	last int64 // the position
	// withdrawn holds, per child, the highest sequence of the child's that
	// left this user's inbox (a revoked guardianship, a deleted child).
	withdrawn map[string]int64
	emit      func(n *notificationv1.Notification, resumeToken string) error
	// holding is set while the user is in their quiet hours: the feed
	// sends nothing until they end (quiet.go). wake fires at the next
	// start or end of them; nil when there is none.
	holding bool
	wake    <-chan time.Time
}

// openFeed resolves the resume token, counts the feed against the user's
// cap (refusing it with TOO_MANY_FEEDS when the user has as many open as
// the cap allows) and subscribes; catchUp then replays what the client
// missed.
func (s *server) openFeed(ctx context.Context, user, token string, emit func(*notificationv1.Notification, string) error) (*feed, error) {
	last, err := s.resumePoint(ctx, user, token)
	if err != nil {
		return nil, err
	}
	id, err := s.feeds.admit(ctx, user)
	if err != nil {
		return nil, err
	}
	sub, err := s.bus.Subscribe(user, s.buffer)
	if err != nil {
		s.feeds.release(ctx, id)
		return nil, status.Errorf(codes.Unavailable, "live delivery unavailable: %v", err)
	}
	f := &feed{s: s, user: user, id: id, sub: sub, last: last, withdrawn: map[string]int64{}, emit: emit}
	if err := f.evaluate(ctx); err != nil { // quiet hours, after subscribing: a change from now on is signalled
		f.close(ctx)
		return nil, err
	}
	return f, nil
}

// close ends the subscription and forgets the feed (on a context of its
// own: ctx, the feed's, has usually ended).
func (f *feed) close(ctx context.Context) {
	f.sub.Close()
	f.s.feeds.release(ctx, f.id)
}

func (f *feed) resumeToken() string { return strconv.FormatInt(f.last, 10) }

// resumePoint turns a resume token into the last sequence the client has;
// no token means "from now on". A token must be one a feed of this user
// could have issued: a sequence, in the canonical form, that the inbox has
// reached. Anything else would silently skip what the inbox will hold.
func (s *server) resumePoint(ctx context.Context, user, token string) (int64, error) {
	last, err := s.store.LastSequence(ctx, user)
	if err != nil {
		return 0, internal(ctx, s.logger, "last sequence", err)
	}
	if token == "" {
		return last, nil
	}
	seq, err := strconv.ParseInt(token, 10, 64)
	if err != nil || seq < 0 || strconv.FormatInt(seq, 10) != token {
		return 0, validate.InvalidArgument(validate.Field{Path: "resume_token", Description: "is not a token this stream issued: the sequence of a notification, or the resume_token of a message"})
	}
	if seq > last {
		return 0, beyondInbox(seq, last)
	}
	return seq, nil
}

// beyondInbox is the OUT_OF_RANGE refusal of a resume token past the end
// of the inbox, with the same field violation detail as INVALID_ARGUMENT.
func beyondInbox(seq, last int64) error {
	desc := fmt.Sprintf("resume position %d is beyond your inbox, which has reached sequence %d", seq, last)
	st := status.New(codes.OutOfRange, desc)
	if withDetails, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "resume_token", Description: desc},
	}}); err == nil {
		st = withDetails
	}
	return st.Err()
}

// sends reports whether a notification is still to be sent: neither at or
// below the position, nor withdrawn from the inbox with its child.
func (f *feed) sends(seq int64, child string) bool {
	return seq > f.last && seq > f.withdrawn[child]
}

// deliver sends a notification the inbox holds (replayed or live) and
// moves the position past it; see feed.
func (f *feed) deliver(n *notificationv1.Notification) error {
	seq := n.GetSequence()
	if seq <= f.last {
		return nil // already sent: the replay and the live feed overlap at the seam
	}
	if f.sends(seq, n.GetChild()) {
		if err := f.emit(n, strconv.FormatInt(seq, 10)); err != nil {
			return err // the position stays before it
		}
	}
	f.last = seq
	return nil
}

// catchUp sends everything stored after the feed's position, unless the
// feed holds (quiet.go).
func (f *feed) catchUp(ctx context.Context) error {
	for !f.holding {
		rows, err := f.s.store.After(ctx, f.user, f.last, replayPage)
		if err != nil {
			return internal(ctx, f.s.logger, "replay", err)
		}
		for _, n := range rows {
			if err := f.deliver(notificationToProto(n)); err != nil {
				return err
			}
		}
		if len(rows) < replayPage {
			return nil
		}
	}
	return nil
}

// live handles one message from the bus.
func (f *feed) live(ctx context.Context, m fanout.Message) error {
	n := &notificationv1.Notification{}
	if err := proto.Unmarshal(m.Payload, n); err != nil {
		f.s.logger.WarnContext(ctx, "dropping an unreadable live message; the inbox has it")
		return f.catchUp(ctx)
	}
	if isSettingsSignal(m, n) {
		return f.evaluate(ctx)
	}
	if m.Sequence == 0 { // a withdrawal: the child's notifications up to n's sequence left the inbox
		f.withdrawn[n.GetChild()] = max(f.withdrawn[n.GetChild()], n.GetSequence())
		return nil
	}
	if f.holding {
		return nil // stays in the inbox; catchUp sends it when the quiet hours end
	}
	if !f.sends(m.Sequence, n.GetChild()) || !m.SpanContext.IsValid() {
		return f.push(ctx, m, n) // nothing to send, or no trace to record it in
	}
	pctx, span := f.startPush(ctx, m, n)
	err := f.push(pctx, m, n)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(otelcodes.Error, err.Error())
	}
	span.End()
	return err
}

// Span attributes of a live push. No user id or token: the link to the
// stream's own span says which subscriber it was.
const (
	attrSequence = attribute.Key("kinbridge.notification.sequence")
	attrType     = attribute.Key("kinbridge.notification.type")
)

// startPush starts the span of handing m to this feed's client, in the
// trace of the Publish that produced it (the message carries its span
// context, across instances too), linked to the subscriber's stream. ctx
// stays the stream's for cancellation.
func (f *feed) startPush(ctx context.Context, m fanout.Message, n *notificationv1.Notification) (context.Context, trace.Span) {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKey.String("kinbridge.notification.live"),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("push"),
			attrSequence.Int64(m.Sequence), attrType.String(n.GetType().String()),
		),
	}
	if stream := trace.SpanContextFromContext(ctx); stream.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: stream}))
	}
	return f.s.tracer.Start(trace.ContextWithSpanContext(ctx, m.SpanContext), "notification.live.push", opts...)
}

// push sends a live notification to the client, reading a gap back from
// the inbox first.
func (f *feed) push(ctx context.Context, m fanout.Message, n *notificationv1.Notification) error {
	if m.Sequence > f.last+1 {
		return f.catchUp(ctx) // the bus lost something: the inbox has it
	}
	return f.deliver(n)
}

// errFellBehind ends a feed whose client cannot keep up.
func (f *feed) errFellBehind() error {
	return status.Errorf(codes.Aborted, "the stream fell behind; resume with resume_token %s", f.resumeToken())
}

// run carries live messages until ctx is done or the client falls behind;
// tick, when not nil, is called on every heartbeat tick. The goroutine
// that runs it lives as long as the feed, so every send is made on a
// shallow one (see shallow).
func (f *feed) run(ctx context.Context, heartbeat time.Duration, tick func() error) error {
	var beats <-chan time.Time
	if tick != nil {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		beats = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-beats:
			if err := shallow(tick); err != nil {
				return err
			}
		case <-f.wake: // quiet hours start or end
			if err := shallow(func() error { return f.evaluate(ctx) }); err != nil {
				return err
			}
		case <-f.sub.Done():
			if ctx.Err() != nil {
				return nil
			}
			if f.sub.Overflowed() {
				return f.errFellBehind()
			}
			return status.Errorf(codes.Unavailable, "live delivery ended (%v); resume with resume_token %s", f.sub.Err(), f.resumeToken())
		case m := <-f.sub.C():
			if err := shallow(func() error { return f.live(ctx, *m) }); err != nil {
				return err
			}
		}
	}
}

// StreamNotifications replays what the caller missed after their resume
// token, then carries live notifications with heartbeats.
func (s *server) StreamNotifications(req *notificationv1.StreamNotificationsRequest, stream notificationv1.NotificationService_StreamNotificationsServer) error {
	ctx := stream.Context()
	user, err := owner(ctx, "parent", req.GetParent())
	if err != nil {
		return err
	}
	var f *feed
	heartbeat := func() error {
		return stream.Send(&notificationv1.StreamNotificationsResponse{
			Event:       &notificationv1.StreamNotificationsResponse_Heartbeat{Heartbeat: &notificationv1.Heartbeat{Time: timestamppb.Now()}},
			ResumeToken: f.resumeToken(),
		})
	}
	defer func() {
		if f != nil {
			f.close(ctx)
		}
	}()
	// Opening and the replay are deep and brief; this goroutine is not (see
	// shallow).
	err = shallow(func() (err error) {
		f, err = s.openFeed(ctx, user, req.GetResumeToken(), func(n *notificationv1.Notification, token string) error {
			return stream.Send(&notificationv1.StreamNotificationsResponse{
				Event:       &notificationv1.StreamNotificationsResponse_Notification{Notification: n},
				ResumeToken: token,
			})
		})
		if err != nil {
			return err
		}
		if err := f.catchUp(ctx); err != nil {
			return err
		}
		// One heartbeat at once: the client learns the stream is live and
		// its position, and HTTP clients of the REST mapping get their
		// response headers now rather than with the first notification.
		return heartbeat()
	})
	if err != nil {
		return err
	}
	return f.run(ctx, s.heartbeat, heartbeat)
}
