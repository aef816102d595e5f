package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/services/media/store"
)

// unreferenced reports whether sha is listed as unreferenced since before
// olderThan.
func unreferenced(t *testing.T, s store.Store, sha string, olderThan time.Time) bool {
	t.Helper()
	list, err := s.UnreferencedBlobs(context.Background(), olderThan, 0)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(list, sha)
}

var blobContract = []contractCase{
	{"blobs shared by two items are swept only after both go", func(t *testing.T, e env) {
		ctx := context.Background()
		shared := sha("shared")
		mustCreate(t, e.s, item("c1", "m1", sha("o1"), shared, sha("t1")))
		mustCreate(t, e.s, item("c1", "m2", sha("o2"), shared))
		wantRefs(t, e.s, map[string]int64{shared: 2, sha("t1"): 1})

		if err := e.s.DeleteItem(ctx, "c1", "m1", 0); err != nil {
			t.Fatal(err)
		}
		wantRefs(t, e.s, map[string]int64{shared: 1, sha("t1"): 0})
		later := time.Now().Add(time.Hour)
		if unreferenced(t, e.s, shared, later) {
			t.Fatal("a blob still in use is listed as unreferenced")
		}
		if ok, err := e.s.CondemnBlob(ctx, shared, "sweeper", later, later); err != nil || ok {
			t.Fatalf("condemned a blob in use: %v, %v", ok, err)
		}

		before := time.Now().Add(-time.Second)
		if err := e.s.DeleteItem(ctx, "c1", "m2", 0); err != nil {
			t.Fatal(err)
		}
		wantRefs(t, e.s, map[string]int64{shared: 0})
		// Within the grace period: not yet.
		if unreferenced(t, e.s, shared, before) {
			t.Fatal("listed before its grace period ended")
		}
		if ok, _ := e.s.CondemnBlob(ctx, shared, "sweeper", before, later); ok {
			t.Fatal("condemned before its grace period ended")
		}
		if !unreferenced(t, e.s, shared, later) || !unreferenced(t, e.s, sha("t1"), later) {
			t.Fatal("unreferenced blobs not listed after the grace period")
		}

		// The sweep: condemn, (delete the bytes), forget.
		if ok, err := e.s.CondemnBlob(ctx, shared, "sweeper", later, later); err != nil || !ok {
			t.Fatalf("condemn: %v, %v", ok, err)
		}
		// While condemned: another sweeper stays off, and no reference
		// can be taken, pinned or not.
		if ok, _ := e.s.CondemnBlob(ctx, shared, "other", later, later); ok {
			t.Fatal("a second sweeper condemned a blob under a live lease")
		}
		if unreferenced(t, e.s, shared, later) {
			t.Fatal("a blob under a live lease is listed for other sweepers")
		}
		if err := e.s.PinBlob(ctx, shared, store.SessionHolder("s1")); !errors.Is(err, store.ErrBlobCondemned) {
			t.Fatalf("pin of a condemned blob: %v", err)
		}
		if _, _, err := e.s.CreateItem(ctx, item("c1", "m3", sha("o3"), shared), nil); !errors.Is(err, store.ErrBlobCondemned) {
			t.Fatalf("item on a condemned blob: %v", err)
		}
		if _, err := e.s.GetItem(ctx, "c1", "m3"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refused item was stored: %v", err)
		}
		if ok, err := e.s.ForgetBlob(ctx, shared, "other"); err != nil || ok {
			t.Fatalf("forgotten by a sweeper that did not condemn it: %v, %v", ok, err)
		}
		if ok, err := e.s.ForgetBlob(ctx, shared, "sweeper"); err != nil || !ok {
			t.Fatalf("forget: %v, %v", ok, err)
		}
		wantRefs(t, e.s, map[string]int64{shared: -1})

		// After the sweep, the same bytes start over with a pin.
		if err := e.s.PinBlob(ctx, shared, store.SessionHolder("s1")); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, e.s, item("c1", "m3", sha("o3"), shared))
		if err := e.s.UnpinBlob(ctx, shared, store.SessionHolder("s1")); err != nil {
			t.Fatal(err)
		}
		wantRefs(t, e.s, map[string]int64{shared: 1})
	}},
	{"a new reference wins over a sweep", func(t *testing.T, e env) {
		ctx := context.Background()
		blob := sha("b")
		mustCreate(t, e.s, item("c1", "m1", sha("o1"), blob))
		if err := e.s.DeleteItem(ctx, "c1", "m1", 0); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Hour)

		// Referenced again after the listing, before the condemnation:
		// the compare-and-set sees it.
		if !unreferenced(t, e.s, blob, later) {
			t.Fatal("not listed")
		}
		if err := e.s.PinBlob(ctx, blob, store.SessionHolder("s1")); err != nil {
			t.Fatal(err)
		}
		if ok, _ := e.s.CondemnBlob(ctx, blob, "sweeper", later, later); ok {
			t.Fatal("condemned a pinned blob")
		}
		if err := e.s.UnpinBlob(ctx, blob, store.SessionHolder("s1")); err != nil {
			t.Fatal(err)
		}

		// A sweeper whose lease ran out (it died, or stalled past it): a
		// pin takes the row over, and its late ForgetBlob keeps the row.
		expired := time.Now().Add(-time.Second)
		if ok, err := e.s.CondemnBlob(ctx, blob, "stale", later, expired); err != nil || !ok {
			t.Fatalf("condemn: %v, %v", ok, err)
		}
		if !unreferenced(t, e.s, blob, later) {
			t.Fatal("a blob whose sweeper's lease ran out is not listed for the next sweeper")
		}
		if _, _, err := e.s.CreateItem(ctx, item("c1", "m2", sha("o2"), blob), nil); !errors.Is(err, store.ErrBlobCondemned) {
			t.Fatalf("unpinned reference on a once-condemned blob: %v", err)
		}
		if err := e.s.PinBlob(ctx, blob, store.SessionHolder("s2")); err != nil {
			t.Fatalf("pin after the lease ran out: %v", err)
		}
		mustCreate(t, e.s, item("c1", "m2", sha("o2"), blob))
		if ok, err := e.s.ForgetBlob(ctx, blob, "stale"); err != nil || ok {
			t.Fatalf("stale sweeper forgot a referenced blob: %v, %v", ok, err)
		}
		if err := e.s.UnpinBlob(ctx, blob, store.SessionHolder("s2")); err != nil {
			t.Fatal(err)
		}
		wantRefs(t, e.s, map[string]int64{blob: 1})
		// Even once unreferenced again, the stale sweeper cannot forget it:
		// its condemnation is gone.
		if err := e.s.DeleteItem(ctx, "c1", "m2", 0); err != nil {
			t.Fatal(err)
		}
		if ok, _ := e.s.ForgetBlob(ctx, blob, "stale"); ok {
			t.Fatal("stale sweeper forgot a blob it no longer condemned")
		}

		// A second sweeper takes over an expired condemnation.
		if ok, _ := e.s.CondemnBlob(ctx, blob, "stale", later, expired); !ok {
			t.Fatal("condemn")
		}
		if ok, _ := e.s.CondemnBlob(ctx, blob, "next", later, later); !ok {
			t.Fatal("next sweeper could not take over an expired condemnation")
		}
		if ok, _ := e.s.ForgetBlob(ctx, blob, "stale"); ok {
			t.Fatal("stale sweeper forgot a blob another sweeper condemned")
		}
		if ok, _ := e.s.ForgetBlob(ctx, blob, "next"); !ok {
			t.Fatal("next sweeper could not forget")
		}
	}},
	{"pins count once per holder and go with their holder", func(t *testing.T, e env) {
		ctx := context.Background()
		blob := sha("upload")
		for range 3 {
			if err := e.s.PinBlob(ctx, blob, store.SessionHolder("s1")); err != nil {
				t.Fatal(err)
			}
		}
		wantRefs(t, e.s, map[string]int64{blob: 1})
		if err := e.s.UnpinBlob(ctx, blob, store.SessionHolder("s1")); err != nil {
			t.Fatal(err)
		}
		if err := e.s.UnpinBlob(ctx, blob, store.SessionHolder("s1")); !errors.Is(err, store.ErrNotPinned) {
			t.Fatalf("second unpin: %v", err)
		}
		if err := e.s.PinBlob(ctx, "", store.SessionHolder("s1")); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("pin of no blob: %v", err)
		}
		wantRefs(t, e.s, map[string]int64{blob: 0})

		// Concurrent pins by many holders all count.
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if err := e.s.PinBlob(ctx, blob, store.JobHolder(string(rune('a'+i)))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		wantRefs(t, e.s, map[string]int64{blob: 8})

		// Deleting a session releases its pins.
		sess, err := e.s.CreateSession(ctx, store.Session{ChildID: "c1", TempKey: "t", Metadata: store.UploadMetadata{SizeBytes: 1}}, store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.s.PinBlob(ctx, sha("s"), store.SessionHolder(sess.ID)); err != nil {
			t.Fatal(err)
		}
		if err := e.s.DeleteSession(ctx, sess.ID, ""); err != nil {
			t.Fatal(err)
		}
		wantRefs(t, e.s, map[string]int64{sha("s"): 0})
	}},
	{"reference counts stay exact under concurrent writes", func(t *testing.T, e env) {
		ctx := context.Background()
		// Every writer references the same blobs, in different roles and
		// orders, so their transactions contend on the same rows.
		blobs := []string{sha("x"), sha("y"), sha("z")}
		const writers, rounds = 8, 6
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for r := range rounds {
					a, b, c := blobs[(w+r)%3], blobs[(w+r+1)%3], blobs[(w+r+2)%3]
					id := fmt.Sprintf("w%dr%d", w, r)
					holder := store.JobHolder(id)
					for _, pin := range []string{a, b, c} {
						if err := e.s.PinBlob(ctx, pin, holder); err != nil {
							t.Error(err)
							return
						}
					}
					if _, _, err := e.s.CreateItem(ctx, item("c1", id, sha(id), a, b, c), nil); err != nil {
						t.Error(err)
						return
					}
					for _, pin := range []string{c, a, b} {
						if err := e.s.UnpinBlob(ctx, pin, holder); err != nil {
							t.Error(err)
							return
						}
					}
					if _, err := e.s.UpdateItem(ctx, "c1", id, 0, func(it *store.Item) error {
						it.Thumbnails = it.Thumbnails[:1]
						return nil
					}); err != nil {
						t.Error(err)
						return
					}
					if r%2 == 0 {
						if err := e.s.DeleteItem(ctx, "c1", id, 0); err != nil {
							t.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		// Count what the surviving items actually reference.
		items, err := e.s.ListItems(ctx, store.ItemQuery{ChildID: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{}
		for _, b := range blobs {
			want[b] = 0
		}
		for _, it := range items {
			seen := map[string]bool{it.ContentSHA256: true}
			want[it.ContentSHA256]++
			for _, th := range it.Thumbnails {
				if !seen[th.SHA256] {
					seen[th.SHA256] = true
					want[th.SHA256]++
				}
			}
		}
		if len(items) != writers*rounds/2 {
			t.Fatalf("%d items left, want %d", len(items), writers*rounds/2)
		}
		wantRefs(t, e.s, want)
	}},
}
