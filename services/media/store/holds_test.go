package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// useClock gives e's store a clock of the test's, starting now.
func useClock(t *testing.T, e env) *testenv.Clock {
	t.Helper()
	c := testenv.NewClock(time.Now())
	sql, ok := e.s.(*store.SQL)
	if !ok {
		t.Fatalf("%T has no clock to set", e.s)
	}
	sql.UseClock(c.Now)
	return c
}

var holdContract = []contractCase{
	// A host finishing a session holds it: the child's deletion ends the
	// session, but a sweeper (another host) cannot delete it, nor release
	// the pin it took on the bytes it is about to write, while the hold is
	// live. Once the hold lapses unrenewed, it can.
	{"a live hold keeps an ended session from the sweeper", func(t *testing.T, e env) {
		ctx := context.Background()
		c := useClock(t, e)
		sess, err := e.s.CreateSession(ctx, session("c1", 10), store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		held, err := e.s.HoldSession(ctx, sess.ID, "host-a", time.Minute, "")
		if err != nil || held.HeldBy != "host-a" || !held.HeldUntil.Equal(c.Now().Add(time.Minute).Truncate(time.Microsecond)) {
			t.Fatalf("hold = %+v, %v", held, err)
		}
		if err := e.s.PinBlob(ctx, sha("content"), store.SessionHolder(sess.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.DeleteChild(ctx, "c1", "ev-1"); err != nil {
			t.Fatal(err)
		}
		expired, err := e.s.ExpiredSessions(ctx, c.Now(), 0)
		if err != nil || len(expired) != 1 || expired[0].ID != sess.ID {
			t.Fatalf("expired = %+v, %v", expired, err)
		}
		if _, err := e.s.HoldSession(ctx, sess.ID, "sweeper-b", time.Minute, ""); !errors.Is(err, store.ErrSessionHeld) {
			t.Fatalf("another host's hold while host-a's is live: %v", err)
		}
		for _, by := range []string{"sweeper-b", ""} {
			if err := e.s.DeleteSession(ctx, sess.ID, by); !errors.Is(err, store.ErrSessionHeld) {
				t.Fatalf("delete by %q under a live hold: %v", by, err)
			}
		}
		wantRefs(t, e.s, map[string]int64{sha("content"): 1})

		// Renewed, it lasts; a renewal that stops lets it lapse.
		c.Advance(50 * time.Second)
		if _, err := e.s.HoldSession(ctx, sess.ID, "host-a", time.Minute, ""); err != nil {
			t.Fatalf("renewal: %v", err)
		}
		c.Advance(50 * time.Second)
		if err := e.s.DeleteSession(ctx, sess.ID, "sweeper-b"); !errors.Is(err, store.ErrSessionHeld) {
			t.Fatalf("delete under a renewed hold: %v", err)
		}
		c.Advance(11 * time.Second)
		if err := e.s.DeleteSession(ctx, sess.ID, "sweeper-b"); err != nil {
			t.Fatalf("delete once the hold lapsed: %v", err)
		}
		wantRefs(t, e.s, map[string]int64{sha("content"): 0})
		if _, err := e.s.HoldSession(ctx, sess.ID, "host-a", time.Minute, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("renewal of a deleted session: %v", err)
		}
	}},
	// The holder deletes its own session under its hold; a hold released,
	// or lapsed and taken by another, is no longer the former holder's.
	{"the holder deletes its own session", func(t *testing.T, e env) {
		ctx := context.Background()
		c := useClock(t, e)
		sess, err := e.s.CreateSession(ctx, session("c1", 10), store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.HoldSession(ctx, sess.ID, "", time.Minute, ""); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("hold without a holder: %v", err)
		}
		if _, err := e.s.HoldSession(ctx, sess.ID, "a", time.Minute, ""); err != nil {
			t.Fatal(err)
		}
		if err := e.s.ReleaseSession(ctx, sess.ID, "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.HoldSession(ctx, sess.ID, "b", time.Minute, ""); !errors.Is(err, store.ErrSessionHeld) {
			t.Fatalf("a release by another ended a's hold: %v", err)
		}
		if err := e.s.ReleaseSession(ctx, sess.ID, "a"); err != nil {
			t.Fatal(err)
		}
		if got, err := e.s.GetSession(ctx, sess.ID); err != nil || got.HeldBy != "" || !got.HeldUntil.IsZero() {
			t.Fatalf("released: %+v, %v", got, err)
		}
		if _, err := e.s.HoldSession(ctx, sess.ID, "b", time.Minute, ""); err != nil {
			t.Fatalf("hold after a's release: %v", err)
		}
		c.Advance(2 * time.Minute)
		if _, err := e.s.HoldSession(ctx, sess.ID, "a", time.Minute, ""); err != nil {
			t.Fatalf("hold after b's lapsed: %v", err)
		}
		if _, err := e.s.HoldSession(ctx, sess.ID, "b", time.Minute, ""); !errors.Is(err, store.ErrSessionHeld) {
			t.Fatalf("b renews a hold a took over: %v", err)
		}
		if err := e.s.DeleteSession(ctx, sess.ID, "b"); !errors.Is(err, store.ErrSessionHeld) {
			t.Fatalf("b deletes under a's hold: %v", err)
		}
		if err := e.s.DeleteSession(ctx, sess.ID, "a"); err != nil {
			t.Fatalf("the holder's own delete: %v", err)
		}
		if err := e.s.ReleaseSession(ctx, sess.ID, "a"); err != nil {
			t.Fatalf("release of a deleted session: %v", err)
		}
	}},
	{"a process of the same upload directory takes over a live hold, no other does", func(t *testing.T, e env) {
		ctx := context.Background()
		useClock(t, e)
		sess, err := e.s.CreateSession(ctx, session("c1", 10), store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		// dir-a's process 1 holds it, and dies without releasing it.
		if _, err := e.s.HoldSession(ctx, sess.ID, "dir-a/1", time.Minute, "dir-a/"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.HoldSession(ctx, sess.ID, "dir-b/1", time.Minute, "dir-b/"); !errors.Is(err, store.ErrSessionHeld) {
			t.Fatalf("another directory's process took over a live hold: %v", err)
		}
		if _, err := e.s.HoldSession(ctx, sess.ID, "dir-a/2", time.Minute, ""); !errors.Is(err, store.ErrSessionHeld) {
			t.Fatalf("a live hold was taken over without asking to: %v", err)
		}
		got, err := e.s.HoldSession(ctx, sess.ID, "dir-a/2", time.Minute, "dir-a/")
		if err != nil || got.HeldBy != "dir-a/2" {
			t.Fatalf("dir-a's process 2 taking over: %+v, %v", got, err)
		}
		if _, err := e.s.HoldSession(ctx, sess.ID, "dir-a/1", time.Minute, ""); !errors.Is(err, store.ErrSessionHeld) {
			t.Fatalf("the dead holder's renewal took its hold back: %v", err)
		}
		if err := e.s.DeleteSession(ctx, sess.ID, "dir-a/1"); !errors.Is(err, store.ErrSessionHeld) {
			t.Fatalf("the former holder deleted under the new hold: %v", err)
		}
	}},
}
