package media

// Privacy: what media refuses is not kept, and what is deleted is gone.
// These tests list the upload directory, the blob store (a directory, or
// the S3 bucket) and the database before and after, and poll (never sleep)
// until the sweeper, woken by the deletion, is done.

import (
	"context"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// otherChild shares carol's contributions with child, so that the two can
// hold the same bytes.
const otherChild = "children/kid2"

// asService returns a context calling as the named Kinbridge service.
func (e *env) asService(t *testing.T, name string) context.Context {
	t.Helper()
	tok, err := auth.NewServiceIdentity(e.serviceKey, name).Token()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// spooled lists the files in the upload directory with their sizes.
func (e *env) spooled(t *testing.T) map[string]int64 {
	t.Helper()
	return testenv.Files(t, e.tempDir)
}

// storedBlobs lists the names of the blobs in the blob store, as the last
// element of their paths or keys (see testenv.Blobs).
func (e *env) storedBlobs(t *testing.T) []string {
	t.Helper()
	out := testenv.Blobs(t, e.blobDir)
	for i, name := range out {
		out[i] = path.Base(name)
	}
	slices.Sort(out)
	return out
}

// rows counts a table's rows, those matching where when it is set.
func (e *env) rows(t *testing.T, table, where string, args ...any) int {
	t.Helper()
	q := `SELECT count(*) FROM ` + table
	if where != "" {
		q += ` WHERE ` + where
	}
	var n int
	if err := e.svc.db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// sessionID is the id part of a session's name.
func sessionID(name string) string { return name[strings.LastIndex(name, "/")+1:] }

// TestRefusedSessionIsGone: whatever refuses a resumable upload for what it
// is, during a write or when it is finished, drops the session with its
// bytes at once: the upload directory, the blob store and the database
// hold nothing of it, and the session is NOT_FOUND for status, writes and
// finishing alike.
func TestRefusedSessionIsGone(t *testing.T) { onEachBackend(t, testRefusedSessionIsGone) }

func testRefusedSessionIsGone(t *testing.T, on backend) {
	gps := readFile(t, "ingest/testdata/gps.jpg") // 3650 bytes, with a GPS position
	video := readFile(t, "ingest/testdata/gps.mp4")
	html := []byte("<!DOCTYPE html><html><body>" + strings.Repeat("not a photo ", 100) + "</body></html>")
	cases := []struct {
		name   string
		meta   *mediav1.UploadMetadata
		data   []byte
		first  int  // bytes written (and committed) before the refusal
		finish bool // refused when finished, not while written
		code   codes.Code
		reason mediav1.ErrorReason
		limit  int64 // of photos, when not the default
	}{
		{"type not allowed", &mediav1.UploadMetadata{Filename: "cat.jpg"}, html, 300, false, codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_UNSUPPORTED_TYPE, 0},
		{"kind that does not fit", &mediav1.UploadMetadata{Kind: mediav1.MediaKind_MEDIA_KIND_VIDEO}, gps, 300, false, codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_KIND_MISMATCH, 0},
		{"over the limit of the sniffed kind", &mediav1.UploadMetadata{}, gps, 300, false, codes.OutOfRange, mediav1.ErrorReason_ERROR_REASON_TOO_LARGE, 3000},
		{"more bytes than declared", &mediav1.UploadMetadata{SizeBytes: int64(len(video)) - 10}, video, 1000, false, codes.OutOfRange, mediav1.ErrorReason_ERROR_REASON_TOO_LARGE, 0},
		{"wrong sha256", &mediav1.UploadMetadata{Sha256: hexSHA(html)}, video, len(video), true, codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_CHECKSUM_MISMATCH, 0},
		{"malformed", &mediav1.UploadMetadata{}, gps[:len(gps)-2], len(gps) - 2, true, codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_MALFORMED, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, on, func(c *Config) { c.Limits.Photo = tc.limit })
			ctx := e.as(t, "carol")
			meta := tc.meta
			meta.Parent = child
			if meta.SizeBytes == 0 {
				meta.SizeBytes = int64(len(tc.data))
			}
			sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: meta})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.writeSession(ctx, sess.GetName(), 0, tc.data[:tc.first])
			if err != nil || got.GetCommittedOffset() != int64(tc.first) {
				t.Fatalf("first write: %v, %v", got, err)
			}
			file := "upload-" + sessionID(sess.GetName())
			if before := e.spooled(t); len(before) != 1 || before[file] != int64(tc.first) {
				t.Fatalf("before the refusal the upload directory holds %v, want %s with %d bytes", before, file, tc.first)
			}

			if tc.finish {
				_, err = e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
			} else {
				_, err = e.writeSession(ctx, sess.GetName(), int64(tc.first), tc.data[tc.first:])
			}
			wantCode(t, err, tc.code, tc.reason)

			// Gone at once: no polling, the refusal dropped it.
			if after := e.spooled(t); len(after) != 0 {
				t.Errorf("after the refusal the upload directory holds %v", after)
			}
			if blobs := e.storedBlobs(t); len(blobs) != 0 {
				t.Errorf("after the refusal the blob store holds %v", blobs)
			}
			for _, table := range []string{"upload_sessions", "media_items", "media_jobs", "blob_pins", "blob_refs"} {
				if n := e.rows(t, table, ""); n != 0 {
					t.Errorf("after the refusal %s has %d rows", table, n)
				}
			}
			_, err = e.client.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: sess.GetName()})
			wantCode(t, err, codes.NotFound, noReason)
			_, err = e.writeSession(ctx, sess.GetName(), int64(tc.first), tc.data[tc.first:tc.first+1])
			wantCode(t, err, codes.NotFound, noReason)
			_, err = e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
			wantCode(t, err, codes.NotFound, noReason)
		})
	}
}

