package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// TestContract runs the same suite on SQLite and PostgreSQL.
func TestContract(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "notification.db") },
		"postgres": func(t *testing.T) string { return testenv.Postgres(t) },
	}
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			for _, tc := range contract {
				t.Run(tc.name, func(t *testing.T) {
					db, err := sqldb.Open(context.Background(), dsn(t), sqldb.Options{Migrations: store.Migrations()})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					tc.run(t, store.NewSQL(db))
				})
			}
		})
	}
}

func event(id, child string) store.Notification {
	return store.Notification{EventID: id, Type: 1, ChildID: child, Title: "New grade", Body: "Math: 90%", Link: "children/" + child + "/assessments/a"}
}

var contract = []struct {
	name string
	run  func(t *testing.T, s *store.SQL)
}{
	{"deliver, de-duplicate, read", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		stored, fresh, err := s.Deliver(ctx, event("e1", "c1"), []string{"maria", "joao"})
		if err != nil || !fresh || len(stored) != 2 || stored[0].Sequence != 1 || stored[1].Sequence != 1 {
			t.Fatalf("first delivery: %+v %v %v", stored, fresh, err)
		}
		// A repeat stores nothing and returns what the first stored, to
		// announce again.
		again, fresh, err := s.Deliver(ctx, event("e1", "c1"), []string{"maria", "joao"})
		if err != nil || fresh || len(again) != 2 || again[0].User != "joao" || again[1].User != "maria" || again[1].Sequence != 1 {
			t.Fatalf("a redelivered event: %+v %v %v", again, fresh, err)
		}
		batch, err := s.DeliverBatch(ctx, []store.Delivery{{Notification: event("e1", "c1"), Recipients: []string{"maria"}}})
		if err != nil || batch[0].Fresh || len(batch[0].Stored) != 2 {
			t.Fatalf("a redelivered event in a batch: %+v %v", batch, err)
		}
		if _, _, err := s.Deliver(ctx, event("e2", "c1"), []string{"maria"}); err != nil {
			t.Fatal(err)
		}
		page, err := s.After(ctx, "maria", 0, 10)
		if err != nil || len(page) != 2 || page[0].EventID != "e1" || page[1].Sequence != 2 || page[0].Read {
			t.Fatalf("maria's inbox: %+v %v", page, err)
		}
		if last, _ := s.LastSequence(ctx, "maria"); last != 2 {
			t.Fatalf("last sequence %d", last)
		}
		newest, err := s.Before(ctx, "maria", 0, false, 1)
		if err != nil || len(newest) != 1 || newest[0].Sequence != 2 {
			t.Fatalf("newest first: %+v %v", newest, err)
		}
		if n, _ := s.CountUnread(ctx, "maria"); n != 2 {
			t.Fatalf("unread %d", n)
		}
		if n, err := s.MarkRead(ctx, "maria", []int64{2, 2}, 0); err != nil || n != 1 {
			t.Fatalf("mark one: %d %v", n, err)
		}
		if n, err := s.MarkRead(ctx, "maria", nil, 5); err != nil || n != 1 {
			t.Fatalf("mark up to: %d %v", n, err)
		}
		if unread, _ := s.Before(ctx, "maria", 0, true, 10); len(unread) != 0 {
			t.Fatalf("still unread: %+v", unread)
		}
	}},
	{"withdrawing a child keeps sequences moving forward and names what left", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		for i, child := range []string{"c1", "c2", "c1"} {
			if _, _, err := s.Deliver(ctx, event(fmt.Sprint("e", i), child), []string{"maria", "joao"}); err != nil {
				t.Fatal(err)
			}
		}
		removed, fresh, err := s.Withdraw(ctx, event("revoke-maria", "c1"), "maria")
		if err != nil || !fresh || len(removed) != 1 || removed["maria"] != 3 {
			t.Fatalf("revoke: %v %v %v", removed, fresh, err)
		}
		if again, fresh, err := s.Withdraw(ctx, event("revoke-maria", "c1"), "maria"); err != nil || fresh || len(again) != 0 {
			t.Fatalf("a redelivered withdrawal was done again: %v %v %v", again, fresh, err)
		}
		if left, _ := s.After(ctx, "maria", 0, 10); len(left) != 1 || left[0].ChildID != "c2" {
			t.Fatalf("maria keeps %+v", left)
		}
		if left, _ := s.After(ctx, "joao", 0, 10); len(left) != 3 {
			t.Fatalf("joao lost notifications: %+v", left)
		}
		// Granted again: what follows is stored after the removal, above it.
		stored, _, err := s.Deliver(ctx, event("e9", "c1"), []string{"maria"})
		if err != nil || stored[0].Sequence != 4 {
			t.Fatalf("a sequence was reused: %+v %v", stored, err)
		}
		if removed, _, err := s.Withdraw(ctx, event("revoke-olga", "c1"), "olga"); err != nil || len(removed) != 0 {
			t.Fatalf("withdrawing from an inbox without the child: %v %v", removed, err)
		}
		// A revoked guardianship keeps the user's settings for the child; a
		// deleted child takes every follower's with it, and no other child's.
		for _, sub := range []store.Subscription{{User: "maria", ChildID: "c1"}, {User: "joao", ChildID: "c1"}, {User: "joao", ChildID: "c2"}} {
			if _, err := s.PutSubscription(ctx, sub); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.Withdraw(ctx, event("revoke-joao", "c1"), "joao"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Subscription(ctx, "joao", "c1"); err != nil {
			t.Fatalf("a revoked guardianship lost the subscription: %v", err)
		}
		removed, _, err = s.Withdraw(ctx, event("delete-c1", "c1"), "")
		if err != nil || len(removed) != 1 || removed["maria"] != 4 { // joao's went with his guardianship
			t.Fatalf("delete child: %v %v", removed, err)
		}
		if left, _ := s.After(ctx, "joao", 0, 10); len(left) != 1 || left[0].ChildID != "c2" {
			t.Fatalf("joao keeps %+v", left)
		}
		if subs, err := s.ChildSubscriptions(ctx, "c1"); err != nil || len(subs) != 0 {
			t.Fatalf("subscriptions to the deleted child: %+v %v", subs, err)
		}
		if _, err := s.Subscription(ctx, "joao", "c2"); err != nil {
			t.Fatalf("another child's subscription went too: %v", err)
		}
	}},
	{"subscriptions", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		sub, err := s.PutSubscription(ctx, store.Subscription{User: "maria", ChildID: "c1", EventTypes: []int{1, 3}})
		if err != nil || !sub.Wants(3) || sub.Wants(2) {
			t.Fatalf("put: %+v %v", sub, err)
		}
		sub.Muted = true
		if sub, err = s.PutSubscription(ctx, sub); err != nil || sub.Wants(1) {
			t.Fatalf("mute: %+v %v", sub, err)
		}
		all, err := s.ChildSubscriptions(ctx, "c1")
		if err != nil || len(all) != 1 || !all["maria"].Muted {
			t.Fatalf("by child: %+v %v", all, err)
		}
		if list, _ := s.Subscriptions(ctx, "maria", "", 10); len(list) != 1 {
			t.Fatalf("list: %+v", list)
		}
		if err := s.DeleteSubscription(ctx, "maria", "c1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Subscription(ctx, "maria", "c1"); err != store.ErrNotFound {
			t.Fatalf("after delete: %v", err)
		}
	}},
	{"retention", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		if _, _, err := s.Deliver(ctx, event("old", "c1"), []string{"maria"}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Expire(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("expire: %d %v", n, err)
		}
		if left, _ := s.After(ctx, "maria", 0, 10); len(left) != 0 {
			t.Fatalf("expired rows remain: %+v", left)
		}
	}},
	{"concurrent publishers never let a cursor skip a row", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		const publishers, each = 6, 40
		users := []string{"maria", "joao"}
		done := make(chan struct{})
		var wg sync.WaitGroup
		for p := range publishers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if _, _, err := s.Deliver(ctx, event(fmt.Sprintf("p%d-%d", p, i), "c1"), users); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		go func() { wg.Wait(); close(done) }()

		// A reader follows maria's feed with a cursor, as a resuming stream
		// does, while the publishers race. It must see every sequence once,
		// in order, with no gap.
		var seen []int64
		last := int64(0)
		for finished := false; ; {
			select {
			case <-done:
				finished = true
			default:
			}
			page, err := s.After(ctx, "maria", last, 50)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range page {
				seen = append(seen, n.Sequence)
				last = n.Sequence
			}
			if finished && len(page) == 0 {
				break
			}
		}
		if len(seen) != publishers*each {
			t.Fatalf("the cursor saw %d notifications, want %d", len(seen), publishers*each)
		}
		for i, seq := range seen {
			if seq != int64(i+1) {
				t.Fatalf("position %d has sequence %d: a row was skipped or repeated", i, seq)
			}
		}
	}},
	{"live feeds: a cap per user, counted on every instance whose lease lasts", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		alive, dead := time.Now().Add(time.Hour), time.Now().Add(-time.Second)
		if lapsed, err := s.RenewInstance(ctx, "a", alive); err != nil || !lapsed {
			t.Fatalf("a new instance: lapsed %v, %v", lapsed, err)
		}
		if lapsed, err := s.RenewInstance(ctx, "a", alive); err != nil || lapsed {
			t.Fatalf("a renewed instance: lapsed %v, %v", lapsed, err)
		}
		if _, err := s.RenewInstance(ctx, "b", alive); err != nil {
			t.Fatal(err)
		}
		// Three feeds of maria's across two instances fill a cap of 3.
		for i, inst := range []string{"a", "b", "a"} {
			if open, err := s.OpenFeed(ctx, fmt.Sprint("m", i), inst, "maria", 3); err != nil || open != i {
				t.Fatalf("feed %d: %d open before, %v", i, open, err)
			}
		}
		if open, err := s.OpenFeed(ctx, "m3", "b", "maria", 3); !errors.Is(err, store.ErrCapReached) || open != 3 {
			t.Fatalf("a fourth feed: %d open, %v; want ErrCapReached", open, err)
		}
		if _, err := s.OpenFeed(ctx, "j0", "a", "joao", 3); err != nil {
			t.Fatalf("another user's feed: %v", err)
		}
		// Closing one makes room.
		if err := s.CloseFeed(ctx, "m1"); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseFeed(ctx, "m1"); err != nil {
			t.Fatalf("closing twice: %v", err)
		}
		if _, err := s.OpenFeed(ctx, "m3", "b", "maria", 3); err != nil {
			t.Fatalf("after a close: %v", err)
		}
		// An instance whose lease ran out (it died) no longer counts.
		if _, err := s.RenewInstance(ctx, "b", dead); err != nil {
			t.Fatal(err)
		}
		if open, err := s.OpenFeed(ctx, "m4", "a", "maria", 3); err != nil || open != 2 {
			t.Fatalf("with b's lease run out: %d open, %v; want 2 (a's)", open, err)
		}
		if lapsed, err := s.RenewInstance(ctx, "b", dead); err != nil || !lapsed {
			t.Fatalf("b's lease ran out: lapsed %v, %v", lapsed, err)
		}
		// The sweep deletes b with its feed, and a feed of an instance that
		// holds no lease at all.
		if err := s.RestoreFeed(ctx, "z0", "z", "maria"); err != nil {
			t.Fatal(err)
		}
		if err := s.RestoreFeed(ctx, "z0", "z", "maria"); err != nil {
			t.Fatalf("restoring twice: %v", err)
		}
		if n, err := s.SweepInstances(ctx, time.Now()); err != nil || n != 2 {
			t.Fatalf("sweep: %d feeds, %v; want 2 (b's m3, z's z0)", n, err)
		}
		if lapsed, err := s.RenewInstance(ctx, "b", alive); err != nil || !lapsed {
			t.Fatalf("b swept: lapsed %v, %v", lapsed, err)
		}
		if err := s.RestoreFeed(ctx, "m3", "b", "maria"); err != nil {
			t.Fatal(err)
		}
		if open, err := s.OpenFeed(ctx, "m5", "a", "maria", 3); !errors.Is(err, store.ErrCapReached) || open != 4 {
			t.Fatalf("with b's feed restored: %d open, %v; want ErrCapReached at 4 (a's three, b's one)", open, err)
		}
		// An instance that stops takes its feeds with it.
		if err := s.DropInstance(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if open, err := s.OpenFeed(ctx, "m5", "b", "maria", 3); err != nil || open != 1 {
			t.Fatalf("after a stopped: %d open, %v; want 1 (b's)", open, err)
		}
		if _, err := s.OpenFeed(ctx, "m6", "b", "maria", 0); err != nil {
			t.Fatalf("no cap: %v", err)
		}
	}},
	{"live feeds: concurrent opens never pass the cap", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		if _, err := s.RenewInstance(ctx, "a", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		const limit, tries = 5, 24
		var admitted, refused atomic.Int32
		var wg sync.WaitGroup
		for i := range tries {
			wg.Go(func() {
				_, err := s.OpenFeed(ctx, fmt.Sprint("f", i), "a", "maria", limit)
				switch {
				case err == nil:
					admitted.Add(1)
				case errors.Is(err, store.ErrCapReached):
					refused.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if admitted.Load() != limit || refused.Load() != tries-limit {
			t.Fatalf("%d admitted, %d refused; want %d and %d", admitted.Load(), refused.Load(), limit, tries-limit)
		}
	}},
	{"subscriptions: a cap per user", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		for i, child := range []string{"c1", "c2"} {
			sub, n, err := s.CreateSubscription(ctx, store.Subscription{User: "maria", ChildID: child, EventTypes: []int{1}}, 2)
			if err != nil || n != i+1 || sub.CreateTime.IsZero() {
				t.Fatalf("subscription %s: %+v, %d, %v", child, sub, n, err)
			}
		}
		if _, _, err := s.CreateSubscription(ctx, store.Subscription{User: "maria", ChildID: "c1"}, 2); !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("c1 again: %v", err)
		}
		if _, n, err := s.CreateSubscription(ctx, store.Subscription{User: "maria", ChildID: "c3"}, 2); !errors.Is(err, store.ErrCapReached) || n != 2 {
			t.Fatalf("a third: %d, %v; want ErrCapReached at 2", n, err)
		}
		if _, _, err := s.CreateSubscription(ctx, store.Subscription{User: "joao", ChildID: "c3"}, 2); err != nil {
			t.Fatalf("another user: %v", err)
		}
		if err := s.DeleteSubscription(ctx, "maria", "c1"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateSubscription(ctx, store.Subscription{User: "maria", ChildID: "c3"}, 2); err != nil {
			t.Fatalf("after a delete: %v", err)
		}
		if got, err := s.Subscription(ctx, "maria", "c2"); err != nil || len(got.EventTypes) != 1 {
			t.Fatalf("stored: %+v %v", got, err)
		}
		// Concurrent creations never pass the cap either.
		var admitted atomic.Int32
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				_, _, err := s.CreateSubscription(ctx, store.Subscription{User: "ana", ChildID: fmt.Sprint("k", i)}, 3)
				if err == nil {
					admitted.Add(1)
				} else if !errors.Is(err, store.ErrCapReached) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if admitted.Load() != 3 {
			t.Fatalf("%d concurrent creations passed a cap of 3", admitted.Load())
		}
	}},
}
