package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// TestDigestContract runs the digest's store suite on SQLite and PostgreSQL.
func TestDigestContract(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "notification.db") },
		"postgres": func(t *testing.T) string { return testenv.Postgres(t) },
	}
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			for _, tc := range digestContract {
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

var t0 = time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)

var digestContract = []struct {
	name string
	run  func(t *testing.T, s *store.SQL)
}{
	{"claim once, lease, mark sent", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		c, ok, err := s.ClaimDigest(ctx, "ana", "2026-03-01", "r1", t0, t0.Add(time.Minute), 5)
		if err != nil || !ok || c.Attempts != 1 {
			t.Fatalf("first claim: %+v %v %v", c, ok, err)
		}
		if _, ok, err := s.ClaimDigest(ctx, "ana", "2026-03-01", "r2", t0.Add(30*time.Second), t0.Add(2*time.Minute), 5); err != nil || ok {
			t.Fatalf("a second claim within the lease: %v %v", ok, err)
		}
		if done, err := s.DigestDone(ctx, "ana", "2026-03-01", t0.Add(30*time.Second), 5); err != nil || !done {
			t.Fatalf("DigestDone within the lease = %v %v", done, err)
		}
		if _, ok, _ := s.ClaimDigest(ctx, "ana", "2026-03-02", "r2", t0, t0.Add(time.Minute), 5); !ok {
			t.Fatal("another day could not be claimed")
		}
		// The lease ran out: claimed again, the attempt counted.
		c2, ok, err := s.ClaimDigest(ctx, "ana", "2026-03-01", "r2", t0.Add(time.Minute), t0.Add(2*time.Minute), 5)
		if err != nil || !ok || c2.Attempts != 2 || c2.ID != "r2" {
			t.Fatalf("claim after the lease: %+v %v %v", c2, ok, err)
		}
		if fresh, err := s.MarkDigestSent(ctx, c2, t0.Add(61*time.Second)); err != nil || !fresh {
			t.Fatalf("mark sent: %v %v", fresh, err)
		}
		// The first runner, late, finds the day sent already.
		if fresh, err := s.MarkDigestSent(ctx, c, t0.Add(62*time.Second)); err != nil || fresh {
			t.Fatalf("second mark sent: %v %v", fresh, err)
		}
		if _, ok, _ := s.ClaimDigest(ctx, "ana", "2026-03-01", "r3", t0.Add(time.Hour), t0.Add(2*time.Hour), 5); ok {
			t.Fatal("a sent day was claimed again")
		}
		if done, _ := s.DigestDone(ctx, "ana", "2026-03-01", t0.Add(time.Hour), 5); !done {
			t.Fatal("a sent day is not done")
		}
	}},
	{"retry later, give up after max attempts", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		now := t0
		for i := 1; i <= 3; i++ {
			c, ok, err := s.ClaimDigest(ctx, "bo", "2026-03-01", fmt.Sprint("r", i), now, now.Add(time.Hour), 3)
			if err != nil || !ok || c.Attempts != i {
				t.Fatalf("claim %d: %+v %v %v", i, c, ok, err)
			}
			if err := s.RetryDigestAt(ctx, c, now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := s.ClaimDigest(ctx, "bo", "2026-03-01", "early", now.Add(30*time.Second), now.Add(time.Hour), 3); ok {
				t.Fatal("claimed before the retry time")
			}
			now = now.Add(time.Minute)
		}
		if _, ok, _ := s.ClaimDigest(ctx, "bo", "2026-03-01", "r4", now, now.Add(time.Hour), 3); ok {
			t.Fatal("claimed after max attempts")
		}
		if done, _ := s.DigestDone(ctx, "bo", "2026-03-01", now, 3); !done {
			t.Fatal("a given-up day is not done")
		}
	}},
	{"concurrent claims: one wins", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 8 {
			wg.Go(func() {
				_, ok, err := s.ClaimDigest(ctx, "cy", "2026-03-01", fmt.Sprint("r", i), t0, t0.Add(time.Minute), 5)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d claims won, want 1", wins)
		}
	}},
	{"notifications of a day, tokens", func(t *testing.T, s *store.SQL) {
		ctx := context.Background()
		for i, at := range []time.Time{t0.Add(-time.Hour), t0, t0.Add(time.Hour), t0.Add(25 * time.Hour)} {
			n := event(fmt.Sprint("e", i), "c1")
			n.CreateTime = at
			if _, _, err := s.Deliver(ctx, n, []string{"ana"}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.NotificationsBetween(ctx, "ana", t0, t0.Add(24*time.Hour), 10)
		if err != nil || len(got) != 2 || got[0].EventID != "e1" || got[1].EventID != "e2" || !got[0].CreateTime.Equal(t0) {
			t.Fatalf("NotificationsBetween = %+v, %v", got, err)
		}
		if got, _ := s.NotificationsBetween(ctx, "bo", t0, t0.Add(24*time.Hour), 10); len(got) != 0 {
			t.Fatalf("another user's notifications: %+v", got)
		}
		if err := s.SaveDigestToken(ctx, "ana", "hash1", t0); err != nil {
			t.Fatal(err)
		}
		if u, err := s.DigestTokenUser(ctx, "hash1"); err != nil || u != "ana" {
			t.Fatalf("DigestTokenUser = %q %v", u, err)
		}
		if _, err := s.DigestTokenUser(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		// A year on, the next digest's token forgets that one (and only
		// the user's own).
		if err := s.SaveDigestToken(ctx, "bo", "hash-bo", t0); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveDigestToken(ctx, "ana", "hash2", t0.Add(store.DigestTokenLifetime-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if u, err := s.DigestTokenUser(ctx, "hash1"); err != nil || u != "ana" {
			t.Fatalf("a token just under a year old: %q %v", u, err)
		}
		if err := s.SaveDigestToken(ctx, "ana", "hash3", t0.Add(store.DigestTokenLifetime+time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DigestTokenUser(ctx, "hash1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a token over a year old: %v", err)
		}
		for _, h := range []string{"hash2", "hash3", "hash-bo"} {
			if _, err := s.DigestTokenUser(ctx, h); err != nil {
				t.Fatalf("%s: %v", h, err)
			}
		}
	}},
}
