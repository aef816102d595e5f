package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// env is what one contract case runs against: a fresh, migrated database.
type env struct {
	s  store.Store
	db *sqldb.DB
}

type contractCase struct {
	name string
	run  func(t *testing.T, e env)
}

// TestContract runs the same suite on every implementation: SQLite always,
// PostgreSQL when reachable (required in CI).
func TestContract(t *testing.T) {
	backends := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "media.db") }},
		{"postgres", func(t *testing.T) string { return testenv.Postgres(t) }},
	}
	contract := slices.Concat(itemContract, blobContract, sessionContract, holdContract, jobContract, approvalContract)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range contract {
				t.Run(tc.name, func(t *testing.T) {
					ctx := t.Context()
					db, err := sqldb.Open(ctx, b.dsn(t), sqldb.Options{
						Migrations: store.Migrations(),
						Logger:     slog.New(slog.DiscardHandler),
					})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					if err := outbox.Migrate(ctx, db); err != nil {
						t.Fatal(err)
					}
					tc.run(t, env{s: store.NewSQL(db), db: db})
				})
			}
		})
	}
}

// sha returns a blob name made from a label, so tests read as "blob a".
func sha(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:])
}

func event(child string) outbox.Message {
	return outbox.Message{Key: "children/" + child, Payload: []byte("event")}
}

// item returns a complete item: every field set, so round trips check them all.
func item(child, id, original, content string, thumbs ...string) store.Item {
	it := store.Item{
		ChildID: child, ID: id, Kind: store.KindPhoto, Title: "title " + id, Caption: "caption",
		ContentType: "image/jpeg", SizeBytes: 1234, OriginalSHA256: original, ContentSHA256: content,
		Width: 640, Height: 480, Duration: 1500 * time.Millisecond,
		TakenTime: time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.FixedZone("x", 3600)),
		State:     store.StateProcessing, UploadedBy: "parent", Filename: id + ".jpg",
	}
	for i, th := range thumbs {
		it.Thumbnails = append(it.Thumbnails, store.Thumbnail{Size: fmt.Sprintf("s%d", i), Width: 320, Height: 240, SHA256: th})
	}
	return it
}

func mustCreate(t *testing.T, s store.Store, it store.Item, jobs ...store.Job) store.Item {
	t.Helper()
	got, created, err := s.CreateItem(context.Background(), it, jobs)
	if err != nil || !created {
		t.Fatalf("CreateItem(%s) = created %v, %v", it.ID, created, err)
	}
	return got
}

