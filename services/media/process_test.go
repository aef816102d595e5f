package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/mediacheck"
	"github.com/kinbridge/kinbridge/services/media/thumb"
)

// fakePublisher records what the outbox relay delivers.
type fakePublisher struct {
	mu     sync.Mutex
	events []*notificationpeerv1.Event
}

func (f *fakePublisher) Publish(_ context.Context, in *notificationpeerv1.PublishRequest, _ ...grpc.CallOption) (*notificationpeerv1.PublishResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, in.GetEvent())
	return &notificationpeerv1.PublishResponse{}, nil
}

func (f *fakePublisher) PublishBatch(_ context.Context, in *notificationpeerv1.PublishBatchRequest, _ ...grpc.CallOption) (*notificationpeerv1.PublishBatchResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, in.GetEvents()...)
	return &notificationpeerv1.PublishBatchResponse{Results: make([]*notificationpeerv1.PublishResponse, len(in.GetEvents()))}, nil
}

func (f *fakePublisher) snapshot() []*notificationpeerv1.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*notificationpeerv1.Event(nil), f.events...)
}

func TestReadyEventDelivered(t *testing.T) {
	pub := &fakePublisher{}
	e := newEnv(t, sqliteLocal, func(c *Config) { c.Publisher = pub })
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/plain.jpg")
	it, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, Title: "Sun", SizeBytes: int64(len(data))}, data, 100)
	if err != nil {
		t.Fatal(err)
	}
	e.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
	deadline := time.Now().Add(10 * time.Second)
	for len(pub.snapshot()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	evs := pub.snapshot()
	if len(evs) != 1 {
		t.Fatalf("%d events delivered, want 1 MEDIA_READY", len(evs))
	}
	ev := evs[0]
	if ev.GetType() != notificationv1.EventType_EVENT_TYPE_MEDIA_READY || ev.GetChild() != child || ev.GetLink() != it.GetName() || ev.GetId() == "" || ev.GetActor() != "carol" {
		t.Errorf("event %v", ev)
	}
}

func TestCorruptImageFails(t *testing.T) {
	// A JPEG whose structure walks (frame header, scan, end marker) but
	// whose scan cannot be decoded: it has no Huffman tables.
	e := newEnv(t, sqliteLocal, func(c *Config) { c.JobAttempts = 1 })
	ctx := e.as(t, "carol")
	data := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0}
	data = append(append(data, bytes.Repeat([]byte{0x12}, 600)...), 0xFF, 0xD9)
	it, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(data))}, data, 100)
	if err != nil {
		t.Fatal(err)
	}
	failed := e.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_FAILED)
	if got := failed.GetFailureReason(); got != reasonUnreadable {
		t.Errorf("failure_reason %q, want %q", got, reasonUnreadable)
	}
	// The original is kept.
	if _, got, err := e.readAll(ctx, it.GetName(), "", 0, 0); err != nil || len(got) != len(data) {
		t.Errorf("original after failure: %d bytes, %v", len(got), err)
	}
}

// TestFailureReasonTellsNoServerDetail: a video ffmpeg cannot decode
// fails with a fixed reason for readers, not ffmpeg's stderr, which names
// the file it was given (a path in the server's data directory).
func TestFailureReasonTellsNoServerDetail(t *testing.T) {
	if thumb.LookupTools().FFmpeg == "" {
		t.Skip("needs ffmpeg: without it a video is READY without a poster frame")
	}
	e := newEnv(t, sqliteLocal, func(c *Config) { c.JobAttempts = 1 })
	ctx := e.as(t, "carol")
	var movie bytes.Buffer
	if err := mediacheck.WriteMovie(&movie, 64<<10, [32]byte{'f'}); err != nil {
		t.Fatal(err)
	}
	it, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(movie.Len())}, movie.Bytes(), 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	failed := e.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_FAILED)
	reason := failed.GetFailureReason()
	if reason != reasonUnreadable {
		t.Errorf("failure_reason %q, want %q", reason, reasonUnreadable)
	}
	for _, leak := range []string{e.blobDir, e.tempDir, os.TempDir(), "ffmpeg", "exit status"} {
		if strings.Contains(reason, leak) {
			t.Errorf("failure_reason %q tells %q", reason, leak)
		}
	}
}

func TestFailureReasons(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("thumb: 30000x10: %w", thumb.ErrTooLarge), reasonTooLarge},
		{permanentError{fmt.Errorf("thumb: content type %q: %w", "image/tiff", errors.ErrUnsupported)}, reasonUnsupported},
		{errors.New("thumb: ffmpeg: exit status 1: /srv/kinbridge/data/blobs/ab/abcd: Invalid data found when processing input"), reasonUnreadable},
	} {
		if got := failureReason(tt.err); got != tt.want {
			t.Errorf("failureReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestSweeper(t *testing.T) { onEachBackend(t, testSweeper) }

func testSweeper(t *testing.T, on backend) {
	e := newEnv(t, on, func(c *Config) {
		c.SessionIdleTimeout = 200 * time.Millisecond
		c.SweepInterval = time.Hour // swept by hand below
	})
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/plain.jpg")
	it, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(data))}, data, 100)
	if err != nil {
		t.Fatal(err)
	}
	ready := e.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
	blobs := e.countBlobs(t)
	// The original and its thumbnails (identical thumbnails of a tiny
	// picture share one blob).
	if len(ready.GetThumbnails()) == 0 || blobs < 2 || blobs > 1+len(ready.GetThumbnails()) {
		t.Fatalf("%d blobs for an item with %d thumbnails", blobs, len(ready.GetThumbnails()))
	}
	// Referenced blobs survive a sweep.
	time.Sleep(5 * time.Millisecond)
	e.svc.sweep(context.Background())
	if n := e.countBlobs(t); n != blobs {
		t.Fatalf("sweep of referenced blobs left %d of %d", n, blobs)
	}

	// An abandoned session expires and its bytes go.
	sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(data))}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.writeSession(ctx, sess.GetName(), 0, data[:100]); err != nil {
		t.Fatal(err)
	}
	if n := countFiles(t, e.tempDir); n != 1 {
		t.Fatalf("%d temp files for one session", n)
	}

	if _, err := e.client.DeleteMediaItem(ctx, &mediav1.DeleteMediaItemRequest{Name: it.GetName()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	e.svc.sweep(context.Background())
	if n := e.countBlobs(t); n != 0 {
		t.Errorf("%d blobs left after their item was deleted and swept", n)
	}
	if n := countFiles(t, e.tempDir); n != 0 {
		t.Errorf("%d temp files left after the session expired", n)
	}
	_, err = e.client.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: sess.GetName()})
	wantCode(t, err, codes.NotFound, noReason)
	if _, err := os.Stat(e.tempDir); err != nil {
		t.Fatal(err)
	}
}
