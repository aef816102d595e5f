package store_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// announcer records the items it was asked to announce, and announces
// each with one event.
type announcer struct{ items []store.Item }

func (a *announcer) announce(it store.Item) []outbox.Message {
	a.items = append(a.items, it)
	return []outbox.Message{event(it.ChildID)}
}

func draftItem(child, id string) store.Item {
	it := item(child, id, sha("orig "+id), sha("content "+id))
	it.PublishState = store.Draft
	return it
}

var approvalContract = []contractCase{
	{"a draft is approved once, with its events", func(t *testing.T, e env) {
		ctx := context.Background()
		created := mustCreate(t, e.s, draftItem("c1", "m1"))
		if created.PublishState != store.Draft || created.ApprovedBy != "" || !created.ApproveTime.IsZero() {
			t.Fatalf("created %+v", created.Approval)
		}
		published := mustCreate(t, e.s, item("c1", "m2", sha("orig m2"), sha("content m2")))
		if published.PublishState != store.Published {
			t.Fatalf("an item created without a state is %v, want published", published.PublishState)
		}
		for state, want := range map[store.PublishState][]string{0: {"m2", "m1"}, store.Draft: {"m1"}, store.Published: {"m2"}} {
			items, err := e.s.ListItems(ctx, store.ItemQuery{ChildID: "c1", PublishState: state})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			if len(ids) != len(want) || (len(ids) > 0 && ids[0] != want[0]) {
				t.Errorf("list %v = %v, want %v", state, ids, want)
			}
		}

		var ann announcer
		if _, err := e.s.ApproveItem(ctx, "c1", "m1", "dan", 9, ann.announce); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale approval: %v", err)
		}
		// An edit keeps the draft a draft.
		edited, err := e.s.UpdateItem(ctx, "c1", "m1", 0, func(it *store.Item) error {
			it.Title = "edited"
			it.Approval = store.Approval{PublishState: store.Published, ApprovedBy: "sneaky"}
			return nil
		})
		if err != nil || edited.Approval != created.Approval {
			t.Fatalf("edit = %+v, %v", edited.Approval, err)
		}
		approved, err := e.s.ApproveItem(ctx, "c1", "m1", "dan", edited.Revision, ann.announce)
		if err != nil {
			t.Fatal(err)
		}
		if approved.PublishState != store.Published || approved.ApprovedBy != "dan" || approved.ApproveTime.IsZero() ||
			approved.Revision != edited.Revision+1 || approved.Title != "edited" {
			t.Fatalf("approved %+v", approved)
		}
		if len(ann.items) != 1 || ann.items[0].PublishState != store.Published {
			t.Fatalf("announced %+v", ann.items)
		}
		got, err := e.s.GetItem(ctx, "c1", "m1")
		if err != nil || got.Approval != approved.Approval || got.Revision != approved.Revision {
			t.Fatalf("read back %+v, %v", got, err)
		}
		if n := count(t, e.db, "outbox_messages"); n != 1 {
			t.Errorf("outbox has %d messages, want 1", n)
		}
		for _, id := range []string{"m1", "m2"} {
			if _, err := e.s.ApproveItem(ctx, "c1", id, "dan", 0, ann.announce); !errors.Is(err, store.ErrAlreadyPublished) {
				t.Errorf("approving published %s: %v", id, err)
			}
		}
		if _, err := e.s.ApproveItem(ctx, "c1", "nope", "dan", 0, ann.announce); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("approving a missing item: %v", err)
		}
		if len(ann.items) != 1 || count(t, e.db, "outbox_messages") != 1 {
			t.Errorf("refused approvals announced: %+v", ann.items)
		}
		// An edit may make it a draft again, with its editor, which drops
		// the approval, and announce it; an approval forgets the editor.
		var announcedEdit []store.Item
		redrafted, err := e.s.UpdateItemAnnouncing(ctx, "c1", "m1", 0, func(it *store.Item) error {
			it.Title, it.PublishState, it.EditedBy = "rewritten", store.Draft, "erin"
			return nil
		}, func(before, after store.Item) []outbox.Message {
			announcedEdit = append(announcedEdit, before, after)
			return nil
		})
		want := store.Approval{PublishState: store.Draft, EditedBy: "erin"}
		if got, rerr := e.s.GetItem(ctx, "c1", "m1"); err != nil || redrafted.Approval != want || rerr != nil || got.Approval != want {
			t.Fatalf("redrafted %+v, %v; read back %+v, %v", redrafted.Approval, err, got.Approval, rerr)
		}
		if len(announcedEdit) != 2 || announcedEdit[0].PublishState != store.Published || announcedEdit[1].Approval != want {
			t.Fatalf("the edit announced %+v", announcedEdit)
		}
		again, err := e.s.ApproveItem(ctx, "c1", "m1", "dan", 0, ann.announce)
		if err != nil || again.PublishState != store.Published || again.EditedBy != "" {
			t.Fatalf("approving the edit: %+v, %v", again.Approval, err)
		}
		if got, err := e.s.GetItem(ctx, "c1", "m1"); err != nil || got.Approval != again.Approval {
			t.Fatalf("read back %+v, %v", got.Approval, err)
		}
	}},
	{"approval and the end of processing see each other", func(t *testing.T, e env) {
		ctx := context.Background()
		// Approved while processing: the approval sees PROCESSING, the
		// job's end sees the item published.
		mustCreate(t, e.s, draftItem("c1", "m1"), store.Job{Kind: "thumbnail"})
		job, ok := claimOne(t, e.s, "w1", time.Now(), time.Minute)
		if !ok {
			t.Fatal("no job")
		}
		var approval, processing announcer
		if _, err := e.s.ApproveItem(ctx, "c1", "m1", "dan", 0, approval.announce); err != nil {
			t.Fatal(err)
		}
		ready := func(it *store.Item) error { it.State = store.StateReady; return nil }
		if _, err := e.s.FinishJobAnnouncing(ctx, job.ID, "w1", ready, processing.announce); err != nil {
			t.Fatal(err)
		}
		if len(approval.items) != 1 || approval.items[0].State != store.StateProcessing {
			t.Errorf("the approval announced %+v", approval.items)
		}
		if len(processing.items) != 1 || processing.items[0].PublishState != store.Published || processing.items[0].State != store.StateReady {
			t.Errorf("the job's end announced %+v", processing.items)
		}

		// Processed first: the job's end sees a draft, the approval a
		// READY item.
		mustCreate(t, e.s, draftItem("c1", "m2"), store.Job{Kind: "thumbnail"})
		job, _ = claimOne(t, e.s, "w1", time.Now(), time.Minute)
		approval, processing = announcer{}, announcer{}
		if _, err := e.s.FinishJobAnnouncing(ctx, job.ID, "w1", ready, processing.announce); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.ApproveItem(ctx, "c1", "m2", "dan", 0, approval.announce); err != nil {
			t.Fatal(err)
		}
		if len(processing.items) != 1 || processing.items[0].PublishState != store.Draft {
			t.Errorf("the job's end announced %+v", processing.items)
		}
		if len(approval.items) != 1 || approval.items[0].State != store.StateReady {
			t.Errorf("the approval announced %+v", approval.items)
		}
	}},
}

