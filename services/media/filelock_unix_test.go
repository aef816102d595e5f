//go:build unix

package media

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
)

// TestSessionHeldByAnotherProcess: while another media process sharing
// the upload directory holds a session's bytes (an flock on its file, as
// holdSession takes), this one refuses to write, finish or cancel it
// (ABORTED, so the client retries), and takes it up once that lock goes.
func TestSessionHeldByAnotherProcess(t *testing.T) {
	e := newEnv(t, sqliteLocal, nil)
	ctx := e.as(t, "carol")
	data := readFile(t, "ingest/testdata/plain.jpg")
	sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: int64(len(data))}})
	if err != nil {
		t.Fatal(err)
	}
	id := sess.GetName()[strings.LastIndex(sess.GetName(), "/")+1:]
	other, err := os.OpenFile(filepath.Join(e.tempDir, "upload-"+id), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	_, err = e.writeSession(ctx, sess.GetName(), 0, data)
	wantCode(t, err, codes.Aborted, noReason)
	_, err = e.client.CancelUploadSession(ctx, &mediav1.CancelUploadSessionRequest{Name: sess.GetName()})
	wantCode(t, err, codes.Aborted, noReason)

	other.Close() // the other process is done (or died)
	got, err := e.writeSession(ctx, sess.GetName(), 0, data)
	if err != nil || got.GetCommittedOffset() != int64(len(data)) {
		t.Fatalf("write after the lock went: %v, %v", got, err)
	}
	it, err := e.client.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: sess.GetName()})
	if err != nil || it.GetOriginalSha256() != hexSHA(data) {
		t.Fatalf("finish: %v, %v", it, err)
	}
}

// TestSweepSkipsAHeldSession: an expired session whose bytes another
// process still holds is left for the next round, not removed from under
// it.
func TestSweepSkipsAHeldSession(t *testing.T) {
	e := newEnv(t, sqliteLocal, func(c *Config) {
		c.SessionIdleTimeout = 50 * time.Millisecond
		c.SweepInterval = time.Hour // swept by hand below
	})
	ctx := e.as(t, "carol")
	sess, err := e.client.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: &mediav1.UploadMetadata{
		Parent: child, SizeBytes: 10}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.tempDir, "upload-"+sess.GetName()[strings.LastIndex(sess.GetName(), "/")+1:])
	other, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // expired
	e.svc.sweep(context.Background())
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a held session's bytes were swept: %v", err)
	}
	other.Close()
	e.svc.sweep(context.Background())
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("an expired, unheld session's bytes are still there: %v", err)
	}
}
