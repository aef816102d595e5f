package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/services/media/ingest"
)

// otherHost is a second media instance over e's database and blob store,
// with an upload directory of its own: another host.
func otherHost(t *testing.T, on backend, e *env) *env {
	t.Helper()
	o := newEnv(t, on, func(c *Config) { c.DSN, c.BlobURL = e.svc.cfg.DSN, e.svc.cfg.BlobURL })
	if o.tempDir == e.tempDir {
		t.Fatal("the two hosts share an upload directory")
	}
	return o
}

// rebuilt is the file the service should store for data: the allowlist
// rebuild, hashed.
func rebuilt(t *testing.T, data []byte) string {
	t.Helper()
	typ, err := ingest.Sniff(data[:min(len(data), ingest.SniffLen)])
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ingest.Rebuild(bytes.NewReader(data), int64(len(data)), typ, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := rb.WriteTo(h); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// partSessions lists the sessions with parts in e's blob store.
func (e *env) partSessions(t *testing.T) []string {
	t.Helper()
	got, err := e.svc.blobs.PartSessions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestUploadContinuesOnAnotherHost: two media instances with upload
// directories of their own, over one database and one blob store, take
// turns writing one session; then the host of the first is lost (its
// upload directory gone), and the other continues from the offset it
// reports and finishes. The stored file is the rebuild of the bytes sent,
// byte for byte, with its thumbnails, and nothing of the session is left
// in the blob store or either directory.
func TestUploadContinuesOnAnotherHost(t *testing.T) {
	onEachBackend(t, testUploadContinuesOnAnotherHost)
}

func testUploadContinuesOnAnotherHost(t *testing.T, on backend) {
	a := newEnv(t, on, nil)
	b := otherHost(t, on, a)
	data := readFile(t, "ingest/testdata/gps.jpg")
	size := int64(len(data))
	want := rebuilt(t, data)
	if want == hexSHA(data) {
		t.Fatal("the rebuild keeps the GPS data: the test would not show the privacy path ran")
	}
	ctx := a.as(t, "carol")
	sess, err := a.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: size, Sha256: hexSHA(data)}})
	if err != nil {
		t.Fatal(err)
	}
	name := sessionID(sess.GetName())
	q := size / 4
	// Turns: A, B (which has no file yet), A again (whose file is behind).
	for i, host := range []*env{a, b, a} {
		from := int64(i) * q
		got, err := host.writeSession(host.as(t, "carol"), sess.GetName(), from, data[from:from+q])
		if err != nil || got.GetCommittedOffset() != from+q {
			t.Fatalf("turn %d: %v, %v", i, got, err)
		}
	}
	if a.svc.partReads.Load() != q || b.svc.partReads.Load() != q {
		t.Errorf("copied from parts: %d bytes by A, %d by B; want %d each (what the other wrote since)",
			a.svc.partReads.Load(), b.svc.partReads.Load(), q)
	}

	// A's host is lost: its process ends, its upload directory is gone.
	a.stop()
	if err := os.RemoveAll(a.tempDir); err != nil {
		t.Fatal(err)
	}
	ctx = b.as(t, "carol")
	st, err := b.client.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: sess.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	from := st.GetCommittedOffset()
	if from != 3*q {
		t.Fatalf("B reports offset %d, want %d", from, 3*q)
	}
	if _, err := b.writeSession(ctx, sess.GetName(), from, data[from:]); err != nil {
		t.Fatal(err)
	}
	it, err := b.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if it.GetOriginalSha256() != hexSHA(data) || it.GetContentSha256() != want {
		t.Fatalf("item: original %s, content %s; want %s, %s", it.GetOriginalSha256(), it.GetContentSha256(), hexSHA(data), want)
	}
	_, stored, err := b.readAll(ctx, it.GetName(), "", 0, 0)
	if err != nil || hexSHA(stored) != want {
		t.Fatalf("stored %d bytes hashing to %s (%v), want the rebuild %s", len(stored), hexSHA(stored), err, want)
	}
	ready := b.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
	if len(ready.GetThumbnails()) == 0 {
		t.Error("no thumbnails")
	}
	if got := b.partSessions(t); len(got) != 0 {
		t.Errorf("parts left in the blob store for %v", got)
	}
	if _, err := os.Stat(filepath.Join(b.tempDir, "upload-"+name)); !os.IsNotExist(err) {
		t.Errorf("B's upload file after the finish: %v", err)
	}

	// A session written on B and cancelled on C, a third host, goes with
	// its parts, and C copies none of its bytes to cancel it.
	c := otherHost(t, on, a)
	other, err := b.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: size}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.writeSession(ctx, other.GetName(), 0, data[:q]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client.CancelUploadSession(c.as(t, "carol"), &mediav1.CancelUploadSessionRequest{Name: other.GetName()}); err != nil {
		t.Fatal(err)
	}
	if n := c.svc.partReads.Load(); n != 0 {
		t.Errorf("cancelling copied %d bytes from the parts", n)
	}
	if got := c.partSessions(t); len(got) != 0 {
		t.Errorf("parts left in the blob store for %v after a cancel", got)
	}
	_, err = b.client.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: other.GetName()})
	wantCode(t, err, codes.NotFound, noReason)
}