// TestUnrefusedSessionResumes: what does not refuse an upload for what it
// is leaves the session and its bytes to resume: a write from the wrong
// offset, finishing before every byte is in.
func TestUnrefusedSessionResumes(t *testing.T) {
	e := newEnv(t, sqliteLocal, nil)
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/gps.jpg")
	sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(data))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.writeSession(ctx, sess.GetName(), 0, data[:1000]); err != nil {
		t.Fatal(err)
	}
	_, err = e.writeSession(ctx, sess.GetName(), 10, data[10:20])
	wantCode(t, err, codes.FailedPrecondition, mediav1.ErrorReason_ERROR_REASON_OFFSET_MISMATCH)
	_, err = e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
	wantCode(t, err, codes.FailedPrecondition, mediav1.ErrorReason_ERROR_REASON_INCOMPLETE)
	if got, err := e.writeSession(ctx, sess.GetName(), 1000, data[1000:]); err != nil || got.GetCommittedOffset() != int64(len(data)) {
		t.Fatalf("resuming: %v, %v", got, err)
	}
	if _, err := e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()}); err != nil {
		t.Fatal(err)
	}
}

// TestDeletedItemBytesGo: deleting an item deletes its bytes and
// thumbnails at once (the sweeper is woken; its interval is an hour here),
// except those another item uses.
func TestDeletedItemBytesGo(t *testing.T) { onEachBackend(t, testDeletedItemBytesGo) }

