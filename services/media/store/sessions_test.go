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

func session(child string, size int64) store.Session {
	return store.Session{ChildID: child, TempKey: "uploads/" + child, UploadedBy: "parent",
		Metadata: store.UploadMetadata{Kind: store.KindVideo, Title: "Recital", Caption: "c", Filename: "r.mp4",
			SizeBytes: size, SHA256: sha("video")}}
}

var sessionContract = []contractCase{
	{"session round trip", func(t *testing.T, e env) {
		ctx := context.Background()
		in := session("c1", 100)
		in.IdleTimeout = time.Hour
		created, err := e.s.CreateSession(ctx, in, store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		if created.ID == "" || created.CommittedOffset != 0 || !created.ExpireTime.Equal(created.CreateTime.Add(time.Hour)) {
			t.Fatalf("created = %+v", created)
		}
		got, err := e.s.GetSession(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got != created {
			t.Fatalf("read back %+v, want %+v", got, created)
		}
		if _, err := e.s.CreateSession(ctx, created, store.UploadCaps{}); !errors.Is(err, store.ErrAlreadyExists) {
			t.Fatalf("duplicate id: %v", err)
		}
		if _, err := e.s.GetSession(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing session: %v", err)
		}
		if d, err := e.s.CreateSession(ctx, session("c1", 5), store.UploadCaps{}); err != nil || d.IdleTimeout != store.DefaultIdleTimeout {
			t.Fatalf("default idle timeout: %+v, %v", d, err)
		}

		time.Sleep(2 * time.Millisecond) // so the expiry visibly moves
		moved, err := e.s.AdvanceSession(ctx, created.ID, 0, 60)
		if err != nil || moved.CommittedOffset != 60 || !moved.ExpireTime.After(created.ExpireTime) ||
			!moved.ExpireTime.Equal(moved.UpdateTime.Add(time.Hour)) {
			t.Fatalf("advance = %+v, %v", moved, err)
		}
		cur, err := e.s.AdvanceSession(ctx, created.ID, 0, 10)
		if !errors.Is(err, store.ErrOffsetMismatch) || cur.CommittedOffset != 60 {
			t.Fatalf("advance from a stale offset = %d, %v", cur.CommittedOffset, err)
		}
		if _, err := e.s.AdvanceSession(ctx, created.ID, 60, 101); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("advance beyond the size: %v", err)
		}
		if _, err := e.s.AdvanceSession(ctx, created.ID, 60, 59); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("advance backwards: %v", err)
		}
		// The running hash moves with the offset; a plain advance (a
		// keep-alive) leaves it as it was.
		state := "sha\x03 state with \x00 bytes"
		if c, err := e.s.CommitSession(ctx, created.ID, 60, 80, state, ""); err != nil || c.CommittedOffset != 80 || c.HashState != state {
			t.Fatalf("commit with a hash = %+v, %v", c, err)
		}
		if c, err := e.s.AdvanceSession(ctx, created.ID, 80, 80); err != nil || c.HashState != state {
			t.Fatalf("keep-alive after a commit = %+v, %v", c, err)
		}
		if c, err := e.s.GetSession(ctx, created.ID); err != nil || c.HashState != state {
			t.Fatalf("read back after a commit = %+v, %v", c, err)
		}
		if _, err := e.s.CommitSession(ctx, created.ID, 60, 90, "stale", ""); !errors.Is(err, store.ErrOffsetMismatch) {
			t.Fatalf("commit from a stale offset: %v", err)
		}
		if done, err := e.s.AdvanceSession(ctx, created.ID, 80, 100); err != nil || done.CommittedOffset != 100 {
			t.Fatalf("advance to the end = %+v, %v", done, err)
		}
		if _, err := e.s.AdvanceSession(ctx, "nope", 0, 1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("advance of a missing session: %v", err)
		}
		if err := e.s.DeleteSession(ctx, created.ID, ""); err != nil {
			t.Fatal(err)
		}
		if err := e.s.DeleteSession(ctx, created.ID, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	}},
	{"parts are recorded with the offset they commit, and go with their session", func(t *testing.T, e env) {
		ctx := context.Background()
		wantParts := func(id string, want ...store.Part) {
			t.Helper()
			got, err := e.s.Parts(ctx, id)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("parts of %s = %+v, %v; want %+v", id, got, err, want)
			}
		}
		a, err := e.s.CreateSession(ctx, session("c1", 30), store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.CommitSession(ctx, a.ID, 0, 10, "h1", "p0"); err != nil {
			t.Fatal(err)
		}
		// A writer that lost the race from offset 0 records nothing.
		if _, err := e.s.CommitSession(ctx, a.ID, 0, 5, "h", "loser"); !errors.Is(err, store.ErrOffsetMismatch) {
			t.Fatalf("commit from a stale offset: %v", err)
		}
		if _, err := e.s.CommitSession(ctx, a.ID, 10, 10, "h", "empty"); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("an empty part: %v", err)
		}
		if _, err := e.s.CommitSession(ctx, a.ID, 10, 25, "h2", "p10"); err != nil {
			t.Fatal(err)
		}
		wantParts(a.ID, store.Part{Start: 0, End: 10, Name: "p0"}, store.Part{Start: 10, End: 25, Name: "p10"})
		wantParts("nope")

		b, err := e.s.CreateSession(ctx, session("c1", 10), store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.CommitSession(ctx, b.ID, 0, 10, "h", "b0"); err != nil {
			t.Fatal(err)
		}
		wantParts(b.ID, store.Part{Start: 0, End: 10, Name: "b0"})
		// Finished: its item holds the bytes, its parts are forgotten.
		mustCreate(t, e.s, item("c1", "m1", sha("parts original"), sha("parts content")))
		if _, err := e.s.FinishSession(ctx, b.ID, "m1"); err != nil {
			t.Fatal(err)
		}
		wantParts(b.ID)
		// Deleted: so are its parts.
		if err := e.s.DeleteSession(ctx, a.ID, ""); err != nil {
			t.Fatal(err)
		}
		wantParts(a.ID)
	}},
	{"a finished session names its item, takes no bytes and releases its pins", func(t *testing.T, e env) {
		ctx := context.Background()
		sess, err := e.s.CreateSession(ctx, session("c1", 10), store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		content := sha("finished content")
		if err := e.s.PinBlob(ctx, content, store.SessionHolder(sess.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.FinishSession(ctx, sess.ID, "m1"); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("finish of an incomplete session: %v", err)
		}
		if _, err := e.s.AdvanceSession(ctx, sess.ID, 0, 10); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, e.s, item("c1", "m1", sha("finished original"), content))
		time.Sleep(2 * time.Millisecond) // so the expiry visibly moves
		done, err := e.s.FinishSession(ctx, sess.ID, "m1")
		if err != nil || done.ItemID != "m1" || done.CommittedOffset != 10 || !done.ExpireTime.After(sess.ExpireTime) {
			t.Fatalf("finish = %+v, %v", done, err)
		}
		wantRefs(t, e.s, map[string]int64{content: 1}) // the item's; the session's pin is gone
		if got, err := e.s.GetSession(ctx, sess.ID); err != nil || got != done {
			t.Fatalf("read back %+v, %v; want %+v", got, err, done)
		}
		again, err := e.s.FinishSession(ctx, sess.ID, "m2")
		if err != nil || again != done {
			t.Fatalf("second finish = %+v, %v; want the first unchanged", again, err)
		}
		if cur, err := e.s.AdvanceSession(ctx, sess.ID, 10, 10); !errors.Is(err, store.ErrFinished) || cur.ItemID != "m1" {
			t.Fatalf("advance of a finished session = %+v, %v", cur, err)
		}
		if _, err := e.s.FinishSession(ctx, "nope", "m1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("finish of a missing session: %v", err)
		}
		if err := e.s.DeleteSession(ctx, sess.ID, ""); err != nil {
			t.Fatal(err)
		}
		wantRefs(t, e.s, map[string]int64{content: 1})
	}},
	{"of writers racing from one offset exactly one advances", func(t *testing.T, e env) {
		ctx := context.Background()
		sess, err := e.s.CreateSession(ctx, session("c1", 1<<20), store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 2 {
			start, err := e.s.GetSession(ctx, sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			from := start.CommittedOffset
			const writers = 8
			errs := make([]error, writers)
			got := make([]store.Session, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					got[i], errs[i] = e.s.AdvanceSession(ctx, sess.ID, from, from+int64(1000*(i+1)))
				})
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil:
					if winner >= 0 {
						t.Fatalf("round %d: writers %d and %d both advanced", round, winner, i)
					}
					winner = i
				case !errors.Is(err, store.ErrOffsetMismatch):
					t.Fatalf("round %d, writer %d: %v", round, i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: nobody advanced", round)
			}
			want := from + int64(1000*(winner+1))
			cur, _ := e.s.GetSession(ctx, sess.ID)
			if cur.CommittedOffset != want {
				t.Fatalf("round %d: offset %d, want the winner's %d", round, cur.CommittedOffset, want)
			}
			for i, err := range errs {
				if err != nil && got[i].CommittedOffset != want {
					t.Errorf("round %d: loser %d told to resume at %d, want %d", round, i, got[i].CommittedOffset, want)
				}
			}
		}
	}},
	{"expired sessions are listed and no longer move", func(t *testing.T, e env) {
		ctx := context.Background()
		now := time.Now()
		short := session("c1", 10)
		short.IdleTimeout = time.Hour
		long := session("c1", 10)
		long.IdleTimeout = 3 * time.Hour
		s1, err := e.s.CreateSession(ctx, short, store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		s3, err := e.s.CreateSession(ctx, long, store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			at   time.Time
			want []string
		}{
			{now, nil},
			{now.Add(2 * time.Hour), []string{s1.ID}},
			{now.Add(4 * time.Hour), []string{s1.ID, s3.ID}},
		} {
			list, err := e.s.ExpiredSessions(ctx, tc.at, 0)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range list {
				ids = append(ids, s.ID)
			}
			if len(ids) != len(tc.want) || (len(ids) > 0 && (ids[0] != tc.want[0] || ids[len(ids)-1] != tc.want[len(tc.want)-1])) {
				t.Errorf("expired at +%v = %v, want %v", tc.at.Sub(now).Round(time.Hour), ids, tc.want)
			}
		}
		if list, _ := e.s.ExpiredSessions(ctx, now.Add(4*time.Hour), 1); len(list) != 1 || list[0].ID != s1.ID {
			t.Errorf("limit 1 = %+v", list)
		}

		gone := session("c1", 10)
		gone.IdleTimeout = time.Microsecond
		g, err := e.s.CreateSession(ctx, gone, store.UploadCaps{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if _, err := e.s.AdvanceSession(ctx, g.ID, 0, 5); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("advance of an expired session: %v", err)
		}
		if list, _ := e.s.ExpiredSessions(ctx, time.Now(), 0); len(list) != 1 || list[0].ID != g.ID || list[0].CommittedOffset != 0 {
			t.Fatalf("expired now = %+v", list)
		}
	}},
	{"caps on a user's open sessions: finishing, cancelling or expiring one frees its slot", func(t *testing.T, e env) {
		ctx := context.Background()
		two := store.UploadCaps{Sessions: 2}
		a, err := e.s.CreateSession(ctx, session("c1", 10), two)
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.s.CreateSession(ctx, session("c2", 10), two)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.s.CreateSession(ctx, session("c1", 10), two)
		var capErr *store.CapError
		if !errors.As(err, &capErr) || !errors.Is(err, store.ErrCapReached) || !capErr.Sessions || capErr.Open != 2 || !capErr.FreesAt.Equal(a.ExpireTime) {
			t.Fatalf("a third session: %+v (%v); want the sessions cap at 2, freeing when %v expires", capErr, err, a.ExpireTime)
		}
		other := session("c1", 10)
		other.UploadedBy = "teacher"
		if _, err := e.s.CreateSession(ctx, other, two); err != nil {
			t.Fatalf("another user: %v", err)
		}
		// Finishing one frees its slot.
		if _, err := e.s.AdvanceSession(ctx, a.ID, 0, 10); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.FinishSession(ctx, a.ID, "item1"); err != nil {
			t.Fatal(err)
		}
		c, err := e.s.CreateSession(ctx, session("c1", 10), two)
		if err != nil {
			t.Fatalf("after a finish: %v", err)
		}
		// So does cancelling one.
		if _, err := e.s.CreateSession(ctx, session("c1", 10), two); !errors.Is(err, store.ErrCapReached) {
			t.Fatalf("full again: %v", err)
		}
		if err := e.s.DeleteSession(ctx, b.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.CreateSession(ctx, session("c1", 10), two); err != nil {
			t.Fatalf("after a cancel: %v", err)
		}
		// And one expiring, before any sweep.
		if err := e.s.DeleteSession(ctx, c.ID, ""); err != nil {
			t.Fatal(err)
		}
		brief := session("c1", 10)
		brief.IdleTimeout = time.Microsecond
		if _, err := e.s.CreateSession(ctx, brief, two); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.CreateSession(ctx, session("c1", 10), two); err != nil {
			t.Fatalf("with the other one expired: %v", err)
		}
		if _, err := e.s.CreateSession(ctx, session("c1", 10), store.UploadCaps{}); err != nil {
			t.Fatalf("no caps: %v", err)
		}
	}},
	{"caps on a user's bytes declared and not yet received", func(t *testing.T, e env) {
		ctx := context.Background()
		hundred := store.UploadCaps{Bytes: 100}
		a, err := e.s.CreateSession(ctx, session("c1", 60), hundred)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.s.CreateSession(ctx, session("c1", 50), hundred)
		var capErr *store.CapError
		if !errors.As(err, &capErr) || capErr.Sessions || capErr.Outstanding != 60 || capErr.Open != 1 || !capErr.FreesAt.Equal(a.ExpireTime) {
			t.Fatalf("50 more bytes over 60 declared: %+v (%v); want the bytes cap, freeing when %v expires", capErr, err, a.ExpireTime)
		}
		// Bytes received no longer count.
		if a, err = e.s.AdvanceSession(ctx, a.ID, 0, 30); err != nil {
			t.Fatal(err)
		}
		b, err := e.s.CreateSession(ctx, session("c1", 50), hundred)
		if err != nil {
			t.Fatalf("50 bytes over 30 outstanding: %v", err)
		}
		_, err = e.s.CreateSession(ctx, session("c1", 30), hundred)
		if !errors.As(err, &capErr) || capErr.Outstanding != 80 || !capErr.FreesAt.Equal(a.ExpireTime) {
			t.Fatalf("30 more over 80: %+v (%v); want the bytes cap, freeing when a (%v) expires", capErr, err, a.ExpireTime)
		}
		_, err = e.s.CreateSession(ctx, session("c1", 101), hundred)
		if !errors.As(err, &capErr) || !capErr.FreesAt.IsZero() {
			t.Fatalf("more than the cap alone: %+v (%v); want a refusal that never frees", capErr, err)
		}
		if err := e.s.DeleteSession(ctx, b.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.CreateSession(ctx, session("c1", 70), hundred); err != nil {
			t.Fatalf("after a cancel, 70 over 30: %v", err)
		}
	}},
	{"concurrent session creations never pass the caps", func(t *testing.T, e env) {
		ctx := context.Background()
		caps := store.UploadCaps{Sessions: 3, Bytes: 1 << 30}
		var wg sync.WaitGroup
		results := make([]error, 16)
		for i := range results {
			// A child each: the child's row lock must not be what orders them.
			wg.Go(func() { _, results[i] = e.s.CreateSession(ctx, session(fmt.Sprint("k", i), 10), caps) })
		}
		wg.Wait()
		admitted := 0
		for _, err := range results {
			switch {
			case err == nil:
				admitted++
			case !errors.Is(err, store.ErrCapReached):
				t.Error(err)
			}
		}
		if admitted != 3 {
			t.Fatalf("%d of %d concurrent creations passed a cap of 3", admitted, len(results))
		}
	}},
}