// TestFailedPartNeverCommits: a chunk whose part cannot be stored fails
// the write without moving the offset (a part half written is never
// counted), and the upload goes on from the same offset: no byte skipped,
// none twice.
func TestFailedPartNeverCommits(t *testing.T) {
	e := newEnv(t, sqliteLocal, nil)
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/gps.jpg")
	size := int64(len(data))
	sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: size, Sha256: hexSHA(data)}})
	if err != nil {
		t.Fatal(err)
	}
	half := size / 2
	if _, err := e.writeSession(ctx, sess.GetName(), 0, data[:half]); err != nil {
		t.Fatal(err)
	}
	// The session's parts folder becomes a file: the next part cannot be
	// written under it.
	dir := filepath.Join(e.blobDir, "uploads", sessionID(sess.GetName()))
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = e.writeSession(ctx, sess.GetName(), half, data[half:])
	wantCode(t, err, codes.Internal, noReason)
	st, err := e.client.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: sess.GetName()})
	if err != nil || st.GetCommittedOffset() != half {
		t.Fatalf("after the failed write: %v, %v; want offset %d", st, err, half)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	_, err = e.writeSession(ctx, sess.GetName(), half+700, data[half+700:])
	wantCode(t, err, codes.FailedPrecondition, mediav1.ErrorReason_ERROR_REASON_OFFSET_MISMATCH)
	if _, err := e.writeSession(ctx, sess.GetName(), half, data[half:]); err != nil {
		t.Fatal(err)
	}
	// Through another host, so the bytes come from the parts.
	o := otherHost(t, sqliteLocal, e)
	it, err := o.client.FinishUploadSession(o.as(t, "carol"), &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if it.GetOriginalSha256() != hexSHA(data) || o.svc.partReads.Load() != size {
		t.Fatalf("original %s from %d bytes of parts; want %s from %d", it.GetOriginalSha256(), o.svc.partReads.Load(), hexSHA(data), size)
	}
}

// TestSweeperRemovesParts: the parts of a session go with it however it
// ends (cancelled, expired, refused), and parts whose session is gone
// without them (a writer that died between its part and its commit) go at
// the next sweep.
func TestSweeperRemovesParts(t *testing.T) { onEachBackend(t, testSweeperRemovesParts) }

func testSweeperRemovesParts(t *testing.T, on backend) {
	e := newEnv(t, on, func(c *Config) { c.SweepInterval = 1 << 40 }) // swept by hand below
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/gps.jpg")
	create := func() string {
		t.Helper()
		sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
			Parent: child, SizeBytes: int64(len(data))}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.writeSession(ctx, sess.GetName(), 0, data[:1000]); err != nil {
			t.Fatal(err)
		}
		return sess.GetName()
	}
	wantParts := func(what string, n int) {
		t.Helper()
		if got := e.partSessions(t); len(got) != n {
			t.Fatalf("%s: parts of %v, want %d sessions", what, got, n)
		}
	}
	cancelled := create()
	wantParts("one session written", 1)
	if _, err := e.client.CancelUploadSession(ctx, &mediav1.CancelUploadSessionRequest{Name: cancelled}); err != nil {
		t.Fatal(err)
	}
	wantParts("cancelled", 0)

	expired := create()
	if _, err := e.svc.db.ExecContext(ctx, `UPDATE upload_sessions SET expire_time = 0 WHERE id = $1`, sessionID(expired)); err != nil {
		t.Fatal(err)
	}
	e.svc.sweep(t.Context())
	wantParts("expired and swept", 0)

	refused := create()
	_, err := e.writeSession(ctx, refused, 1000, bytes.Repeat([]byte{1}, len(data)))
	wantCode(t, err, codes.OutOfRange, mediav1.ErrorReason_ERROR_REASON_TOO_LARGE)
	wantParts("refused", 0)

	// A part stored by a writer that died before its commit, of a session
	// since gone.
	gone := sessionID(create())
	if err := e.svc.blobs.PutPart(t.Context(), gone, partName(1000), data[1000:]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.db.ExecContext(ctx, `DELETE FROM upload_sessions WHERE id = $1`, gone); err != nil {
		t.Fatal(err)
	}
	orphan := partName(0)
	if err := e.svc.blobs.PutPart(t.Context(), "nosuchsession", orphan, data); err != nil {
		t.Fatal(err)
	}
	wantParts("orphans", 2)
	e.svc.sweep(t.Context())
	wantParts("orphans swept", 0)
	if r, err := e.svc.blobs.OpenPart(t.Context(), "nosuchsession", orphan); err == nil {
		io.Copy(io.Discard, r)
		r.Close()
		t.Fatal("an orphan part is still there")
	}
}