// refs returns a blob's count, -1 when it has no row.
func refs(t *testing.T, s store.Store, sha string) int64 {
	t.Helper()
	n, err := s.BlobRefs(context.Background(), sha)
	if errors.Is(err, store.ErrNotFound) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func wantRefs(t *testing.T, s store.Store, want map[string]int64) {
	t.Helper()
	for sha, n := range want {
		if got := refs(t, s, sha); got != n {
			t.Errorf("refs of %s… = %d, want %d", sha[:8], got, n)
		}
	}
}

func count(t *testing.T, db *sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var itemContract = []contractCase{
	{"item round trip", func(t *testing.T, e env) {
		ctx := context.Background()
		in := item("c1", "m1", sha("orig"), sha("content"), sha("small"), sha("large"))
		created, ok, err := e.s.CreateItem(ctx, in, []store.Job{{Kind: "thumbnail"}}, event("c1"))
		if err != nil || !ok {
			t.Fatalf("create: %v %v", ok, err)
		}
		if created.Revision != 1 || created.CreateTime.IsZero() || !created.CreateTime.Equal(created.UpdateTime) {
			t.Fatalf("created = %+v", created)
		}
		got, err := e.s.GetItem(ctx, "c1", "m1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, created) {
			t.Fatalf("read back\n%+v\nwant\n%+v", got, created)
		}
		if !got.TakenTime.Equal(in.TakenTime.Truncate(time.Microsecond)) || got.Duration != in.Duration || len(got.Thumbnails) != 2 {
			t.Fatalf("fields lost: %+v", got)
		}
		if byOrig, err := e.s.FindByOriginal(ctx, "c1", sha("orig")); err != nil || byOrig.ID != "m1" {
			t.Fatalf("FindByOriginal = %+v, %v", byOrig, err)
		}
		if _, err := e.s.FindByOriginal(ctx, "c2", sha("orig")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindByOriginal of another child: %v", err)
		}
		if _, err := e.s.GetItem(ctx, "c2", "m1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("item under another child: %v", err)
		}
		// Same id, other bytes: a clash of ids, not a duplicate upload.
		if _, _, err := e.s.CreateItem(ctx, item("c1", "m1", sha("other"), sha("other")), nil); !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("duplicate id: %v", err)
		}
		// Items without a known original never collide with each other.
		for _, id := range []string{"u1", "u2"} {
			u := item("c1", id, "", "")
			u.State, u.Thumbnails = store.StateUploading, nil
			mustCreate(t, e.s, u)
		}
		wantRefs(t, e.s, map[string]int64{sha("content"): 1, sha("small"): 1, sha("large"): 1, sha("orig"): -1, sha("other"): -1})
		if n := count(t, e.db, "outbox_messages"); n != 1 {
			t.Errorf("outbox has %d messages, want 1", n)
		}
		if n, err := e.s.JobDepth(ctx); err != nil || n != 1 {
			t.Errorf("JobDepth = %d, %v; want 1", n, err)
		}
	}},
	{"update is revision checked and moves references", func(t *testing.T, e env) {
		ctx := context.Background()
		mustCreate(t, e.s, item("c1", "m1", sha("orig"), sha("content"), sha("a")))
		retitle := func(title string) func(*store.Item) error {
			return func(it *store.Item) error { it.Title = title; return nil }
		}
		updated, err := e.s.UpdateItem(ctx, "c1", "m1", 1, retitle("Self-portrait"))
		if err != nil || updated.Revision != 2 || updated.Title != "Self-portrait" {
			t.Fatalf("update = %+v, %v", updated, err)
		}
		if _, err := e.s.UpdateItem(ctx, "c1", "m1", 1, retitle("x")); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale update: %v", err)
		}
		if _, err := e.s.UpdateItem(ctx, "c1", "nope", 0, retitle("x")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing item: %v", err)
		}
		refused := errors.New("refused")
		if _, err := e.s.UpdateItem(ctx, "c1", "m1", 0, func(*store.Item) error { return refused }); !errors.Is(err, refused) {
			t.Fatalf("change error: %v", err)
		}
		// Thumbnail a replaced by b, a new one c; identity fields stay put.
		ready, err := e.s.UpdateItem(ctx, "c1", "m1", 0, func(it *store.Item) error {
			it.Thumbnails = []store.Thumbnail{{Size: "small", Width: 1, Height: 1, SHA256: sha("b")}, {Size: "large", SHA256: sha("c")}}
			it.State = store.StateReady
			it.ID, it.ChildID, it.OriginalSHA256, it.UploadedBy = "hijack", "c9", sha("x"), "mallory"
			return nil
		}, event("c1"))
		if err != nil {
			t.Fatal(err)
		}
		if ready.ID != "m1" || ready.ChildID != "c1" || ready.OriginalSHA256 != sha("orig") || ready.UploadedBy != "parent" || ready.Revision != 3 {
			t.Fatalf("identity changed: %+v", ready)
		}
		if got, _ := e.s.GetItem(ctx, "c1", "m1"); !reflect.DeepEqual(got, ready) {
			t.Fatalf("read back %+v, want %+v", got, ready)
		}
		wantRefs(t, e.s, map[string]int64{sha("content"): 1, sha("a"): 0, sha("b"): 1, sha("c"): 1})
		if n := count(t, e.db, "outbox_messages"); n != 1 {
			t.Errorf("outbox has %d messages, want 1", n)
		}

		// Concurrent unpinned updates all land, one revision each.
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if _, err := e.s.UpdateItem(ctx, "c1", "m1", 0, retitle(fmt.Sprint(i))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got, _ := e.s.GetItem(ctx, "c1", "m1"); got.Revision != 11 {
			t.Fatalf("after 8 concurrent updates revision = %d, want 11", got.Revision)
		}
	}},
	{"delete is revision checked and drops references and jobs", func(t *testing.T, e env) {
		ctx := context.Background()
		mustCreate(t, e.s, item("c1", "m1", sha("orig"), sha("content"), sha("thumb")), store.Job{Kind: "thumbnail"})
		if err := e.s.DeleteItem(ctx, "c1", "m1", 7); !errors.Is(err, store.ErrStale) {
			t.Fatalf("stale delete: %v", err)
		}
		if err := e.s.DeleteItem(ctx, "c1", "m1", 1, event("c1")); err != nil {
			t.Fatal(err)
		}
		if err := e.s.DeleteItem(ctx, "c1", "m1", 0); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		wantRefs(t, e.s, map[string]int64{sha("content"): 0, sha("thumb"): 0})
		if n, _ := e.s.JobDepth(ctx); n != 0 {
			t.Errorf("%d jobs survived their item", n)
		}
		if n := count(t, e.db, "outbox_messages"); n != 1 {
			t.Errorf("outbox has %d messages, want 1", n)
		}
		// The same bytes may be uploaded again once the item is gone.
		mustCreate(t, e.s, item("c1", "m2", sha("orig"), sha("content")))
		wantRefs(t, e.s, map[string]int64{sha("content"): 1})
	}},
	{"concurrent identical uploads yield one item", func(t *testing.T, e env) {
		ctx := context.Background()
		const n = 8
		type result struct {
			item    store.Item
			created bool
			err     error
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				it := item("c1", fmt.Sprintf("m%d", i), sha("orig"), sha("content"), sha("thumb"))
				r := &results[i]
				r.item, r.created, r.err = e.s.CreateItem(ctx, it, []store.Job{{Kind: "thumbnail"}}, event("c1"))
			})
		}
		wg.Wait()
		var winner string
		for i, r := range results {
			if r.err != nil {
				t.Fatalf("create %d: %v", i, r.err)
			}
			if r.created {
				if winner != "" {
					t.Fatalf("two items created: %s and %s", winner, r.item.ID)
				}
				winner = r.item.ID
			}
		}
		if winner == "" {
			t.Fatal("no item created")
		}
		for i, r := range results {
			if r.item.ID != winner {
				t.Errorf("create %d returned %s, want the winner %s", i, r.item.ID, winner)
			}
		}
		items, err := e.s.ListItems(ctx, store.ItemQuery{ChildID: "c1"})
		if err != nil || len(items) != 1 {
			t.Fatalf("listed %d items, %v; want 1", len(items), err)
		}
		wantRefs(t, e.s, map[string]int64{sha("content"): 1, sha("thumb"): 1})
		if n := count(t, e.db, "outbox_messages"); n != 1 {
			t.Errorf("outbox has %d messages, want 1", n)
		}
		if n, _ := e.s.JobDepth(ctx); n != 1 {
			t.Errorf("%d jobs queued, want 1", n)
		}
		// Another child uploading the same bytes gets an item of its own,
		// sharing the blob.
		mustCreate(t, e.s, item("c2", "m1", sha("orig"), sha("content")))
		wantRefs(t, e.s, map[string]int64{sha("content"): 2})
	}},
	{"pages are complete, filtered and stable under concurrent inserts", func(t *testing.T, e env) {
		ctx := context.Background()
		var all []store.Item
		for i := range 30 {
			it := item("c1", fmt.Sprintf("m%02d", i), sha(fmt.Sprint("o", i)), sha(fmt.Sprint("c", i)))
			if i%3 == 0 {
				it.Kind = store.KindVideo
			}
			all = append(all, mustCreate(t, e.s, it))
		}
		mustCreate(t, e.s, item("other", "m00", sha("o0"), sha("c0")))

		// Inserts run all along the listing; none may displace or repeat
		// an item that was already there.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := e.s.CreateItem(ctx, item("c1", fmt.Sprintf("late%03d", i), sha(fmt.Sprint("late", i)), ""), nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
		seen := map[string]bool{}
		var prev *store.Item
		var after *store.ItemCursor
		for {
			page, err := e.s.ListItems(ctx, store.ItemQuery{ChildID: "c1", After: after, Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, it := range page {
				if seen[it.ID] {
					t.Fatalf("%s listed twice", it.ID)
				}
				seen[it.ID] = true
				if prev != nil && (it.CreateTime.After(prev.CreateTime) || it.CreateTime.Equal(prev.CreateTime) && it.ID > prev.ID) {
					t.Fatalf("%s listed after %s: not newest first", it.ID, prev.ID)
				}
				prev = &it
			}
			last := page[len(page)-1]
			after = &store.ItemCursor{CreateTime: last.CreateTime, ID: last.ID}
		}
		close(stop)
		wg.Wait()
		for _, it := range all {
			if !seen[it.ID] {
				t.Errorf("%s never listed", it.ID)
			}
		}

		// Filters: kind, and a creation-time range [from, before).
		videos, err := e.s.ListItems(ctx, store.ItemQuery{ChildID: "c1", Kind: store.KindVideo})
		if err != nil || len(videos) != 10 {
			t.Fatalf("videos: %d, %v; want 10", len(videos), err)
		}
		from, before := all[10].CreateTime, all[20].CreateTime
		var want []string
		for _, it := range all {
			if !it.CreateTime.Before(from) && it.CreateTime.Before(before) {
				want = append(want, it.ID)
			}
		}
		ranged, err := e.s.ListItems(ctx, store.ItemQuery{ChildID: "c1", CreatedFrom: from, CreatedBefore: before})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range ranged {
			got = append(got, it.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("range [%v, %v) listed %v, want %v", from, before, got, want)
		}
	}},
	{"deleting a child removes its items and idle jobs, ends its sessions and drops references", func(t *testing.T, e env) {
		ctx := context.Background()
		mustCreate(t, e.s, item("c1", "m1", sha("o1"), sha("shared"), sha("t1")), store.Job{Kind: "thumbnail"})
		mustCreate(t, e.s, item("c2", "m1", sha("o1"), sha("shared")), store.Job{Kind: "thumbnail"})
		// Claimed now, so the two jobs above are leased and the one below is not.
		leased, err := e.s.ClaimJobs(ctx, "w1", time.Now(), time.Minute, 10)
		if err != nil || len(leased) != 2 {
			t.Fatalf("claimed %d, %v", len(leased), err)
		}
		for _, j := range leased {
			if err := e.s.PinBlob(ctx, sha("thumb of "+j.ID), store.JobHolder(j.ID)); err != nil {
				t.Fatal(err)
			}
		}
		mustCreate(t, e.s, item("c1", "m2", sha("o2"), sha("c2")), store.Job{Kind: "metadata"})
		sess, err := e.s.CreateSession(ctx, store.Session{ChildID: "c1", TempKey: "tmp/1", UploadedBy: "parent",
			Metadata: store.UploadMetadata{Kind: store.KindPhoto, SizeBytes: 10}}, store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.s.PinBlob(ctx, sha("uploading"), store.SessionHolder(sess.ID)); err != nil {
			t.Fatal(err)
		}

		d, err := e.s.DeleteChild(ctx, "c1", "ev1")
		if err != nil {
			t.Fatal(err)
		}
		if d != (store.ChildDeletion{Fresh: true, EventID: "ev1", Items: 2, Sessions: 1}) {
			t.Fatalf("DeleteChild = %+v", d)
		}
		if items, _ := e.s.ListItems(ctx, store.ItemQuery{ChildID: "c1"}); len(items) != 0 {
			t.Errorf("%d items left", len(items))
		}
		// The session is ended, not deleted: whoever holds its bytes (or
		// the sweeper) deletes it, which releases its pin.
		got, err := e.s.GetSession(ctx, sess.ID)
		if err != nil || got.ExpireTime.After(time.Now()) {
			t.Fatalf("ended session = %+v, %v", got, err)
		}
		if _, err := e.s.AdvanceSession(ctx, sess.ID, 0, 5); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an ended session took bytes: %v", err)
		}
		if expired, _ := e.s.ExpiredSessions(ctx, time.Now(), 0); len(expired) != 1 || expired[0].ID != sess.ID {
			t.Errorf("expired sessions = %+v", expired)
		}
		var c1Job store.Job
		for _, j := range leased {
			if j.ChildID == "c1" {
				c1Job = j
			}
		}
		// The idle job went; the leased one stays, pins and all, for its
		// worker, which finds the item gone.
		if n, _ := e.s.JobDepth(ctx); n != 2 {
			t.Errorf("JobDepth = %d, want the leased job of each child", n)
		}
		wantRefs(t, e.s, map[string]int64{sha("shared"): 1, sha("t1"): 0, sha("c2"): 0, sha("uploading"): 1,
			sha("thumb of " + c1Job.ID): 1})
		if _, err := e.s.FinishJob(ctx, c1Job.ID, "w1", func(*store.Item) error { return nil }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("finishing the deleted item's job: %v", err)
		}
		if err := e.s.CompleteJob(ctx, c1Job.ID, "w1"); err != nil {
			t.Fatal(err)
		}
		if err := e.s.DeleteSession(ctx, sess.ID, ""); err != nil {
			t.Fatal(err)
		}
		wantRefs(t, e.s, map[string]int64{sha("uploading"): 0, sha("thumb of " + c1Job.ID): 0})
		if _, err := e.s.GetItem(ctx, "c2", "m1"); err != nil {
			t.Errorf("other child's item: %v", err)
		}

		// Nothing more is stored for the child.
		if _, _, err := e.s.CreateItem(ctx, item("c1", "m3", sha("o3"), sha("c3")), nil); !errors.Is(err, store.ErrChildDeleted) {
			t.Errorf("CreateItem for a deleted child: %v", err)
		}
		if _, err := e.s.CreateSession(ctx, store.Session{ChildID: "c1", TempKey: "tmp/2", UploadedBy: "parent",
			Metadata: store.UploadMetadata{SizeBytes: 10}}, store.UploadCaps{}); !errors.Is(err, store.ErrChildDeleted) {
			t.Errorf("CreateSession for a deleted child: %v", err)
		}
		if refs(t, e.s, sha("c3")) != -1 {
			t.Error("a refused item left a reference")
		}
		mustCreate(t, e.s, item("c2", "m2", sha("o3"), sha("c3")))

		// A repeat, under another event id too, changes nothing.
		for _, ev := range []string{"ev1", "ev2"} {
			if again, err := e.s.DeleteChild(ctx, "c1", ev); err != nil || again != (store.ChildDeletion{EventID: "ev1"}) {
				t.Errorf("DeleteChild again under %s = %+v, %v", ev, again, err)
			}
		}
		if _, err := e.s.DeleteChild(ctx, "c1", ""); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("DeleteChild without an event id: %v", err)
		}
		// A child media never stored anything for is remembered too.
		if d, err := e.s.DeleteChild(ctx, "c9", "ev9"); err != nil || !d.Fresh {
			t.Errorf("DeleteChild of an unknown child = %+v, %v", d, err)
		}
		if _, err := e.s.CreateSession(ctx, store.Session{ChildID: "c9", TempKey: "tmp/3", UploadedBy: "parent",
			Metadata: store.UploadMetadata{SizeBytes: 10}}, store.UploadCaps{}); !errors.Is(err, store.ErrChildDeleted) {
			t.Errorf("CreateSession for a deleted unknown child: %v", err)
		}
	}},
	{"an item created and its child deleted at once: the item is never left behind", func(t *testing.T, e env) {
		ctx := context.Background()
		for round := range 20 {
			childID := fmt.Sprintf("race%d", round)
			mustCreate(t, e.s, item(childID, "first", sha(childID+"o"), sha(childID+"c")))
			var wg sync.WaitGroup
			var createErr error
			wg.Go(func() {
				_, _, createErr = e.s.CreateItem(ctx, item(childID, "late", sha(childID+"o2"), sha(childID+"c2")), []store.Job{{Kind: "thumbnail"}})
			})
			wg.Go(func() {
				if _, err := e.s.DeleteChild(ctx, childID, "ev-"+childID); err != nil {
					t.Error(err)
				}
			})
			wg.Wait()
			if createErr != nil && !errors.Is(createErr, store.ErrChildDeleted) {
				t.Fatalf("round %d: CreateItem: %v", round, createErr)
			}
			if items, _ := e.s.ListItems(ctx, store.ItemQuery{ChildID: childID}); len(items) != 0 {
				t.Fatalf("round %d: %d items outlived their child (create: %v)", round, len(items), createErr)
			}
			if got := refs(t, e.s, sha(childID+"c2")); got > 0 {
				t.Fatalf("round %d: the late item's bytes keep %d references", round, got)
			}
		}
	}},
}
