package notification

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/access"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/pagetoken"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/notification/digest"
	"github.com/kinbridge/kinbridge/services/notification/fanout"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// server implements the public NotificationService.
type server struct {
	notificationv1.UnimplementedNotificationServiceServer
	store *store.SQL
	// feeds counts live feeds against the cap per user.
	feeds *feedRegistry
	// maxSubscriptions caps each user's subscriptions.
	maxSubscriptions int
	bus              fanout.Bus
	guardians        *guardians
	// access says whether a caller may see a child they subscribe to.
	access    *access.Checker
	heartbeat time.Duration
	buffer    int
	logger    *slog.Logger
	// tracer records the live pushes (stream.go), in the trace of the
	// Publish that produced each notification.
	tracer trace.Tracer
	// clock, mailer and publicURL serve the settings (settings.go) and
	// quiet hours (quiet.go).
	clock     Clock
	mailer    digest.Mailer
	publicURL string
	// identities remembers, per user, the sign-in provider's address last
	// recorded, so that calls do not write it again (settings.go).
	identitiesMu sync.Mutex
	identities   map[string]string
}

// owner resolves `users/{user}` (or `users/me`) to the caller, who may
// reach only their own inbox: anyone else's answers NOT_FOUND.
func owner(ctx context.Context, field, parent string) (string, error) {
	u, err := validate.Name(field, parent, names.ParseUser)
	if err != nil {
		return "", err
	}
	return inbox(ctx, u)
}

// inbox returns the caller's id when u is the caller (`users/me` or their
// own id); anyone else's inbox answers NOT_FOUND.
func inbox(ctx context.Context, u names.User) (string, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return "", status.Error(codes.Unauthenticated, "missing bearer token")
	}
	if u.ID != names.Me && u.ID != p.Subject {
		return "", status.Errorf(codes.NotFound, "%s not found", u)
	}
	return p.Subject, nil
}

func notificationToProto(n store.Notification) *notificationv1.Notification {
	return &notificationv1.Notification{
		Name:       names.Notification{User: n.User, Sequence: n.Sequence}.String(),
		Sequence:   n.Sequence,
		Type:       notificationv1.EventType(n.Type),
		Child:      names.Child{ID: n.ChildID}.String(),
		Title:      n.Title,
		Body:       n.Body,
		Link:       n.Link,
		CreateTime: timestamppb.New(n.CreateTime),
		Read:       n.Read,
	}
}

func internal(ctx context.Context, logger *slog.Logger, what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, "request canceled")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	logger.ErrorContext(ctx, what, slog.Any("error", err))
	return status.Error(codes.Internal, "storage error")
}

// decodeToken returns the position in a page token ("" for the first page).
func decodeToken(token, listing string) (string, error) {
	var position string
	_, err := pagetoken.Decode(token, listing, &position)
	return position, err
}

