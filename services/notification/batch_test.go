package notification_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/services/notification/notificationtest"
)

// batchEvents is a history with every kind of event: grants, records of
// two children interleaved, a revocation and a deletion in the middle, and
// an event id sent twice.
func batchEvents() []*notificationpeerv1.Event {
	const a, b = "children/a", "children/b"
	ev := func(id string, typ notificationv1.EventType, child, body, user string) *notificationpeerv1.Event {
		return &notificationpeerv1.Event{Id: id, Type: typ, Child: child, Title: typ.String(), Body: body, User: user,
			OccurTime: timestamppb.Now()}
	}
	rec, mile := notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED, notificationv1.EventType_EVENT_TYPE_MILESTONE_ACHIEVED
	return []*notificationpeerv1.Event{
		ev("e1", notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED, a, "u1 may now follow", "u1"),
		ev("e2", rec, a, "a1", ""),
		ev("e3", rec, b, "b1", ""),
		ev("e4", mile, a, "a2", ""),
		ev("e2", rec, a, "a1 again", ""), // a retried event: stored once
		ev("e5", notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED, a, "u1 no longer follows", "u1"),
		ev("e6", rec, a, "a3", ""),
		ev("e7", notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED, b, "u3 may now follow", "u3"),
		ev("e8", rec, b, "b2", ""),
		ev("e9", notificationv1.EventType_EVENT_TYPE_CHILD_DELETED, b, "b deleted", ""),
		ev("e10", mile, a, "a4", ""),
		ev("e11", rec, b, "b3", ""),
	}
}

// startBatchEnv is a service where u1 and u2 follow a and u2 and u3 follow
// b, and u2 hears only of a's milestones.
func startBatchEnv(t *testing.T, b notificationtest.Backend) *notificationtest.Env {
	e := notificationtest.Start(t, b, nil)
	for _, g := range [][2]string{{"children/a", "u1"}, {"children/a", "u2"}, {"children/b", "u2"}, {"children/b", "u3"}} {
		e.SetGuardian(g[0], g[1], true)
	}
	ctx, cancel := context.WithTimeout(e.As(context.Background(), t, "u2"), notificationtest.WaitLimit)
	defer cancel()
	if _, err := e.Notifications.CreateSubscription(ctx, &notificationv1.CreateSubscriptionRequest{Parent: "users/me",
		Subscription: &notificationv1.Subscription{Child: "children/a",
			EventTypes: []notificationv1.EventType{notificationv1.EventType_EVENT_TYPE_MILESTONE_ACHIEVED}}}); err != nil {
		t.Fatal(err)
	}
	return e
}

func inboxes(t *testing.T, e *notificationtest.Env) map[string][]string {
	out := map[string][]string{}
	for _, u := range []string{"u1", "u2", "u3"} {
		for _, n := range e.InboxOf(t, u) {
			out[u] = append(out[u], notificationtest.String(n))
		}
	}
	return out
}

// TestPublishBatchAsOneAtATime: a batch leaves exactly the inboxes (same
// notifications, same sequences) that publishing its events one at a time
// leaves, and a batch sent again stores nothing more.
func TestPublishBatchAsOneAtATime(t *testing.T) {
	for _, b := range notificationtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			single := startBatchEnv(t, b)
			var singleAccepted []bool
			for _, ev := range batchEvents() {
				singleAccepted = append(singleAccepted, publishOne(t, single, ev))
			}
			batched := startBatchEnv(t, b)
			var batchAccepted []bool
			for _, r := range batched.PublishBatch(t, batchEvents()) {
				batchAccepted = append(batchAccepted, r.GetAccepted())
			}
			if !slices.Equal(batchAccepted, singleAccepted) {
				t.Errorf("accepted %v in a batch, %v one at a time", batchAccepted, singleAccepted)
			}
			want, got := inboxes(t, single), inboxes(t, batched)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("inboxes after a batch:\n%v\none at a time:\n%v", got, want)
			}
			if len(want["u2"]) == 0 || len(want["u1"]) == 0 {
				t.Fatalf("the history left too little to compare: %v", want)
			}

			for i, r := range batched.PublishBatch(t, batchEvents()) {
				if r.GetAccepted() {
					t.Errorf("event %d of a batch sent again was accepted", i)
				}
			}
			if again := inboxes(t, batched); fmt.Sprint(again) != fmt.Sprint(want) {
				t.Errorf("inboxes after the batch was sent again:\n%v\nwant\n%v", again, want)
			}
		})
	}
}

// publishOne publishes ev with Publish and says whether it was accepted.
func publishOne(t *testing.T, e *notificationtest.Env, ev *notificationpeerv1.Event) bool {
	t.Helper()
	return e.Publish(t, proto.Clone(ev).(*notificationpeerv1.Event)).GetAccepted()
}
