package notification_test

import (
	"context"
	"strconv"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/notification"
	"github.com/kinbridge/kinbridge/services/notification/notificationtest"
)

// errorInfo returns the ErrorInfo of a status, or nil.
func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// wantCapRefusal checks that st is the RESOURCE_EXHAUSTED refusal of the
// cap named reason, at limit.
func wantCapRefusal(t *testing.T, what string, st *status.Status, reason string, limit int) {
	t.Helper()
	info := errorInfo(st)
	if st.Code() != codes.ResourceExhausted || info.GetReason() != reason || info.GetDomain() != "notification.kinbridge" ||
		info.GetMetadata()["limit"] != strconv.Itoa(limit) {
		t.Fatalf("%s: %v %q %v; want RESOURCE_EXHAUSTED with ErrorInfo %s (notification.kinbridge, limit %d)", what, st.Code(), st.Message(), info, reason, limit)
	}
}

// refusedStream opens StreamNotifications for user and returns how it
// ended before its first message (nil if it opened; then it is closed).
func refusedStream(t *testing.T, e *notificationtest.Env, user string) *status.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.As(context.Background(), t, user), notificationtest.WaitLimit)
	defer cancel()
	stream, err := e.Notifications.StreamNotifications(ctx, &notificationv1.StreamNotificationsRequest{Parent: "users/me"})
	if err != nil {
		return status.Convert(err)
	}
	if _, err := stream.Recv(); err != nil {
		return status.Convert(err)
	}
	return nil
}

// refusedWatch starts a watch of user's feed and returns the status of
// the WatchEnded it got instead of WatchStarted (nil if it started).
func refusedWatch(t *testing.T, e *notificationtest.Env, user string) *status.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), notificationtest.WaitLimit)
	defer cancel()
	stream, err := e.Live.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&notificationpeerv1.WatchRequest{Action: &notificationpeerv1.WatchRequest_Start{Start: &notificationpeerv1.StartWatch{
		WatchId: 7, User: user}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	ended := resp.GetEnded()
	if ended == nil {
		return nil
	}
	if resp.GetWatchId() != 7 {
		t.Fatalf("the refusal names watch %d, not 7", resp.GetWatchId())
	}
	st, err := status.New(codes.Code(ended.GetCode()), ended.GetReason()).WithDetails()
	if err != nil {
		t.Fatal(err)
	}
	p := st.Proto()
	p.Details = ended.GetDetails()
	return status.FromProto(p)
}

// TestFeedCapCountsEveryTransport opens maria's cap of live feeds over
// gRPC streams and a gateway's watch: one more is refused, over either,
// with TOO_MANY_FEEDS, and the feeds already open go on untouched. Closing
// one makes room; other users are not concerned.
func TestFeedCapCountsEveryTransport(t *testing.T) {
	for _, b := range notificationtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			e := notificationtest.Start(t, b, func(c *notification.Config) { c.MaxFeedsPerUser = 3 })
			const ada = "children/ada"
			e.Grant(t, ada, "maria")
			feeds := []*conn{openStream(t, e, "maria", 0), openWatch(t, e, "maria", 0), openStream(t, e, "maria", 0)}
			for _, f := range feeds {
				if f.err != nil {
					t.Fatalf("%s within the cap: %v", f.kind, f.err)
				}
			}
			wantCapRefusal(t, "a fourth feed over gRPC", refusedStream(t, e, "maria"), "TOO_MANY_FEEDS", 3)
			wantCapRefusal(t, "a fourth feed through a watch", refusedWatch(t, e, "maria"), "TOO_MANY_FEEDS", 3)
			if st := refusedStream(t, e, "joao"); st != nil {
				t.Fatalf("joao's first feed: %v", st)
			}

			// The open feeds were not told to go: they carry what comes next.
			e.Record(t, ada, assessment, "after the refusals")
			for _, f := range feeds {
				notificationtest.Eventually(t, f.kind+" to carry what came after the refusals", func() bool { return f.has("after the refusals") })
				if f.ended() {
					t.Fatalf("%s ended: %v", f.kind, f.err)
				}
			}

			// A closed feed makes room (its release follows the client's
			// cancel on the server's side).
			closeConn(feeds[1])
			notificationtest.Eventually(t, "a feed to open after one closed", func() bool { return refusedWatch(t, e, "maria") == nil })
		})
	}
}

