package notification_test

import (
	"context"
	"testing"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/notification/notificationtest"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// TestRepeatedPublishAnnouncesWhatItStored: a publish that committed but
// whose caller lost the answer before anything was announced (its
// connection cut after COMMIT) leaves a notification in the inbox that no
// live message names, and feeds would see it only when a later one reveals
// the gap. The caller retries with the same event id; the retry stores
// nothing, and announces what the first publish stored, through Publish
// and PublishBatch alike.
func TestRepeatedPublishAnnouncesWhatItStored(t *testing.T) {
	for _, b := range notificationtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			e := notificationtest.Start(t, notificationtest.Backend{Name: b.Name, DSN: func(*testing.T) string { return dsn }}, nil)
			const ada = "children/ada"
			e.Grant(t, ada, "maria")
			feeds := []*conn{openStream(t, e, "maria", e.Position(t, "maria")), openWatch(t, e, "maria", e.Position(t, "maria"))}

			// The first publishes, as far as they got: stored, never announced.
			db, err := sqldb.Open(context.Background(), dsn, sqldb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			unannounced := store.NewSQL(db)
			for _, id := range []string{"lost-answer-1", "lost-answer-2"} {
				n := store.Notification{EventID: id, Type: int(assessment), ChildID: "ada", Title: "New grade", Body: id, Link: ada}
				if _, fresh, err := unannounced.Deliver(context.Background(), n, []string{"maria"}); err != nil || !fresh {
					t.Fatalf("storing %s: fresh=%v %v", id, fresh, err)
				}
			}

			retry := func(id string) *notificationpeerv1.Event {
				return &notificationpeerv1.Event{Id: id, Type: assessment, Child: ada, Title: "New grade", Body: id}
			}
			if r := e.Publish(t, retry("lost-answer-1")); r.GetAccepted() || r.GetRecipientCount() != 0 {
				t.Fatalf("the retried publish answered %v, want not accepted and no recipients", r)
			}
			for _, f := range feeds {
				notificationtest.Eventually(t, f.kind+" to carry the retried publish's notification", func() bool { return f.has("lost-answer-1") })
			}
			if r := e.PublishBatch(t, []*notificationpeerv1.Event{retry("lost-answer-2")}); r[0].GetAccepted() {
				t.Fatalf("the retried batch answered %v, want not accepted", r[0])
			}
			for _, f := range feeds {
				notificationtest.Eventually(t, f.kind+" to carry the retried batch's notification", func() bool { return f.has("lost-answer-2") })
			}
			if inbox := e.InboxOf(t, "maria"); len(inbox) != 3 {
				t.Errorf("maria's inbox holds %d notifications, want 3 (the grant and the two stored once)", len(inbox))
			}
			for _, f := range feeds {
				if n := len(f.notifications()); n != 2 {
					t.Errorf("%s carried %d notifications, want 2", f.kind, n)
				}
			}
		})
	}
}
