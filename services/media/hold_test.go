package media

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/media/blob"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// TestHeldSessionOutlivesSweepOnAnotherHost: host A is finishing an
// upload, between the pin of its content blob and the Put of its bytes,
// when the child is deleted on host B, which ends the session, and B
// sweeps. B leaves the session, held by A, and so its pin: the blob is
// not condemned under A's Put. A's finish is then refused (the child is
// gone) and A drops the session on its way out; after a sweep nothing of
// the upload is left: no session, no blob row, no bytes.
func TestHeldSessionOutlivesSweepOnAnotherHost(t *testing.T) {
	onEachBackend(t, testHeldSessionOutlivesSweepOnAnotherHost)
}

func testHeldSessionOutlivesSweepOnAnotherHost(t *testing.T, on backend) {
	byHand := func(c *Config) { c.SweepInterval = 1 << 40 } // swept when woken, and by hand below
	a := newEnv(t, on, byHand)
	b := newEnv(t, on, func(c *Config) { byHand(c); c.DSN, c.BlobURL = a.svc.cfg.DSN, a.svc.cfg.BlobURL })
	data := readFile(t, "ingest/testdata/gps.jpg")
	content := rebuilt(t, data)
	ctx := a.as(t, "carol")
	sess, err := a.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(data)), Sha256: hexSHA(data)}})
	if err != nil {
		t.Fatal(err)
	}
	id := sessionID(sess.GetName())
	if _, err := a.writeSession(ctx, sess.GetName(), 0, data); err != nil {
		t.Fatal(err)
	}

	pinned, resume := make(chan struct{}), make(chan struct{})
	hook := func(sessionID string) {
		if sessionID == id {
			close(pinned)
			<-resume
		}
	}
	a.svc.beforePut.Store(&hook)
	finished := make(chan error, 1)
	go func() {
		_, err := a.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
		finished <- err
	}()
	select {
	case <-pinned:
	case err := <-finished:
		t.Fatalf("the finish ended before its Put: %v", err)
	}

	if _, err := b.peer.DeleteChildData(b.asService(t, "progress"), &mediapeerv1.DeleteChildDataRequest{EventId: "ev-1", Child: child}); err != nil {
		t.Fatal(err)
	}
	b.svc.sweep(t.Context())
	got, err := b.svc.store.GetSession(t.Context(), id)
	if err != nil {
		close(resume)
		t.Fatalf("B swept the session A holds: %v", err)
	}
	if got.ExpireTime.Unix() != 0 {
		t.Errorf("the child's deletion did not end the session: expires %v", got.ExpireTime)
	}
	if n, err := b.svc.store.BlobRefs(t.Context(), content); n != 1 || err != nil {
		t.Errorf("after B's sweep the blob A is putting has %d references (%v), want A's pin", n, err)
	}

	close(resume)
	wantCode(t, <-finished, codes.NotFound, noReason) // the child was deleted
	a.svc.sweep(t.Context())
	if _, err := a.svc.store.GetSession(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session after A's finish: %v", err)
	}
	if _, err := a.svc.store.BlobRefs(t.Context(), content); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the blob's row after the sweep: %v", err)
	}
	if _, err := a.svc.blobs.Stat(t.Context(), content); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("the deleted child's bytes are still in the blob store: %v", err)
	}
	if parts := a.partSessions(t); len(parts) != 0 {
		t.Errorf("parts left for %v", parts)
	}
}

// TestLostHoldStopsItsHolder: a holder whose hold was taken over (it
// lapsed while the holder's database was away, and another host took the
// session) learns it at its next renewal, as a finish does right before
// it pins and writes its bytes: it answers UNAVAILABLE, its work's
// context ends, and it can neither delete the session nor end the other's
// hold.
func TestLostHoldStopsItsHolder(t *testing.T) {
	e := newEnv(t, sqliteLocal, func(c *Config) { c.SweepInterval = 1 << 40 })
	ctx := t.Context()
	sess, err := e.svc.store.CreateSession(ctx, store.Session{ChildID: child, UploadedBy: "carol",
		Metadata: store.UploadMetadata{SizeBytes: 10}}, store.UploadCaps{})
	if err != nil {
		t.Fatal(err)
	}
	h, held, err := e.svc.takeHold(ctx, sess.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if held.HeldBy != h.holder || time.Until(held.HeldUntil) <= 0 {
		t.Fatalf("held: %+v", held)
	}
	if err := h.check(ctx); err != nil {
		t.Fatalf("renewing a hold still ours: %v", err)
	}
	if _, _, err := e.svc.takeHold(ctx, sess.ID, false); !errors.Is(err, store.ErrSessionHeld) {
		t.Fatalf("a second hold: %v", err)
	}
	// Another host's hold, as if ours had lapsed and it took the session.
	if _, err := e.svc.db.ExecContext(ctx, `UPDATE upload_sessions SET held_by = 'other-host', held_until = $1 WHERE id = $2`,
		sqldb.Micros(time.Now().Add(time.Hour)), sess.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.check(ctx), codes.Unavailable, noReason)
	if !errors.Is(context.Cause(h.ctx), errHoldLost) {
		t.Errorf("the holder's work goes on: %v", context.Cause(h.ctx))
	}
	wantCode(t, h.fail(context.Canceled), codes.Unavailable, noReason)
	if e.svc.dropSession(ctx, sess, h.holder) {
		t.Error("the former holder dropped a session another holds")
	}
	h.release(ctx)
	if got, err := e.svc.store.GetSession(ctx, sess.ID); err != nil || got.HeldBy != "other-host" {
		t.Fatalf("after the former holder's release: %+v, %v", got, err)
	}
}

// TestRestartTakesOverItsDirectorysHold: a media process that dies in the
// middle of a write leaves its hold in the database until it lapses. Its
// restart, on the same upload directory, has the session's file lock,
// which tells it the dead process is not at work: it takes the hold over
// and the upload continues at once. A live hold of another host's is
// never taken over (ABORTED, "busy"), lock or not.
func TestRestartTakesOverItsDirectorysHold(t *testing.T) {
	e := newEnv(t, sqliteLocal, nil)
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/gps.jpg")
	sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(data))}})
	if err != nil {
		t.Fatal(err)
	}
	id := sessionID(sess.GetName())
	if _, err := e.writeSession(ctx, sess.GetName(), 0, data[:1000]); err != nil {
		t.Fatal(err)
	}
	holdBy := func(holder string) {
		t.Helper()
		if _, err := e.svc.db.ExecContext(t.Context(), `UPDATE upload_sessions SET held_by = $1, held_until = $2 WHERE id = $3`,
			holder, sqldb.Micros(time.Now().Add(time.Hour)), id); err != nil {
			t.Fatal(err)
		}
	}
	if e.svc.dirID == "" {
		t.Fatal("the upload directory has no name for holds")
	}

	holdBy("another-host:1:2/media/9/x")
	_, err = e.writeSession(ctx, sess.GetName(), 1000, data[1000:2000])
	wantCode(t, err, codes.Aborted, noReason)

	holdBy(e.svc.dirID + "/media/9/x") // a process of this directory that died holding it
	if _, err := e.writeSession(ctx, sess.GetName(), 1000, data[1000:]); err != nil {
		t.Fatalf("the write after a dead holder of the same directory: %v", err)
	}
	if _, err := e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()}); err != nil {
		t.Fatal(err)
	}
}