// closeConn ends a connection from the client's side and waits until it
// is over.
func closeConn(c *conn) {
	c.cancel()
	<-c.done
}

// TestFeedCapHoldsAcrossInstances runs two notification instances on one
// PostgreSQL database: maria's feeds on both count against one cap.
func TestFeedCapHoldsAcrossInstances(t *testing.T) {
	dsn := testenv.Postgres(t)
	shared := notificationtest.Backend{Name: "postgres", DSN: func(*testing.T) string { return dsn }}
	capTwo := func(c *notification.Config) { c.MaxFeedsPerUser = 2 }
	one, two := notificationtest.Start(t, shared, capTwo), notificationtest.Start(t, shared, capTwo)

	first := openStream(t, one, "maria", 0)
	openWatch(t, two, "maria", 0)
	wantCapRefusal(t, "a third feed on the first instance", refusedStream(t, one, "maria"), "TOO_MANY_FEEDS", 2)
	wantCapRefusal(t, "a third feed on the second instance", refusedStream(t, two, "maria"), "TOO_MANY_FEEDS", 2)
	wantCapRefusal(t, "a third watch on the second instance", refusedWatch(t, two, "maria"), "TOO_MANY_FEEDS", 2)

	closeConn(first)
	notificationtest.Eventually(t, "the second instance to open a feed once the first closed one", func() bool {
		return refusedStream(t, two, "maria") == nil
	})
}

// TestSubscriptionCap fills maria's cap of subscriptions: one more is
// refused with TOO_MANY_SUBSCRIPTIONS and nothing stored; deleting one
// makes room.
func TestSubscriptionCap(t *testing.T) {
	for _, b := range notificationtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			e := notificationtest.Start(t, b, func(c *notification.Config) { c.MaxSubscriptionsPerUser = 2 })
			children := []string{"children/ada", "children/bo", "children/cy"}
			for _, c := range children {
				e.Grant(t, c, "maria")
			}
			ctx := e.As(context.Background(), t, "maria")
			subscribe := func(child string) error {
				_, err := e.Notifications.CreateSubscription(ctx, &notificationv1.CreateSubscriptionRequest{Parent: "users/me",
					Subscription: &notificationv1.Subscription{Child: child, Muted: true}})
				return err
			}
			for _, c := range children[:2] {
				if err := subscribe(c); err != nil {
					t.Fatalf("subscribing to %s: %v", c, err)
				}
			}
			if err := subscribe(children[0]); status.Code(err) != codes.AlreadyExists {
				t.Fatalf("subscribing to %s again: %v; want ALREADY_EXISTS", children[0], err)
			}
			wantCapRefusal(t, "a third subscription", status.Convert(subscribe(children[2])), "TOO_MANY_SUBSCRIPTIONS", 2)
			if _, err := e.Notifications.GetSubscription(ctx, &notificationv1.GetSubscriptionRequest{Name: "users/me/subscriptions/cy"}); status.Code(err) != codes.NotFound {
				t.Fatalf("the refused subscription was stored: %v", err)
			}
			if _, err := e.Notifications.DeleteSubscription(ctx, &notificationv1.DeleteSubscriptionRequest{Name: "users/me/subscriptions/ada"}); err != nil {
				t.Fatal(err)
			}
			if err := subscribe(children[2]); err != nil {
				t.Fatalf("after deleting one: %v", err)
			}
			// The cap is maria's: joao has room.
			e.Grant(t, children[0], "joao")
			if _, err := e.Notifications.CreateSubscription(e.As(context.Background(), t, "joao"), &notificationv1.CreateSubscriptionRequest{Parent: "users/me",
				Subscription: &notificationv1.Subscription{Child: children[0]}}); err != nil {
				t.Fatalf("joao: %v", err)
			}
		})
	}
}
