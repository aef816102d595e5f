package media

import (
	"context"
	"strconv"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// capRefused checks err is the RESOURCE_EXHAUSTED refusal of the cap
// named reason, and returns its ErrorInfo metadata and RetryInfo delay (0
// without one).
func capRefused(t *testing.T, what string, err error, reason mediav1.ErrorReason) (map[string]string, time.Duration) {
	t.Helper()
	st := status.Convert(err)
	var info *errdetails.ErrorInfo
	var wait time.Duration
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo:
			wait = d.GetRetryDelay().AsDuration()
		}
	}
	if st.Code() != codes.ResourceExhausted || info.GetReason() != errinfo.Reason(reason) || info.GetDomain() != errinfo.MediaDomain {
		t.Fatalf("%s: %v; want RESOURCE_EXHAUSTED with ErrorInfo %s", what, err, reason)
	}
	return info.GetMetadata(), wait
}

// createSession declares an upload of size bytes to the test child.
func (e *env) createSession(ctx context.Context, size int) (*mediav1.UploadSession, error) {
	return e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, Kind: mediav1.MediaKind_MEDIA_KIND_PHOTO, SizeBytes: int64(size)}})
}

// TestUploadSessionCap fills carol's cap of open upload sessions: the
// next is refused (a resumable session and a one-stream upload alike)
// with TOO_MANY_UPLOADS, saying when the soonest expires; finishing one
// frees its slot, and so does cancelling one.
func TestUploadSessionCap(t *testing.T) { onEachBackend(t, testUploadSessionCap) }

func testUploadSessionCap(t *testing.T, on backend) {
	e := newEnv(t, on, func(c *Config) {
		c.Caps = store.UploadCaps{Sessions: 2}
		c.Access = fakeAccess{roles: map[string]map[string]string{child: {"carol": "contributor", "dave": "contributor"}}}
	})
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/gps.jpg")
	first, err := e.createSession(ctx, len(data))
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.createSession(ctx, len(data))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.createSession(ctx, len(data))
	meta, wait := capRefused(t, "a third session", err, mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS)
	if meta["open_uploads"] != "2" || meta["limit"] != "2" {
		t.Fatalf("the refusal's metadata: %v", meta)
	}
	if left := time.Until(first.GetExpireTime().AsTime()); wait <= 0 || wait > left+2*time.Second {
		t.Fatalf("retry after %v; the first session expires in %v", wait, left)
	}
	_, err = e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(data))}, data, 1000)
	capRefused(t, "a one-stream upload over the cap", err, mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS)
	if n := countFiles(t, e.tempDir); n != 2 {
		t.Fatalf("%d files in the upload directory, want the two sessions'", n)
	}

	// Finishing one frees its slot.
	if _, err := e.writeSession(ctx, first.GetName(), 0, data); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: first.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.createSession(ctx, len(data)); err != nil {
		t.Fatalf("after a finish: %v", err)
	}
	_, err = e.createSession(ctx, len(data))
	capRefused(t, "full again", err, mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS)

	// So does cancelling one.
	if _, err := e.client.CancelUploadSession(ctx, &mediav1.CancelUploadSessionRequest{Name: second.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(data))}, data, 1000); err != nil {
		t.Fatalf("a one-stream upload after a cancel: %v", err)
	}
	// The one-stream upload's session ended with it.
	if _, err := e.createSession(ctx, len(data)); err != nil {
		t.Fatalf("after the one-stream upload: %v", err)
	}

	// The cap is carol's own.
	if _, err := e.createSession(e.as(t, "dave"), len(data)); err != nil {
		t.Fatalf("another user: %v", err)
	}
}