func testDeletedItemBytesGo(t *testing.T, on backend) {
	e := newEnv(t, on, func(c *Config) {
		c.SweepInterval = time.Hour
		c.Access = fakeAccess{roles: map[string]map[string]string{
			child: {"carol": "contributor"}, otherChild: {"carol": "contributor"},
		}}
	})
	ctx := e.as(t, "carol")
	photo := readFile(t, "ingest/testdata/gps.jpg")
	other := readFile(t, "ingest/testdata/taken.jpg")
	mine, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(photo))}, photo, 1000)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: otherChild, SizeBytes: int64(len(photo))}, photo, 1000)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(other))}, other, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range []*mediav1.MediaItem{mine, shared, alone} {
		e.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
	}
	before := e.storedBlobs(t)
	if !slices.Contains(before, alone.GetContentSha256()) || !slices.Contains(before, mine.GetContentSha256()) {
		t.Fatalf("blobs before: %v", before)
	}
	if _, err := e.client.DeleteMediaItem(ctx, &mediav1.DeleteMediaItemRequest{Name: alone.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.DeleteMediaItem(ctx, &mediav1.DeleteMediaItemRequest{Name: mine.GetName()}); err != nil {
		t.Fatal(err)
	}
	// What the other child's item uses (the same bytes, the same
	// thumbnails) stays; the rest goes.
	testenv.Eventually(t, "bytes of the deleted items", func() string {
		after := e.storedBlobs(t)
		if slices.Contains(after, alone.GetContentSha256()) || len(after) >= len(before) {
			return "still stored: " + strings.Join(after, " ")
		}
		if n := e.rows(t, "blob_refs", ""); n != len(after) {
			return "blob_refs rows differ from the stored blobs"
		}
		return ""
	})
	if !slices.Contains(e.storedBlobs(t), shared.GetContentSha256()) {
		t.Fatal("the bytes another child's item uses were deleted")
	}
	if _, got, err := e.readAll(ctx, shared.GetName(), "small", 0, 0); err != nil || len(got) == 0 {
		t.Fatalf("the other item's thumbnail: %d bytes, %v", len(got), err)
	}
	if _, got, err := e.readAll(ctx, shared.GetName(), "", 0, 0); err != nil || len(got) == 0 {
		t.Fatalf("the other item's bytes: %d bytes, %v", len(got), err)
	}
}

// TestDeleteChildData: progress's word that a child is deleted removes the
// child's items, the bytes and thumbnails only they used, its queued jobs
// and its upload sessions with their bytes; the same bytes uploaded for
// another child stay. Only progress may say so; saying it again is
// harmless; and nothing more is stored for the child afterwards.
func TestDeleteChildData(t *testing.T) { onEachBackend(t, testDeleteChildData) }

func testDeleteChildData(t *testing.T, on backend) {
	e := newEnv(t, on, func(c *Config) {
		c.SweepInterval = time.Hour
		c.Access = fakeAccess{roles: map[string]map[string]string{
			child: {"carol": "contributor"}, otherChild: {"carol": "contributor"},
		}}
	})
	ctx := e.as(t, "carol")
	photo := readFile(t, "ingest/testdata/gps.jpg")
	video := readFile(t, "ingest/testdata/gps.mp4")
	kept, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: otherChild, SizeBytes: int64(len(photo))}, photo, 1000)
	if err != nil {
		t.Fatal(err)
	}
	e.waitState(t, ctx, kept.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
	keptBlobs := e.storedBlobs(t)
	mine, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(photo))}, photo, 1000)
	if err != nil {
		t.Fatal(err)
	}
	e.waitState(t, ctx, mine.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
	// A video whose thumbnail job may still be running when the child goes.
	if _, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(video))}, video, 1000); err != nil {
		t.Fatal(err)
	}
	open, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(photo))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.writeSession(ctx, open.GetName(), 0, photo[:2000]); err != nil {
		t.Fatal(err)
	}
	if f := e.spooled(t); f["upload-"+sessionID(open.GetName())] != 2000 {
		t.Fatalf("the upload directory holds %v, not the open session's 2000 bytes", f)
	}
	if n := e.rows(t, "media_items", "child_id = $1", "kid1"); n != 2 {
		t.Fatalf("%d items of the child before", n)
	}

	req := &mediapeerv1.DeleteChildDataRequest{EventId: "ev-1", Child: child}
	_, err = e.peer.DeleteChildData(ctx, req)
	wantCode(t, err, codes.PermissionDenied, noReason) // a user
	_, err = e.peer.DeleteChildData(e.asService(t, "gateway"), req)
	wantCode(t, err, codes.PermissionDenied, noReason) // not progress
	resp, err := e.peer.DeleteChildData(e.asService(t, "progress"), req)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetAccepted() || resp.GetDeletedItemCount() != 2 || resp.GetEndedSessionCount() != 1 || resp.GetEventId() != "ev-1" {
		t.Fatalf("DeleteChildData = %v", resp)
	}

	testenv.Eventually(t, "the deleted child's data", func() string {
		if f := e.spooled(t); len(f) != 0 {
			return "upload directory holds " + strings.Join(slices.Sorted(maps.Keys(f)), " ")
		}
		if got := e.storedBlobs(t); !slices.Equal(got, keptBlobs) {
			return "blob store holds " + strings.Join(got, " ") + ", want the other child's " + strings.Join(keptBlobs, " ")
		}
		for _, table := range []string{"media_items", "upload_sessions", "media_jobs"} {
			if n := e.rows(t, table, "child_id = $1", "kid1"); n != 0 {
				return table + " has rows of the child"
			}
		}
		if n := e.rows(t, "blob_refs", ""); n != len(keptBlobs) {
			return "blob_refs has rows beyond the other child's blobs"
		}
		if n := e.rows(t, "blob_pins", ""); n != 0 {
			return "blob_pins has rows"
		}
		return ""
	})
	if _, got, err := e.readAll(ctx, kept.GetName(), "", 0, 0); err != nil || len(got) == 0 {
		t.Fatalf("the other child's item: %d bytes, %v", len(got), err)
	}

	// Again, as the relay retries: nothing more to do.
	again, err := e.peer.DeleteChildData(e.asService(t, "progress"), req)
	if err != nil || again.GetAccepted() || again.GetDeletedItemCount() != 0 || again.GetEventId() != "ev-1" {
		t.Fatalf("DeleteChildData again = %v, %v", again, err)
	}
	// An upload authorized before progress deleted the child (the access
	// answer is cached) stores nothing.
	_, err = e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(photo))}, photo, 1000)
	wantCode(t, err, codes.NotFound, noReason)
	_, err = e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(photo))}})
	wantCode(t, err, codes.NotFound, noReason)
	if n := len(e.spooled(t)); n != 0 {
		t.Errorf("%d files in the upload directory after refused uploads", n)
	}
}

