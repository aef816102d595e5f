package notification_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/services/notification"
	"github.com/kinbridge/kinbridge/services/notification/notificationtest"
)

// received reads a stream into a channel, notifications only.
func received(t *testing.T, stream notificationv1.NotificationService_StreamNotificationsClient) <-chan *notificationv1.StreamNotificationsResponse {
	out := make(chan *notificationv1.StreamNotificationsResponse, 100)
	go func() {
		defer close(out)
		for {
			m, err := stream.Recv()
			if err != nil {
				if c := status.Code(err); c != codes.Canceled {
					t.Logf("stream ended: %v", err)
				}
				return
			}
			if m.GetNotification() != nil {
				out <- m
			}
		}
	}()
	return out
}

func next(t *testing.T, ch <-chan *notificationv1.StreamNotificationsResponse) *notificationv1.StreamNotificationsResponse {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return m
	case <-time.After(notificationtest.WaitLimit):
		t.Fatal("nothing arrived")
	}
	return nil
}

func none(t *testing.T, ch <-chan *notificationv1.StreamNotificationsResponse, when string) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("%s: %v was pushed", when, m)
	default:
	}
}

// During quiet hours (22:00-07:00 in Lisbon) a notification is stored and
// counted but not pushed; when they end, the open stream receives what was
// held, in order, with resume tokens that never skip, then live ones again.
func TestQuietHoursHoldAnOpenStream(t *testing.T) {
	lisbon, _ := time.LoadLocation("Europe/Lisbon")
	clock := notification.NewFakeClock(time.Date(2026, 12, 3, 23, 30, 0, 0, lisbon))
	e := startSettings(t, clock, &mailbox{})
	ctx, cancel := context.WithCancel(e.As(context.Background(), t, "maria"))
	defer cancel()
	e.Grant(t, "children/c1", "maria") // sequence 1, before the quiet hours are set
	if _, err := update(ctx, e, &notificationv1.UserSettings{TimeZone: "Europe/Lisbon", QuietHours: &notificationv1.QuietHours{Start: "22:00", End: "07:00"}},
		"time_zone", "quiet_hours"); err != nil {
		t.Fatal(err)
	}
	stream, err := e.Notifications.StreamNotifications(ctx, &notificationv1.StreamNotificationsRequest{Parent: "users/me", ResumeToken: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := stream.Recv(); err != nil || first.GetHeartbeat() == nil || first.GetResumeToken() != "0" {
		t.Fatalf("the first message: %v %v; want a heartbeat at 0 (the replay held)", first, err)
	}
	got := received(t, stream)
	end := time.Date(2026, 12, 4, 7, 0, 0, 0, lisbon)
	notificationtest.Eventually(t, "the feed waits for the end of the quiet hours", func() bool { return clock.Waiting(end) })

	e.Record(t, "children/c1", notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED, "Math: 90%") // sequence 2
	if n, err := e.Notifications.CountUnreadNotifications(ctx, &notificationv1.CountUnreadNotificationsRequest{Parent: "users/me"}); err != nil || n.GetUnreadCount() != 2 {
		t.Fatalf("unread during quiet hours: %v %v; want 2 (stored and counted)", n, err)
	}
	// Changing the end to 07:30 signals the feed after the notification
	// (one bus, in order): once it waits for 07:30, it has held it.
	later := end.Add(30 * time.Minute)
	if _, err := update(ctx, e, &notificationv1.UserSettings{QuietHours: &notificationv1.QuietHours{End: "07:30"}}, "quiet_hours.end"); err != nil {
		t.Fatal(err)
	}
	notificationtest.Eventually(t, "the feed waits for the new end", func() bool { return clock.Waiting(later) })
	none(t, got, "during quiet hours")

	clock.Set(end) // the old end passes: still quiet
	none(t, got, "at the old end")
	clock.Set(later)
	for want := int64(1); want <= 2; want++ {
		m := next(t, got)
		if m.GetNotification().GetSequence() != want || m.GetResumeToken() != m.GetNotification().GetName()[len("users/maria/notifications/"):] {
			t.Fatalf("after the quiet hours: %v, want sequence %d", m, want)
		}
	}
	e.Record(t, "children/c1", notificationv1.EventType_EVENT_TYPE_MILESTONE_ACHIEVED, "First words") // live again
	if m := next(t, got); m.GetNotification().GetSequence() != 3 {
		t.Fatalf("live after the quiet hours: %v", m)
	}
}

// The gateway's feeds (LiveService) hold the same way, and a feed opened
// before the quiet hours begin starts holding when they do.
func TestQuietHoursHoldAWatch(t *testing.T) {
	clock := notification.NewFakeClock(time.Date(2026, 12, 3, 21, 0, 0, 0, time.UTC))
	e := startSettings(t, clock, &mailbox{})
	ctx := e.As(context.Background(), t, "ana")
	if _, err := update(ctx, e, &notificationv1.UserSettings{QuietHours: &notificationv1.QuietHours{Start: "22:00", End: "06:00"}}, "quiet_hours"); err != nil {
		t.Fatal(err)
	}
	e.Grant(t, "children/c1", "ana") // sequence 1
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch, err := e.Live.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Send(&notificationpeerv1.WatchRequest{Action: &notificationpeerv1.WatchRequest_Start{Start: &notificationpeerv1.StartWatch{
		WatchId: 1, User: "ana", ResumeToken: "1"}}}); err != nil {
		t.Fatal(err)
	}
	if m, err := watch.Recv(); err != nil || m.GetStarted() == nil {
		t.Fatalf("start: %v %v", m, err)
	}
	start := time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)
	notificationtest.Eventually(t, "the feed waits for the start", func() bool { return clock.Waiting(start) })
	clock.Set(start)
	end := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	notificationtest.Eventually(t, "the feed holds until the end", func() bool { return clock.Waiting(end) })
	e.Record(t, "children/c1", notificationv1.EventType_EVENT_TYPE_MEDIA_READY, "A drawing") // sequence 2, held
	clock.Set(end)
	m, err := watch.Recv()
	if err != nil || m.GetNotification().GetSequence() != 2 || m.GetResumeToken() != "2" {
		t.Fatalf("after the quiet hours: %v %v; want sequence 2", m, err)
	}
}
