package notification_test

import (
	"slices"
	"testing"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/services/notification/notificationtest"
)

// TestAudience: an event reaches every guardian, all but its actor, or
// the contributors but its actor, as its audience says, whether published
// alone or in a batch.
func TestAudience(t *testing.T) {
	const child = "children/a"
	comment := notificationv1.EventType_EVENT_TYPE_COMMENT_ADDED
	for _, tc := range []struct {
		name     string
		audience notificationpeerv1.Audience
		actor    string
		want     []string
	}{
		{"unspecified: every guardian, the actor too", notificationpeerv1.Audience_AUDIENCE_UNSPECIFIED, "mum", []string{"gran", "mum", "t1", "t2"}},
		{"others: all but the actor", notificationpeerv1.Audience_AUDIENCE_OTHERS, "mum", []string{"gran", "t1", "t2"}},
		{"others, acted by a contributor", notificationpeerv1.Audience_AUDIENCE_OTHERS, "t1", []string{"gran", "mum", "t2"}},
		{"contributors but the actor", notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS, "t1", []string{"t2"}},
		{"contributors, acted by a guardian", notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS, "mum", []string{"t1", "t2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, batch := range []bool{false, true} {
				e := notificationtest.Start(t, notificationtest.Backends[0], nil)
				for _, u := range []string{"mum", "gran", "t1", "t2"} {
					e.SetGuardian(child, u, true)
				}
				e.SetContributor(child, "t1", true)
				e.SetContributor(child, "t2", true)
				ev := &notificationpeerv1.Event{Type: comment, Child: child, Title: "New comment", Actor: tc.actor, Audience: tc.audience}
				var n int32
				if batch {
					n = e.PublishBatch(t, []*notificationpeerv1.Event{ev})[0].GetRecipientCount()
				} else {
					n = e.Publish(t, ev).GetRecipientCount()
				}
				var got []string
				for _, u := range []string{"mum", "gran", "t1", "t2"} {
					if len(e.InboxOf(t, u)) > 0 {
						got = append(got, u)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.want) || int(n) != len(tc.want) {
					t.Fatalf("batch=%v: inboxes with it %v (count %d), want %v", batch, got, n, tc.want)
				}
			}
		})
	}
}