// TestUploadsUnderWayWhenTheChildIsDeleted: an upload that was under way
// when its child was deleted leaves nothing once it ends: a one-stream
// upload gets as far as storing its bytes and is refused the item; a
// resumable write is refused its next chunk. Their sessions are theirs to
// drop (the sweeper leaves a held session alone), and they do.
func TestUploadsUnderWayWhenTheChildIsDeleted(t *testing.T) {
	onEachBackend(t, testUploadsUnderWayWhenTheChildIsDeleted)
}

func testUploadsUnderWayWhenTheChildIsDeleted(t *testing.T, on backend) {
	e := newEnv(t, on, func(c *Config) { c.SweepInterval = time.Hour })
	ctx := e.as(t, "carol")
	photo := readFile(t, "ingest/testdata/gps.jpg")

	one, err := e.client.UploadMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	must(t, one.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Metadata{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(photo))}}}))
	must(t, one.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Chunk{Chunk: photo[:1000]}}))

	sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(photo))}})
	if err != nil {
		t.Fatal(err)
	}
	write, err := e.client.WriteUploadSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	must(t, write.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Start{Start: &mediav1.WriteStart{Name: sess.GetName()}}}))
	must(t, write.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Chunk{Chunk: photo[:1000]}}))
	// Both are in: two spooled files with their first bytes.
	testenv.Eventually(t, "both uploads under way", func() string {
		f := e.spooled(t)
		if len(f) != 2 || f["upload-"+sessionID(sess.GetName())] != 1000 {
			return "upload directory holds something else"
		}
		for _, size := range f {
			if size != 1000 {
				return "upload directory holds something else"
			}
		}
		return ""
	})

	if _, err := e.peer.DeleteChildData(e.asService(t, "progress"), &mediapeerv1.DeleteChildDataRequest{EventId: "ev-1", Child: child}); err != nil {
		t.Fatal(err)
	}
	must(t, one.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Chunk{Chunk: photo[1000:]}}))
	_, err = one.CloseAndRecv()
	wantCode(t, err, codes.NotFound, noReason)
	_ = write.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Chunk{Chunk: photo[1000:2000]}})
	_, err = write.CloseAndRecv()
	wantCode(t, err, codes.NotFound, noReason)

	testenv.Eventually(t, "what the uploads left", func() string {
		if f := e.spooled(t); len(f) != 0 {
			return "upload directory holds " + strings.Join(slices.Sorted(maps.Keys(f)), " ")
		}
		if got := e.storedBlobs(t); len(got) != 0 {
			return "blob store holds " + strings.Join(got, " ")
		}
		for _, table := range []string{"media_items", "upload_sessions", "media_jobs", "blob_pins", "blob_refs"} {
			if n := e.rows(t, table, ""); n != 0 {
				return table + " has rows"
			}
		}
		return ""
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