// TestUploadSessionCapFreedByExpiry: an abandoned session stops counting
// when it expires, before any sweep.
func TestUploadSessionCapFreedByExpiry(t *testing.T) {
	e := newEnv(t, sqliteLocal, func(c *Config) {
		c.Caps = store.UploadCaps{Sessions: 1}
		c.SessionIdleTimeout = 300 * time.Millisecond
		c.SweepInterval = time.Hour // the sweep is not what frees it
	})
	ctx := e.as(t, "carol")
	if _, err := e.createSession(ctx, 100); err != nil {
		t.Fatal(err)
	}
	_, err := e.createSession(ctx, 100)
	capRefused(t, "a second session", err, mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := e.createSession(ctx, 100)
		if err == nil {
			break
		}
		capRefused(t, "while the first has not expired", err, mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS)
		if time.Now().After(deadline) {
			t.Fatal("the abandoned session never stopped counting")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUploadBytesCap: the bytes carol has declared and not yet sent are
// capped, whatever the number of sessions; bytes sent, and cancelled
// sessions, make room.
func TestUploadBytesCap(t *testing.T) { onEachBackend(t, testUploadBytesCap) }

func testUploadBytesCap(t *testing.T, on backend) {
	data := readFile(t, "ingest/testdata/gps.jpg")
	size := len(data)
	e := newEnv(t, on, func(c *Config) {
		c.Limits = Limits{Photo: int64(size), Artwork: int64(size), Document: int64(size), Video: int64(size)}
		c.Caps = store.UploadCaps{Bytes: int64(2 * size)}
	})
	ctx := e.as(t, "carol")
	first, err := e.createSession(ctx, size)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.createSession(ctx, size)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.createSession(ctx, 1)
	meta, wait := capRefused(t, "one byte more", err, mediav1.ErrorReason_ERROR_REASON_UPLOAD_QUOTA)
	if meta["outstanding_bytes"] != strconv.Itoa(2*size) || meta["size_bytes"] != "1" || meta["limit_bytes"] != strconv.Itoa(2*size) || wait <= 0 {
		t.Fatalf("the refusal's metadata: %v, retry after %v", meta, wait)
	}
	// What is sent no longer counts.
	if _, err := e.writeSession(ctx, first.GetName(), 0, data[:size/2]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.createSession(ctx, size/2); err != nil {
		t.Fatalf("%d bytes after %d were sent: %v", size/2, size/2, err)
	}
	_, err = e.createSession(ctx, 1)
	capRefused(t, "full again", err, mediav1.ErrorReason_ERROR_REASON_UPLOAD_QUOTA)
	// A cancel frees what the session had still to receive.
	if _, err := e.client.CancelUploadSession(ctx, &mediav1.CancelUploadSessionRequest{Name: second.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.createSession(ctx, size); err != nil {
		t.Fatalf("after a cancel: %v", err)
	}
}

// TestUploadCapsLeaveRoomForTheLargestUpload: a cap on bytes below the
// largest upload allowed would refuse that upload for ever; the service
// does not start with it.
func TestUploadCapsLeaveRoomForTheLargestUpload(t *testing.T) {
	_, err := New(context.Background(), Config{DSN: "sqlite::memory:", BlobURL: t.TempDir(), TempDir: t.TempDir(), Access: fakeAccess{},
		Caps: store.UploadCaps{Bytes: 1 << 30}})
	if err == nil {
		t.Fatal("a service with 1 GiB under way per user and 4 GiB videos started")
	}
}

// TestUploadCapsHoldAcrossInstances runs two media instances on one
// PostgreSQL database: carol's uploads under way on both count against
// one cap, and a cancel on one makes room on the other.
func TestUploadCapsHoldAcrossInstances(t *testing.T) {
	dsn := testenv.Postgres(t)
	shared := func(c *Config) {
		c.DSN = dsn
		c.Caps = store.UploadCaps{Sessions: 2}
	}
	one, two := newEnv(t, sqliteLocal, shared), newEnv(t, sqliteLocal, shared)
	first, err := one.createSession(one.as(t, "carol"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := two.createSession(two.as(t, "carol"), 100); err != nil {
		t.Fatal(err)
	}
	_, err = one.createSession(one.as(t, "carol"), 100)
	capRefused(t, "a third upload on the first instance", err, mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS)
	_, err = two.upload(two.as(t, "carol"), &mediav1.UploadMetadata{Parent: child, SizeBytes: 100}, nil, 100)
	capRefused(t, "a third upload, one-stream, on the second instance", err, mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS)
	if _, err := one.client.CancelUploadSession(one.as(t, "carol"), &mediav1.CancelUploadSessionRequest{Name: first.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := two.createSession(two.as(t, "carol"), 100); err != nil {
		t.Fatalf("on the second instance after a cancel on the first: %v", err)
	}
}