// ListNotifications lists the caller's inbox, newest first.
func (s *server) ListNotifications(ctx context.Context, req *notificationv1.ListNotificationsRequest) (*notificationv1.ListNotificationsResponse, error) {
	user, err := owner(ctx, "parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	listing := fmt.Sprintf("inbox:%s:%v", user, req.GetUnreadOnly())
	position, err := decodeToken(req.GetPageToken(), listing)
	if err != nil {
		return nil, err
	}
	var before int64
	if position != "" {
		if before, err = strconv.ParseInt(position, 10, 64); err != nil {
			return nil, validate.InvalidArgument(validate.Field{Path: "page_token", Description: "is corrupt"})
		}
	}
	limit := pagetoken.Size(req.GetPageSize()) + 1
	rows, err := s.store.Before(ctx, user, before, req.GetUnreadOnly(), limit)
	if err != nil {
		return nil, internal(ctx, s.logger, "list notifications", err)
	}
	resp := &notificationv1.ListNotificationsResponse{}
	if len(rows) == limit {
		rows = rows[:limit-1]
		resp.NextPageToken = pagetoken.Encode(listing, strconv.FormatInt(rows[len(rows)-1].Sequence, 10))
	}
	for _, n := range rows {
		resp.Notifications = append(resp.Notifications, notificationToProto(n))
	}
	return resp, nil
}

// CountUnreadNotifications counts the caller's unread notifications.
func (s *server) CountUnreadNotifications(ctx context.Context, req *notificationv1.CountUnreadNotificationsRequest) (*notificationv1.CountUnreadNotificationsResponse, error) {
	user, err := owner(ctx, "parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	s.noteIdentity(ctx, user) // settings.go: the app asks this on every page
	n, err := s.store.CountUnread(ctx, user)
	if err != nil {
		return nil, internal(ctx, s.logger, "count unread", err)
	}
	return &notificationv1.CountUnreadNotificationsResponse{UnreadCount: n}, nil
}

// MarkNotificationsRead marks the named notifications, and all up to a
// sequence, read.
func (s *server) MarkNotificationsRead(ctx context.Context, req *notificationv1.MarkNotificationsReadRequest) (*notificationv1.MarkNotificationsReadResponse, error) {
	user, err := owner(ctx, "parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	var seqs []int64
	for i, name := range req.GetNames() {
		n, err := names.ParseNotification(name)
		if err != nil || (n.User != user && n.User != names.Me) {
			return nil, validate.InvalidArgument(validate.Field{Path: fmt.Sprintf("names[%d]", i), Description: "must be one of your notifications, " + names.NotificationPattern})
		}
		seqs = append(seqs, n.Sequence)
	}
	n, err := s.store.MarkRead(ctx, user, seqs, req.GetUpToSequence())
	if err != nil {
		return nil, internal(ctx, s.logger, "mark read", err)
	}
	return &notificationv1.MarkNotificationsReadResponse{MarkedCount: n}, nil
}

func subscriptionToProto(sub store.Subscription) *notificationv1.Subscription {
	out := &notificationv1.Subscription{
		Name:       names.Subscription{User: sub.User, Child: sub.ChildID}.String(),
		Child:      names.Child{ID: sub.ChildID}.String(),
		Muted:      sub.Muted,
		CreateTime: timestamppb.New(sub.CreateTime),
		UpdateTime: timestamppb.New(sub.UpdateTime),
	}
	for _, t := range sub.EventTypes {
		out.EventTypes = append(out.EventTypes, notificationv1.EventType(t))
	}
	return out
}

func eventTypes(in []notificationv1.EventType) []int {
	out := make([]int, 0, len(in))
	for _, t := range in {
		out = append(out, int(t))
	}
	return out
}

// subscriptionName splits users/{user}/subscriptions/{child}, resolving the user to the caller.
func subscriptionName(ctx context.Context, field, name string) (user, child string, err error) {
	n, err := validate.Name(field, name, names.ParseSubscription)
	if err != nil {
		return "", "", err
	}
	user, err = inbox(ctx, n.Parent())
	return user, n.Child, err
}

// CreateSubscription sets what the caller hears about a child. A child the
// caller may not see answers NOT_FOUND, exactly like one that does not
// exist, so subscribing never tells which children exist. A caller with
// as many subscriptions as the cap allows is refused (caps.go).
func (s *server) CreateSubscription(ctx context.Context, req *notificationv1.CreateSubscriptionRequest) (*notificationv1.Subscription, error) {
	user, err := owner(ctx, "parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	in := req.GetSubscription()
	cn, err := validate.Name("subscription.child", in.GetChild(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	child := cn.ID
	p, _ := auth.FromContext(ctx) // owner found it
	if err := s.access.Check(ctx, p, in.GetChild(), progresspeerv1.Permission_PERMISSION_VIEW); err != nil {
		return nil, err
	}
	sub, count, err := s.store.CreateSubscription(ctx, store.Subscription{User: user, ChildID: child, EventTypes: eventTypes(in.GetEventTypes()), Muted: in.GetMuted()},
		s.maxSubscriptions)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		return nil, status.Errorf(codes.AlreadyExists, "%s already exists", names.Subscription{User: user, Child: child})
	case errors.Is(err, store.ErrCapReached):
		return nil, tooManySubscriptions(count, s.maxSubscriptions)
	case err != nil:
		return nil, internal(ctx, s.logger, "create subscription", err)
	}
	return subscriptionToProto(sub), nil
}

// GetSubscription returns one subscription.
func (s *server) GetSubscription(ctx context.Context, req *notificationv1.GetSubscriptionRequest) (*notificationv1.Subscription, error) {
	user, child, err := subscriptionName(ctx, "name", req.GetName())
	if err != nil {
		return nil, err
	}
	sub, err := s.store.Subscription(ctx, user, child)
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "%s not found", req.GetName())
	}
	if err != nil {
		return nil, internal(ctx, s.logger, "get subscription", err)
	}
	return subscriptionToProto(sub), nil
}

// ListSubscriptions lists the caller's subscriptions.
func (s *server) ListSubscriptions(ctx context.Context, req *notificationv1.ListSubscriptionsRequest) (*notificationv1.ListSubscriptionsResponse, error) {
	user, err := owner(ctx, "parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	listing := "subscriptions:" + user
	after, err := decodeToken(req.GetPageToken(), listing)
	if err != nil {
		return nil, err
	}
	limit := pagetoken.Size(req.GetPageSize()) + 1
	subs, err := s.store.Subscriptions(ctx, user, after, limit)
	if err != nil {
		return nil, internal(ctx, s.logger, "list subscriptions", err)
	}
	resp := &notificationv1.ListSubscriptionsResponse{}
	if len(subs) == limit {
		subs = subs[:limit-1]
		resp.NextPageToken = pagetoken.Encode(listing, subs[len(subs)-1].ChildID)
	}
	for _, sub := range subs {
		resp.Subscriptions = append(resp.Subscriptions, subscriptionToProto(sub))
	}
	return resp, nil
}

// UpdateSubscription changes event types or muting.
func (s *server) UpdateSubscription(ctx context.Context, req *notificationv1.UpdateSubscriptionRequest) (*notificationv1.Subscription, error) {
	in := req.GetSubscription()
	user, child, err := subscriptionName(ctx, "subscription.name", in.GetName())
	if err != nil {
		return nil, err
	}
	paths, err := maskPaths(req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	sub, err := s.store.Subscription(ctx, user, child)
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "%s not found", in.GetName())
	}
	if err != nil {
		return nil, internal(ctx, s.logger, "get subscription", err)
	}
	if paths["event_types"] {
		sub.EventTypes = eventTypes(in.GetEventTypes())
	}
	if paths["muted"] {
		sub.Muted = in.GetMuted()
	}
	if sub, err = s.store.PutSubscription(ctx, sub); err != nil {
		return nil, internal(ctx, s.logger, "update subscription", err)
	}
	return subscriptionToProto(sub), nil
}

// maskPaths returns the subscription fields to change.
func maskPaths(mask *fieldmaskpb.FieldMask) (map[string]bool, error) {
	all := map[string]bool{"event_types": true, "muted": true}
	if len(mask.GetPaths()) == 0 || (len(mask.GetPaths()) == 1 && mask.GetPaths()[0] == "*") {
		return all, nil
	}
	out := map[string]bool{}
	for _, p := range mask.GetPaths() {
		switch p {
		case "event_types", "eventTypes":
			out["event_types"] = true
		case "muted":
			out["muted"] = true
		case "name", "child", "create_time", "createTime", "update_time", "updateTime":
		default:
			return nil, validate.InvalidArgument(validate.Field{Path: "update_mask", Description: "names a field that cannot be updated: " + p})
		}
	}
	return out, nil
}

// DeleteSubscription goes back to hearing everything about the child.
func (s *server) DeleteSubscription(ctx context.Context, req *notificationv1.DeleteSubscriptionRequest) (*emptypb.Empty, error) {
	user, child, err := subscriptionName(ctx, "name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteSubscription(ctx, user, child); errors.Is(err, store.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "%s not found", req.GetName())
	} else if err != nil {
		return nil, internal(ctx, s.logger, "delete subscription", err)
	}
	return &emptypb.Empty{}, nil
}
