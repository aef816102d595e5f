//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
)

// TestTusWhileAnotherProcessHoldsTheUpload plays a second media process at
// work on an upload (holding the lock on its bytes, as media does): a PATCH
// answers 423 Locked, which tus clients retry, and a HEAD of a complete
// upload waits for that finish and names its item, instead of a 409 that
// would make tus-js-client upload the whole file again.
func TestTusWhileAnotherProcessHoldsTheUpload(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	photo, err := os.ReadFile("../../services/media/ingest/testdata/plain.jpg")
	if err != nil {
		t.Fatal(err)
	}
	create := func() (loc, session string, hold func() func()) {
		loc = s.tusRequest(t, "POST", "/v1/uploads/", teacher, nil, "Upload-Length", strconv.Itoa(len(photo)),
			"Upload-Metadata", tusMetadata("child", child, "filename", "plain.jpg")).Header.Get("Location")
		c, id, _ := strings.Cut(loc[strings.LastIndex(loc, "/")+1:], ".")
		hold = func() func() {
			f, err := os.OpenFile(filepath.Join(s.dataDir, "uploads", "upload-"+id), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			return func() { f.Close() }
		}
		return loc, "children/" + c + "/uploadSessions/" + id, hold
	}

	loc, _, hold := create()
	release := hold()
	r := s.tusRequest(t, "PATCH", loc, teacher, photo, "Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
	release()
	if r.StatusCode != 423 {
		t.Errorf("PATCH while another process holds the upload: %d, want 423", r.StatusCode)
	}

	loc, session, hold := create()
	s.writeSession(t, teacher, session, photo) // complete, not finished
	release = hold()
	type answer struct {
		status int
		item   string
	}
	head := make(chan answer, 1)
	go func() {
		r := s.tusRequest(t, "HEAD", loc, teacher, nil)
		head <- answer{r.StatusCode, r.Header.Get("Kinbridge-Media-Item")}
	}()
	select {
	case a := <-head:
		t.Fatalf("HEAD answered %+v while the upload was still being finished", a)
	case <-time.After(500 * time.Millisecond):
	}
	// The other process finishes.
	release()
	conn, err := grpc.NewClient(s.media, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+teacher)
	it, err := mediav1.NewMediaServiceClient(conn).FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: session})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-head:
		if a.status != 200 || a.item != it.GetName() {
			t.Errorf("HEAD after the finish: %+v, want 200 naming %s", a, it.GetName())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("HEAD did not answer after the upload was finished")
	}
}