// TestApprovalMigration: items stored before 0008 stay visible to
// guardians: published, with no approver.
func TestApprovalMigration(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "media.db") },
		"postgres": func(t *testing.T) string { return testenv.Postgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dsn := dsn(t)
			before := fstest.MapFS{}
			err := fs.WalkDir(store.Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || path >= "0007" {
					return err
				}
				b, err := fs.ReadFile(store.Migrations(), path)
				before[path] = &fstest.MapFile{Data: b}
				return err
			})
			if err != nil || len(before) == 0 {
				t.Fatalf("migrations before 0007: %v, %v", before, err)
			}
			quiet := slog.New(slog.DiscardHandler)
			old, err := sqldb.Open(ctx, dsn, sqldb.Options{Migrations: before, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := store.NewSQL(old).CreateItem(ctx, item("c1", "m1", sha("o"), sha("c")), nil); err == nil {
				t.Fatal("an item written with the approval columns before they exist")
			}
			if _, err := old.ExecContext(ctx, `INSERT INTO media_items (child_id, id, kind, title, caption, content_type, size_bytes,
				content_sha256, width, height, duration_us, state, failure_reason, thumbnails, uploaded_by, filename,
				create_time, update_time, revision) VALUES ('c1', 'm1', 2, '', '', 'image/jpeg', 3, $1, 0, 0, 0, 3, '', '[]',
				'carol', 'a.jpg', 1, 1, 1)`, sha("c")); err != nil {
				t.Fatal(err)
			}
			old.Close()
			db, err := sqldb.Open(ctx, dsn, sqldb.Options{Migrations: store.Migrations(), Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			it, err := store.NewSQL(db).GetItem(ctx, "c1", "m1")
			if err != nil || it.Approval != (store.Approval{PublishState: store.Published}) {
				t.Fatalf("item = %+v, %v", it.Approval, err)
			}
		})
	}
}
